// MIDI from a separation finished earlier (client::async_generate_midi_from_separation and
// midi_params::separation_task_id) against the emulator: one paid POST, none at all when the
// separation cannot be used, and a lost answer recovered from its tagged callback.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>

#include "common/client_fixture.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace std::chrono_literals;
using test::sep_post, test::midi_post, test::sep_get;

namespace {

/// KIE with callbacks attached, and separations to make MIDI from.
struct env : test::unpaced_kie
{
    using unpaced_kie::unpaced_kie;

    /// Submits a separation of `audio` and, when `wait`, waits until KIE says it is finished
    /// (the error then is the wait's). Returns the separation task id.
    asio::awaitable<std::string> separate(std::string audio, api::separation_type type, bool wait,
                                          error_code* wait_ec = nullptr)
    {
        diagnostics diag;
        api::separation_request req{.task_id = "music-" + audio, .audio_id = audio, .type = type, .callback_url = {}};
        auto [ec, created] = co_await cli->async_submit_separation(req, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        if (wait)
        {
            const wait_options w;  // named: no temporaries inside a co_await expression (g++ 12)
            auto [wec, rec] = co_await cli->async_wait_separation(created.task_id, w, diag, use_nothrow_awaitable);
            if (wait_ec) *wait_ec = wec;
            else BOOST_TEST_REQUIRE(!wec, diag.to_string());
        }
        co_return created.task_id;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(midi_from_separation)

BOOST_AUTO_TEST_CASE(a_finished_separation_costs_one_midi_post_and_gives_the_notes)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        env e(ioc.get_executor());
        const auto sep = co_await e.separate("track-a", api::separation_type::separate_vocal, true);
        const auto before = e.kie->snapshot();
        midi_result r = co_await e.cli->generate_midi_from_separation(sep);  // the coroutine spelling
        BOOST_TEST(r.note_count() > 0u);
        BOOST_TEST(r.separation_task_id == sep);
        BOOST_TEST(!r.midi_task_id.empty());
        BOOST_TEST(r.transcribed_stem_id.empty());  // all stems
        BOOST_TEST(r.stem_list.size() == 2u);       // read from the record before paying
        BOOST_TEST(r.callbacks == 1u);              // the MIDI wait ended by its callback
        const auto after = e.kie->snapshot();
        BOOST_TEST(after.requests_to(sep_post) == 1u);  // only the earlier separation
        BOOST_TEST(after.requests_to(midi_post) == 1u);
        BOOST_TEST(after.requests_to(sep_get) == before.requests_to(sep_get) + 1);
        BOOST_TEST(after.midi_submissions.size() == 1u);
        BOOST_TEST(after.duplicate_paid_submissions() == 0u);
    });
}

BOOST_AUTO_TEST_CASE(a_stem_by_kie_name_is_matched_case_insensitively_or_by_its_audio_id)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        env e(ioc.get_executor());
        const auto sep = co_await e.separate("track-b", api::separation_type::split_stem, true);
        midi_params p;
        p.separation_task_id = sep;
        p.stem = "bAsS";
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi(p, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        const auto* bass = api::find_stem(r.stem_list, "Bass");
        BOOST_TEST_REQUIRE(bass != nullptr);
        BOOST_TEST(r.transcribed_stem_id == bass->id);
        BOOST_TEST(e.kie->snapshot().midi_submissions.count({sep, bass->id}) == 1u);

        // The same stem by its audio id, through the token spelling.
        auto [ec2, r2] = co_await e.cli->async_generate_midi_from_separation(sep, bass->id, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec2, diag.to_string());
        BOOST_TEST(r2.transcribed_stem_id == bass->id);
        BOOST_TEST(e.kie->snapshot().midi_submissions.at({sep, bass->id}) == 2u);
        BOOST_TEST(e.requests(midi_post) == 2u);
    });
}

