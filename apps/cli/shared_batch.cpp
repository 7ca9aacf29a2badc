// Parsing and checking the shared-batch flags; see shared_batch.hpp.
#include "shared_batch.hpp"
#include "session.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

namespace kiemidi::cli {

redis_endpoint parse_redis_url(const std::string& url)
{
    auto bad = [&](const std::string& why) { return usage_error("--redis " + url + ": " + why + " (expected redis://[[user]:password@]host[:port][/db])"); };
    auto r = boost::urls::parse_uri(url);
    if (!r) throw bad("not a URL");
    const auto& u = *r;
    if (u.scheme() != "redis") throw bad(u.scheme() == "rediss" ? "TLS (rediss) is not supported" : "the scheme must be redis");
    redis_endpoint e;
    if (!u.encoded_host().empty()) e.host = u.host();
    if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
    if (u.has_port())
    {
        const auto p = u.port_number();
        if (p == 0) throw bad("bad port");
        e.port = p;
    }
    if (u.has_userinfo())
    {
        e.username = u.user();
        e.password = u.password();
    }
    std::string path = u.path();
    if (!path.empty() && path != "/")
    {
        std::string_view db = std::string_view(path).substr(1);
        auto [ptr, ec] = std::from_chars(db.data(), db.data() + db.size(), e.database);
        if (ec != std::errc() || ptr != db.data() + db.size() || e.database < 0) throw bad("the path must be a database number");
    }
    return e;
}

#ifdef KIEMIDI_WITH_REDIS
redis::connection_options redis_connection_options(const shared_batch_flags& f)
{
    const auto ep = parse_redis_url(f.redis_url);
    redis::connection_options o;
    o.host = ep.host;
    o.port = ep.port;
    o.username = ep.username;
    o.password = ep.password;
    o.database = ep.database;
    return o;
}
#endif

void check_shared_batch_flags(const shared_batch_flags& f)
{
    if (!f.enabled())
    {
        if (!f.batch_id.empty()) throw usage_error("--batch-id needs --redis");
        return;
    }
#ifndef KIEMIDI_WITH_REDIS
    throw usage_error("--redis: this kiemidi was built without Redis support (KIEMIDI_WITH_REDIS)");
#else
    if (f.batch_id.empty()) throw usage_error("--redis needs --batch-id NAME (the same for every worker of the batch)");
    if (f.lease_ms < 100) throw usage_error("--lease-ms must be at least 100");
    parse_redis_url(f.redis_url);
#endif
}

}  // namespace kiemidi::cli
