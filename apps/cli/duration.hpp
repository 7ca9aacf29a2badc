// Durations as people write them on the command line: "30min", "90s", "1h", "500ms", "1h30min".
#ifndef KIEMIDI_APPS_CLI_DURATION_HPP
#define KIEMIDI_APPS_CLI_DURATION_HPP

#include <chrono>
#include <optional>
#include <string_view>

namespace kiemidi::cli {

/// One or more <whole number><unit> parts, units h, min, s, ms; a bare number means seconds.
/// Nullopt for anything else (empty, negative, unknown unit, overflow).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace kiemidi::cli

#endif
