// Copying hiredis' reply tree into a plain reply value.
#include "reply.hpp"

#include <hiredis/hiredis.h>

#include <cstddef>

namespace kiemidi::redis {

reply copy_reply(const redisReply* r)
{
    reply out;
    switch (r->type)
    {
    case REDIS_REPLY_STRING: out.type = reply_type::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = reply_type::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = reply_type::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = reply_type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
        out.type = reply_type::array;
        out.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
        break;
    default: out.type = reply_type::nil; break;
    }
    return out;
}

}  // namespace kiemidi::redis
