// The CLI side of shared batches: where Redis is (`--redis URL`) and which batch it holds
// (`--batch-id`). Without Redis support in the build, using these flags is a usage error.
#ifndef KIEMIDI_APPS_CLI_SHARED_BATCH_HPP
#define KIEMIDI_APPS_CLI_SHARED_BATCH_HPP

#include <string>

#ifdef KIEMIDI_WITH_REDIS
#include <kiemidi/redis/connection_options.hpp>
#endif

namespace kiemidi::cli {

/// Flags naming a shared batch in Redis.
struct shared_batch_flags
{
    std::string redis_url;   ///< redis://[[user]:password@]host[:port][/db]; empty → no shared batch.
    std::string batch_id;    ///< The batch's name in Redis; every worker of the batch uses the same.
    std::string worker_id;   ///< Shown as the owner of this worker's tracks; empty → "<host>:<pid>:<random>".
    unsigned lease_ms = 30000;  ///< A dead worker's tracks are taken over this long after its last renewal.
    /// --require-durable-redis: refuse to start (before anything is paid) when Redis may lose the
    /// batch's state (no appendonly, an evicting maxmemory-policy) or does not say (CONFIG refused).
    bool require_durable = false;

    bool enabled() const { return !redis_url.empty(); }
};

/// Where a redis:// URL points. Throws usage_error for anything else.
struct redis_endpoint
{
    std::string host = "127.0.0.1";
    unsigned short port = 6379;
    std::string username, password;
    int database = 0;
};
redis_endpoint parse_redis_url(const std::string& url);

#ifdef KIEMIDI_WITH_REDIS
/// The connection to the Redis of `f.redis_url`. Throws usage_error for a bad URL.
redis::connection_options redis_connection_options(const shared_batch_flags& f);
#endif

/// Throws usage_error unless `--batch-id` goes with `--redis` and this build has Redis support.
void check_shared_batch_flags(const shared_batch_flags& f);

}  // namespace kiemidi::cli

#endif
