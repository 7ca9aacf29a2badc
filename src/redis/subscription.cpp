// Pub/sub on the connection: SUBSCRIBE (renewed after each reconnect), its confirmations, and
// the messages, handed to the user's handler as their own strand handlers, never from inside hiredis.
#include "connection_impl.hpp"

#include <boost/asio/post.hpp>

#include <string_view>
#include <utility>

namespace asio = boost::asio;

namespace kiemidi::redis {

void connection::impl::on_subscription_reply(redisReply* r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const auto* kind = r->element[0];
    const auto* chan = r->element[1];
    if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING) return;
    const std::string_view k(kind->str, kind->len);
    std::string channel(chan->str, chan->len);
    if (k == "message")
    {
        const auto* payload = r->element[2];
        if (payload->type != REDIS_REPLY_STRING) return;
        bump([](connection_stats& s) { ++s.messages_total; });
        asio::post(strand, [self = shared_from_this(), channel = std::move(channel),
                            msg = std::string(payload->str, payload->len)] {
            if (self->on_message && self->ph != phase::closed) self->on_message(channel, msg);
        });
    }
    else if (k == "subscribe")
    {
        unconfirmed.erase(channel);
        if (unconfirmed.empty() && ph == phase::subscribing)
        {
            ph = phase::connected;
            set_up(true);
            complete_all_subscribe_waiters({});
        }
    }
}

void connection::impl::subscribe_now(std::vector<std::string> chans)
{
    for (auto& ch : chans) unconfirmed.insert(ch);
    std::vector<std::string> args{"SUBSCRIBE"};
    args.insert(args.end(), chans.begin(), chans.end());
    send(std::move(args), pending_command{command_handler()}, true);
}

}  // namespace kiemidi::redis
