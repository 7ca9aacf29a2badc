// The Redis callback hub: an in-process hub for local waiters, plus Redis for the callbacks that
// land on another instance. Redis is an accelerator, never a requirement: every Redis failure
// leaves the callback in the local hub (and in a short list to store after reconnecting), and
// waits whose callback never reaches them fall back to polling in the client.
#include <kiemidi/redis_callback_hub.hpp>

#include "../redis/connection.hpp"
#include "../server_work.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

namespace asio = boost::asio;

namespace kiemidi {

namespace {

// Stores the callback unless Redis already has one of its kind for the task, and publishes it when asked
// to; atomic, so "stored" and "published" can never disagree across instances. A callback with a
// reference also gets an index entry reference → task key, for async_wait_reference.
// KEYS[1] = task key, KEYS[2] = reference key (optional); ARGV = json, ttl ms, channel,
// publish (1/0). Returns 1 when stored.
constexpr const char* store_script = R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if KEYS[2] then redis.call('SET', KEYS[2], KEYS[1], 'PX', ARGV[2]) end
  if ARGV[4] == '1' then redis.call('PUBLISH', ARGV[3], ARGV[1]) end
  return 1
end
return 0
)lua";

const char* kind_name(callback_kind k) { return k == callback_kind::midi ? "midi" : "separation"; }

}  // namespace

std::string serialize_callback(const callback_message& msg)
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.received_at.time_since_epoch()).count();
    boost::json::object o{{"v", 1},
                          {"kind", kind_name(msg.kind)},
                          {"task_id", msg.task_id},
                          {"body", msg.body},
                          {"ref", msg.reference},
                          {"received_at_ms", ms}};
    return boost::json::serialize(o);
}

bool parse_callback(std::string_view text, callback_message& out)
{
    error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) return false;
    const auto& o = v.get_object();
    const auto* ver = o.if_contains("v");
    const auto* kind = o.if_contains("kind");
    const auto* id = o.if_contains("task_id");
    const auto* body = o.if_contains("body");
    const auto* ref = o.if_contains("ref");
    const auto* at = o.if_contains("received_at_ms");
    if (!ver || !ver->is_int64() || ver->get_int64() != 1) return false;
    if (!kind || !kind->is_string() || !id || !id->is_string() || !body || !body->is_string()) return false;
    if (ref && !ref->is_string()) return false;
    const auto k = kind->get_string();
    if (k == "midi") out.kind = callback_kind::midi;
    else if (k == "separation") out.kind = callback_kind::separation;
    else return false;
    out.task_id = std::string(id->get_string());
    if (out.task_id.empty()) return false;
    out.body = std::string(body->get_string());
    out.reference = ref ? std::string(ref->get_string()) : std::string();
    out.received_at = {};
    if (at && at->is_int64())
        out.received_at = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::milliseconds(at->get_int64())));
    return true;
}

struct redis_callback_hub::state : std::enable_shared_from_this<state>
{
    asio::any_io_executor ex;
    redis_callback_hub_options opts;
    std::string channel;
    in_process_callback_hub local;
    redis::connection commands;
    redis::connection subscriber;
    std::atomic<bool> closed{false};
    // The Redis commands in flight, counted so async_stop lets them finish; once none is left the
    // connections are closed.
    std::shared_ptr<detail::server_work> work;

    // Tasks (kind, id) and references with a local wait that may need a lookup after a reconnect
    // (a callback published while this instance's subscriber was away is only found in its key);
    // pruned lazily.
    std::mutex mtx;
    std::set<std::pair<callback_kind, std::string>> watched;
    std::unordered_set<std::string> watched_references;
    std::size_t inserts_since_prune = 0;
    // Callbacks that could not be stored while Redis was away, oldest first.
    std::deque<callback_message> unsent;

    std::atomic<std::uint64_t> stored{0}, published{0}, already_stored{0}, messages{0}, remote_delivered{0},
        lookups{0}, store_failures{0}, malformed{0};

