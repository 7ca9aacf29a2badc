// kiemidi-bench-soak: the fault soak at full size. Runs N pipelines (default 10,000) against an
// in-process emulator injecting HTTP 500s (5 %), 429s (2 %), connection resets (1 %: half before
// and half after processing), dropped (10 %), duplicated (5 %), delayed (5 %) and reordered (5 %)
// callbacks, audits every pipeline against the emulator's records and prints one JSON line (see
// tests/common/fault_soak.hpp for what each figure means). Exits 1 when the audit fails: wrong
// notes, lost or doubly paid results, or open work left after the run.
//
//   kiemidi-bench-soak [--pipelines N] [--in-flight N] [--seed S]
#include "fault_soak.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>

int main(int argc, char** argv)
{
    kiemidi::test::soak_config cfg;
    cfg.pipelines = 10000;
    for (int i = 1; i < argc; ++i)
    {
        const bool has_value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--pipelines") && has_value) cfg.pipelines = std::strtoul(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--in-flight") && has_value) cfg.in_flight = std::strtoul(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--seed") && has_value) cfg.seed = std::strtoull(argv[++i], nullptr, 10);
        else
        {
            std::cerr << "usage: kiemidi-bench-soak [--pipelines N] [--in-flight N] [--seed S]\n";
            return 2;
        }
    }
    boost::asio::io_context ioc;
    kiemidi::test::soak_report rep;
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, kiemidi::test::run_soak(cfg), [&](std::exception_ptr e, kiemidi::test::soak_report r) {
        failure = e;
        rep = std::move(r);
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    std::cout << R"({"scenario":"fault_soak",)" << rep.to_json().substr(1) << std::endl;
    const bool ok = rep.wrong_notes == 0 && rep.lost == 0 && rep.duplicate_paid == 0 && rep.drained &&
                    rep.verified + rep.error_count() == rep.pipelines;
    if (!ok && !rep.first_wrong.empty()) std::cerr << "first wrong pipeline: " << rep.first_wrong << "\n";
    return ok ? 0 : 1;
}
