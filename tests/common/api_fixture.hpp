// Reads JSON fixtures (copies of KIE's documented examples and their variants) for the api tests.
#ifndef KIEMIDI_TESTS_COMMON_API_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_API_FIXTURE_HPP

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

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

}  // namespace kiemidi::test

#endif
