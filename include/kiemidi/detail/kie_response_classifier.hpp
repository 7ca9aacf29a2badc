// How the transport should treat a KIE answer before anyone parses it: KIE reports throttling
// and maintenance in the body `code` (often with HTTP 200), so the HTTP status alone is not enough.
#ifndef KIEMIDI_DETAIL_KIE_RESPONSE_CLASSIFIER_HPP
#define KIEMIDI_DETAIL_KIE_RESPONSE_CLASSIFIER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/transport/http_message.hpp>
#include <kiemidi/transport/transport_options.hpp>

namespace kiemidi::detail {

/// 429/430/405 (HTTP status or body code) → throttled; 455 → unavailable; 5xx → server_error;
/// anything else → final. Only small bodies are inspected: throttling and error answers are a
/// few hundred bytes, and a 20,000-note MIDI record need not be parsed twice.
KIEMIDI_DECL response_verdict classify_kie_response(const http_response& resp);

}  // namespace kiemidi::detail

#endif
