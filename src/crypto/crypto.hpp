// The library's small cryptographic helpers, on OpenSSL: KIE's webhook signature, random hex
// strings for secrets and references, and a comparison that does not leak where secrets differ.
// One copy, used by the callback listener (verifying), the emulator (signing) and the tests, so
// the three cannot drift apart on how KIE signs a callback. Private to the library and its tools.
#ifndef KIEMIDI_SRC_CRYPTO_CRYPTO_HPP
#define KIEMIDI_SRC_CRYPTO_CRYPTO_HPP

#include <kiemidi/config.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// KIE's webhook signature of a callback: base64(HMAC-SHA256(key, task_id + "." + timestamp)),
/// padded. Empty when OpenSSL fails (a signature that matches nothing).
KIEMIDI_DECL std::string webhook_signature(std::string_view key, std::string_view task_id, std::string_view timestamp);

/// True when `signature` is KIE's signature of (task_id, timestamp) under `key`, with or without
/// its base64 padding. Compared in constant time.
KIEMIDI_DECL bool verify_webhook_signature(std::string_view key, std::string_view task_id, std::string_view timestamp,
                                           std::string_view signature);

/// `bytes` random bytes from OpenSSL's CSPRNG as lowercase hex (2 * bytes characters).
/// Throws std::runtime_error("kiemidi: RAND_bytes failed to <purpose>") when OpenSSL cannot.
KIEMIDI_DECL std::string random_hex(std::size_t bytes, std::string_view purpose);

/// True when `a` and `b` hold the same bytes. For equal lengths the time taken does not depend on
/// where they differ (OpenSSL CRYPTO_memcmp); different lengths answer false at once, because the
/// length of a secret or signature is public (fixed by its format).
KIEMIDI_DECL bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace kiemidi::detail

#endif
