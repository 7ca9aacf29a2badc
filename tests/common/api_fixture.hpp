// Reads JSON fixtures (copies of KIE's documented examples and their variants) for the api tests,
// and parses bodies into the api's types.
#ifndef KIEMIDI_TESTS_COMMON_API_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_API_FIXTURE_HPP

#include <kiemidi/api.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

// Lets BOOST_TEST print optionals in failure messages.
namespace boost::test_tools::tt_detail {
template <class T>
struct print_log_value<std::optional<T>>
{
    void operator()(std::ostream& os, const std::optional<T>& v)
    {
        if (v)
            print_log_value<T>()(os, *v);
        else
            os << "nullopt";
    }
};
}  // namespace boost::test_tools::tt_detail

namespace kiemidi::test {

inline std::string fixture(const std::string& name)
{
    const std::string path = std::string(KIEMIDI_TEST_FIXTURES_DIR) + "/" + name;
    std::ifstream in(path, std::ios::binary);
    BOOST_TEST_REQUIRE(in.good(), "cannot open fixture " << path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// Reads `body` into `out` with the parser of its type: the callback parsers for callbacks,
/// parse_response for KIE's answers.
inline error_code parse_as(std::string_view body, api::separation_callback& out, diagnostics& diag)
{
    return api::parse_separation_callback(body, out, diag);
}

inline error_code parse_as(std::string_view body, api::midi_callback& out, diagnostics& diag)
{
    return api::parse_midi_callback(body, out, diag);
}

template <class T>
error_code parse_as(std::string_view body, T& out, diagnostics& diag)
{
    return api::parse_response(body, out, diag);
}

/// `body` read as a T, which must succeed (else the test case stops, with the diagnostics).
template <class T>
T parse_ok(std::string_view body)
{
    T out;
    diagnostics diag;
    const auto ec = parse_as(body, out, diag);
    BOOST_TEST_REQUIRE(!ec, ec.message() << ": " << diag.to_string());
    return out;
}

/// Reads `body` as a T, expected to fail: returns the error; `diag` tells why.
template <class T>
error_code parse_fails(std::string_view body, diagnostics& diag)
{
    T out;
    return parse_as(body, out, diag);
}

/// Reading `body` as a T fails with `expected`, and the diagnostics tell the client `message`.
template <class T, class Errc>
void check_parse_error(std::string_view body, Errc expected, const std::string& message)
{
    diagnostics diag;
    const auto ec = parse_fails<T>(body, diag);
    BOOST_TEST((ec == expected), ec.message());
    BOOST_TEST(diag.client_message() == message);
}

}  // namespace kiemidi::test

#endif
