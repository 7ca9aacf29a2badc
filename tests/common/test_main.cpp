// The one Boost.Test main for every kiemidi test executable.
#define BOOST_TEST_MODULE kiemidi
#include <boost/test/unit_test.hpp>
