// metrics::collect: what a client and its listener have counted, gathered for rendering. It lives
// on the client's side so that the metrics model, which the client feeds, knows no client.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/metrics/model.hpp>

namespace kiemidi::metrics {

sources collect(client& c, const callback_listener* listener)
{
    sources s;
    s.model = &c.metrics();
    s.transport = c.transport_stats();
    if (auto* hub = c.hub()) s.hub = hub->stats();
    if (listener) s.listener = listener->stats();
    return s;
}

}  // namespace kiemidi::metrics
