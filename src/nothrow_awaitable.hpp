// The library's sources name the token by this path; it is public (kiemidi/nothrow_awaitable.hpp).
#ifndef KIEMIDI_SRC_NOTHROW_AWAITABLE_HPP
#define KIEMIDI_SRC_NOTHROW_AWAITABLE_HPP

#include <kiemidi/nothrow_awaitable.hpp>

#endif
