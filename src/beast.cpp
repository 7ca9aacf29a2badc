// Beast is compiled once, here (BOOST_BEAST_SEPARATE_COMPILATION is a public definition of kiemidi).
#include <boost/beast/src.hpp>
