// Asio is compiled once, here (BOOST_ASIO_SEPARATE_COMPILATION is a public definition of kiemidi),
// so that tests, examples and the CLI do not each instantiate Asio's non-template code. Not built
// with KIEMIDI_APPLICATION_COMPILES_ASIO: the application compiles it.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
