#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

using namespace kiemidi;

BOOST_AUTO_TEST_SUITE(error)

BOOST_AUTO_TEST_CASE(kie_codes_map_to_api_errc_with_the_same_value)
{
    for (int code : {400, 401, 402, 404, 405, 409, 413, 422, 429, 430, 451, 455, 500, 501, 505})
    {
        error_code ec = to_api_errc(code);
        BOOST_TEST(ec.value() == code);
        BOOST_TEST(ec.category().name() == std::string("kiemidi.api"));
    }
    BOOST_TEST((to_api_errc(12345) == api_errc::unknown_code));
    BOOST_TEST((to_api_errc(200) == api_errc::unknown_code));
}

BOOST_AUTO_TEST_CASE(throttling_codes_are_exactly_the_dropped_request_ones)
{
    BOOST_TEST(is_throttling(api_errc::rate_limited));
    BOOST_TEST(is_throttling(api_errc::call_frequency_too_high));
    BOOST_TEST(is_throttling(api_errc::rate_limited_405));
    BOOST_TEST(is_throttling(api_errc::maintenance));
    BOOST_TEST(!is_throttling(api_errc::server_error));
    BOOST_TEST(!is_throttling(api_errc::insufficient_credits));
}

BOOST_AUTO_TEST_CASE(categories_tell_who_failed)
{
    error_code api = api_errc::insufficient_credits;
    error_code client = client_errc::timeout;
    BOOST_TEST(std::string(api.category().name()) != std::string(client.category().name()));
    BOOST_TEST(api.message().find("credits") != std::string::npos);
    BOOST_TEST(client.message().find("timed out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(diagnostics_line_carries_kie_message_status_and_endpoint)
{
    diagnostics d;
    d.set_stage("separation");
    d.set_endpoint("POST /api/v1/vocal-removal/generate");
    d.set_http_status(200);
    d.set_kie_code(402);
    d.set_server_message("Insufficient credits");
    const auto line = d.to_string();
    BOOST_TEST(line == "[separation] POST /api/v1/vocal-removal/generate: HTTP 200, KIE code 402: Insufficient credits");
    d.clear();
    BOOST_TEST(d.to_string().empty());
}

BOOST_AUTO_TEST_CASE(throw_on_error_keeps_the_server_message_in_what)
{
    diagnostics d;
    d.set_server_message("Your call frequency is too high");
    BOOST_CHECK_NO_THROW(throw_on_error({}, d));
    try
    {
        throw_on_error(api_errc::rate_limited, d);
        BOOST_FAIL("expected a throw");
    }
    catch (const boost::system::system_error& e)
    {
        BOOST_TEST(std::string(e.what()).find("Your call frequency is too high") != std::string::npos);
        BOOST_TEST((e.code() == api_errc::rate_limited));
    }
}

BOOST_AUTO_TEST_SUITE_END()
