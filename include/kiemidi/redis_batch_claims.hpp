/// @file
/// kiemidi::redis_batch_claims: the shared state of a batch in Redis, for several workers.
///
/// Every track is a hash (its journal facts, output name and current owner) under one key prefix
/// per batch; unclaimed tracks sit in a sorted set by id and claimed ones in a sorted set by lease
/// expiry (Redis' own clock, so workers' clocks need not agree). Each operation is one Lua script,
/// so a claim, a lease check and a state change are atomic. Changes are idempotent, which lets
/// them be retried while Redis is briefly unreachable: a task id KIE gave is not given up easily.
///
/// Durability is Redis': run it with `appendonly yes` (and `appendfsync always` to survive a
/// power loss at any moment) and `maxmemory-policy noeviction`, or a recorded task id can be lost
/// with the last snapshot or an eviction; async_check_durability reads those settings. Each batch
/// has an identity (an epoch key written when async_open creates it): once it, or a track this
/// worker holds, is gone (a restart without persistence, a flush, an eviction, a failover to a
/// lagging replica), claims, changes and renewals fail with claim_errc::state_lost instead of
/// taking an empty batch for a finished one.
#ifndef KIEMIDI_REDIS_BATCH_CLAIMS_HPP
#define KIEMIDI_REDIS_BATCH_CLAIMS_HPP

#include <kiemidi/default_token.hpp>
#include <kiemidi/batch_claims.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/redis/connection_options.hpp>
#include <kiemidi/redis/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace kiemidi {

namespace redis {
class connection;
}

/// Where a redis_batch_claims keeps a batch: the Redis server, the batch's id and key prefix,
/// this worker's id and the lease of its claims.
struct redis_batch_claims_options
{
    /// Where Redis is; the claims keep one connection of their own there.
    redis::connection_options redis;
    /// Names the batch; every worker of one batch uses the same id (and the same track list).
    std::string batch_id;
    /// Shown as the owner of the tracks this worker holds; empty → `<host>:<pid>:<random>`.
    std::string worker_id;
    /// How long a claim lasts without renewal; the runner renews every third of it. A dead
    /// worker's tracks are taken over this long after its last renewal.
    std::chrono::milliseconds lease{std::chrono::seconds(30)};
    /// Keys are `<key_prefix>{<batch_id>}:...` (the braces keep one batch in one cluster slot).
    std::string key_prefix = "kiemidi:batch:";
    /// How long a change is retried while Redis is unreachable before it is reported failed.
    std::chrono::milliseconds store_retry{std::chrono::seconds(30)};
};

/// What Redis says about keeping a batch's state (CONFIG GET), read when a batch starts.
struct redis_durability
{
    bool known = false;            ///< CONFIG GET answered; else `refused` says why (a managed Redis may refuse it).
    std::string refused;           ///< Redis' answer when it refused CONFIG.
    std::string appendonly;        ///< "yes" / "no".
    std::string save;              ///< The RDB snapshot rules; empty: no snapshots.
    std::string maxmemory_policy;  ///< "noeviction" keeps every key; anything else may evict the batch's.

    /// One line saying how the batch's state could be lost (a restart without persistence, an
    /// eviction), or that it could not be checked; empty when appendonly is on and nothing is evicted.
    KIEMIDI_DECL std::string warning() const;
};

/// batch_claims in Redis, over a connection of its own (options().redis). Several workers, in
/// one process or many, each with its own redis_batch_claims and the same batch_id, share the batch.
///
/// @par Object lifetimes, cancellation, thread safety
/// As batch_claims says for every implementation; async_connect and async_check_durability
/// below say their own.
class redis_batch_claims final : public batch_claims
{
public:
    /// Handler signature of async_connect.
    using connect_signature = void(error_code);

