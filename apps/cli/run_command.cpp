// `kiemidi run` and `kiemidi credits`: one pipeline, one read.
#include "commands.hpp"
#include "track_list.hpp"
#include "../../src/nothrow_awaitable.hpp"

#include <kiemidi/smf.hpp>
#include <kiemidi/smf/piano_roll.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fstream>
#include <iostream>

namespace kiemidi::cli {

namespace asio = boost::asio;

namespace {

/// Writes `text` to `path` through a temporary file and a rename, so readers never see half a file.
bool write_text_atomically(const std::filesystem::path& path, const std::string& text, std::string& why)
{
    auto tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out)
        {
            why = "cannot write " + tmp.string();
            return false;
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec)
    {
        why = "cannot rename " + tmp.string() + ": " + ec.message();
        std::filesystem::remove(tmp, ec);
        return false;
    }
    return true;
}

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

}  // namespace

int run_command(const kie_flags& flags, const run_args& args)
{
    std::string name = args.name.empty() ? default_output_name(args.task_id, args.audio_id) : args.name;
    if (auto why = check_output_name(name); !why.empty()) throw usage_error("--name: " + why);
    std::error_code fec;
    std::filesystem::create_directories(args.output_dir, fec);
    if (fec) throw usage_error("cannot create " + args.output_dir.string() + ": " + fec.message());

    return with_session(flags, true, [&](kie_session& s) -> asio::awaitable<int> {
        if (int rc = co_await s.check_reachable(); rc != exit_ok) co_return rc;
        midi_params p;
        p.task_id = args.task_id;
        p.audio_id = args.audio_id;
        p.wait = s.wait();
        diagnostics diag;
        auto [ec, midi] = co_await s.kie().async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
        if (ec)
        {
            std::cerr << "kiemidi: " << args.task_id << ":" << args.audio_id << " failed: " << describe(ec, diag) << "\n";
            if (ec == client_errc::outcome_unknown)
            {
                std::cerr << "kiemidi: a paid submission may have been processed; check KIE before running it again\n";
                co_return exit_outcome_unknown;
            }
            co_return exit_failed;
        }
        const auto mid = args.output_dir / (name + ".mid");
        const auto json = args.output_dir / (name + ".json");
        diagnostics wdiag;
        if (auto wec = smf::write_smf_file(mid, midi.instruments, {}, wdiag))
        {
            std::cerr << "kiemidi: " << describe(wec, wdiag) << "\n";
            co_return exit_failed;
        }
        std::string why;
        if (!write_text_atomically(json, smf::notes_to_json(midi.instruments, {}, midi.repairs), why))
        {
            std::cerr << "kiemidi: " << why << "\n";
            co_return exit_failed;
        }
        // The piano roll is a view of the notes: the .mid and .json are the result, so failing to
        // draw it is said but does not fail the (paid) run.
        smf::piano_roll_options roll;
        roll.title = name;
        if (!write_text_atomically(args.output_dir / (name + ".svg"), smf::write_piano_roll_svg(midi.instruments, roll), why))
            std::cerr << "kiemidi: warning: " << why << "\n";
        std::cout << mid.string() << ": " << midi.instruments.size() << " instruments, " << midi.note_count()
                  << " notes (separation " << midi.separation_task_id << ", midi " << midi.midi_task_id << ")\n";
        // The result is paid for and kept; what kiemidi had to repair in it, or that it is empty, is said once.
        if (!midi.warning.empty()) std::cerr << "kiemidi: warning: " << midi.warning << "\n";
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
