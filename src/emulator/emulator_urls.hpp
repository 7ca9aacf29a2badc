// Internal: the callback URLs the emulator reads: submitted callback URLs, and the loopback check
// before any callback is sent. Boost.URL does the parsing.
#ifndef KIEMIDI_SRC_EMULATOR_EMULATOR_URLS_HPP
#define KIEMIDI_SRC_EMULATOR_EMULATOR_URLS_HPP

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::emulator::detail {

/// An absolute http(s) URL with a host: what a submission's callBackUrl must be.
bool valid_callback_url(std::string_view url);

/// True when the URL's host is loopback (127.0.0.0/8, ::1, localhost); fills host/port/scheme/target.
struct parsed_url { bool tls = false; std::string host; std::string server_name; std::string port; std::string target; };
std::optional<parsed_url> parse_loopback_url(std::string_view url, bool& is_loopback);

}  // namespace kiemidi::emulator::detail

#endif
