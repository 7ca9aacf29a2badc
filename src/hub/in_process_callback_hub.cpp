// The in-process callback hub: one mutex guards the waiter map, the early-callback buffer and
// the remembered (already delivered) tasks. Handlers are always posted, never run inline.
// Every map is keyed by kind and task id together (key_of): KIE may give a MIDI task its
// separation's id, and a callback of one kind must never complete a wait of the other.
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace asio = boost::asio;

namespace kiemidi {

namespace {
using clock_type = std::chrono::steady_clock;
using handler_type = asio::any_completion_handler<callback_hub::wait_signature>;

// A completion to run after the mutex is released.
struct pending_completion
{
    handler_type handler;
    error_code ec;
    callback_message msg;
    // Released only after the handler is posted, so the io_context never runs out of work in between.
    asio::any_completion_executor work{};
};

// The map key of (kind, task id): one letter for the kind, then the id, so the same id of the
// two kinds gives two keys.
std::string key_of(callback_kind kind, std::string task_id)
{
    task_id.insert(task_id.begin(), kind == callback_kind::midi ? 'm' : 's');
    return task_id;
}
}  // namespace

struct in_process_callback_hub::state
{
    struct waiter
    {
        handler_type handler;
        asio::any_completion_executor work;  // keeps the handler's executor busy while waiting
        std::uint64_t serial = 0;
    };
    struct buffered_entry
    {
        callback_message msg;
        clock_type::time_point expires;
        std::uint64_t seq = 0;
    };
    struct remembered_entry
    {
        clock_type::time_point expires;
        std::uint64_t seq = 0;
    };

    asio::any_io_executor ex;
    callback_hub_options opts;

    mutable std::mutex mtx;
    bool closed = false;
    std::uint64_t next_seq = 1;
    std::unordered_map<std::string, waiter> waiters;            // by key_of(kind, task id)
    std::unordered_map<std::string, waiter> reference_waiters;  // by callback_message::reference
    std::unordered_map<std::string, buffered_entry> buffered;   // by key_of(kind, task id)
    std::map<std::uint64_t, std::string> buffered_order;  // seq → key; seq order is arrival (= expiry) order
    std::unordered_map<std::string, remembered_entry> remembered;  // by key_of(kind, task id)
    std::map<std::uint64_t, std::string> remembered_order;
    callback_hub_stats counters;

    state(asio::any_io_executor e, callback_hub_options o) : ex(std::move(e)), opts(std::move(o)) {}

    clock_type::time_point now() const { return opts.clock ? opts.clock() : clock_type::now(); }

    // Drops expired entries (oldest first). Caller holds mtx.
    void prune(clock_type::time_point t)
    {
        while (!buffered_order.empty())
        {
            auto it = buffered_order.begin();
            auto b = buffered.find(it->second);
            if (b != buffered.end() && b->second.expires > t) break;
            if (b != buffered.end())
            {
                buffered.erase(b);
                ++counters.expired_total;
            }
            buffered_order.erase(it);
        }
        while (!remembered_order.empty())
        {
            auto it = remembered_order.begin();
            auto r = remembered.find(it->second);
            if (r != remembered.end() && r->second.expires > t) break;
            if (r != remembered.end()) remembered.erase(r);
            remembered_order.erase(it);
        }
    }

    // Records that the task of key `id` was delivered, so a repeated callback is recognised. Caller holds mtx.
    void remember(const std::string& id, clock_type::time_point t)
    {
        if (opts.max_remembered_delivered == 0) return;
        if (auto old = remembered.find(id); old != remembered.end())
        {
            remembered_order.erase(old->second.seq);
            remembered.erase(old);
        }
        while (remembered.size() >= opts.max_remembered_delivered && !remembered_order.empty())
        {
            auto it = remembered_order.begin();
            remembered.erase(it->second);
            remembered_order.erase(it);
        }
        const auto seq = next_seq++;
        remembered.emplace(id, remembered_entry{t + opts.remember_delivered_ttl, seq});
        remembered_order.emplace(seq, id);
    }

    // Removes and returns the buffered callback of key `id`, if any. Caller holds mtx.
    std::optional<callback_message> take_buffered(const std::string& id)
    {
        auto it = buffered.find(id);
        if (it == buffered.end()) return std::nullopt;
        std::optional<callback_message> msg(std::move(it->second.msg));
        buffered_order.erase(it->second.seq);
        buffered.erase(it);
        return msg;
    }

    // Posts the handler (through its associated executor); never invokes it inline.
    // When that executor is an any_io_executor (every coroutine's, e.g. a pipeline's strand), the
    // handler is posted to it directly: posting to `ex` first would queue the resumption twice
    // (io_context, then the strand), behind every ready handler of the process each time.
    void post(pending_completion c)
    {
        auto hex = asio::get_associated_executor(c.handler, asio::any_completion_executor(ex));
        if (const auto* io = hex.template target<asio::any_io_executor>())
            asio::post(*io, asio::append(std::move(c.handler), c.ec, std::move(c.msg)));
        else
            asio::post(ex, asio::append(std::move(c.handler), c.ec, std::move(c.msg)));
    }