BOOST_AUTO_TEST_CASE(an_unknown_stem_lists_the_stems_the_separation_has_and_costs_nothing)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        env e(ioc.get_executor());
        const auto sep = co_await e.separate("track-c", api::separation_type::split_stem, true);
        const auto credits = e.kie->snapshot().credits;
        midi_params p;
        p.separation_task_id = sep;
        p.stem = "Kazoo";
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi(p, diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::unknown_stem), ec.message());
        BOOST_TEST(diag.client_message().find("\"Kazoo\"") != std::string::npos, diag.to_string());
        // split_stem always has these.
        for (const char* name : {"Vocals", "Drums", "Bass"})
            BOOST_TEST(diag.client_message().find(name) != std::string::npos, diag.to_string());

        auto [ec2, r2] = co_await e.cli->async_generate_midi_from_separation(sep, "no-such-stem-id", diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::unknown_stem), ec2.message());
        BOOST_TEST(diag.client_message().find("no-such-stem-id") != std::string::npos, diag.to_string());
        BOOST_TEST(e.requests(midi_post) == 0u);
        BOOST_TEST(e.kie->snapshot().credits == credits);
    });
}

BOOST_AUTO_TEST_CASE(a_separation_not_finished_costs_nothing_and_says_so)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.separation_delay = 20s;  // still PENDING throughout the test
        env e(ioc.get_executor(), eo);
        const auto sep = co_await e.separate("track-d", api::separation_type::separate_vocal, false);
        const auto credits = e.kie->snapshot().credits;
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi_from_separation(sep, "", diag, use_nothrow_awaitable);
        BOOST_TEST((ec == api_errc::task_not_finished), ec.message());
        BOOST_TEST(diag.stage() == "separation");
        BOOST_TEST(diag.client_message().find("PENDING") != std::string::npos, diag.to_string());
        BOOST_TEST(e.requests(midi_post) == 0u);
        BOOST_TEST(e.kie->snapshot().credits == credits);
    });
}

BOOST_AUTO_TEST_CASE(an_unknown_or_failed_separation_costs_nothing_and_carries_kie_message)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.faults.separation_failure_rate = 1.0;
        env e(ioc.get_executor(), eo);
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi_from_separation("0123456789abcdef0123456789abcdef", "", diag, use_nothrow_awaitable);
        BOOST_TEST((ec == api_errc::unknown_task), ec.message());
        BOOST_TEST(!diag.client_message().empty(), diag.to_string());

        error_code wait_ec;
        const auto sep = co_await e.separate("track-e", api::separation_type::separate_vocal, true, &wait_ec);
        BOOST_TEST_REQUIRE(!!wait_ec);  // KIE failed it
        auto [ec2, r2] = co_await e.cli->async_generate_midi_from_separation(sep, "", diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == api_errc::task_failed), ec2.message());
        BOOST_TEST(!diag.server_message().empty(), diag.to_string());
        BOOST_TEST(e.requests(midi_post) == 0u);
    });
}

BOOST_AUTO_TEST_CASE(a_lost_midi_answer_is_recovered_from_its_tagged_callback_without_paying_twice)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        env e(ioc.get_executor());
        const auto sep = co_await e.separate("track-f", api::separation_type::separate_vocal, true);
        emulator::fault_options f;
        f.processed_then_html_502_rate = 1.0;  // KIE processes the MIDI POST; a gateway's page answers
        e.kie->set_faults(f);
        midi_params p;
        p.separation_task_id = sep;
        p.unknown_outcome_wait = 10s;
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi(p, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, ec.message() << " " << diag.to_string());
        BOOST_TEST(r.note_count() > 0u);
        BOOST_TEST(r.recovered == 1u);
        const auto c = e.kie->snapshot();
        BOOST_TEST(c.requests_to(midi_post) == 1u);
        BOOST_TEST(c.midi_submissions.size() == 1u);
        BOOST_TEST(c.garbled_after_processing == 1u);
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    });
}

BOOST_AUTO_TEST_CASE(cancelling_it_during_the_midi_wait_completes_with_operation_aborted)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.midi_delay = 10s;
        env e(ioc.get_executor(), eo);
        const auto sep = co_await e.separate("track-g", api::separation_type::separate_vocal, true);
        asio::cancellation_signal cancel;
        asio::steady_timer t(ioc, 200ms);
        t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
        diagnostics diag;
        auto [ec, r] = co_await e.cli->async_generate_midi_from_separation(sep, "", diag,
                                                                         asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
        BOOST_TEST((ec == asio::error::operation_aborted), ec.message());
        BOOST_TEST(e.requests(midi_post) == 1u);
        BOOST_TEST(e.hub.stats().waiting == 0u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
