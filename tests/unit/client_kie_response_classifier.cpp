// How KIE's answers are judged before and while parsing: which are resent, which are KIE's word
// (throttling, out of credits), and which are not KIE's at all.
#include <kiemidi/api/parse.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/retry_policy.hpp>

#include "client/kie_response_classifier.hpp"

#include <boost/test/unit_test.hpp>

using namespace kiemidi;
using detail::classify_kie_response;

namespace {

const std::string gateway_html =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body></html>";
const std::string credits_429 = R"({"code":429,"msg":"Insufficient credits. Please top up your account to continue.","data":null})";
const std::string frequency_429 = R"({"code":429,"msg":"Your call frequency is too high. Please try again later.","data":null})";

attempt_outcome answered(response_verdict v)
{
    attempt_outcome o;
    o.verdict = v;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kie_response_classifier)

BOOST_AUTO_TEST_CASE(a_gateway_html_502_is_a_server_error_that_a_paid_post_does_not_resend)
{
    const http_response r{502, gateway_html, {}};
    BOOST_TEST((classify_kie_response(r) == response_verdict::server_error));
    BOOST_TEST(!retry_policy::is_retryable(request_kind::paid_submission, answered(classify_kie_response(r))));
    BOOST_TEST(retry_policy::is_retryable(request_kind::read, answered(classify_kie_response(r))));
    BOOST_TEST(!detail::is_kie_envelope(gateway_html));
}

BOOST_AUTO_TEST_CASE(only_a_json_object_with_a_numeric_code_is_a_kie_envelope)
{
    BOOST_TEST(detail::is_kie_envelope(R"({"code":200,"msg":"success","data":{"taskId":"t"}})"));
    BOOST_TEST(detail::is_kie_envelope(R"({"code":"500","msg":"x"})"));
    BOOST_TEST(detail::is_kie_envelope(frequency_429));
    BOOST_TEST(!detail::is_kie_envelope(R"({"code":200,"msg":"success","data":{"task)"));  // cut in half
    BOOST_TEST(!detail::is_kie_envelope("OK"));
    BOOST_TEST(!detail::is_kie_envelope(""));
    BOOST_TEST(!detail::is_kie_envelope(R"({"error":"bad gateway"})"));
    BOOST_TEST(!detail::is_kie_envelope(R"([200])"));
    BOOST_TEST(!detail::is_kie_envelope(R"({"code":"abc"})"));
}

BOOST_AUTO_TEST_CASE(a_429_about_credits_is_final_and_never_resent_even_as_http_429)
{
    for (unsigned status : {200u, 429u})
    {
        const http_response r{status, credits_429, {}};
        BOOST_TEST((classify_kie_response(r) == response_verdict::final), status);
        BOOST_TEST(!retry_policy::is_retryable(request_kind::paid_submission, answered(classify_kie_response(r))), status);
        BOOST_TEST(!retry_policy::is_retryable(request_kind::read, answered(classify_kie_response(r))), status);
    }
    const http_response r402{402, R"({"code":402,"msg":"Insufficient credits","data":null})", {}};
    BOOST_TEST((classify_kie_response(r402) == response_verdict::final));
}

BOOST_AUTO_TEST_CASE(a_plain_429_is_still_throttling_and_resent)
{
    for (unsigned status : {200u, 429u})
    {
        const http_response r{status, frequency_429, {}};
        BOOST_TEST((classify_kie_response(r) == response_verdict::throttled), status);
        BOOST_TEST(retry_policy::is_retryable(request_kind::paid_submission, answered(classify_kie_response(r))), status);
    }
    // A bare 429 page (a CDN's) is throttling by its status.
    BOOST_TEST((classify_kie_response(http_response{429, "<html>Too Many Requests</html>", {}}) == response_verdict::throttled));
}

BOOST_AUTO_TEST_CASE(the_credits_spelling_of_429_maps_to_insufficient_credits)
{
    BOOST_TEST((to_api_errc(429, "Insufficient credits") == api_errc::insufficient_credits));
    BOOST_TEST((to_api_errc(429, "not enough CREDITS left") == api_errc::insufficient_credits));
    BOOST_TEST((to_api_errc(429, "Your call frequency is too high. Please try again later.") == api_errc::rate_limited));
    BOOST_TEST((to_api_errc(429, "") == api_errc::rate_limited));
    BOOST_TEST((to_api_errc(402, "") == api_errc::insufficient_credits));
    BOOST_TEST((to_api_errc(430, "credit") == api_errc::call_frequency_too_high));  // only 429 has two meanings
    BOOST_TEST(speaks_of_credits("Insufficient Credits"));
    BOOST_TEST(!speaks_of_credits("cred"));

    diagnostics diag;
    api::task_created out;
    BOOST_TEST((api::parse_response(credits_429, out, diag) == api_errc::insufficient_credits));
    BOOST_TEST((diag.kie_code() == 429));
    BOOST_TEST(diag.server_message().find("Insufficient credits") != std::string::npos);
    BOOST_TEST((api::parse_response(frequency_429, out, diag) == api_errc::rate_limited));
}

BOOST_AUTO_TEST_SUITE_END()
