// KIE's {code, msg, data} envelope, read by one set of rules for everyone: parse_response reads
// the typed `data` inside it, the transport's classifier judges an answer by its code, and the
// client tells KIE's answers from a gateway's page by it. Internal.
#ifndef KIEMIDI_SRC_API_ENVELOPE_HPP
#define KIEMIDI_SRC_API_ENVELOPE_HPP

#include "json_reader.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// The envelope's `code` (an integer, as a JSON number or numeric text); a missing or malformed
/// one is recorded in `root`'s status (and 0 returned).
int read_envelope_code(const json_reader& root);

/// The envelope's `msg` (or `message`); empty when absent or not text: a malformed msg must not
/// hide KIE's code.
std::string read_envelope_msg(const json_reader& root);

/// What an envelope says of itself.
struct kie_envelope
{
    int code = 0;
    std::string msg;
};

/// The envelope of `body`; nullopt when `body` is not one (not a JSON object with a code read by
/// read_envelope_code: a gateway's HTML page, a truncated or non-JSON body), which is not KIE's word.
std::optional<kie_envelope> read_kie_envelope(std::string_view body);

/// read_kie_envelope(body) has a value.
KIEMIDI_DECL bool is_kie_envelope(std::string_view body);

}  // namespace kiemidi::detail

#endif
