// The library's cryptographic helpers: constant_time_equal (the comparison the listener uses for
// its path secret and for webhook signatures), KIE's webhook signature against answers computed
// independently (Python's hmac module), and random hex.
#include "crypto/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using kiemidi::detail::constant_time_equal;
using kiemidi::detail::random_hex;
using kiemidi::detail::verify_webhook_signature;
using kiemidi::detail::webhook_signature;

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

BOOST_AUTO_TEST_SUITE(webhook_signature_suite)

// base64(HMAC-SHA256("whk-test-secret", "task-42.1700000000")), from
// python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b"whk-test-secret",
//     b"task-42.1700000000", hashlib.sha256).digest()).decode())'
constexpr const char* known_answer = "EtF6PzvXzBhCZQUeNYYHAFgqDe3uuBQslzwvRZrepoc=";

BOOST_AUTO_TEST_CASE(signs_task_id_dot_timestamp_as_kie_does)
{
    BOOST_TEST(webhook_signature("whk-test-secret", "task-42", "1700000000") == known_answer);
    BOOST_TEST(webhook_signature("other-key", "task-42", "1700000000") != known_answer);
    BOOST_TEST(webhook_signature("whk-test-secret", "task-42", "1700000001") != known_answer);
}

BOOST_AUTO_TEST_CASE(verifies_with_or_without_base64_padding)
{
    const std::string padded = known_answer;
    BOOST_TEST(verify_webhook_signature("whk-test-secret", "task-42", "1700000000", padded));
    BOOST_TEST(verify_webhook_signature("whk-test-secret", "task-42", "1700000000", padded.substr(0, padded.size() - 1)));
    BOOST_TEST(!verify_webhook_signature("whk-test-secret", "task-42", "1700000000", ""));
    BOOST_TEST(!verify_webhook_signature("whk-test-secret", "task-43", "1700000000", padded));
    BOOST_TEST(!verify_webhook_signature("wrong", "task-42", "1700000000", padded));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(random_hex_suite)

BOOST_AUTO_TEST_CASE(gives_lowercase_hex_of_the_requested_size_and_never_repeats)
{
    const auto a = random_hex(32, "test");
    const auto b = random_hex(32, "test");
    BOOST_TEST(a.size() == 64u);
    BOOST_TEST(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    BOOST_TEST(a != b);
    BOOST_TEST(random_hex(12, "test").size() == 24u);
}

BOOST_AUTO_TEST_SUITE_END()
