// The library's cryptographic helpers; see crypto.hpp.
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace kiemidi::detail {

std::string webhook_signature(std::string_view key, std::string_view task_id, std::string_view timestamp)
{
    std::string message;
    message.reserve(task_id.size() + 1 + timestamp.size());
    message.append(task_id).append(".").append(timestamp);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &digest_len))
        return {};
    std::string out(4 * ((digest_len + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(digest_len));
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return out;
}

bool verify_webhook_signature(std::string_view key, std::string_view task_id, std::string_view timestamp,
                              std::string_view signature)
{
    const auto expected = webhook_signature(key, task_id, timestamp);
    if (expected.empty()) return false;
    // Some senders strip base64's '=' padding; both spellings name the same digest.
    std::string_view unpadded(expected);
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
    return constant_time_equal(signature, expected) || constant_time_equal(signature, unpadded);
}

std::string random_hex(std::size_t bytes, std::string_view purpose)
{
    std::vector<unsigned char> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
        throw std::runtime_error("kiemidi: RAND_bytes failed to " + std::string(purpose));
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes);
    for (unsigned char b : raw)
    {
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 0x0f]);
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept
{
    // The length of a secret or signature is not secret; its content is.
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kiemidi::detail
