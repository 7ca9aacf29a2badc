// `kiemidi run`, `midi`, `tracks` and `credits`: pipelines (or the MIDI half of one) and reads.
#include "commands.hpp"
#include "track_list.hpp"
#include <kiemidi/atomic_file.hpp>
#include <kiemidi/nothrow_awaitable.hpp>
#include <kiemidi/result_files.hpp>

#include <kiemidi/smf/piano_roll.hpp>
#include <kiemidi/smf/writer.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <iostream>

namespace asio = boost::asio;

namespace kiemidi::cli {

namespace {

/// Runs `body` on a fresh io_context with a session; returns its exit code.
template <class Body>
int with_session(const kie_flags& flags, bool callbacks, Body body)
{
    asio::io_context ioc;
    kie_session session(ioc, flags, callbacks);
    int code = exit_failed;
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(session), [&](std::exception_ptr e, int c) {
        failure = e;
        code = c;
        session.close();
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    return code;
}

/// "96.0 BPM, 4/4, bar lines from 1.250 s (confidence 0.97), quantized to 1/16".
std::string tempo_line(const smf::beat_grid& grid, const smf::file_choices& files)
{
    char buf[160];
    const double downbeat = grid.first_downbeat < grid.beats.size() ? grid.beats[grid.first_downbeat] : 0.0;
    std::snprintf(buf, sizeof buf, "%.1f BPM, %d/4, bar lines from %.3f s (%s, confidence %.2f)", grid.bpm, grid.beats_per_bar,
                  downbeat, files.tempo.mode == smf::tempo_mode::off ? "tempo off" : grid.estimated ? "estimated" : "fixed",
                  grid.confidence);
    std::string line = buf;
    if (files.quantize != smf::quantize_grid::off)
        line += std::string(", quantized to ") + std::string(smf::to_string(files.quantize)) + (files.quantize_ends ? " (ends too)" : "");
    return line;
}

/// Writes <dir>/<name>.mid, .json and .svg from a result and prints its summary line.
int write_result(const std::filesystem::path& dir, const std::string& name, const midi_result& midi, const smf::file_choices& files)
{
    const auto mid = dir / (name + ".mid");
    // The same files, with the same provenance, as a batch writes for a track.
    result_provenance from;
    from.separation_task_id = midi.separation_task_id;
    from.stem = stem_name(midi.stem_list, midi.transcribed_stem_id);
    from.stems = stem_links(midi.stem_list, midi.stems);
    diagnostics wdiag;
    smf::beat_grid grid;
    if (auto wec = write_result_files(dir, name, true, midi.instruments, midi.repairs, from, files, wdiag, &grid))
    {
        std::cerr << "kiemidi: " << describe(wec, wdiag) << "\n";
        return exit_failed;
    }
    // The piano roll is a view of the notes: the .mid and .json are the result, so failing to
    // draw it is said but does not fail the (paid) run.
    smf::piano_roll_options roll;
    roll.title = name;
    roll.grid = grid;
    if (auto sec = write_file_atomically(dir / (name + ".svg"), smf::write_piano_roll_svg(midi.instruments, roll), wdiag))
        std::cerr << "kiemidi: warning: " << describe(sec, wdiag) << "\n";
    std::cout << mid.string() << ": " << midi.instruments.size() << " instruments, " << midi.note_count()
              << " notes (separation " << midi.separation_task_id << ", midi " << midi.midi_task_id << ")\n";
    // The result is paid for and kept; what kiemidi had to repair in it, or that it is empty, is said once.
    if (!midi.warning.empty()) std::cerr << "kiemidi: warning: " << midi.warning << "\n";
    std::cout << mid.string() << ": " << tempo_line(grid, files) << "\n";
    if (!grid.note.empty()) std::cerr << "kiemidi: note: " << grid.note << "\n";
    return exit_ok;
}

/// The exit code of a failed pipeline, after saying why on stderr. `what` names the track.
int failure_exit(const std::string& what, const error_code& ec, const diagnostics& diag)
{
    std::cerr << "kiemidi: " << what << " failed: " << describe(ec, diag) << "\n";
    if (ec == client_errc::outcome_unknown)
    {
        std::cerr << "kiemidi: a paid submission may have been processed; check KIE before running it again\n";
        return exit_outcome_unknown;
    }
    if (ec == api_errc::insufficient_credits) return exit_no_credits;
    if (ec == api_errc::unauthorized) return exit_unreachable;
    return exit_failed;
}

/// Several tracks' exit codes as one, the way a batch folds them: an unknown outcome first (it
/// needs checking before anything is rerun), then credits, then KIE unreachable, then failures.
int fold_exit(int a, int b)
{
    for (int c : {exit_outcome_unknown, exit_no_credits, exit_unreachable})
        if (a == c || b == c) return c;
    return a == exit_ok && b == exit_ok ? exit_ok : exit_failed;
}

/// One track of `run`: the whole pipeline, then its files.
asio::awaitable<int> run_track(kie_session& s, const run_args& args, std::string audio_id, std::string name)
{
    midi_params p;
    p.task_id = args.task_id;
    p.audio_id = audio_id;
    p.separation = args.type;
    p.stem = args.stem;
    p.wait = s.wait();
    p.tempo = std::nullopt;  // write_result estimates it, with the user's --tempo
    diagnostics diag;
    auto [ec, midi] = co_await s.kie().async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
    if (ec)
    {
        const int rc = failure_exit(args.task_id + ":" + audio_id, ec, diag);
        if (ec == client_errc::unknown_stem)  // the separation is done and paid: it need not be paid again
            std::cerr << "kiemidi: transcribe one of its stems with: kiemidi midi " << midi.separation_task_id
                      << " --stem NAME\n";
        co_return rc;
    }
    co_return write_result(args.output_dir, name, midi, args.files);
}

/// The tracks of music task `id`; exit_ok, or the exit code with the reason on stderr.
asio::awaitable<int> read_music_task(kie_session& s, const std::string& id, api::music_task_record& out)
{
    diagnostics diag;
    auto [ec, rec] = co_await s.kie().async_get_music_task(id, diag, use_nothrow_awaitable);
    if (ec)
    {
        std::cerr << "kiemidi: music task " << id << ": " << describe(ec, diag) << "\n";
        if (ec == api_errc::unknown_task || ec == api_errc::not_found) co_return exit_not_ready;
        co_return ec == api_errc::unauthorized ? exit_unreachable : exit_failed;
    }
    out = std::move(rec);
    co_return exit_ok;
}

/// A music task's tracks can be separated once KIE generated them all ("SUCCESS").
int check_music_task_done(const api::music_task_record& rec)
{
    if (rec.status == "SUCCESS" && !rec.tracks.empty()) return exit_ok;
    const bool pending = rec.status.empty() || rec.status == "PENDING" || rec.status == "TEXT_SUCCESS" ||
                         rec.status == "FIRST_SUCCESS" || rec.status == "SUCCESS";
    std::cerr << "kiemidi: music task " << rec.task_id << " "
              << (pending ? "has not finished" : "failed") << " (status " << (rec.status.empty() ? "none" : rec.status)
              << (rec.error_message ? ": " + *rec.error_message : std::string{}) << "); nothing was paid\n";
    return pending ? exit_not_ready : exit_failed;
}

}  // namespace

int run_command(const kie_flags& flags, const run_args& args)
{
    if (!args.name.empty())
        if (auto why = check_output_name(args.name); !why.empty()) throw usage_error("--name: " + why);
    std::error_code fec;
    std::filesystem::create_directories(args.output_dir, fec);
    if (fec) throw usage_error("cannot create " + args.output_dir.string() + ": " + fec.message());

    return with_session(flags, true, [&](kie_session& s) -> asio::awaitable<int> {
        if (int rc = co_await s.check_reachable(); rc != exit_ok) co_return rc;
        if (!args.audio_id.empty())
        {
            std::string name = args.name.empty() ? default_output_name(args.task_id, args.audio_id) : args.name;
            co_return co_await run_track(s, args, args.audio_id, std::move(name));
        }
        // Every track of the music task, one after the other, each with its own files.
        api::music_task_record rec;
        if (int rc = co_await read_music_task(s, args.task_id, rec); rc != exit_ok) co_return rc;
        if (int rc = check_music_task_done(rec); rc != exit_ok) co_return rc;
        std::cerr << "kiemidi: music task " << args.task_id << " has " << rec.tracks.size() << " tracks\n";
        int code = exit_ok;
        for (std::size_t i = 0; i < rec.tracks.size(); ++i)
        {
            const std::string audio_id = rec.tracks[i].id;
            std::string name = args.name.empty() ? default_output_name(args.task_id, audio_id)
                                                 : args.name + "-" + std::to_string(i + 1);
            const int rc = co_await run_track(s, args, audio_id, std::move(name));
            code = fold_exit(code, rc);
            // Without credits or access, the next tracks would fail the same way.
            if (rc == exit_no_credits || rc == exit_unreachable)
            {
                std::cerr << "kiemidi: " << rec.tracks.size() - i - 1 << " tracks not started\n";
                break;
            }
        }
        co_return code;
    });
}

int midi_command(const kie_flags& flags, const midi_args& args)
{
    if (!args.stem.empty() && !args.audio_id.empty()) throw usage_error("give --stem or --audio-id, not both");
    const std::string& stem = args.audio_id.empty() ? args.stem : args.audio_id;
    std::string name = args.name;
    if (name.empty())
    {
        name = default_output_name(args.separation_task_id, stem);
        if (stem.empty()) name.pop_back();  // no "_" without a stem
    }
    if (auto why = check_output_name(name); !why.empty()) throw usage_error("--name: " + why);
    std::error_code fec;
    std::filesystem::create_directories(args.output_dir, fec);
    if (fec) throw usage_error("cannot create " + args.output_dir.string() + ": " + fec.message());

    return with_session(flags, true, [&](kie_session& s) -> asio::awaitable<int> {
        if (int rc = co_await s.check_reachable(); rc != exit_ok) co_return rc;
        midi_params p;
        p.separation_task_id = args.separation_task_id;
        p.stem = args.stem;
        p.stem_audio_id = args.audio_id;
        p.wait = s.wait();
        p.tempo = std::nullopt;  // write_result estimates it, with the user's --tempo
        diagnostics diag;
        auto [ec, midi] = co_await s.kie().async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
        if (!ec)
        {
            // A stem asked for by name is named in the files as KIE spells it ("Bass" for "bass").
            if (args.name.empty() && !args.stem.empty())
                if (const auto* chosen = api::find_stem(midi.stem_list, args.stem))
                    name = default_output_name(args.separation_task_id, chosen->stem_type_group_name);
            co_return write_result(args.output_dir, name, midi, args.files);
        }
        // Before the paid POST: the separation cannot be used (yet), or the stem asked for is not one of it.
        if (ec == api_errc::task_not_finished || ec == api_errc::unknown_task)
        {
            std::cerr << "kiemidi: separation " << args.separation_task_id << ": " << describe(ec, diag)
                      << "\nkiemidi: nothing was paid\n";
            co_return exit_not_ready;
        }
        if (ec == client_errc::unknown_stem)
        {
            std::cerr << "kiemidi: " << (args.audio_id.empty() ? "--stem: " : "--audio-id: ") << diag.client_message()
                      << "\nkiemidi: nothing was paid\n";
            co_return exit_usage;
        }
        co_return failure_exit("separation " + args.separation_task_id, ec, diag);
    });
}

int tracks_command(const kie_flags& flags, const std::string& music_task_id)
{
    return with_session(flags, false, [&](kie_session& s) -> asio::awaitable<int> {
        api::music_task_record rec;
        if (int rc = co_await read_music_task(s, music_task_id, rec); rc != exit_ok) co_return rc;
        if (rec.status != "SUCCESS")
            std::cerr << "kiemidi: music task " << music_task_id << " has status "
                      << (rec.status.empty() ? "none" : rec.status) << "\n";
        // One line per track: audio id, duration (m:ss), title; the id is what `run` and `batch` take.
        for (const auto& t : rec.tracks)
        {
            const auto secs = static_cast<long>(t.duration + 0.5);
            char dur[32];
            std::snprintf(dur, sizeof dur, "%ld:%02ld", secs / 60, secs % 60);
            std::cout << t.id << "  " << dur << "  " << t.title << "\n";
        }
        co_return exit_ok;
    });
}

int credits_command(const kie_flags& flags)
{
    return with_session(flags, false, [&](kie_session& s) -> asio::awaitable<int> {
        std::int64_t credits = 0;
        int rc = co_await s.check_reachable(&credits);
        if (rc == exit_ok) std::cout << credits << "\n";
        co_return rc;
    });
}

}  // namespace kiemidi::cli
