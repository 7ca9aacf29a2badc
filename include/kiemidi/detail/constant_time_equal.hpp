// Comparison of secrets (callback path secret, webhook signature) whose content must not leak
// through the time a comparison takes.
#ifndef KIEMIDI_DETAIL_CONSTANT_TIME_EQUAL_HPP
#define KIEMIDI_DETAIL_CONSTANT_TIME_EQUAL_HPP

#include <kiemidi/config.hpp>

#include <string_view>

namespace kiemidi::detail {

/// True when `a` and `b` hold the same bytes. For equal lengths the time taken does not depend on
/// where they differ (OpenSSL CRYPTO_memcmp); different lengths answer false at once, because the
/// length of a secret or signature is public (fixed by its format).
KIEMIDI_DECL bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace kiemidi::detail

#endif
