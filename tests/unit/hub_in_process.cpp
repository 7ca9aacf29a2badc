// in_process_callback_hub without sockets: buffering, duplicates, cancellation, bounds, threads.
#include <kiemidi/in_process_callback_hub.hpp>

#include "common/callback_outcome.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;

using namespace kiemidi;
using kiemidi::test::outcome;
using namespace std::chrono_literals;

// A named namespace, not a file-local one: Boost.Test's test cases derive from these fixtures, and
// in a unity build g++ (-Wsubobject-linkage) refuses a base of a file-local type in an included file.
namespace hub_in_process_fixtures {

callback_message make_message(std::string id, callback_kind kind = callback_kind::midi)
{
    callback_message m;
    m.kind = kind;
    m.task_id = std::move(id);
    m.body = R"({"code":200,"msg":"success","data":{"taskId":")" + m.task_id + R"("}})";
    m.received_at = std::chrono::system_clock::now();
    return m;
}


// A manually advanced clock for TTL tests.
struct fake_clock
{
    std::shared_ptr<std::chrono::steady_clock::time_point> now =
        std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::time_point{} + 1h);
    std::function<std::chrono::steady_clock::time_point()> fn() const
    {
        return [n = now] { return *n; };
    }
    void advance(std::chrono::steady_clock::duration d) { *now += d; }
};

/// A hub with default options on an io_context that the test runs by hand.
struct hub_fixture
{
    asio::io_context ioc;
    in_process_callback_hub hub{ioc.get_executor()};
    outcome o;  ///< what the test's wait completed with

    /// Runs the handlers that are ready, and lets the io_context run again later.
    void run_ready()
    {
        ioc.run();
        ioc.restart();
    }
};

/// The wait completed exactly once, without an error.
void check_completed_once(const outcome& o)
{
    BOOST_TEST(o.calls == 1);
    BOOST_TEST(!o.ec);
}

/// Waits on `hub` for `gone` (its callback no longer buffered) and for `kept` (still buffered):
/// only the wait for `kept` is handed its callback; the other waits until it is cancelled.
void check_only_the_kept_callback_is_handed_over(asio::io_context& ioc, in_process_callback_hub& hub, const char* gone,
                                                 const char* kept)
{
    asio::cancellation_signal sig;
    outcome gone_wait, kept_wait;
    hub.async_wait(callback_kind::midi, gone, asio::bind_cancellation_slot(sig.slot(), gone_wait.handler()));
    hub.async_wait(callback_kind::midi, kept, kept_wait.handler());
    ioc.poll();
    BOOST_TEST(gone_wait.calls == 0);  // nothing to hand over
    BOOST_TEST(kept_wait.calls == 1);
    BOOST_TEST(kept_wait.msg.task_id == kept);
    sig.emit(asio::cancellation_type::terminal);
    ioc.run();
    BOOST_TEST((gone_wait.ec == asio::error::operation_aborted));
}

}  // namespace hub_in_process_fixtures
using namespace hub_in_process_fixtures;

BOOST_AUTO_TEST_SUITE(callback_hub_suite)