    /// Prepares the claims; nothing is sent to Redis before async_connect.
    KIEMIDI_DECL redis_batch_claims(executor_type ex, redis_batch_claims_options opts);
    /// Closes the connection; no operation may be pending.
    KIEMIDI_DECL ~redis_batch_claims() override;
    /// Not copyable.
    redis_batch_claims(const redis_batch_claims&) = delete;
    /// Not copy-assignable.
    redis_batch_claims& operator=(const redis_batch_claims&) = delete;

    /// Connects to Redis (from then on the connection comes back by itself after a loss, per
    /// options().redis). Completes once connected, or with why the attempt failed
    /// (redis::redis_errc::connect_failed, timeout; diag says more) or redis_errc::closed.
    /// @par Cancellation
    /// terminal, partial and total: the attempt stops with boost::asio::error::operation_aborted.
    /// @par Object lifetimes
    /// `diag` and the object must outlive the operation.
    template <boost::asio::completion_token_for<connect_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_connect(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, connect_signature>(
            [this](auto handler, diagnostics* d) {
                start_connect(*d, boost::asio::any_completion_handler<connect_signature>(std::move(handler)));
            },
            token, &diag);
    }

    /// Handler signature of async_check_durability.
    using durability_signature = void(error_code, redis_durability);

    /// Reads appendonly, save and maxmemory-policy (CONFIG GET). A refused CONFIG is not an
    /// error: the result says so (known == false). Handler: void(error_code, redis_durability).
    /// @par Cancellation
    /// terminal: completes with boost::asio::error::operation_aborted (the reads change nothing).
    /// @par Object lifetimes
    /// `diag` and the object must outlive the operation.
    template <boost::asio::completion_token_for<durability_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_check_durability(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, durability_signature>(
            [this](auto handler, diagnostics* d) {
                start_check_durability(*d, boost::asio::any_completion_handler<durability_signature>(std::move(handler)));
            },
            token, &diag);
    }

    /// The batch's identity in Redis as this worker opened it (empty before async_open).
    const std::string& epoch() const noexcept { return epoch_; }

    /// Closes the connection; pending and later operations fail (redis_errc::closed).
    KIEMIDI_DECL void close();

    /// The executor of the Redis connection.
    KIEMIDI_DECL executor_type get_executor() const noexcept override;
    const std::string& worker_id() const noexcept override { return opts_.worker_id; }
    std::chrono::milliseconds lease() const noexcept override { return opts_.lease; }
    /// The options given at construction.
    const redis_batch_claims_options& options() const noexcept { return opts_; }

private:
    KIEMIDI_DECL void start_connect(diagnostics& diag, boost::asio::any_completion_handler<connect_signature> h);
    KIEMIDI_DECL void start_check_durability(diagnostics& diag, boost::asio::any_completion_handler<durability_signature> h);
    KIEMIDI_DECL void start_open(std::vector<track_spec> tracks, claims_open_options opts, diagnostics& diag,
                                 boost::asio::any_completion_handler<open_signature> h) override;
    KIEMIDI_DECL void start_claim(diagnostics& diag, boost::asio::any_completion_handler<claim_signature> h) override;
    KIEMIDI_DECL void start_update(std::int64_t id, std::string claim_token, track_update u, diagnostics& diag,
                                   boost::asio::any_completion_handler<update_signature> h) override;
    KIEMIDI_DECL void start_renew(std::vector<std::pair<std::int64_t, std::string>> claims, diagnostics& diag,
                                  boost::asio::any_completion_handler<renew_signature> h) override;
    KIEMIDI_DECL void start_counts(diagnostics& diag, boost::asio::any_completion_handler<open_signature> h) override;
    KIEMIDI_DECL void start_entries(diagnostics& diag, boost::asio::any_completion_handler<entries_signature> h) override;

    struct ops;
    std::unique_ptr<redis::connection> conn_;
    redis_batch_claims_options opts_;
    std::string prefix_;
    std::string epoch_;  ///< The batch's identity as opened; every script checks it.
    std::atomic<std::uint64_t> next_claim_{0};
};

}  // namespace kiemidi

#endif
