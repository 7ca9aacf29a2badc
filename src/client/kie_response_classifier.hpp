// How the transport should treat a KIE answer before anyone parses its data: KIE reports
// throttling and maintenance in the body `code` (often with HTTP 200), so the HTTP status alone
// is not enough. The envelope itself is read by api/envelope.hpp; this only decides what it means.
#ifndef KIEMIDI_SRC_CLIENT_KIE_RESPONSE_CLASSIFIER_HPP
#define KIEMIDI_SRC_CLIENT_KIE_RESPONSE_CLASSIFIER_HPP

#include "../api/envelope.hpp"

#include <kiemidi/config.hpp>
#include <kiemidi/http_message.hpp>
#include <kiemidi/transport_options.hpp>

#include <string_view>

namespace kiemidi::detail {

/// 429/430/405 (HTTP status or body code) → throttled; 455 → unavailable; 5xx → server_error;
/// anything else → final. Out of credits (body code 402, or 429 whose msg speaks of credits, see
/// to_api_errc(int, std::string_view)) is final even with HTTP status 429: it is not resent.
/// Only small bodies are inspected: throttling and error answers are a few hundred bytes, and a
/// 20,000-note MIDI record need not be parsed twice.
KIEMIDI_DECL response_verdict classify_kie_response(const http_response& resp);

}  // namespace kiemidi::detail

#endif
