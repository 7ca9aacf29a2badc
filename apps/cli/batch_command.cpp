// `kiemidi batch` (the batch runner with progress on stderr) and `kiemidi status` (a journal's
// contents), locally or as one worker of a shared batch in Redis.
#include "batch_outcome.hpp"
#include "batch_plan_output.hpp"
#include "commands.hpp"
#include "progress.hpp"
#include "track_list.hpp"
#include <kiemidi/nothrow_awaitable.hpp>

#include <kiemidi/batch.hpp>
#include <kiemidi/batch_claims.hpp>
#include <kiemidi/batch_plan.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/metrics/model.hpp>
#include <kiemidi/metrics/server.hpp>
#ifdef KIEMIDI_WITH_REDIS
#include <kiemidi/redis_batch_claims.hpp>
#endif

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <kiemidi/callback_reference.hpp>

#include <fstream>

namespace asio = boost::asio;

namespace kiemidi::cli {

namespace {

/// The callback URL of a journal's batch, kept in `<journal>.callback-secret` (mode 0600): the
/// listener's path secret on the first line, the port it listened on on the second. A rerun after
/// a crash listens on the same URL when it can, so it receives the callbacks of tasks the earlier
/// run submitted (late ones, retried ones, and those of submissions whose answers the crash lost).
struct journal_listener
{
    std::filesystem::path path;
    std::string secret;      ///< Empty when the file could not be written: a random secret per run.
    std::uint16_t port = 0;  ///< The earlier run's port; 0 when none is known.

    explicit journal_listener(const std::filesystem::path& journal) : path(journal.string() + ".callback-secret")
    {
        {
            std::ifstream in(path);
            std::string s;
            unsigned p = 0;
            if (in >> s && s.size() >= 16)
            {
                secret = std::move(s);
                if (in >> p && p > 0 && p <= 65535) port = static_cast<std::uint16_t>(p);
                return;
            }
        }
        const std::string s = make_callback_reference() + make_callback_reference();  // 48 hex digits
        if (save(s, 0)) secret = s;
    }

    /// Writes `s` and `p` (atomically: a crash leaves the old file or the new one).
    bool save(const std::string& s, std::uint16_t p) const
    {
        const auto tmp = path.string() + ".tmp";
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return false;
        const auto text = s + "\n" + (p ? std::to_string(p) + "\n" : std::string());
        const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
        ::close(fd);
        return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
    }

    /// Remembers the port this run listens on, when it is new.
    void remember_port(std::uint16_t p)
    {
        if (p == 0 || p == port || secret.empty()) return;
        if (save(secret, p)) port = p;
    }
};

progress_counts counts_of(const batch_event& e)
{
    return {.total = e.total, .done = e.done, .failed = e.failed, .in_flight = e.in_flight, .skipped = e.skipped};
}

#ifdef KIEMIDI_WITH_REDIS
redis::connection_options redis_options(const shared_batch_flags& f)
{
    return redis_connection_options(f);
}

/// The claims of one shared batch (and their Redis connection), for one command.
struct shared_state
{
    redis_batch_claims claims;

    shared_state(asio::io_context& ioc, const shared_batch_flags& f)
        : claims(ioc.get_executor(), redis_batch_claims_options{.redis = redis_options(f),
                                                                .batch_id = f.batch_id,
                                                                .worker_id = f.worker_id,
                                                                .lease = std::chrono::milliseconds(f.lease_ms)})
    {
    }

    /// Warns in one line when Redis may lose the batch's state (no appendonly, an evicting
    /// maxmemory-policy) or refuses to say; with `required`, refuses to start instead (exit_usage).
    asio::awaitable<int> check_durability(const std::string& url, bool required, progress_printer& progress)
    {
        diagnostics diag;
        auto [ec, d] = co_await claims.async_check_durability(diag, use_nothrow_awaitable);
        if (ec)
        {
            std::cerr << "kiemidi batch: cannot use Redis at " << url << ": " << describe(ec, diag) << "\n";
            co_return exit_unreachable;
        }
        const auto why = d.warning();
        if (why.empty()) co_return exit_ok;
        if (required)
        {
            std::cerr << "kiemidi batch: --require-durable-redis: Redis at " << url << " may lose the batch's state: " << why
                      << "; nothing was started (see README: a durable Redis)\n";
            co_return exit_usage;
        }
        progress.note("kiemidi batch: warning: Redis at " + url + " may lose the batch's state: " + why +
                      " (--require-durable-redis makes this an error)");
        co_return exit_ok;
    }

