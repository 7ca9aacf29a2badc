// `kiemidi batch` (the batch runner with progress on stderr) and `kiemidi status` (a journal's
// contents).
#include "commands.hpp"
#include "progress.hpp"
#include "track_list.hpp"

#include <kiemidi/batch.hpp>
#include <kiemidi/journal.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <iostream>
#include <map>

#include <fcntl.h>
#include <unistd.h>

#include <kiemidi/callback_reference.hpp>

#include <fstream>

namespace kiemidi::cli {

namespace asio = boost::asio;

namespace {

/// The listener's path secret for this journal: kept in `<journal>.callback-secret` (mode 0600),
/// so that a rerun after a crash listens on the same callback URL and receives the callbacks of
/// submissions whose answers the crash lost.
std::string journal_callback_secret(const std::filesystem::path& journal)
{
    const auto path = journal.string() + ".callback-secret";
    {
        std::ifstream in(path);
        std::string s;
        if (in >> s && s.size() >= 16) return s;
    }
    const std::string s = make_callback_reference() + make_callback_reference();  // 48 hex digits
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return {};  // a random secret per run: resumed intents cannot be recovered
    const auto line = s + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    return ok ? s : std::string();
}

progress_counts counts_of(const batch_event& e)
{
    return {.total = e.total, .done = e.done, .failed = e.failed, .in_flight = e.in_flight, .skipped = e.skipped};
}

}  // namespace

int batch_command(const kie_flags& flags, const batch_args& args)
{
    std::string why;
    auto list = read_track_list(args.track_list, why);
    if (!list) throw usage_error(why);
    std::error_code fec;
    std::filesystem::create_directories(args.output_dir, fec);
    if (fec) throw usage_error("cannot create " + args.output_dir.string() + ": " + fec.message());

    progress_printer progress(stderr, ::isatty(STDERR_FILENO) == 1);
    for (const auto& e : list->errors) progress.note("bad row: " + e.to_string());
    std::vector<track_spec> tracks;
    tracks.reserve(list->rows.size());
    for (auto& r : list->rows) tracks.push_back(track_spec{r.task_id, r.audio_id, r.name});
    if (tracks.empty())
    {
        std::cerr << "kiemidi batch: no usable track in " << args.track_list.string() << "\n";
        return list->errors.empty() ? exit_ok : exit_failed;
    }

    batch_options bo;
    bo.output_dir = args.output_dir;
    bo.journal_path = args.journal.empty() ? args.output_dir / "kiemidi-journal.sqlite" : args.journal;
    bo.concurrency = args.concurrency;
    bo.resubmit_unknown = args.resubmit_unknown;

    kie_flags kf = flags;
    if (!args.callback_secret.empty()) kf.callback_secret = args.callback_secret;
    else if (!kf.poll_only) kf.callback_secret = journal_callback_secret(bo.journal_path);
    asio::io_context ioc;
    kie_session session(ioc, kf, true);
    bo.pipeline.wait = session.wait();
    // A lost answer is recovered from the submission's callback. Callbacks of an earlier run
    // reach this one only at the same URL: same port (given, not picked at random) and secret,
    // and the same KIE (not a fresh embedded emulator).
    const auto lost_wait = std::chrono::milliseconds(args.lost_answer_wait_ms);
    bo.pipeline.unknown_outcome_wait = lost_wait;
    const bool stable_url = !session.embedded() && (kf.listen_port != 0 || !kf.public_url.empty()) &&
                            !kf.callback_secret.empty();
    bo.resumed_intent_wait = stable_url || args.lost_answer_wait_given ? lost_wait : std::chrono::milliseconds(0);
    batch_summary summary{};
    error_code run_ec;
    bool interrupted = false;
    int code = exit_failed;
    std::exception_ptr failure;
    asio::cancellation_signal stop;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const error_code& ec, int) {
        if (ec) return;
        interrupted = true;
        progress.note("kiemidi batch: interrupted; finishing the journal (rerun the same command to resume)");
        stop.emit(asio::cancellation_type::terminal);
    });

    auto body = [&]() -> asio::awaitable<int> {
        if (int rc = co_await session.check_reachable(); rc != exit_ok) co_return rc;
        batch_runner runner(session.kie(), bo);
        auto on_event = [&](const batch_event& e) {
            const auto c = counts_of(e);
            switch (e.what)
            {
            case batch_event::kind::track_done: progress.track_line("ok", e.track_name, e.message, c); break;
            case batch_event::kind::track_failed:
                progress.track_line(e.state == track_state::outcome_unknown ? "UNKNOWN" : "FAIL", e.track_name, e.message, c);
                break;
            case batch_event::kind::track_skipped: progress.track_line("skip", e.track_name, e.message, c); break;
            default: progress.update(c); break;
            }
        };
        auto [ec, s] = co_await runner.async_run(std::move(tracks), on_event,
                                                 asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(asio::use_awaitable)));
        run_ec = ec;
        summary = s;
        if (ec && ec != asio::error::operation_aborted)
            std::cerr << "kiemidi batch: " << describe(ec, runner.last_diagnostics()) << "\n";
        progress.finish({.total = s.total, .done = s.done + s.skipped_already_done, .failed = s.failed, .in_flight = 0, .skipped = s.skipped_already_done});
        co_return exit_ok;
    };
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e, int c) {
        failure = e;
        code = c;
        signals.cancel();
        session.close();
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    if (code != exit_ok) return code;

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
        return exit_outcome_unknown;
    }
    if (interrupted || run_ec || summary.failed > 0 || !list->errors.empty() || summary.unfinished > 0) return exit_failed;
    return exit_ok;
}

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
    const auto entries = j.entries();
    std::map<track_state, std::size_t> counts;
    for (const auto& e : entries) ++counts[e.state];
    std::cout << path.string() << ": " << entries.size() << " tracks\n";
    for (auto s : {track_state::pending, track_state::separation_intent, track_state::separating, track_state::midi_intent,
                   track_state::transcribing, track_state::done, track_state::failed, track_state::outcome_unknown})
        std::cout << "  " << to_string(s) << ": " << counts[s] << "\n";
    for (const auto& e : entries)
    {
        if (e.state != track_state::failed && e.state != track_state::outcome_unknown) continue;
        std::cout << to_string(e.state) << " " << (e.track.name.empty() ? e.track.task_id + ":" + e.track.audio_id : e.track.name)
                  << " (" << e.track.task_id << ", " << e.track.audio_id << ")";
        if (!e.separation_task_id.empty()) std::cout << " separation " << e.separation_task_id;
        if (!e.midi_task_id.empty()) std::cout << " midi " << e.midi_task_id;
        std::cout << ": " << e.error << "\n";
    }
    if (counts[track_state::outcome_unknown] > 0) return exit_outcome_unknown;
    if (counts[track_state::failed] > 0) return exit_failed;
    return exit_ok;
}

}  // namespace kiemidi::cli