    // Called from the waiter's cancellation slot.
    void cancel_wait(const std::string& id, std::uint64_t serial, bool by_reference = false)
    {
        std::optional<pending_completion> done;
        {
            std::lock_guard lk(mtx);
            auto& map = by_reference ? reference_waiters : waiters;
            auto it = map.find(id);
            if (it == map.end() || it->second.serial != serial) return;  // already completed
            done.emplace(pending_completion{std::move(it->second.handler), asio::error::operation_aborted, {},
                                            std::move(it->second.work)});
            map.erase(it);
            ++counters.cancelled_total;
        }
        post(std::move(*done));
    }

    // Registers a waiter in `map` under `key`, its cancellation slot wired. Caller holds mtx.
    void register_waiter(std::unordered_map<std::string, waiter>& map, std::string key, handler_type handler,
                         bool by_reference, const std::shared_ptr<state>& self)
    {
        const auto serial = next_seq++;
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
        {
            // The slot's handler holds only a weak reference: it is harmless after completion.
            std::weak_ptr<state> weak = self;
            slot.assign([weak, id = key, serial, by_reference](asio::cancellation_type type) {
                constexpr auto honoured = asio::cancellation_type::terminal | asio::cancellation_type::partial |
                                          asio::cancellation_type::total;
                if ((type & honoured) == asio::cancellation_type::none) return;
                if (auto s = weak.lock()) s->cancel_wait(id, serial, by_reference);
            });
        }
        auto work = asio::prefer(asio::get_associated_executor(handler, asio::any_completion_executor(ex)),
                                 asio::execution::outstanding_work.tracked);
        map.emplace(std::move(key), waiter{std::move(handler), std::move(work), serial});
    }

    // A copy of `msg` for the waiter of its reference, if there is one. Caller holds mtx.
    std::optional<pending_completion> take_reference_waiter(const callback_message& msg)
    {
        if (msg.reference.empty()) return std::nullopt;
        auto it = reference_waiters.find(msg.reference);
        if (it == reference_waiters.end()) return std::nullopt;
        std::optional<pending_completion> done(
            pending_completion{std::move(it->second.handler), error_code{}, msg, std::move(it->second.work)});
        reference_waiters.erase(it);
        return done;
    }

