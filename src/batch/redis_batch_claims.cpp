// redis_batch_claims: each operation is one Lua script (redis_batch_scripts.hpp) sent with EVAL
// over the claims' own redis::connection, inside a coroutine that retries while Redis is away.
#include <kiemidi/redis_batch_claims.hpp>
#include <kiemidi/batch.hpp>

#include "../async_bridge.hpp"
#include "../redis/connection.hpp"
#include "redis_batch_scripts.hpp"
#include "../nothrow_awaitable.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <random>

namespace asio = boost::asio;

namespace kiemidi {

namespace scripts = detail::redis_batch_scripts;
using std::chrono::milliseconds;

namespace {


/// Tracks sent per EVAL when adding, and read per EVAL for entries: keeps each script short.
constexpr std::size_t chunk = 500;

std::string default_worker_id()
{
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::random_device rd;
    char suffix[9];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
    return std::string(host[0] ? host : "host") + ":" + std::to_string(::getpid()) + ":" + suffix;
}

/// Failures after which the store may simply not have been reached (or its answer was lost);
/// every script is idempotent, so sending it again is safe.
bool transient(const error_code& ec)
{
    using redis::redis_errc;
    return ec == redis_errc::not_connected || ec == redis_errc::connection_lost || ec == redis_errc::timeout ||
           ec == redis_errc::connect_failed;
}

bool to_int(const redis::reply& r, long long& out)
{
    if (r.type == redis::reply_type::integer)
    {
        out = r.integer;
        return true;
    }
    if (!r.is_string()) return false;
    auto [p, e] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), out);
    return e == std::errc() && p == r.str.data() + r.str.size();
}

const std::string& str(const redis::reply& r)
{
    static const std::string empty;
    return r.is_string() ? r.str : empty;
}

/// The worker part of a claim token ("<worker id>#<n>").
std::string worker_of(const std::string& token)
{
    return token.substr(0, token.rfind('#'));
}

/// The batch's state was lost; `what` says what was found missing.
error_code state_lost(diagnostics& diag, const std::string& batch_id, const std::string& what)
{
    diag.set_stage("batch claims");
    diag.set_client_message("the state of batch " + batch_id + " in Redis was lost (" + what +
                            "): Redis restarted without persistence, was flushed, evicted keys, or failed over to a replica that lagged");
    return claim_errc::state_lost;
}

/// A new random epoch: the identity of a batch created now.
std::string new_epoch()
{
    std::random_device rd;
    char buf[33];
    std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", static_cast<unsigned>(rd()), static_cast<unsigned>(rd()),
                  static_cast<unsigned>(rd()), static_cast<unsigned>(rd()));
    return buf;
}

error_code bad_reply(diagnostics& diag, const char* what)
{
    diag.set_stage("batch claims");
    diag.set_client_message(std::string("unexpected Redis reply to ") + what);
    return claim_errc::bad_reply;
}

/// Fields in the order of the scripts' HMGET: task_id audio_id name out state sep midi error stage attempts ref
/// owner type stem given (a track added before the choices existed has none: nil reads as '').
bool fill_entry(const std::vector<redis::reply>& f, std::int64_t id, journal_entry& e, std::string& out_name)
{
    if (f.size() < 10) return false;
    e.id = id;
    e.track.task_id = str(f[0]);
    e.track.audio_id = str(f[1]);
    e.track.name = str(f[2]);
    out_name = str(f[3]);
    auto s = track_state_from_string(str(f[4]));
    if (!s) return false;
    e.state = *s;
    e.separation_task_id = str(f[5]);
    e.midi_task_id = str(f[6]);
    e.error = str(f[7]);
    e.failed_stage = str(f[8]);
    long long attempts = 0;
    to_int(f[9], attempts);
    e.attempts = static_cast<unsigned>(attempts);
    if (f.size() > 10) e.intent_ref = str(f[10]);
    if (f.size() > 14)
    {
        e.track.separation = api::separation_type_from_string(str(f[12]));
        e.track.stem = str(f[13]);
        e.track.separation_task_id = str(f[14]);
    }
    return true;
}

}  // namespace