    state(asio::any_io_executor e, redis_callback_hub_options o)
        : ex(e), opts(std::move(o)), channel(opts.key_prefix + "callbacks"), local(e, opts.local), commands(e, opts.redis),
          subscriber(e, opts.redis)
    {
    }

    // Sends one command counted as work (not at all once a stop began); a stop cut at once
    // closes the command connection, which completes it with redis_errc::closed.
    template <class Then>
    void command(std::vector<std::string> args, Then then)
    {
        std::weak_ptr<state> weak = shared_from_this();
        auto ticket = work->enter([weak](bool at_once) {
            if (auto self = weak.lock(); self && at_once) self->commands.close();
        });
        if (!ticket) return;
        commands.async_command(std::move(args), [t = std::move(ticket), then = std::move(then)](
                                                    error_code ec, redis::reply r) mutable {
            then(ec, std::move(r));
            t.release();  // after `then`, so a command it sends in turn is counted before this one ends
        });
    }

    // By kind and task id: a MIDI task may carry its separation's id, and each kind's first
    // callback is kept (SET NX), so a repeated separation callback never hides the MIDI one.
    std::string key_of(callback_kind kind, const std::string& task_id) const
    {
        return opts.key_prefix + "cb:" + kind_name(kind) + ":" + task_id;
    }
    std::string reference_key_of(const std::string& reference) const { return opts.key_prefix + "ref:" + reference; }

    void start()
    {
        std::weak_ptr<state> weak = shared_from_this();
        subscriber.set_message_handler([weak](const std::string&, const std::string& payload) {
            if (auto self = weak.lock()) self->on_message(payload);
        });
        // After either connection comes back, what happened meanwhile is caught up.
        subscriber.set_state_handler([weak](bool up) {
            if (auto self = weak.lock(); self && up) self->resync();
        });
        commands.set_state_handler([weak](bool up) {
            if (auto self = weak.lock(); self && up)
            {
                self->flush_unsent();
                self->resync();
            }
        });
        commands.start();
        subscriber.async_subscribe({channel}, [](error_code) {});
    }

    void on_message(const std::string& payload)
    {
        ++messages;
        deliver_from_redis(payload);
    }

    // A callback another instance stored or published, to this instance's waits if any are for it.
    void deliver_from_redis(std::string_view text)
    {
        callback_message msg;
        if (!parse_callback(text, msg))
        {
            ++malformed;
            return;
        }
        if (local.deliver_if_waiting(msg)) ++remote_delivered;
    }

    // Stores (and, when `publish`, publishes) one callback; on failure keeps it for later.
    void store(callback_message msg, bool publish)
    {
        auto json = serialize_callback(msg);
        std::vector<std::string> args{"EVAL", store_script, msg.reference.empty() ? "1" : "2", key_of(msg.kind, msg.task_id)};
        if (!msg.reference.empty()) args.push_back(reference_key_of(msg.reference));
        args.push_back(std::move(json));
        args.push_back(std::to_string(opts.key_ttl.count()));
        args.push_back(channel);
        args.push_back(publish ? "1" : "0");
        command(std::move(args), [self = shared_from_this(), msg = std::move(msg), publish](
                                     error_code ec, redis::reply r) mutable {
            if (ec)
            {
                ++self->store_failures;
                self->keep_unsent(std::move(msg));
                return;
            }
            if (r.integer == 1)
            {
                ++self->stored;
                if (publish) ++self->published;
            }
            else
            {
                ++self->already_stored;
            }
        });
    }

    void keep_unsent(callback_message msg)
    {
        if (closed) return;
        std::lock_guard lk(mtx);
        if (opts.local.max_buffered == 0) return;
        while (unsent.size() >= opts.local.max_buffered) unsent.pop_front();
        unsent.push_back(std::move(msg));
    }

    void flush_unsent()
    {
        std::deque<callback_message> batch;
        {
            std::lock_guard lk(mtx);
            batch.swap(unsent);
        }
        for (auto& m : batch)
        {
            // Drop what has outlived the local buffer's TTL: its waiter has long fallen back to polling.
            if (m.received_at != std::chrono::system_clock::time_point{} &&
                std::chrono::system_clock::now() - m.received_at > opts.local.buffer_ttl)
                continue;
            store(std::move(m), true);
        }
    }