    // Completes every waiter with shut_down and refuses later waits.
    void shut_down()
    {
        std::vector<pending_completion> done;
        {
            std::lock_guard lk(mtx);
            closed = true;
            for (auto& [id, w] : waiters)
                done.push_back(pending_completion{std::move(w.handler), client_errc::shut_down, {}, std::move(w.work)});
            waiters.clear();
            for (auto& [ref, w] : reference_waiters)
                done.push_back(pending_completion{std::move(w.handler), client_errc::shut_down, {}, std::move(w.work)});
            reference_waiters.clear();
            buffered.clear();
            buffered_order.clear();
        }
        for (auto& c : done) post(std::move(c));
    }
};

in_process_callback_hub::in_process_callback_hub(asio::any_io_executor ex, callback_hub_options opts)
    : state_(std::make_shared<state>(std::move(ex), std::move(opts)))
{
}

in_process_callback_hub::~in_process_callback_hub() { state_->shut_down(); }

callback_hub::executor_type in_process_callback_hub::get_executor() const noexcept { return state_->ex; }

void in_process_callback_hub::start_wait(callback_kind kind, std::string task_id, handler_type handler)
{
    auto& st = *state_;
    const std::string key = key_of(kind, std::move(task_id));
    std::optional<pending_completion> now_done;
    {
        std::lock_guard lk(st.mtx);
        const auto t = st.now();
        st.prune(t);
        if (st.closed)
        {
            now_done.emplace(pending_completion{std::move(handler), client_errc::shut_down, {}});
        }
        else if (auto msg = st.take_buffered(key))
        {
            // KIE called back before anyone waited: hand over the buffered callback.
            st.remember(key, t);
            ++st.counters.delivered_total;
            now_done.emplace(pending_completion{std::move(handler), error_code{}, std::move(*msg)});
        }
        else if (st.waiters.count(key) != 0)
        {
            // At most one waiter per kind and task: the second one is refused, the first keeps waiting.
            now_done.emplace(pending_completion{std::move(handler), asio::error::already_started, {}});
        }
        else
        {
            st.register_waiter(st.waiters, key, std::move(handler), false, state_);
        }
    }
    if (now_done) st.post(std::move(*now_done));
}

void in_process_callback_hub::start_wait_reference(std::string reference, handler_type handler)
{
    auto& st = *state_;
    std::optional<pending_completion> now_done;
    {
        std::lock_guard lk(st.mtx);
        st.prune(st.now());
        if (st.closed)
        {
            now_done.emplace(pending_completion{std::move(handler), client_errc::shut_down, {}});
        }
        else if (st.reference_waiters.count(reference) != 0)
        {
            now_done.emplace(pending_completion{std::move(handler), asio::error::already_started, {}});
        }
        else
        {
            // A callback that came before this wait is still buffered under its kind and task id
            // (nobody knew the id to wait for it): scan for it and hand over a copy.
            const state::buffered_entry* found = nullptr;
            if (!reference.empty())
                for (const auto& [id, b] : st.buffered)
                    if (b.msg.reference == reference) found = &b;
            if (found) now_done.emplace(pending_completion{std::move(handler), error_code{}, found->msg});
            else st.register_waiter(st.reference_waiters, std::move(reference), std::move(handler), true, state_);
        }
    }
    if (now_done) st.post(std::move(*now_done));
}

deliver_result in_process_callback_hub::deliver(callback_message msg)
{
    auto& st = *state_;
    std::optional<pending_completion> done;
    std::optional<pending_completion> by_reference;
    deliver_result result;
    {
        std::lock_guard lk(st.mtx);
        const auto t = st.now();
        st.prune(t);
        if (!st.closed) by_reference = st.take_reference_waiter(msg);
        std::string key = key_of(msg.kind, msg.task_id);
        if (auto it = st.waiters.find(key); it != st.waiters.end())
        {
            st.remember(key, t);
            ++st.counters.delivered_total;
            done.emplace(pending_completion{std::move(it->second.handler), error_code{}, std::move(msg),
                                            std::move(it->second.work)});
            st.waiters.erase(it);
            result = deliver_result::delivered;
        }
        else if (st.closed || st.remembered.count(key) != 0 || st.buffered.count(key) != 0)
        {
            // KIE may call back more than once; the first callback of each kind wins.
            ++st.counters.duplicates_total;
            result = deliver_result::duplicate;
        }
        else if (st.opts.max_buffered == 0)
        {
            ++st.counters.overflowed_total;
            result = deliver_result::buffered;
        }
        else
        {
            while (st.buffered.size() >= st.opts.max_buffered && !st.buffered_order.empty())
            {
                auto oldest = st.buffered_order.begin();
                st.buffered.erase(oldest->second);
                st.buffered_order.erase(oldest);
                ++st.counters.overflowed_total;
            }
            const auto seq = st.next_seq++;
            st.buffered_order.emplace(seq, key);
            st.buffered.emplace(std::move(key), state::buffered_entry{std::move(msg), t + st.opts.buffer_ttl, seq});
            ++st.counters.buffered_total;
            result = deliver_result::buffered;
        }
    }
    if (done) st.post(std::move(*done));
    if (by_reference) st.post(std::move(*by_reference));
    return result;
}

void in_process_callback_hub::close() { state_->shut_down(); }

bool in_process_callback_hub::deliver_if_waiting(callback_message& msg)
{
    auto& st = *state_;
    std::optional<pending_completion> done;
    {
        std::lock_guard lk(st.mtx);
        if (auto by_reference = st.closed ? std::nullopt : st.take_reference_waiter(msg)) st.post(std::move(*by_reference));
        const std::string key = key_of(msg.kind, msg.task_id);
        auto it = st.waiters.find(key);
        if (it == st.waiters.end()) return false;
        st.remember(key, st.now());
        ++st.counters.delivered_total;
        done.emplace(pending_completion{std::move(it->second.handler), error_code{}, std::move(msg),
                                        std::move(it->second.work)});
        st.waiters.erase(it);
    }
    st.post(std::move(*done));
    return true;
}

bool in_process_callback_hub::is_waiting(callback_kind kind, const std::string& task_id) const
{
    auto& st = *state_;
    const std::string key = key_of(kind, task_id);
    std::lock_guard lk(st.mtx);
    return st.waiters.count(key) != 0;
}

bool in_process_callback_hub::is_waiting_reference(const std::string& reference) const
{
    auto& st = *state_;
    std::lock_guard lk(st.mtx);
    return st.reference_waiters.count(reference) != 0;
}

callback_hub_stats in_process_callback_hub::stats() const
{
    auto& st = *state_;
    std::lock_guard lk(st.mtx);
    st.prune(st.now());
    callback_hub_stats s = st.counters;
    s.waiting = st.waiters.size();
    s.waiting_references = st.reference_waiters.size();
    s.buffered = st.buffered.size();
    s.remembered = st.remembered.size();
    return s;
}

}  // namespace kiemidi