/// The coroutine bodies of the operations.
/// (Static: a coroutine must not keep a pointer to a temporary `ops`.)
struct redis_batch_claims::ops
{
    /// EVAL `body` (after the prelude) with ARGV = prefix + args, retried on transient failures
    /// with backoff for up to options().store_retry.
    static asio::awaitable<std::tuple<error_code, redis::reply>> eval(redis_batch_claims& self, const char* body, const std::vector<std::string>& args,
                                                                diagnostics& diag)
    {
        // A worker that did not open the batch itself (it joins one another worker created)
        // takes the batch's identity as it is now.
        if (self.epoch_.empty())
        {
            std::vector<std::string> get{"GET", self.prefix_ + "epoch"};
            auto [gec, gr] = co_await self.conn_->async_command(std::move(get), diag, use_nothrow_awaitable);
            if (!gec && gr.is_string()) self.epoch_ = gr.str;
        }
        std::vector<std::string> cmd;
        cmd.reserve(args.size() + 5);
        cmd.emplace_back("EVAL");
        cmd.emplace_back(std::string(scripts::prelude) + body);
        cmd.emplace_back("0");
        cmd.push_back(self.prefix_);
        cmd.insert(cmd.end(), args.begin(), args.end());
        cmd.push_back(self.epoch_);  // the prelude's `epoch`: the batch as this worker opened it
        const auto deadline = std::chrono::steady_clock::now() + self.opts_.store_retry;
        milliseconds backoff(50);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        for (;;)
        {
            diag.clear();
            auto attempt = cmd;
            auto [ec, r] = co_await self.conn_->async_command(std::move(attempt), diag, use_nothrow_awaitable);
            if (!ec || !transient(ec) || std::chrono::steady_clock::now() + backoff > deadline)
            {
                if (ec && diag.stage().empty()) diag.set_stage("batch claims");
                co_return std::tuple<error_code, redis::reply>{ec, std::move(r)};
            }
            timer.expires_after(backoff);
            auto [tec] = co_await timer.async_wait(use_nothrow_awaitable);
            if (tec) co_return std::tuple<error_code, redis::reply>{asio::error::operation_aborted, redis::reply{}};
            backoff = std::min(backoff * 2, milliseconds(1000));
        }
    }

    static asio::awaitable<std::tuple<error_code, journal_counts>> counts(redis_batch_claims& self, diagnostics& diag)
    {
        journal_counts c;
        const std::vector<std::string> none;
        auto [ec, reply] = co_await eval(self, scripts::counts, none, diag);
        if (ec) co_return std::tuple<error_code, journal_counts>{ec, c};
        long long code = 0;
        if (reply.type != redis::reply_type::array || reply.elements.empty() || !to_int(reply.elements[0], code))
            co_return std::tuple<error_code, journal_counts>{bad_reply(diag, "counts"), c};
        if (code == -4) co_return std::tuple<error_code, journal_counts>{state_lost(diag, self.opts_.batch_id, "its identity is gone"), c};
        if (reply.elements.size() < 2 || reply.elements[1].type != redis::reply_type::array)
            co_return std::tuple<error_code, journal_counts>{bad_reply(diag, "counts"), c};
        const auto& r = reply.elements[1];
        for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
        {
            auto s = track_state_from_string(str(r.elements[i]));
            long long n = 0;
            if (!s || !to_int(r.elements[i + 1], n) || n < 0) continue;
            c.by_state[static_cast<std::size_t>(*s)] = static_cast<std::size_t>(n);
            c.total += static_cast<std::size_t>(n);
        }
        co_return std::tuple<error_code, journal_counts>{error_code{}, c};
    }