    void lookup(callback_kind kind, const std::string& task_id)
    {
        ++lookups;
        command({"GET", key_of(kind, task_id)}, [self = shared_from_this()](error_code ec, redis::reply r) {
            if (ec || r.type != redis::reply_type::string) return;
            self->deliver_from_redis(r.str);
        });
    }

    // A wait by reference: the index entry names the task key, whose callback any local wait
    // (by task id or by reference) then receives.
    void lookup_reference(const std::string& reference)
    {
        ++lookups;
        command({"GET", reference_key_of(reference)}, [self = shared_from_this()](error_code ec, redis::reply r) {
            if (ec || r.type != redis::reply_type::string) return;
            self->command({"GET", r.str}, [self](error_code ec2, redis::reply r2) {
                if (ec2 || r2.type != redis::reply_type::string) return;
                self->deliver_from_redis(r2.str);
            });
        });
    }

    void watch(callback_kind kind, const std::string& task_id)
    {
        std::lock_guard lk(mtx);
        watched.emplace(kind, task_id);
        if (++inserts_since_prune >= 1024) prune_if_stale_locked();
    }

    void watch_reference(const std::string& reference)
    {
        std::lock_guard lk(mtx);
        watched_references.insert(reference);
        if (++inserts_since_prune >= 1024) prune_if_stale_locked();
    }

    void prune_if_stale_locked()
    {
        const auto s = local.stats();
        if (watched.size() + watched_references.size() > 2 * (s.waiting + s.waiting_references) + 1024) prune_locked();
        else inserts_since_prune = 0;
    }

    void prune_locked()
    {
        inserts_since_prune = 0;
        for (auto it = watched.begin(); it != watched.end();)
            it = local.is_waiting(it->first, it->second) ? std::next(it) : watched.erase(it);
        for (auto it = watched_references.begin(); it != watched_references.end();)
            it = local.is_waiting_reference(*it) ? std::next(it) : watched_references.erase(it);
    }

    void resync()
    {
        if (closed || !commands.is_connected()) return;
        std::vector<std::pair<callback_kind, std::string>> ids;
        std::vector<std::string> references;
        {
            std::lock_guard lk(mtx);
            prune_locked();
            ids.assign(watched.begin(), watched.end());
            references.assign(watched_references.begin(), watched_references.end());
        }
        for (const auto& [kind, id] : ids) lookup(kind, id);
        for (const auto& ref : references) lookup_reference(ref);
    }

    // Refuses new waits and deliveries (pending waits end with shut_down); Redis work goes on.
    void refuse_new()
    {
        closed = true;
        local.close();
    }

    void close_connections()
    {
        commands.close();
        subscriber.close();
        std::lock_guard lk(mtx);
        watched.clear();
        watched_references.clear();
        unsent.clear();
    }

    void shut_down()
    {
        refuse_new();
        work->stop_now();
        close_connections();
    }
};

redis_callback_hub::redis_callback_hub(asio::any_io_executor ex, redis_callback_hub_options opts)
    : state_(std::make_shared<state>(std::move(ex), std::move(opts)))
{
    std::weak_ptr<state> weak = state_;
    state_->work = std::make_shared<detail::server_work>(state_->ex, [weak] {
        if (auto st = weak.lock()) st->close_connections();
    });
    state_->start();
}

redis_callback_hub::~redis_callback_hub() { state_->shut_down(); }

callback_hub::executor_type redis_callback_hub::get_executor() const noexcept { return state_->ex; }

deliver_result redis_callback_hub::deliver(callback_message msg)
{
    auto& st = *state_;
    if (st.closed) return st.local.deliver(std::move(msg));
    callback_message copy = msg;
    const bool here = st.local.deliver_if_waiting(msg);
    if (!st.commands.is_connected())
    {
        ++st.store_failures;
        if (here)
        {
            st.keep_unsent(std::move(copy));
            return deliver_result::delivered;
        }
        // Kept locally for a later local wait, and for Redis once it is back.
        st.keep_unsent(copy);
        return st.local.deliver(std::move(copy));
    }
    // Stored even when delivered here: a repeated callback landing elsewhere is then recognised,
    // and a wait that restarts (after a crash or cancellation) still finds it.
    st.store(std::move(copy), !here);
    return here ? deliver_result::delivered : deliver_result::buffered;
}

