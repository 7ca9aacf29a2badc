// Asio is compiled once, here (BOOST_ASIO_SEPARATE_COMPILATION is a public definition of kiemidi),
// so that tests, examples and the CLI do not each instantiate Asio's non-template code.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
