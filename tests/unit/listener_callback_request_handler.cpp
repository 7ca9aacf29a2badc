// The listener's request path without sockets (detail::callback_request_handler): the answers
// and hub deliveries for raw connection bytes, as the fuzz target sees them.
#include "listener/callback_request_handler.hpp"

#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace asio = boost::asio;

using namespace kiemidi;

// A named namespace, not a file-local one: Boost.Test's test cases derive from these fixtures, and
// in a unity build g++ (-Wsubobject-linkage) refuses a base of a file-local type in an included file.
namespace callback_request_handler_fixtures {

constexpr const char* secret = "unit-secret-0123456789";

struct handler_fixture
{
    asio::io_context ioc;
    in_process_callback_hub hub{ioc.get_executor()};
    detail::callback_request_handler handler{ioc.get_executor(), options(), hub};

    static listener_options options()
    {
        listener_options o;
        o.path_secret = secret;
        o.max_body = 1024;
        return o;
    }

    static std::string post(std::string_view kind, std::string_view body, std::string_view connection = "keep-alive")
    {
        return "POST /kiemidi/callback/" + std::string(secret) + "/" + std::string(kind) +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: " +
               std::string(connection) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
               std::string(body);
    }
};

const std::string midi_body = R"({"code":200,"msg":"success","data":{"taskId":"t-1","state":"complete","instruments":[]}})";

}  // namespace callback_request_handler_fixtures
using namespace callback_request_handler_fixtures;

BOOST_FIXTURE_TEST_SUITE(callback_request_handler_suite, handler_fixture)

BOOST_AUTO_TEST_CASE(a_verified_callback_is_answered_200_and_reaches_the_hub)
{
    auto replies = handler.handle(post("midi", midi_body));
    BOOST_REQUIRE_EQUAL(replies.size(), 1u);
    BOOST_TEST(replies[0].status == 200u);
    BOOST_TEST(replies[0].keep_alive);
    BOOST_TEST(hub.stats().buffered == 1u);
    BOOST_TEST(handler.stats().callbacks_accepted == 1u);
    BOOST_TEST(handler.callback_target(callback_kind::midi) == "/kiemidi/callback/" + std::string(secret) + "/midi");
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order_until_connection_close)
{
    const std::string second = R"({"code":200,"msg":"success","data":{"taskId":"t-2","state":"complete","instruments":[]}})";
    auto replies = handler.handle(post("midi", midi_body) + post("midi", second, "close") + post("midi", midi_body));
    BOOST_REQUIRE_EQUAL(replies.size(), 2u);
    BOOST_TEST(replies[0].status == 200u);
    BOOST_TEST(replies[1].status == 200u);
    BOOST_TEST(!replies[1].keep_alive);
    BOOST_TEST(hub.stats().buffered == 2u);
}

BOOST_AUTO_TEST_CASE(rejections_never_touch_the_hub)
{
    BOOST_TEST(handler.handle("GET /kiemidi/callback/wrong-secret-0000000/midi HTTP/1.1\r\n\r\n").at(0).status == 404u);
    std::string get = post("midi", "");
    get.replace(0, 4, "GET");
    BOOST_TEST(handler.handle(get).at(0).status == 405u);
    BOOST_TEST(handler.handle(post("midi", "{not json")).at(0).status == 400u);
    BOOST_TEST(handler.handle(post("midi", std::string(2000, ' '))).at(0).status == 413u);
    BOOST_TEST(handler.handle("\x01\x02 garbage\r\n\r\n").at(0).status == 400u);
    BOOST_TEST(handler.handle(post("midi", midi_body).substr(0, 40)).empty());  // the peer went away
    BOOST_TEST(hub.stats().buffered == 0u);
    const auto s = handler.stats();
    BOOST_TEST(s.not_found == 1u);
    BOOST_TEST(s.method_not_allowed == 1u);
    BOOST_TEST(s.malformed == 2u);
    BOOST_TEST(s.too_large == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