BOOST_FIXTURE_TEST_CASE(waiter_receives_the_callback_delivered_for_its_task, hub_fixture)
{
    hub.async_wait(callback_kind::separation, "task-1", o.handler());
    BOOST_TEST((hub.deliver(make_message("task-1", callback_kind::separation)) == deliver_result::delivered));
    ioc.run();
    check_completed_once(o);
    BOOST_TEST(o.msg.task_id == "task-1");
    BOOST_TEST((o.msg.kind == callback_kind::separation));
    BOOST_TEST(o.msg.body.find("task-1") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(early_callback_is_buffered_then_handed_to_a_later_waiter, hub_fixture)
{
    BOOST_TEST((hub.deliver(make_message("early")) == deliver_result::buffered));
    BOOST_TEST(hub.stats().buffered == 1u);

    hub.async_wait(callback_kind::midi, "early", o.handler());
    BOOST_TEST(o.calls == 0);  // posted, not inline
    ioc.run();
    check_completed_once(o);
    BOOST_TEST(o.msg.task_id == "early");
    const auto s = hub.stats();
    BOOST_TEST(s.buffered == 0u);
    BOOST_TEST(s.delivered_total == 1u);
    BOOST_TEST(s.waiting == 0u);
}

BOOST_FIXTURE_TEST_CASE(duplicate_callback_resumes_waiter_once, hub_fixture)
{
    hub.async_wait(callback_kind::midi, "dup", o.handler());
    BOOST_TEST((hub.deliver(make_message("dup")) == deliver_result::delivered));
    BOOST_TEST((hub.deliver(make_message("dup")) == deliver_result::duplicate));
    ioc.run();
    BOOST_TEST(o.calls == 1);
    BOOST_TEST((hub.deliver(make_message("dup")) == deliver_result::duplicate));
    BOOST_TEST(hub.stats().duplicates_total == 2u);
    BOOST_TEST(hub.stats().buffered == 0u);
}

BOOST_FIXTURE_TEST_CASE(second_buffered_callback_for_the_same_task_is_a_duplicate, hub_fixture)
{
    auto first = make_message("twice");
    first.body = "first";
    auto second = make_message("twice");
    second.body = "second";
    BOOST_TEST((hub.deliver(first) == deliver_result::buffered));
    BOOST_TEST((hub.deliver(second) == deliver_result::duplicate));
    hub.async_wait(callback_kind::midi, "twice", o.handler());
    ioc.run();
    BOOST_TEST(o.calls == 1);
    BOOST_TEST(o.msg.body == "first");
}

BOOST_AUTO_TEST_CASE(cancellation_removes_the_waiter_and_a_later_callback_is_buffered)
{
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total})
    {
        asio::io_context ioc;
        in_process_callback_hub hub(ioc.get_executor());
        asio::cancellation_signal sig;
        outcome o;
        hub.async_wait(callback_kind::midi, "cancel-me", asio::bind_cancellation_slot(sig.slot(), o.handler()));
        BOOST_TEST(hub.stats().waiting == 1u);
        sig.emit(type);
        BOOST_TEST(o.calls == 0);  // posted, not inline
        ioc.run();
        BOOST_TEST(o.calls == 1);
        BOOST_TEST((o.ec == asio::error::operation_aborted));
        BOOST_TEST(hub.stats().waiting == 0u);
        BOOST_TEST(hub.stats().cancelled_total == 1u);

        BOOST_TEST((hub.deliver(make_message("cancel-me")) == deliver_result::buffered));
        sig.emit(type);  // a stale emission after completion is harmless
        ioc.restart();
        ioc.run();
        BOOST_TEST(o.calls == 1);
    }
}

BOOST_FIXTURE_TEST_CASE(second_waiter_for_the_same_task_is_refused_and_the_first_keeps_waiting, hub_fixture)
{
    outcome first, second;
    hub.async_wait(callback_kind::midi, "one", first.handler());
    hub.async_wait(callback_kind::midi, "one", second.handler());
    ioc.poll();
    BOOST_TEST(second.calls == 1);
    BOOST_TEST((second.ec == asio::error::already_started));
    BOOST_TEST(first.calls == 0);
    BOOST_TEST((hub.deliver(make_message("one")) == deliver_result::delivered));
    ioc.run();
    check_completed_once(first);
}

BOOST_AUTO_TEST_CASE(buffered_callback_expires_after_its_ttl)
{
    asio::io_context ioc;
    fake_clock clock;
    in_process_callback_hub hub(ioc.get_executor(), {.buffer_ttl = 10s, .clock = clock.fn()});
    BOOST_TEST((hub.deliver(make_message("old")) == deliver_result::buffered));
    clock.advance(5s);
    BOOST_TEST((hub.deliver(make_message("young")) == deliver_result::buffered));
    clock.advance(6s);  // "old" is 11 s old, "young" 6 s
    auto s = hub.stats();
    BOOST_TEST(s.buffered == 1u);
    BOOST_TEST(s.expired_total == 1u);

    check_only_the_kept_callback_is_handed_over(ioc, hub, "old", "young");  // "old" expired
}

