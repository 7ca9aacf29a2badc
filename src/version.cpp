// The library's version and what it was compiled with; see kiemidi/version.hpp.
#include <kiemidi/version.hpp>

#include <boost/version.hpp>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include <array>

namespace kiemidi {

namespace {

/// BOOST_VERSION (MAJOR * 100000 + MINOR * 100 + PATCH) as "MAJOR.MINOR.PATCH", at compile time.
constexpr auto boost_version_text = [] {
    std::array<char, 16> text{};
    std::size_t at = 0;
    auto put = [&](int value) {
        std::array<char, 8> digits{};
        std::size_t n = 0;
        do
        {
            digits[n++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value != 0);
        while (n != 0) text[at++] = digits[--n];
    };
    put(BOOST_VERSION / 100000);
    text[at++] = '.';
    put(BOOST_VERSION / 100 % 1000);
    text[at++] = '.';
    put(BOOST_VERSION % 100);
    return text;
}();

}  // namespace

version_info library_version() noexcept
{
    version_info v;
    v.major = KIEMIDI_VERSION_MAJOR;
    v.minor = KIEMIDI_VERSION_MINOR;
    v.patch = KIEMIDI_VERSION_PATCH;
    v.string = KIEMIDI_VERSION_STRING;
    v.boost = boost_version_text.data();
    v.openssl = OPENSSL_FULL_VERSION_STR;
    v.openssl_running = OpenSSL_version(OPENSSL_FULL_VERSION_STRING);
    return v;
}

}  // namespace kiemidi
