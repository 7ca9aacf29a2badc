/// @file
/// Account credits: the answer of GET /api/v1/chat/credit.
///
/// KIE sends the remaining credits as a bare number in `data`. Parse it with parse_response (parse.hpp).
#ifndef KIEMIDI_API_CREDITS_HPP
#define KIEMIDI_API_CREDITS_HPP

#include <cstdint>

namespace kiemidi::api {

/// Remaining account credits.
struct credits
{
    std::int64_t remaining = 0;  ///< Credits left; generation is restricted when it reaches 0.
};

}  // namespace kiemidi::api

#endif