BOOST_AUTO_TEST_CASE(remembered_task_ids_expire_so_memory_stays_bounded)
{
    asio::io_context ioc;
    fake_clock clock;
    in_process_callback_hub hub(ioc.get_executor(), {.remember_delivered_ttl = 60s, .max_remembered_delivered = 2, .clock = clock.fn()});
    for (const char* id : {"a", "b", "c"})
    {
        outcome o;
        hub.async_wait(callback_kind::midi, id, o.handler());
        hub.deliver(make_message(id));
        ioc.restart();
        ioc.run();
    }
    BOOST_TEST(hub.stats().remembered == 2u);  // "a" forgotten (size bound)
    BOOST_TEST((hub.deliver(make_message("c")) == deliver_result::duplicate));
    BOOST_TEST((hub.deliver(make_message("a")) == deliver_result::buffered));
    clock.advance(61s);
    BOOST_TEST(hub.stats().remembered == 0u);  // TTL
    BOOST_TEST((hub.deliver(make_message("b")) == deliver_result::buffered));
}

BOOST_AUTO_TEST_CASE(oldest_buffered_callback_is_evicted_beyond_max_buffered)
{
    asio::io_context ioc;
    in_process_callback_hub hub(ioc.get_executor(), {.max_buffered = 3});
    for (const char* id : {"1", "2", "3", "4"})
        BOOST_TEST((hub.deliver(make_message(id)) == deliver_result::buffered));
    auto s = hub.stats();
    BOOST_TEST(s.buffered == 3u);
    BOOST_TEST(s.overflowed_total == 1u);

    check_only_the_kept_callback_is_handed_over(ioc, hub, "1", "4");  // "1" evicted
}

BOOST_FIXTURE_TEST_CASE(handlers_are_never_invoked_inline, hub_fixture)
{
    outcome waiting, buffered, pending, refused;
    hub.async_wait(callback_kind::midi, "w", waiting.handler());
    hub.deliver(make_message("w"));
    BOOST_TEST(waiting.calls == 0);
    hub.deliver(make_message("b"));
    hub.async_wait(callback_kind::midi, "b", buffered.handler());
    BOOST_TEST(buffered.calls == 0);
    hub.async_wait(callback_kind::midi, "p", pending.handler());
    hub.close();
    BOOST_TEST(pending.calls == 0);
    hub.async_wait(callback_kind::midi, "after-close", refused.handler());
    BOOST_TEST(refused.calls == 0);
    ioc.run();
    BOOST_TEST(waiting.calls == 1);
    BOOST_TEST(buffered.calls == 1);
    BOOST_TEST(pending.calls == 1);
    BOOST_TEST((pending.ec == client_errc::shut_down));
    BOOST_TEST(refused.calls == 1);
    BOOST_TEST((refused.ec == client_errc::shut_down));
}

BOOST_AUTO_TEST_CASE(pending_waits_complete_with_shut_down_when_the_hub_is_destroyed)
{
    asio::io_context ioc;
    outcome o;
    {
        in_process_callback_hub hub(ioc.get_executor());
        hub.async_wait(callback_kind::midi, "never", o.handler());
    }
    ioc.run();
    BOOST_TEST(o.calls == 1);
    BOOST_TEST((o.ec == client_errc::shut_down));
}

BOOST_FIXTURE_TEST_CASE(waiter_keeps_the_io_context_running_until_its_callback_arrives, hub_fixture,
                        *boost::unit_test::label("multithreaded"))
{
    hub.async_wait(callback_kind::midi, "busy", o.handler());
    std::thread deliverer;
    asio::steady_timer t(ioc, 10ms);
    t.async_wait([&](error_code) { deliverer = std::thread([&] { hub.deliver(make_message("busy")); }); });
    ioc.run();  // returns only once the waiter has been resumed
    deliverer.join();
    BOOST_TEST(o.calls == 1);
}