    /// exit_ok once connected; exit_unreachable with the reason on stderr.
    asio::awaitable<int> connect(const char* command, const std::string& url)
    {
        diagnostics diag;
        auto [ec] = co_await claims.async_connect(diag, use_nothrow_awaitable);
        if (!ec) co_return exit_ok;
        std::cerr << "kiemidi " << command << ": cannot use Redis at " << url << ": " << describe(ec, diag) << "\n";
        co_return exit_unreachable;
    }
};
#endif

}  // namespace

int batch_command(const kie_flags& flags, const batch_args& args)
{
    std::string why;
    auto list = read_track_list(args.track_list, why);
    if (!list) throw usage_error(why);
    midi_params defaults;
    defaults.separation = args.type;
    defaults.stem = args.stem;
    const auto rows = split_duplicates(list->rows, defaults, args.allow_duplicates);
    if (args.check) return check_track_list(args, *list, rows);
    if (args.dry_run) return batch_dry_run(flags, args, *list, rows);
    std::error_code fec;
    std::filesystem::create_directories(args.output_dir, fec);
    if (fec) throw usage_error("cannot create " + args.output_dir.string() + ": " + fec.message());

    progress_printer progress(stderr, ::isatty(STDERR_FILENO) == 1);
    for (const auto& e : list->errors) progress.note("bad row: " + e.to_string());
    {
        std::stringstream said;
        print_duplicates(said, args.track_list.string(), rows.duplicates);
        for (std::string line; std::getline(said, line);) progress.note(line);
    }
    const auto bad_rows_line = bad_rows_summary(*list, args.track_list.string(), args.skip_bad_rows);
    const bool bad_rows = !list->errors.empty() && !args.skip_bad_rows;
    std::vector<track_spec> tracks;
    tracks.reserve(rows.run.size());
    // A row's own type and stem win over --type / --stem; a row naming a separation skips separating.
    for (auto& r : rows.run) tracks.push_back(track_of(r));
    if (tracks.empty())
    {
        std::cerr << "kiemidi batch: no usable track in " << args.track_list.string() << "\n";
        if (!bad_rows_line.empty()) std::cerr << "kiemidi batch: " << bad_rows_line << "\n";
        return bad_rows ? exit_bad_rows : exit_ok;
    }

    auto bo = batch_options_of(args, rows);
    // Before anything is paid: what retrying will pay for at most.
    if ((args.retry_failed || args.resubmit_lost) && !args.shared.enabled())
        progress.note(retry_plan(journal_entries_if_any(bo.journal_path), args.retry_failed, args.resubmit_lost));
    // The plan printed at the start counts what the journal holds already (read before the run opens it).
    std::vector<journal_entry> known;
    if (!args.shared.enabled())
    {
        diagnostics jd;
        if (auto jec = read_journal_entries(bo.journal_path, known, jd))
            std::cerr << "kiemidi batch: cannot read " << bo.journal_path.string() << " for the plan: " << describe(jec, jd) << "\n";
    }
    plan_context plan_ctx{.list_file = args.track_list.string(),
                          .state = {},
                          .bad_rows = list->errors.size(),
                          .bad_row_errors = {},
                          .duplicates = rows.duplicates.size(),
                          .remaining = std::nullopt,
                          .max_credits = args.max_credits};
    std::vector<finished_track> finished;  // the batch's tracks after the run, for the copies of duplicates

    kie_flags kf = flags;
    std::optional<journal_listener> remembered;
    if (!kf.poll_only && args.callback_secret.empty()) remembered.emplace(bo.journal_path);
    if (!args.callback_secret.empty()) kf.callback_secret = args.callback_secret;
    else if (remembered) kf.callback_secret = remembered->secret;
    // Without a fixed port, listen where the earlier run of this journal did when that port is free.
    if (remembered && kf.listen_port == 0) kf.preferred_listen_port = remembered->port;
    asio::io_context ioc;
    kie_session session(ioc, kf, true);
    if (remembered && kf.listen_port == 0) remembered->remember_port(session.listen_port());
#ifdef KIEMIDI_WITH_REDIS
    std::unique_ptr<shared_state> shared;
    if (args.shared.enabled()) shared = std::make_unique<shared_state>(ioc, args.shared);
#endif
    // --metrics-port: the client's metrics (and its transport's, hub's and listener's) for Prometheus.
    std::unique_ptr<metrics::server> metrics_endpoint;
    if (args.metrics_port != 0)
        metrics_endpoint = std::make_unique<metrics::server>(
            ioc.get_executor(), metrics::server_options{.address = args.metrics_address, .port = args.metrics_port},
            [&session] { return metrics::render_prometheus(metrics::collect(session.kie(), session.listener())); });
    bo.pipeline.wait = session.wait();
    // A lost answer is recovered from the submission's callback. Callbacks of an earlier run
    // reach this one only at the same URL: same port (given, not picked at random) and secret,
    // and the same KIE (not a fresh embedded emulator).
    const auto lost_wait = std::chrono::milliseconds(args.lost_answer_wait_ms);
    bo.pipeline.unknown_outcome_wait = lost_wait;
    const bool same_port = kf.listen_port != 0 || (kf.preferred_listen_port != 0 && session.listen_port() == kf.preferred_listen_port);
    const bool stable_url = !session.embedded() && (same_port || !kf.public_url.empty()) && !kf.callback_secret.empty();
    // An intent is journaled when its POST is admitted (after the rate limiter), so it means the
    // POST was being sent: at the same URL its tagged callback can still come.
    bo.resumed_intent_wait = stable_url || args.lost_answer_wait_given ? lost_wait : std::chrono::milliseconds(0);
    // Callbacks of tasks an earlier run submitted reach only the same URL; elsewhere they are
    // lost, and resumed tasks that are still running are polled instead.
    bo.resumed_callbacks_reachable = stable_url;
    if (!stable_url && !kf.poll_only && !session.embedded() && kf.preferred_listen_port != 0)
        progress.note("kiemidi batch: the earlier run's callback port " + std::to_string(kf.preferred_listen_port) +
                      " is taken; resumed tasks are polled");
    batch_summary summary{};
    error_code run_ec;
    int stop_signal = 0;
    int code = exit_failed;
    std::exception_ptr failure;
    asio::cancellation_signal stop;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    // The first SIGINT / SIGTERM stops the batch cleanly: no new paid submission starts, those in
    // flight run to KIE's answer (or stay journaled as intents), waits end. That is bounded by
    // stop_bound; a second signal, or the bound, ends the process at once: the journal and the
    // result files are crash-safe, and a rerun resumes (a journaled intent is looked up by its callback).
    constexpr auto stop_bound = std::chrono::seconds(30);
    asio::steady_timer stop_deadline(ioc);
    const auto signal_name = [](int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; };
    std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int sig) {
        if (ec) return;
        if (stop_signal != 0)
        {
            std::cerr << "\nkiemidi batch: a second signal (" << signal_name(sig)
                      << "): stopping at once; paid submissions still in flight are journaled; rerun the same command to resume\n";
            std::_Exit(sig == SIGINT ? exit_sigint : exit_sigterm);
        }
        stop_signal = sig;
        progress.note(std::string("kiemidi batch: ") + signal_name(sig) + ": stopping; no new paid submission starts, those in flight finish "
                      "(at most " + std::to_string(stop_bound.count()) + " s; a second signal stops at once); rerun the same command to resume");
        stop.emit(asio::cancellation_type::terminal);
        stop_deadline.expires_after(stop_bound);
        stop_deadline.async_wait([&](const error_code& tec) {
            if (tec) return;
            std::cerr << "\nkiemidi batch: the stop took longer than " << stop_bound.count()
                      << " s; stopping at once (paid submissions still in flight are journaled; rerun the same command to resume)\n";
            std::_Exit(stop_signal == SIGINT ? exit_sigint : exit_sigterm);
        });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    auto body = [&]() -> asio::awaitable<int> {
        if (metrics_endpoint)
        {
            error_code mec;
            metrics_endpoint->start(mec);
            if (mec)
            {
                std::cerr << "kiemidi batch: cannot serve metrics on " << args.metrics_address << ":" << args.metrics_port
                          << ": " << mec.message() << "\n";
                co_return exit_usage;
            }
            progress.note("kiemidi batch: metrics on http://" + args.metrics_address + ":" +
                          std::to_string(metrics_endpoint->port()) + "/metrics");
        }
        std::int64_t credits = 0;
        std::string kie_down;
        if (int rc = co_await session.check_reachable(&credits, &kie_down); rc == exit_kie_unavailable)
        {
            // Started while KIE is down: the batch pauses as it does for an outage met mid-run
            // (no paid submission starts until KIE answers; --outage-wait bounds it, then exit 11).
            progress.note("kiemidi batch: " + format_kie_line(session.kie().metrics().kie(), std::chrono::steady_clock::now()) +
                          " (" + kie_down + "); waiting for it, at most --outage-wait " + std::to_string(args.outage_wait.count()) +
                          " ms; nothing is paid meanwhile");
        }
        else if (rc != exit_ok)
            co_return rc;
        else
            plan_ctx.remaining = credits;
#ifdef KIEMIDI_WITH_REDIS
        if (shared)
        {
            if (int rc = co_await shared->connect("batch", args.shared.redis_url); rc != exit_ok) co_return rc;
            // Before anything is paid: will Redis keep the batch's state?
            if (int rc = co_await shared->check_durability(args.shared.redis_url, args.shared.require_durable, progress); rc != exit_ok)
                co_return rc;
            progress.note("kiemidi batch: worker " + shared->claims.worker_id() + " of batch " + args.shared.batch_id + " at " +
                          args.shared.redis_url);
            // The plan counts what the shared state holds already; it is only said, so a failed read is no failure.
            diagnostics ed;
            auto [eec, entries] = co_await shared->claims.async_entries(ed, use_nothrow_awaitable);
            for (auto& t : entries) known.push_back(std::move(t.entry));
            if (args.retry_failed || args.resubmit_lost)
            {
                diagnostics ed;
                auto [eec, shared_tracks] = co_await shared->claims.async_entries(ed, use_nothrow_awaitable);
                std::vector<journal_entry> entries;
                for (auto& t : shared_tracks) entries.push_back(std::move(t.entry));
                progress.note(eec ? "kiemidi batch: --retry-failed/--resubmit: cannot read the shared batch to count its tracks to retry: " +
                                        describe(eec, ed)
                                  : retry_plan(entries, args.retry_failed, args.resubmit_lost));
            }
        }
        progress.note(plan_line(plan_batch(tracks, known, bo, bo.costs, session.rate_limit()), plan_ctx));
        auto runner_ptr = shared ? std::make_unique<batch_runner>(session.kie(), bo, shared->claims)
                                 : std::make_unique<batch_runner>(session.kie(), bo);
#else
        progress.note(plan_line(plan_batch(tracks, known, bo, bo.costs, session.rate_limit()), plan_ctx));
        auto runner_ptr = std::make_unique<batch_runner>(session.kie(), bo);
#endif
        auto& runner = *runner_ptr;
        auto on_event = [&](const batch_event& e) {
            const auto c = counts_of(e);
            switch (e.what)
            {
            case batch_event::kind::track_done:
            {
                // A kept result that deserves attention (repairs, no notes) gets one warning line.
                constexpr std::string_view mark = "; warning: ";
                const auto at = e.message.find(mark);
                progress.track_line("ok", e.track_name, std::string_view(e.message).substr(0, at), c);
                if (at != std::string::npos)
                    progress.note("warning: " + e.track_name + ": " + e.message.substr(at + mark.size()));
                break;
            }
            case batch_event::kind::track_failed:
                progress.track_line(e.state == track_state::outcome_unknown ? "UNKNOWN"
                                    : e.state == track_state::not_written   ? "UNWRITTEN"
                                    : e.state == track_state::result_lost   ? "LOST"
                                                                            : "FAIL",
                                    e.track_name, e.message, c);
                break;
            case batch_event::kind::track_skipped: progress.track_line("skip", e.track_name, e.message, c); break;
            default: progress.update(c); break;
            }
        };
        auto [ec, s] = co_await runner.async_run(std::move(tracks), on_event,
                                                 asio::bind_cancellation_slot(stop.slot(), use_nothrow_awaitable));
        run_ec = ec;
        summary = s;
        if (ec == claim_errc::state_lost)
        {
            // One line: what happened, why it may have, what was kept, what to do.
            std::cerr << "kiemidi batch: " << runner.last_diagnostics().client_message() << "; this worker stopped claiming and "
                      << "finished the paid tracks it held (" << s.done << " track(s) written by it in this run, task ids in "
                      << (args.output_dir / "kiemidi-shared-record.tsv").string() << "); " << s.unfinished
                      << " track(s) are not done: make Redis durable (see README), then rerun the same command to re-seed the "
                      << "batch; tracks whose results are written or whose task ids are recorded are not paid again\n";
        }
        else if (ec && ec != asio::error::operation_aborted)
            std::cerr << "kiemidi batch: " << describe(ec, runner.last_diagnostics()) << "\n";
        progress.finish({.total = s.total, .done = s.done + s.skipped_already_done, .failed = s.failed, .in_flight = 0, .skipped = s.skipped_already_done});
#ifdef KIEMIDI_WITH_REDIS
        if (shared && !rows.duplicates.empty())
        {
            diagnostics ed;
            auto [eec, entries] = co_await shared->claims.async_entries(ed, use_nothrow_awaitable);
            for (auto& t : entries) finished.push_back({std::move(t.entry.track), t.entry.state, std::move(t.output_name)});
        }
#endif
        co_return exit_ok;
    };
    // Twice a second the progress learns how many paid submissions wait for KIE's rate limit.
    asio::steady_timer limiter_tick(ioc);
    bool batch_over = false;  // a tick already due when the batch ends must not re-arm
    std::function<void()> sample_limiter = [&] {
        limiter_tick.expires_after(std::chrono::milliseconds(500));
        limiter_tick.async_wait([&](const error_code& ec) {
            if (ec || batch_over) return;
            progress.rate_limit(session.kie().transport_stats().limiter_waiting);
            progress.kie_status(format_kie_line(session.kie().metrics().kie(), std::chrono::steady_clock::now()));
            sample_limiter();
        });
    };
    sample_limiter();
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e, int c) {
        failure = e;
        code = c;
        batch_over = true;
        limiter_tick.cancel();
        signals.cancel();
        stop_deadline.cancel();
        session.close();
        if (metrics_endpoint) metrics_endpoint->async_stop(asio::detached);
#ifdef KIEMIDI_WITH_REDIS
        if (shared) shared->claims.close();
#endif
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    if (code != exit_ok) return code;
    if (stop_signal != 0)
        std::cerr << "kiemidi batch: stopped by " << signal_name(stop_signal) << ": " << summary.done << " track(s) done in this run, "
                  << summary.unfinished << " not finished (nothing of them lost: rerun the same command to resume)\n";

    if (args.shared.enabled())
    {
        std::cout << "batch " << args.shared.batch_id << ": " << summary.total << " tracks, "
                  << summary.done + summary.skipped_already_done + summary.done_by_other_workers << " done ("
                  << summary.done << " by this worker, " << summary.done_by_other_workers << " by others during this run, "
                  << summary.skipped_already_done << " before it; " << summary.resumed << " resumed, " << summary.taken_over
                  << " taken over), " << summary.failed << " failed, " << summary.outcome_unknown << " outcome unknown, "
                  << list->errors.size() << " bad rows, " << summary.notes << " notes, "
                  << std::chrono::duration<double>(summary.elapsed).count() << " s\n";
        if (summary.outcome_unknown > 0)
            std::cerr << "kiemidi batch: " << summary.outcome_unknown
                      << " track(s) have a paid submission with an unknown outcome; `kiemidi status --redis "
                      << args.shared.redis_url << " --batch-id " << args.shared.batch_id
                      << "` lists them. Rerun with --resubmit-unknown to submit them again (they may be charged twice).\n";
        report_no_credits(summary);
        report_outage(summary);
        report_budget(summary, args);
        report_unwritten(summary, "kiemidi status --redis " + args.shared.redis_url + " --batch-id " + args.shared.batch_id);
        const auto no_copy = copy_duplicate_results(args.output_dir, rows.duplicates, finished);
        write_batch_report(args.output_dir, {});
        if (!bad_rows_line.empty()) std::cerr << "kiemidi batch: " << bad_rows_line << "\n";
        return exit_of(summary, stop_signal, run_ec, no_copy > 0, bad_rows);
    }

    std::cout << "batch: " << summary.total << " tracks, " << summary.done + summary.skipped_already_done << " done (" << summary.skipped_already_done
              << " before this run, " << summary.resumed << " resumed, " << summary.recovered << " found by their callback), " << summary.failed << " failed, "
              << summary.outcome_unknown << " outcome unknown, " << list->errors.size() << " bad rows, "
              << summary.notes << " notes, " << std::chrono::duration<double>(summary.elapsed).count() << " s\n"
              << "journal: " << bo.journal_path.string() << "\n";
    if (summary.outcome_unknown > 0)
    {
        std::cerr << "kiemidi batch: " << summary.outcome_unknown
                  << " track(s) have a paid submission with an unknown outcome; `kiemidi status "
                  << bo.journal_path.string() << "` lists them. Rerun with --resubmit-unknown to submit them again "
                  << "(they may be charged twice).\n";
    }
    report_no_credits(summary);
    report_outage(summary);
    report_budget(summary, args);
    report_unwritten(summary, "kiemidi status " + bo.journal_path.string());
    std::size_t no_copy = 0;
    if (!rows.duplicates.empty())
    {
        std::vector<journal_entry> after;
        diagnostics jd;
        read_journal_entries(bo.journal_path, after, jd);
        const auto names = unique_output_names(after);
        for (std::size_t i = 0; i < after.size(); ++i) finished.push_back({after[i].track, after[i].state, names[i]});
        no_copy = copy_duplicate_results(args.output_dir, rows.duplicates, finished);
    }
    write_batch_report(args.output_dir, bo.journal_path);
    if (!bad_rows_line.empty()) std::cerr << "kiemidi batch: " << bad_rows_line << "\n";
    return exit_of(summary, stop_signal, run_ec, no_copy > 0, bad_rows);
}

namespace {

/// Counts per state, then the failed and outcome-unknown tracks; returns the status exit code.
int print_status(const std::string& what, const std::vector<journal_entry>& entries)
{
    std::map<track_state, std::size_t> counts;
    for (const auto& e : entries) ++counts[e.state];
    std::cout << what << ": " << entries.size() << " tracks\n";
    for (auto s : {track_state::pending, track_state::separation_intent, track_state::separating, track_state::midi_intent,
                   track_state::transcribing, track_state::done, track_state::failed, track_state::outcome_unknown,
                   track_state::not_written, track_state::result_lost})
        std::cout << "  " << to_string(s) << ": " << counts[s] << "\n";
    // The journal's share of the metrics a running batch exposes (--metrics-port): paid
    // submissions, and where unknown outcomes and failures happened.
    std::size_t paid = 0;
    std::map<std::string, std::size_t> unknown_at, failed_at;
    for (const auto& e : entries)
    {
        paid += e.attempts;
        if (e.state == track_state::outcome_unknown) ++unknown_at[e.failed_stage.empty() ? "?" : e.failed_stage];
        if (e.state == track_state::failed) ++failed_at[e.failed_stage.empty() ? "?" : e.failed_stage];
    }
    std::cout << "  paid submissions intended: " << paid << "\n";
    for (const auto& [label, by_stage] : {std::pair{"outcome unknown at", &unknown_at}, std::pair{"failed at", &failed_at}})
        for (const auto& [stage, n] : *by_stage) std::cout << "  " << label << " " << stage << ": " << n << "\n";
    for (const auto& e : entries)
    {
        if (e.state != track_state::failed && e.state != track_state::outcome_unknown && e.state != track_state::not_written &&
            e.state != track_state::result_lost)
            continue;
        std::cout << to_string(e.state) << " " << (e.track.name.empty() ? output_name(e.track) : e.track.name);
        if (e.track.separation_task_id.empty()) std::cout << " (" << e.track.task_id << ", " << e.track.audio_id << ")";
        if (!e.track.stem.empty()) std::cout << " stem " << e.track.stem;
        if (!e.separation_task_id.empty()) std::cout << " separation " << e.separation_task_id;
        if (!e.midi_task_id.empty()) std::cout << " midi " << e.midi_task_id;
        std::cout << ": " << e.error << "\n";
    }
    if (counts[track_state::outcome_unknown] > 0) return exit_outcome_unknown;
    if (counts[track_state::not_written] > 0) return exit_not_written;
    if (counts[track_state::failed] > 0 || counts[track_state::result_lost] > 0) return exit_failed;
    return exit_ok;
}

}  // namespace

int status_command(const std::filesystem::path& path)
{
    if (!std::filesystem::exists(path)) throw usage_error("no journal at " + path.string());
    error_code ec;
    diagnostics diag;
    auto j = journal::open(path, ec, diag);
    if (ec)
    {
        std::cerr << "kiemidi status: " << describe(ec, diag) << "\n";
        return exit_usage;
    }
    return print_status(path.string(), j.entries());
}

int shared_status_command(const shared_batch_flags& f)
{
    check_shared_batch_flags(f);
#ifdef KIEMIDI_WITH_REDIS
    asio::io_context ioc;
    shared_state shared(ioc, f);
    int code = exit_failed;
    std::vector<shared_track> tracks;
    error_code ec;
    diagnostics diag;
    auto body = [&]() -> asio::awaitable<int> {
        if (int rc = co_await shared.connect("status", f.redis_url); rc != exit_ok) co_return rc;
        auto [eec, t] = co_await shared.claims.async_entries(diag, use_nothrow_awaitable);
        ec = eec;
        tracks = std::move(t);
        co_return exit_ok;
    };
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e, int c) {
        failure = e;
        code = c;
        shared.claims.close();
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    if (code != exit_ok) return code;
    if (ec)
    {
        std::cerr << "kiemidi status: " << describe(ec, diag) << "\n";
        return exit_unreachable;
    }
    if (tracks.empty())
    {
        std::cerr << "kiemidi status: no batch " << f.batch_id << " at " << f.redis_url << "\n";
        return exit_usage;
    }
    std::vector<journal_entry> entries;
    entries.reserve(tracks.size());
    for (const auto& t : tracks) entries.push_back(t.entry);
    const int rc = print_status("batch " + f.batch_id + " at " + f.redis_url, entries);
    for (const auto& t : tracks)
    {
        if (t.owner.empty()) continue;
        std::cout << "claimed " << t.output_name << " " << to_string(t.entry.state) << " by " << t.owner << ", lease "
                  << (t.lease_left.count() >= 0 ? std::to_string(t.lease_left.count()) + " ms left" : "expired") << "\n";
    }
    return rc;
#else
    return exit_usage;
#endif
}

}  // namespace kiemidi::cli