void redis_callback_hub::start_wait(callback_kind kind, std::string task_id,
                                    asio::any_completion_handler<wait_signature> handler)
{
    auto& st = *state_;
    st.local.async_wait(kind, task_id, std::move(handler));
    if (st.closed || !st.local.is_waiting(kind, task_id)) return;  // completed at once (buffered, refused, closed)
    st.watch(kind, task_id);
    if (st.commands.is_connected()) st.lookup(kind, task_id);
}

void redis_callback_hub::start_wait_reference(std::string reference, asio::any_completion_handler<wait_signature> handler)
{
    auto& st = *state_;
    const auto ref = reference;
    st.local.async_wait_reference(std::move(reference), std::move(handler));
    // Found here already, or refused: the local hub has completed it. Otherwise ask Redis; a
    // callback published later reaches the wait through the channel.
    if (st.closed || ref.empty() || !st.local.is_waiting_reference(ref)) return;
    st.watch_reference(ref);
    if (st.commands.is_connected()) st.lookup_reference(ref);
}

void redis_callback_hub::start_connect(asio::any_completion_handler<void(error_code)> handler)
{
    // Both connections, first error wins; cancellation is forwarded to both.
    struct join
    {
        explicit join(asio::any_completion_handler<void(error_code)> h) : handler(std::move(h)) {}
        asio::any_completion_handler<void(error_code)> handler;
        asio::any_io_executor ex;
        asio::cancellation_signal cancel_commands, cancel_subscriber;
        std::mutex mtx;
        int remaining = 2;
        error_code first;

        void done(error_code ec)
        {
            std::unique_lock lk(mtx);
            if (ec && !first) first = ec;
            if (--remaining != 0) return;
            auto h = std::move(handler);
            auto result = first;
            lk.unlock();
            asio::post(ex, asio::append(std::move(h), result));
        }
    };
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto j = std::make_shared<join>(std::move(handler));
    j->ex = state_->ex;
    if (slot.is_connected())
    {
        std::weak_ptr<join> weak = j;
        slot.assign([weak](asio::cancellation_type type) {
            if (auto jj = weak.lock())
            {
                // Signals are emitted from this one place only, under the join's mutex.
                std::lock_guard lk(jj->mtx);
                jj->cancel_commands.emit(type);
                jj->cancel_subscriber.emit(type);
            }
        });
    }
    state_->commands.async_connect(asio::bind_cancellation_slot(j->cancel_commands.slot(), [j](error_code ec) { j->done(ec); }));
    state_->subscriber.async_subscribe({state_->channel}, asio::bind_cancellation_slot(j->cancel_subscriber.slot(),
                                                                                        [j](error_code ec) { j->done(ec); }));
}

void redis_callback_hub::close() { state_->shut_down(); }

void redis_callback_hub::start_stop(asio::any_completion_handler<void(error_code)> handler)
{
    state_->refuse_new();
    state_->work->stop(state_->opts.stop_grace, std::move(handler));
}

callback_hub_stats redis_callback_hub::stats() const { return state_->local.stats(); }

redis_callback_hub_stats redis_callback_hub::redis_stats() const
{
    auto& st = *state_;
    redis_callback_hub_stats s;
    s.connected = st.commands.is_connected();
    s.subscribed = st.subscriber.is_connected();
    s.stored_total = st.stored;
    s.published_total = st.published;
    s.already_stored_total = st.already_stored;
    s.messages_total = st.messages;
    s.remote_delivered_total = st.remote_delivered;
    s.lookups_total = st.lookups;
    s.store_failures_total = st.store_failures;
    s.malformed_total = st.malformed;
    s.commands = st.commands.stats();
    s.subscriber = st.subscriber.stats();
    return s;
}

}  // namespace kiemidi