BOOST_AUTO_TEST_CASE(every_waiter_is_resumed_exactly_once_under_multithreaded_delivery, *boost::unit_test::label("multithreaded"))
{
    constexpr int tasks = 10000;
    constexpr int threads = 4;
    asio::io_context ioc(threads);
    in_process_callback_hub hub(ioc.get_executor());
    std::vector<std::atomic<int>> resumed(tasks);
    std::atomic<int> wrong_id{0}, errors{0}, done{0};
    auto guard = asio::make_work_guard(ioc);

    // A bound on the test: if not every waiter is resumed in time, stop and fail.
    std::atomic<bool> timed_out{false};
    asio::steady_timer limit(ioc, 20s);
    limit.async_wait([&](error_code ec) {
        if (!ec)
        {
            timed_out = true;
            ioc.stop();
        }
    });

    auto wait_for = [&](int i) {
        hub.async_wait(callback_kind::midi, "task-" + std::to_string(i), [&, i](error_code ec, callback_message m) {
            if (ec) ++errors;
            if (m.task_id != "task-" + std::to_string(i)) ++wrong_id;
            ++resumed[i];
            if (++done == tasks)
            {
                limit.cancel();
                guard.reset();
            }
        });
    };

    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { ioc.run(); });

    // Thread t waits for slice t while thread (t+1)%threads delivers it (twice): waits and
    // deliveries for the same task race in both orders.
    std::vector<std::thread> actors;
    for (int t = 0; t < threads; ++t)
    {
        actors.emplace_back([&, t] {
            for (int i = t; i < tasks; i += threads) wait_for(i);
        });
        actors.emplace_back([&, t] {
            const int slice = (t + 1) % threads;
            for (int i = slice; i < tasks; i += threads)
            {
                hub.deliver(make_message("task-" + std::to_string(i)));
                hub.deliver(make_message("task-" + std::to_string(i)));
            }
        });
    }
    for (auto& a : actors) a.join();
    for (auto& p : pool) p.join();

    BOOST_TEST_REQUIRE(!timed_out);
    BOOST_TEST(errors == 0);
    BOOST_TEST(wrong_id == 0);
    int not_once = 0;
    for (auto& r : resumed)
        if (r != 1) ++not_once;
    BOOST_TEST(not_once == 0);
    const auto s = hub.stats();
    BOOST_TEST(s.delivered_total == static_cast<std::uint64_t>(tasks));
    BOOST_TEST(s.duplicates_total == static_cast<std::uint64_t>(tasks));
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.buffered == 0u);
}

// KIE may give a MIDI task the id of the separation it transcribes (its MIDI page's own example
// does): callbacks are routed by kind and task id together.

