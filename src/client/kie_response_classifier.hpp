// How the transport should treat a KIE answer before anyone parses it: KIE reports throttling
// and maintenance in the body `code` (often with HTTP 200), so the HTTP status alone is not enough.
#ifndef KIEMIDI_SRC_CLIENT_KIE_RESPONSE_CLASSIFIER_HPP
#define KIEMIDI_SRC_CLIENT_KIE_RESPONSE_CLASSIFIER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/transport/http_message.hpp>
#include <kiemidi/transport/transport_options.hpp>

#include <string_view>

namespace kiemidi::detail {

/// 429/430/405 (HTTP status or body code) → throttled; 455 → unavailable; 5xx → server_error;
/// anything else → final. Out of credits (body code 402, or 429 whose msg speaks of credits, see
/// to_api_errc(int, std::string_view)) is final even with HTTP status 429: it is not resent.
/// Only small bodies are inspected: throttling and error answers are a few hundred bytes, and a
/// 20,000-note MIDI record need not be parsed twice.
KIEMIDI_DECL response_verdict classify_kie_response(const http_response& resp);

/// True when `body` is a KIE JSON envelope: a JSON object with a numeric `code`. Anything else
/// (a gateway's HTML page, a truncated or non-JSON body) is not KIE's word.
KIEMIDI_DECL bool is_kie_envelope(std::string_view body);

}  // namespace kiemidi::detail

#endif
