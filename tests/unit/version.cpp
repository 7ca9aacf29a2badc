// kiemidi/version.hpp: the headers' version macros, the library's version_info and their agreement.
#include <kiemidi/version.hpp>

#include <boost/test/unit_test.hpp>
#include <boost/version.hpp>
#include <openssl/opensslv.h>

#include <string>

BOOST_AUTO_TEST_SUITE(version)

BOOST_AUTO_TEST_CASE(the_library_is_the_version_its_headers_name)
{
    const kiemidi::version_info v = kiemidi::library_version();
    BOOST_TEST(v.major == KIEMIDI_VERSION_MAJOR);
    BOOST_TEST(v.minor == KIEMIDI_VERSION_MINOR);
    BOOST_TEST(v.patch == KIEMIDI_VERSION_PATCH);
    BOOST_TEST(v.string == KIEMIDI_VERSION_STRING);
    BOOST_TEST(v.string == std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch));
    BOOST_TEST(KIEMIDI_VERSION == v.major * 10000 + v.minor * 100 + v.patch);
    BOOST_TEST(kiemidi::library_matches_headers());
}

BOOST_AUTO_TEST_CASE(it_names_the_boost_and_openssl_it_was_built_with)
{
    const kiemidi::version_info v = kiemidi::library_version();
    const std::string boost = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
                              "." + std::to_string(BOOST_VERSION % 100);
    BOOST_TEST(v.boost == boost);
    BOOST_TEST(v.openssl == OPENSSL_FULL_VERSION_STR);
    BOOST_TEST(v.openssl_running.starts_with(std::to_string(OPENSSL_VERSION_MAJOR) + "."));
}

BOOST_AUTO_TEST_SUITE_END()
