// Callback references: the `ref` tag of callback URLs, and hub waits by reference.
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include "common/callback_outcome.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <set>

namespace asio = boost::asio;

using namespace kiemidi;
using kiemidi::test::outcome;

namespace {

callback_message tagged(std::string task_id, std::string ref, callback_kind kind = callback_kind::separation)
{
    callback_message m;
    m.kind = kind;
    m.task_id = std::move(task_id);
    m.reference = std::move(ref);
    m.body = R"({"code":200,"msg":"success","data":{"task_id":")" + m.task_id + R"("}})";
    return m;
}


// A hub that implements only the mandatory operations.
struct minimal_hub final : callback_hub
{
    asio::io_context& ioc;
    explicit minimal_hub(asio::io_context& i) : ioc(i) {}
    executor_type get_executor() const noexcept override { return ioc.get_executor(); }
    deliver_result deliver(callback_message) override { return deliver_result::buffered; }
    void close() override {}
    callback_hub_stats stats() const override { return {}; }
    void start_wait(callback_kind, std::string, asio::any_completion_handler<wait_signature>) override {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(callback_reference)

BOOST_AUTO_TEST_CASE(valid_references_are_short_url_safe_tokens)
{
    BOOST_TEST(is_valid_callback_reference("abc-DEF_123"));
    BOOST_TEST(is_valid_callback_reference(std::string(64, 'a')));
    BOOST_TEST(!is_valid_callback_reference(std::string(65, 'a')));
    BOOST_TEST(!is_valid_callback_reference(""));
    for (std::string bad : {"a b", "a%20", "a&b", "a=b", "a/b", "a.b", "ä", "a#"})
        BOOST_TEST(!is_valid_callback_reference(bad), bad);
}

BOOST_AUTO_TEST_CASE(a_reference_is_appended_to_the_query)
{
    BOOST_TEST(with_callback_reference("http://h:1/cb/s/midi", "r1") == "http://h:1/cb/s/midi?ref=r1");
    BOOST_TEST(with_callback_reference("http://h/cb?x=1", "r1") == "http://h/cb?x=1&ref=r1");
    BOOST_TEST(with_callback_reference("http://h/cb?", "r1") == "http://h/cb?ref=r1");
    BOOST_TEST(with_callback_reference("http://h/cb#f", "r1") == "http://h/cb?ref=r1#f");
    BOOST_TEST(with_callback_reference("http://h/cb", "") == "http://h/cb");
    BOOST_TEST(with_callback_reference("http://h/cb", "no good") == "http://h/cb");
    BOOST_TEST(with_callback_reference("http://h/cb?x=1&", "r1") == "http://h/cb?x=1&ref=r1");
    BOOST_TEST(with_callback_reference("http://h/cb?x=1#f", "r1") == "http://h/cb?x=1&ref=r1#f");
    BOOST_TEST(with_callback_reference("http://h/cb?#f", "r1") == "http://h/cb?ref=r1#f");
    BOOST_TEST(with_callback_reference("/cb?x=a%20b", "r1") == "/cb?x=a%20b&ref=r1");  // escapes kept as sent
    // A ref already there is replaced: two would make the callback's target name nothing.
    BOOST_TEST(with_callback_reference("http://h/cb?ref=old&x=1", "r1") == "http://h/cb?ref=r1&x=1");
    BOOST_TEST(with_callback_reference("http://h/cb?ref=a&ref=b", "r1") == "http://h/cb?ref=r1");
    BOOST_TEST(callback_reference_of(with_callback_reference("/cb?ref=old", "r1")) == "r1");
    // Not a URI reference (bad escape): the reference is added as text.
    BOOST_TEST(with_callback_reference("http://h/cb?x=%zz#f", "r1") == "http://h/cb?x=%zz&ref=r1#f");
}

BOOST_AUTO_TEST_CASE(only_one_valid_ref_parameter_is_read_from_a_target)
{
    BOOST_TEST(callback_reference_of("/kiemidi/callback/s/midi?ref=abc") == "abc");
    BOOST_TEST(callback_reference_of("/p?x=1&ref=abc&y=2") == "abc");
    BOOST_TEST(callback_reference_of("/p") == "");
    BOOST_TEST(callback_reference_of("/p?ref=") == "");
    BOOST_TEST(callback_reference_of("/p?xref=abc") == "");
    BOOST_TEST(callback_reference_of("/p?ref=a%20b") == "");
    BOOST_TEST(callback_reference_of("/p?ref=" + std::string(65, 'a')) == "");
    BOOST_TEST(callback_reference_of("/p?ref=a&ref=b") == "");  // ambiguous: names nothing
    BOOST_TEST(callback_reference_of("/p?ref=abc#frag") == "abc");
    BOOST_TEST(callback_reference_of("/p?r%65f=abc") == "");     // keys are compared as sent
    BOOST_TEST(callback_reference_of("/p?ref") == "");           // a key without a value names nothing
    BOOST_TEST(callback_reference_of("/p?ref=abc&x=%zz") == ""); // not a URI: not made by with_callback_reference
}

BOOST_AUTO_TEST_CASE(made_references_are_valid_and_distinct)
{
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i)
    {
        auto r = make_callback_reference();
        BOOST_TEST(is_valid_callback_reference(r));
        seen.insert(r);
    }
    BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(a_reference_wait_gets_a_later_callback_and_the_task_wait_still_gets_it_too)
{
    asio::io_context ioc;
    in_process_callback_hub hub(ioc.get_executor());
    outcome by_ref, by_task;
    hub.async_wait_reference("ref-1", by_ref.handler());
    BOOST_TEST(hub.stats().waiting_references == 1u);
    BOOST_TEST((hub.deliver(tagged("task-1", "ref-1")) == deliver_result::buffered));
    ioc.run();
    ioc.restart();
    BOOST_TEST(by_ref.calls == 1);
    BOOST_TEST(!by_ref.ec);
    BOOST_TEST(by_ref.msg.task_id == "task-1");
    BOOST_TEST(hub.stats().waiting_references == 0u);
    // Knowing the task id now, the normal wait takes the buffered callback.
    hub.async_wait(callback_kind::separation, "task-1", by_task.handler());
    ioc.run();
    BOOST_TEST(by_task.calls == 1);
    BOOST_TEST(!by_task.ec);
    BOOST_TEST(by_task.msg.reference == "ref-1");
}

BOOST_AUTO_TEST_CASE(a_reference_wait_finds_a_callback_buffered_before_it)
{
    asio::io_context ioc;
    in_process_callback_hub hub(ioc.get_executor());
    hub.deliver(tagged("task-a", "ref-a"));
    hub.deliver(tagged("task-b", "ref-b"));
    outcome o, unknown_ref;
    hub.async_wait_reference("ref-b", o.handler());
    ioc.run();
    BOOST_TEST(o.calls == 1);
    BOOST_TEST(o.msg.task_id == "task-b");
    BOOST_TEST(hub.stats().buffered == 2u);  // not consumed
    hub.async_wait_reference("ref-c", unknown_ref.handler());
    ioc.restart();
    ioc.poll();
    BOOST_TEST(unknown_ref.calls == 0);  // keeps waiting
    hub.close();
    ioc.restart();
    ioc.run();
    BOOST_TEST((unknown_ref.ec == client_errc::shut_down));
}

BOOST_AUTO_TEST_CASE(reference_waits_are_cancellable_and_exclusive)
{
    asio::io_context ioc;
    in_process_callback_hub hub(ioc.get_executor());
    asio::cancellation_signal sig;
    outcome first, second;
    hub.async_wait_reference("r", asio::bind_cancellation_slot(sig.slot(), first.handler()));
    hub.async_wait_reference("r", second.handler());
    ioc.poll();
    BOOST_TEST((second.ec == boost::asio::error::already_started));
    sig.emit(asio::cancellation_type::terminal);
    ioc.poll();
    BOOST_TEST((first.ec == boost::asio::error::operation_aborted));
    BOOST_TEST(hub.stats().waiting_references == 0u);
}

BOOST_AUTO_TEST_CASE(a_hub_without_reference_support_says_so)
{
    asio::io_context ioc;
    minimal_hub hub(ioc);
    outcome o;
    hub.async_wait_reference("r", o.handler());
    BOOST_TEST(o.calls == 0);  // posted, never inline
    ioc.run();
    BOOST_TEST((o.ec == boost::asio::error::operation_not_supported));
}

BOOST_AUTO_TEST_SUITE_END()
