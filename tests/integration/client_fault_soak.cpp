// The fault soak at small size: a few hundred pipelines against the emulator under every fault
// at once, each one audited against the emulator's records (see tests/common/fault_soak.hpp;
// benchmarks/soak_driver.cpp runs the same soak at full size).
#include "common/fault_soak.hpp"
#include "common/run_bounded.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(fault_soak)

BOOST_AUTO_TEST_CASE(every_pipeline_ends_with_the_right_notes_or_a_clear_error_and_nothing_leaks)
{
    kiemidi::test::run_bounded(
        [](boost::asio::io_context&) -> boost::asio::awaitable<void> {
            kiemidi::test::soak_config cfg;
            cfg.pipelines = 300;
            // Resets are rare; at this size make the lost-answer paths certain to be taken.
            cfg.reset_before_rate = 0.02;
            cfg.reset_after_rate = 0.02;
            cfg.unknown_outcome_wait = 2000ms;
            auto rep = co_await kiemidi::test::run_soak(cfg);
            BOOST_TEST_MESSAGE("fault soak: " << rep.to_json());

            BOOST_TEST(rep.verified + rep.wrong_notes + rep.error_count() == rep.pipelines);
            BOOST_TEST(rep.wrong_notes == 0u, rep.first_wrong);
            BOOST_TEST(rep.lost == 0u);
            BOOST_TEST(rep.duplicate_paid == 0u);
            // Most pipelines get through; the faults on paid POSTs end the others.
            BOOST_TEST(rep.verified > rep.pipelines * 3 / 4);
            // Terminal errors are only the documented ones: a 500 answer to a paid POST, or an
            // unknown outcome of one (a reset whose callback never came).
            for (const auto& [what, n] : rep.errors)
                BOOST_TEST((what.find("500") != std::string::npos || what.find("server") != std::string::npos ||
                            what.find("outcome") != std::string::npos),
                           what << " x" << n);
            // The faults did happen, and the lost-answer recovery was used.
            BOOST_TEST(rep.emu.callbacks_dropped > 0u);
            BOOST_TEST(rep.emu.callbacks_duplicated > 0u);
            BOOST_TEST(rep.emu.connection_resets > 0u);
            BOOST_TEST(rep.emu.responses_with_code(500) > 0u);
            BOOST_TEST(rep.emu.responses_with_code(429) > 0u);
            // Nothing is left open: connections, requests, waits, buffered callbacks, timers.
            BOOST_TEST(rep.hub_waiting == 0u);
            BOOST_TEST(rep.hub_waiting_references == 0u);
            BOOST_TEST(rep.drained, rep.to_json());
        },
        150s);
}

BOOST_AUTO_TEST_SUITE_END()
