// detail::constant_time_equal, the comparison the listener uses for its path secret and for
// webhook signatures.
#include <kiemidi/detail/constant_time_equal.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using kiemidi::detail::constant_time_equal;

BOOST_AUTO_TEST_SUITE(constant_time_equal_suite)

BOOST_AUTO_TEST_CASE(equal_only_for_the_same_bytes_and_length)
{
    const std::string secret = "0123456789abcdef0123456789abcdef";
    BOOST_TEST(constant_time_equal(secret, std::string(secret)));
    BOOST_TEST(constant_time_equal("", ""));
    for (std::size_t i = 0; i < secret.size(); ++i)
    {
        std::string other = secret;
        other[i] ^= 0x01;  // a difference anywhere, first or last byte included
        BOOST_TEST(!constant_time_equal(secret, other), "differs at " << i);
    }
    BOOST_TEST(!constant_time_equal(secret, secret.substr(0, secret.size() - 1)));  // a prefix is not a match
    BOOST_TEST(!constant_time_equal(secret, secret + "0"));
    BOOST_TEST(!constant_time_equal(secret, ""));
    BOOST_TEST(!constant_time_equal("", secret));
}

BOOST_AUTO_TEST_CASE(embedded_nul_bytes_are_compared_too)
{
    const std::string a("ab\0cd", 5);
    const std::string b("ab\0ce", 5);
    BOOST_TEST(constant_time_equal(a, std::string(a)));
    BOOST_TEST(!constant_time_equal(a, b));
    BOOST_TEST(!constant_time_equal(std::string_view(a), std::string_view("ab")));  // not a C-string compare
}

BOOST_AUTO_TEST_SUITE_END()
