// Asio is compiled once, here (BOOST_ASIO_SEPARATE_COMPILATION is a public definition of kiemidi),
// so that tests, examples and the CLI do not each instantiate Asio's non-template code. Not built
// with KIEMIDI_APPLICATION_COMPILES_ASIO: the application compiles it.
// Compiled with Asio's deprecated parts, which applications may still use (kiemidi's own code
// is built with BOOST_ASIO_NO_DEPRECATED, privately).
#undef BOOST_ASIO_NO_DEPRECATED
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
