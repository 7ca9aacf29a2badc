// Internal: the URLs the emulator reads: request targets (path and taskId query parameter),
// submitted callback URLs, and the loopback check before any callback is sent. Boost.URL does the
// parsing.
#ifndef KIEMIDI_SRC_EMULATOR_EMULATOR_URLS_HPP
#define KIEMIDI_SRC_EMULATOR_EMULATOR_URLS_HPP

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::emulator::detail {

/// A request target's path (as sent, not decoded) and its decoded taskId query parameter ("+" is
/// a space; the first one counts; a parameter without "=" is empty).
struct parsed_target
{
    std::string_view path;
    std::optional<std::string> task_id;
};
parsed_target parse_target(std::string_view target);

/// An absolute http(s) URL with a host: what a submission's callBackUrl must be.
bool valid_callback_url(std::string_view url);

/// True when the URL's host is loopback (127.0.0.0/8, ::1, localhost); fills host/port/scheme/target.
struct parsed_url { bool tls = false; std::string host; std::string server_name; std::string port; std::string target; };
std::optional<parsed_url> parse_loopback_url(std::string_view url, bool& is_loopback);

}  // namespace kiemidi::emulator::detail

#endif