    static asio::awaitable<std::tuple<error_code, journal_counts>> open(redis_batch_claims& self, std::vector<track_spec> tracks, claims_open_options o,
                                                                 diagnostics& diag)
    {
        // The batch's identity: created with the batch, or the one it already has.
        self.epoch_ = new_epoch();
        {
            const std::vector<std::string> none;
            auto [ec, r] = co_await eval(self, scripts::begin, none, diag);
            if (ec) co_return std::tuple<error_code, journal_counts>{ec, journal_counts{}};
            if (!r.is_string() || r.str.empty()) co_return std::tuple<error_code, journal_counts>{bad_reply(diag, "begin"), journal_counts{}};
            self.epoch_ = r.str;
        }
        for (std::size_t i = 0; i < tracks.size(); i += chunk)
        {
            std::vector<std::string> args;
            for (std::size_t j = i; j < std::min(tracks.size(), i + chunk); ++j)
            {
                const auto& t = tracks[j];
                args.push_back(t.task_id);
                args.push_back(t.audio_id);
                args.push_back(t.name);
                args.push_back(output_name(t));
                args.push_back(t.separation ? std::string(api::to_string(*t.separation)) : std::string());
                args.push_back(t.stem);
                args.push_back(t.separation_task_id);
            }
            auto [ec, r] = co_await eval(self, scripts::add, args, diag);
            if (ec) co_return std::tuple<error_code, journal_counts>{ec, journal_counts{}};
        }
        {
            // not_written tracks always come back (reading a result is free); the others as asked.
            std::vector<std::string> args{o.retry_failed ? "1" : "0", o.resubmit_unknown ? "1" : "0", o.resubmit_lost ? "1" : "0"};
            auto [ec, r] = co_await eval(self, scripts::requeue, args, diag);
            if (ec) co_return std::tuple<error_code, journal_counts>{ec, journal_counts{}};
        }
        co_return co_await counts(self, diag);
    }

    static asio::awaitable<std::tuple<error_code, claim_result>> claim(redis_batch_claims& self, diagnostics& diag)
    {
        claim_result res;
        std::string token = self.opts_.worker_id + "#" + std::to_string(++self.next_claim_);
        std::vector<std::string> args{token, std::to_string(self.opts_.lease.count())};
        auto [ec, r] = co_await eval(self, scripts::claim, args, diag);
        if (ec) co_return std::tuple<error_code, claim_result>{ec, res};
        long long code = 0;
        if (r.type != redis::reply_type::array || r.elements.empty() || !to_int(r.elements[0], code))
            co_return std::tuple<error_code, claim_result>{bad_reply(diag, "claim"), res};
        if (code == -2) co_return std::tuple<error_code, claim_result>{state_lost(diag, self.opts_.batch_id, "its identity or tracks are gone"), res};
        if (code == -1) res.finished = true;
        else if (code == 0)
        {
            long long ms = 0;
            if (r.elements.size() < 2 || !to_int(r.elements[1], ms))
                co_return std::tuple<error_code, claim_result>{bad_reply(diag, "claim"), res};
            res.retry_after = milliseconds(std::max(0LL, ms));
        }
        else
        {
            long long id = 0;
            track_claim c;
            if (r.elements.size() < 4 || !to_int(r.elements[1], id) || r.elements[3].type != redis::reply_type::array ||
                !fill_entry(r.elements[3].elements, id, c.entry, c.output_name))
                co_return std::tuple<error_code, claim_result>{bad_reply(diag, "claim"), res};
            c.token = std::move(token);
            if (!str(r.elements[2]).empty()) c.previous_owner = worker_of(str(r.elements[2]));
            res.claim = std::move(c);
        }
        co_return std::tuple<error_code, claim_result>{error_code{}, std::move(res)};
    }