BOOST_FIXTURE_TEST_CASE(the_same_task_id_of_two_kinds_reaches_each_wait_of_its_own_kind, hub_fixture)
{
    outcome sep, midi;
    hub.async_wait(callback_kind::separation, "same", sep.handler());
    hub.async_wait(callback_kind::midi, "same", midi.handler());  // not refused as a second waiter
    BOOST_TEST(hub.stats().waiting == 2u);
    auto m = make_message("same", callback_kind::midi);
    m.body = "midi body";
    BOOST_TEST((hub.deliver(m) == deliver_result::delivered));
    ioc.poll();  // not run(): the pending separation wait keeps the io_context busy
    BOOST_TEST(sep.calls == 0);
    BOOST_TEST(midi.calls == 1);
    BOOST_TEST(midi.msg.body == "midi body");
    BOOST_TEST(hub.is_waiting(callback_kind::separation, "same"));
    BOOST_TEST(!hub.is_waiting(callback_kind::midi, "same"));

    auto s = make_message("same", callback_kind::separation);
    s.body = "separation body";
    BOOST_TEST((hub.deliver(s) == deliver_result::delivered));
    ioc.run();
    BOOST_TEST(sep.calls == 1);
    BOOST_TEST((sep.msg.kind == callback_kind::separation));
    BOOST_TEST(sep.msg.body == "separation body");
    BOOST_TEST(midi.calls == 1);
    BOOST_TEST(hub.stats().duplicates_total == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_repeated_callback_is_a_duplicate_of_its_own_kind_only, hub_fixture)
{
    // The separation callback is delivered; then KIE repeats it after the MIDI task (same id)
    // was submitted and waited for.
    outcome sep;
    hub.async_wait(callback_kind::separation, "same", sep.handler());
    BOOST_TEST((hub.deliver(make_message("same", callback_kind::separation)) == deliver_result::delivered));
    run_ready();
    BOOST_TEST(sep.calls == 1);

    outcome midi;
    hub.async_wait(callback_kind::midi, "same", midi.handler());
    auto repeated = make_message("same", callback_kind::separation);
    repeated.body = "separation again";
    BOOST_TEST((hub.deliver(repeated) == deliver_result::duplicate));
    ioc.poll();
    ioc.restart();
    BOOST_TEST(midi.calls == 0);  // the repeated separation callback does not complete the MIDI wait
    BOOST_TEST(hub.stats().duplicates_total == 1u);

    auto m = make_message("same", callback_kind::midi);
    m.body = "the notes";
    BOOST_TEST((hub.deliver(m) == deliver_result::delivered));
    run_ready();
    check_completed_once(midi);
    BOOST_TEST((midi.msg.kind == callback_kind::midi));
    BOOST_TEST(midi.msg.body == "the notes");
    // And each kind's repeats stay duplicates.
    BOOST_TEST((hub.deliver(make_message("same", callback_kind::midi)) == deliver_result::duplicate));
    BOOST_TEST((hub.deliver(make_message("same", callback_kind::separation)) == deliver_result::duplicate));
    const auto st = hub.stats();
    BOOST_TEST(st.duplicates_total == 3u);
    BOOST_TEST(st.delivered_total == 2u);
    BOOST_TEST(st.remembered == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_fast_callback_of_one_kind_is_buffered_although_the_other_kind_of_its_id_was_delivered, hub_fixture)
{
    outcome sep;
    hub.async_wait(callback_kind::separation, "same", sep.handler());
    BOOST_TEST((hub.deliver(make_message("same", callback_kind::separation)) == deliver_result::delivered));
    run_ready();
    // The MIDI callback comes before anyone waits for it: kept, not dropped as a duplicate.
    auto m = make_message("same", callback_kind::midi);
    m.body = "the notes";
    BOOST_TEST((hub.deliver(m) == deliver_result::buffered));
    outcome midi;
    hub.async_wait(callback_kind::midi, "same", midi.handler());
    ioc.run();
    check_completed_once(midi);
    BOOST_TEST(midi.msg.body == "the notes");
    BOOST_TEST(hub.stats().duplicates_total == 0u);
}

BOOST_FIXTURE_TEST_CASE(buffered_callbacks_are_kept_per_kind, hub_fixture)
{
    auto s = make_message("same", callback_kind::separation);
    s.body = "separation body";
    auto m = make_message("same", callback_kind::midi);
    m.body = "midi body";
    BOOST_TEST((hub.deliver(s) == deliver_result::buffered));
    BOOST_TEST((hub.deliver(m) == deliver_result::buffered));  // not a duplicate of the separation one
    BOOST_TEST(hub.stats().buffered == 2u);
    outcome midi, sep;
    hub.async_wait(callback_kind::midi, "same", midi.handler());
    run_ready();
    BOOST_TEST(midi.calls == 1);
    BOOST_TEST(midi.msg.body == "midi body");
    BOOST_TEST(hub.stats().buffered == 1u);
    hub.async_wait(callback_kind::separation, "same", sep.handler());
    ioc.run();
    BOOST_TEST(sep.calls == 1);
    BOOST_TEST(sep.msg.body == "separation body");
    BOOST_TEST(hub.stats().buffered == 0u);
    BOOST_TEST(hub.stats().duplicates_total == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
