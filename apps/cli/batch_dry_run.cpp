// `kiemidi batch TRACKS --dry-run`: the plan of the run, with the account's credits, and no paid
// call: the journal is read (not created), KIE is asked only for the credits (a free read).
#include "batch_plan_output.hpp"
#include <kiemidi/nothrow_awaitable.hpp>

#include <kiemidi/batch_plan.hpp>
#ifdef KIEMIDI_WITH_REDIS
#include <kiemidi/redis_batch_claims.hpp>
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <memory>

namespace asio = boost::asio;

namespace kiemidi::cli {

int batch_dry_run(const kie_flags& flags, const batch_args& args, const track_list& list, const batch_rows& rows)
{
    const auto bo = batch_options_of(args, rows);
    // The batch's state as it is: the journal (read, not created) or the shared batch's tracks.
    std::vector<journal_entry> known;
    if (!args.shared.enabled())
    {
        diagnostics jd;
        if (auto jec = read_journal_entries(bo.journal_path, known, jd))
        {
            std::cerr << "kiemidi batch: cannot read the journal " << bo.journal_path.string() << ": " << describe(jec, jd) << "\n";
            return exit_usage;
        }
    }
    std::vector<track_spec> tracks;
    tracks.reserve(rows.run.size());
    for (const auto& r : rows.run) tracks.push_back(track_of(r));

    plan_context ctx{.list_file = args.track_list.string(),
                     .state = args.shared.enabled()
                                  ? "shared batch " + args.shared.batch_id + " at " + args.shared.redis_url
                                  : "journal " + bo.journal_path.string() +
                                        (std::filesystem::exists(bo.journal_path) ? std::string() : std::string(", not created yet")),
                     .bad_rows = list.errors.size(),
                     .bad_row_errors = {},
                     .duplicates = rows.duplicates.size(),
                     .remaining = std::nullopt,
                     .max_credits = args.max_credits};
    for (const auto& e : list.errors) ctx.bad_row_errors.push_back(e.to_string());
    // Only the credits are read: no listener, nothing submitted.
    asio::io_context ioc;
    kie_session session(ioc, flags, false);
    int reach = exit_failed;
    std::int64_t credits = 0;
    std::exception_ptr failure;
#ifdef KIEMIDI_WITH_REDIS
    // Only read: connecting and listing the tracks claim nothing and add nothing.
    std::unique_ptr<redis_batch_claims> claims;
    if (args.shared.enabled())
        claims = std::make_unique<redis_batch_claims>(
            ioc.get_executor(), redis_batch_claims_options{.redis = redis_connection_options(args.shared),
                                                           .batch_id = args.shared.batch_id,
                                                           .worker_id = args.shared.worker_id,
                                                           .lease = std::chrono::milliseconds(args.shared.lease_ms)});
#endif
    int shared_rc = exit_ok;
    auto body = [&]() -> asio::awaitable<int> {
        const int rc = co_await session.check_reachable(&credits);
#ifdef KIEMIDI_WITH_REDIS
        if (claims)
        {
            diagnostics rd;
            auto [cec] = co_await claims->async_connect(rd, use_nothrow_awaitable);
            if (!cec)
            {
                auto [eec, entries] = co_await claims->async_entries(rd, use_nothrow_awaitable);
                cec = eec;
                for (auto& t : entries) known.push_back(std::move(t.entry));
            }
            if (cec)
            {
                std::cerr << "kiemidi batch: cannot read the shared batch at " << args.shared.redis_url << ": " << describe(cec, rd) << "\n";
                shared_rc = exit_unreachable;
            }
        }
#endif
        co_return rc;
    };
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e, int rc) {
        failure = e;
        reach = rc;
        session.close();
#ifdef KIEMIDI_WITH_REDIS
        if (claims) claims->close();
#endif
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    if (shared_rc != exit_ok) return shared_rc;
    if (reach == exit_ok) ctx.remaining = credits;

    if (!args.json)
        for (const auto& e : list.errors) std::cout << "bad row: " << e.to_string() << "\n";
    if (!args.json) print_duplicates(std::cout, args.track_list.string(), rows.duplicates);
    const auto plan = plan_batch(tracks, known, bo, bo.costs, session.rate_limit());
    print_plan(std::cout, plan, ctx, rows, args.json);
    if (reach != exit_ok) return reach;
    return dry_run_exit(plan, ctx, args.skip_bad_rows);
}

}  // namespace kiemidi::cli