    static asio::awaitable<std::tuple<error_code, track_state>> update(redis_batch_claims& self, std::int64_t id, std::string claim_token, track_update u,
                                                                diagnostics& diag)
    {
        const char* kind = "release";
        switch (u.what)
        {
        case track_update::kind::intent: kind = "intent"; break;
        case track_update::kind::task_id: kind = "task_id"; break;
        case track_update::kind::done: kind = "done"; break;
        case track_update::kind::failed: kind = "failed"; break;
        case track_update::kind::outcome_unknown: kind = "outcome_unknown"; break;
        case track_update::kind::requeue: kind = "requeue"; break;
        case track_update::kind::release: kind = "release"; break;
        case track_update::kind::adopt: kind = "adopt"; break;
        case track_update::kind::not_written: kind = "not_written"; break;
        case track_update::kind::result_lost: kind = "result_lost"; break;
        case track_update::kind::files_missing: kind = "files_missing"; break;
        }
        const bool adopt = u.what == track_update::kind::adopt;
        std::vector<std::string> args{std::to_string(id),
                                      std::move(claim_token),
                                      kind,
                                      adopt ? u.failed_stage : std::string(to_string(u.stage)),
                                      u.what == track_update::kind::task_id || adopt ? u.task_id
                                      : u.what == track_update::kind::intent ? u.reference
                                                                              : u.failed_stage,
                                      u.error,
                                      std::to_string(self.opts_.lease.count())};
        auto [ec, r] = co_await eval(self, scripts::update, args, diag);
        if (ec) co_return std::tuple<error_code, track_state>{ec, track_state::pending};
        long long code = 0;
        std::optional<track_state> state;
        if (r.type != redis::reply_type::array || r.elements.size() < 2 || !to_int(r.elements[0], code) ||
            (code != -2 && code != -4 && !(state = track_state_from_string(str(r.elements[1])))))
            co_return std::tuple<error_code, track_state>{bad_reply(diag, kind), track_state::pending};
        diag.set_stage("batch claims");
        switch (code)
        {
        case 0: diag.clear(); co_return std::tuple<error_code, track_state>{error_code{}, *state};
        case -1:
            diag.set_client_message(std::string(kind) + ": track " + std::to_string(id) + " is now owned by another worker (it is " +
                                    str(r.elements[1]) + ")");
            co_return std::tuple<error_code, track_state>{claim_errc::claim_lost, *state};
        case -2:
            diag.set_client_message("no track " + std::to_string(id) + " in batch " + self.opts_.batch_id);
            co_return std::tuple<error_code, track_state>{claim_errc::unknown_track, track_state::pending};
        case -4:
            co_return std::tuple<error_code, track_state>{
                state_lost(diag, self.opts_.batch_id,
                           str(r.elements[1]) == "track" ? "track " + std::to_string(id) + ", held by this worker, is gone"
                                                         : "its identity is gone"),
                track_state::pending};
        default:
            diag.set_client_message(std::string(kind) + " is not allowed for track " + std::to_string(id) + " in state " +
                                    str(r.elements[1]));
            co_return std::tuple<error_code, track_state>{claim_errc::invalid_transition, *state};
        }
    }

    static asio::awaitable<std::tuple<error_code, std::vector<std::int64_t>>> renew(redis_batch_claims& self, std::vector<std::pair<std::int64_t, std::string>> held,
                                                                             diagnostics& diag)
    {
        std::vector<std::int64_t> lost;
        std::vector<std::string> args{std::to_string(self.opts_.lease.count())};
        for (auto& [id, token] : held)
        {
            args.push_back(std::to_string(id));
            args.push_back(std::move(token));
        }
        auto [ec, r] = co_await eval(self, scripts::renew, args, diag);
        if (ec) co_return std::tuple<error_code, std::vector<std::int64_t>>{ec, lost};
        long long code = 0;
        if (r.type != redis::reply_type::array || r.elements.empty() || !to_int(r.elements[0], code))
            co_return std::tuple<error_code, std::vector<std::int64_t>>{bad_reply(diag, "renew"), lost};
        long long gone = 0;
        if (code == -4)
            co_return std::tuple<error_code, std::vector<std::int64_t>>{
                state_lost(diag, self.opts_.batch_id,
                           r.elements.size() > 1 && to_int(r.elements[1], gone) ? "track " + std::to_string(gone) + ", held by this worker, is gone"
                                                                                : std::string("its identity is gone")),
                lost};
        for (std::size_t i = 1; i < r.elements.size(); ++i)
        {
            long long id = 0;
            if (to_int(r.elements[i], id)) lost.push_back(id);
        }
        co_return std::tuple<error_code, std::vector<std::int64_t>>{error_code{}, std::move(lost)};
    }

