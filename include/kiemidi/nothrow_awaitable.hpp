/// @file
/// The completion token of a co_await that must not throw: the operation's error_code comes back
/// as the first element of a tuple (`auto [ec, r] = co_await kie.async_get_credits(diag,
/// kiemidi::use_nothrow_awaitable)`), so failures are handled as values where they happen.
/// kiemidi uses it inside too.
#ifndef KIEMIDI_NOTHROW_AWAITABLE_HPP
#define KIEMIDI_NOTHROW_AWAITABLE_HPP

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kiemidi {

/// `co_await op(..., use_nothrow_awaitable)` gives a tuple whose first element is the error_code
/// (Asio's as_tuple over use_awaitable): nothing is thrown.
inline constexpr auto use_nothrow_awaitable = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace kiemidi

#endif
