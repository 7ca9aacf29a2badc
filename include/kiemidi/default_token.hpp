/// @file
/// The completion token kiemidi's asynchronous operations use when the caller passes none.
///
/// Asio's own default (boost::asio::default_completion_token_t) is `void` for a plain executor before
/// Boost 1.85, which makes `Token&& token = {}` unusable; kiemidi then defaults to boost::asio::deferred,
/// so `co_await kie.async_get_credits(diag)` works on every Boost kiemidi supports. An executor
/// that names its own default token (boost::asio::as_default_on) keeps it.
#ifndef KIEMIDI_DEFAULT_TOKEN_HPP
#define KIEMIDI_DEFAULT_TOKEN_HPP

#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <type_traits>

namespace kiemidi {

/// The completion token an operation uses when none is passed: `Executor`'s default
/// (boost::asio::default_completion_token_t), or boost::asio::deferred when it has none, so that
/// `co_await op(args)` works on every supported Boost.
template <class Executor>
using default_token_t = std::conditional_t<std::is_void_v<boost::asio::default_completion_token_t<Executor>>,
                                           boost::asio::deferred_t, boost::asio::default_completion_token_t<Executor>>;

}  // namespace kiemidi

#endif