    static asio::awaitable<std::tuple<error_code, redis_durability>> durability(redis_batch_claims& self, diagnostics& diag)
    {
        redis_durability d;
        for (const char* param : {"appendonly", "save", "maxmemory-policy"})
        {
            std::vector<std::string> cmd{"CONFIG", "GET", param};
            auto [ec, r] = co_await self.conn_->async_command(std::move(cmd), diag, use_nothrow_awaitable);
            if (ec == redis::redis_errc::server_error)
            {
                // A managed Redis may refuse CONFIG: not an error, but nothing is known.
                d.refused = diag.server_message().empty() ? std::string(r.str) : diag.server_message();
                diag.clear();
                co_return std::tuple<error_code, redis_durability>{error_code{}, std::move(d)};
            }
            if (ec) co_return std::tuple<error_code, redis_durability>{ec, std::move(d)};
            if (r.type != redis::reply_type::array || r.elements.size() < 2)
            {
                d.refused = std::string("CONFIG GET ") + param + " answered nothing";
                co_return std::tuple<error_code, redis_durability>{error_code{}, std::move(d)};
            }
            const std::string& v = str(r.elements[1]);
            if (param == std::string("appendonly")) d.appendonly = v;
            else if (param == std::string("save")) d.save = v;
            else d.maxmemory_policy = v;
        }
        d.known = true;
        co_return std::tuple<error_code, redis_durability>{error_code{}, std::move(d)};
    }

    static asio::awaitable<std::tuple<error_code, std::vector<shared_track>>> entries(redis_batch_claims& self, diagnostics& diag)
    {
        std::vector<shared_track> out;
        std::vector<std::string> get_ids{"GET", self.prefix_ + "ids"};
        auto [ec, r] = co_await self.conn_->async_command(std::move(get_ids), diag, use_nothrow_awaitable);
        if (ec) co_return std::tuple<error_code, std::vector<shared_track>>{ec, out};
        long long last = 0;
        if (!r.is_nil() && !to_int(r, last))
            co_return std::tuple<error_code, std::vector<shared_track>>{bad_reply(diag, "GET ids"), out};
        for (long long first = 1; first <= last; first += static_cast<long long>(chunk))
        {
            std::vector<std::string> args{std::to_string(first), std::to_string(std::min(last, first + static_cast<long long>(chunk) - 1))};
            auto [eec, er] = co_await eval(self, scripts::entries, args, diag);
            if (eec) co_return std::tuple<error_code, std::vector<shared_track>>{eec, out};
            long long now = 0;
            if (er.type != redis::reply_type::array || er.elements.size() < 2 || !to_int(er.elements[0], now) ||
                er.elements[1].type != redis::reply_type::array)
                co_return std::tuple<error_code, std::vector<shared_track>>{bad_reply(diag, "entries"), out};
            for (const auto& item : er.elements[1].elements)
            {
                long long id = 0;
                shared_track t;
                if (item.type != redis::reply_type::array || item.elements.size() < 3 || !to_int(item.elements[0], id) ||
                    item.elements[2].type != redis::reply_type::array ||
                    !fill_entry(item.elements[2].elements, id, t.entry, t.output_name))
                    co_return std::tuple<error_code, std::vector<shared_track>>{bad_reply(diag, "entries"), out};
                long long expiry = 0;
                if (to_int(item.elements[1], expiry))
                {
                    t.lease_left = milliseconds(expiry - now);
                    if (item.elements[2].elements.size() > 11) t.owner = worker_of(str(item.elements[2].elements[11]));
                }
                out.push_back(std::move(t));
            }
        }
        co_return std::tuple<error_code, std::vector<shared_track>>{error_code{}, std::move(out)};
    }
};

