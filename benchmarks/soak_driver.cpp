// kiemidi-bench-soak: the fault soak at full size. Runs N pipelines (default 10,000) against an
// in-process emulator injecting HTTP 500s (5 %), 429s (2 %), connection resets (1 %: half before
// and half after processing), dropped (10 %), duplicated (5 %), delayed (5 %) and reordered (5 %)
// callbacks, audits every pipeline against the emulator's records and prints one JSON line (see
// tests/common/fault_soak.hpp for what each figure means). Exits 1 when the audit fails: wrong
// notes, lost or doubly paid results, or open work left after the run.
//
//   kiemidi-bench-soak [--pipelines N] [--in-flight N] [--seed S]
#include "command_line.hpp"
#include "fault_soak.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    namespace po = kiemidi::apps::po;
    constexpr const char* program = "kiemidi-bench-soak";
    kiemidi::test::soak_config cfg;
    cfg.pipelines = 10000;
    po::options_description options("options");
    options.add_options()
        ("help,h", "this text")
        ("pipelines", po::value(&cfg.pipelines)->value_name("N"), "pipelines to run (default 10000)")
        ("in-flight", po::value(&cfg.in_flight)->value_name("N"), "pipelines in flight at once (default 0 = all)")
        ("seed", po::value(&cfg.seed)->value_name("S"), "the emulator's seed (default 7)");
    po::options_description desc;
    desc.add(options);
    try
    {
        po::variables_map vm;
        kiemidi::apps::store_command_line(std::vector<std::string>(argv + 1, argv + argc), desc, {}, vm);
        if (vm.count("help"))
        {
            kiemidi::apps::print_help("usage: kiemidi-bench-soak [--pipelines N] [--in-flight N] [--seed S]\n"
                                      "Runs the fault soak and prints one JSON line; exits 1 when the audit fails.",
                                      desc);
            return 0;
        }
        po::notify(vm);
    }
    catch (const po::error& e)
    {
        return kiemidi::apps::usage_error(program, e.what());
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
