/// @file
/// Callback references: a caller-chosen tag carried in the `ref` query parameter of a callBackUrl.
///
/// KIE's callbacks name only the task they report on, and a task id only arrives in the answer
/// to the paid POST. When that answer is lost (connection reset, crash before it was journaled),
/// the callback is the one remaining witness that the task exists. Tagging each submission's
/// callback URL with a unique reference lets the listener recognise that callback and hand the
/// task id to whoever waits for the reference (callback_hub::async_wait_reference).
#ifndef KIEMIDI_CALLBACK_REFERENCE_HPP
#define KIEMIDI_CALLBACK_REFERENCE_HPP

#include <kiemidi/config.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace kiemidi {

/// Longest accepted reference.
inline constexpr std::size_t max_callback_reference_size = 64;

/// True for 1 to 64 characters of [A-Za-z0-9_-]: safe in a URL without escaping, and short.
KIEMIDI_DECL bool is_valid_callback_reference(std::string_view reference) noexcept;

/// `url` with `ref=<reference>` added to its query (before a fragment), in place of any `ref`
/// parameters it has (a URL that is not a URI reference, e.g. with a bad %-escape, gets it added
/// as text). An invalid or empty reference leaves `url` unchanged.
KIEMIDI_DECL std::string with_callback_reference(std::string_view url, std::string_view reference);

/// The `ref` query parameter of a request target ("/path?a=1&ref=x" → "x") when it is valid;
/// empty when absent, invalid, or given more than once (an ambiguous target names nothing), and
/// when the target is not a URI reference (RFC 3986, read with Boost.URL; e.g. a bad %-escape).
KIEMIDI_DECL std::string callback_reference_of(std::string_view target);

/// A new random reference (24 hex digits from OpenSSL's RAND_bytes), unique for all practical purposes.
KIEMIDI_DECL std::string make_callback_reference();

}  // namespace kiemidi

#endif