redis_batch_claims::redis_batch_claims(executor_type ex, redis_batch_claims_options opts)
    : conn_(std::make_unique<redis::connection>(std::move(ex), opts.redis)), opts_(std::move(opts))
{
    if (opts_.worker_id.empty()) opts_.worker_id = default_worker_id();
    if (opts_.lease <= milliseconds(0)) opts_.lease = milliseconds(1);
    prefix_ = opts_.key_prefix + "{" + opts_.batch_id + "}:";
}

redis_batch_claims::~redis_batch_claims() = default;

batch_claims::executor_type redis_batch_claims::get_executor() const noexcept
{
    return conn_->get_executor();
}

void redis_batch_claims::start_connect(diagnostics& diag, asio::any_completion_handler<connect_signature> h)
{
    conn_->async_connect(diag, std::move(h));
}

void redis_batch_claims::close() { conn_->close(); }

void redis_batch_claims::start_check_durability(diagnostics& diag, asio::any_completion_handler<durability_signature> h)
{
    detail::spawn_with_handler<redis_durability>(get_executor(), ops::durability(*this, diag), std::move(h));
}

std::string redis_durability::warning() const
{
    if (!known)
        return "cannot check whether Redis keeps the batch's state (CONFIG GET refused: " + refused +
               "); make sure it runs with appendonly yes and maxmemory-policy noeviction";
    std::string why;
    if (appendonly != "yes")
        why = save.empty() ? "appendonly is off and RDB snapshots are off: a restart loses the whole batch state"
                           : "appendonly is off: a restart loses what changed since the last RDB snapshot (save " + save + ")";
    if (maxmemory_policy != "noeviction")
        why += (why.empty() ? "" : "; ") + std::string("maxmemory-policy is ") + maxmemory_policy +
               ": keys of the batch may be evicted (use noeviction)";
    return why;
}

void redis_batch_claims::start_open(std::vector<track_spec> tracks, claims_open_options o, diagnostics& diag,
                                    asio::any_completion_handler<open_signature> h)
{
    detail::spawn_with_handler<journal_counts>(get_executor(), ops::open(*this, std::move(tracks), o, diag), std::move(h));
}

void redis_batch_claims::start_claim(diagnostics& diag, asio::any_completion_handler<claim_signature> h)
{
    detail::spawn_with_handler<claim_result>(get_executor(), ops::claim(*this, diag), std::move(h));
}

void redis_batch_claims::start_update(std::int64_t id, std::string claim_token, track_update u, diagnostics& diag,
                                      asio::any_completion_handler<update_signature> h)
{
    detail::spawn_with_handler<track_state>(get_executor(), ops::update(*this, id, std::move(claim_token), std::move(u), diag),
                                            std::move(h));
}

void redis_batch_claims::start_renew(std::vector<std::pair<std::int64_t, std::string>> held, diagnostics& diag,
                                     asio::any_completion_handler<renew_signature> h)
{
    detail::spawn_with_handler<std::vector<std::int64_t>>(get_executor(), ops::renew(*this, std::move(held), diag), std::move(h));
}

void redis_batch_claims::start_counts(diagnostics& diag, asio::any_completion_handler<open_signature> h)
{
    detail::spawn_with_handler<journal_counts>(get_executor(), ops::counts(*this, diag), std::move(h));
}

void redis_batch_claims::start_entries(diagnostics& diag, asio::any_completion_handler<entries_signature> h)
{
    detail::spawn_with_handler<std::vector<shared_track>>(get_executor(), ops::entries(*this, diag), std::move(h));
}

}  // namespace kiemidi
