// kiemidi: songs → MIDI through KIE.AI from the command line. Parses arguments, hands them to
// the command (commands.hpp) and returns its exit code; `kiemidi --help` and
// `kiemidi COMMAND --help` describe everything.
#include "command_line.hpp"
#include "commands.hpp"
#include "duration.hpp"
#include "emulator_cli.hpp"
#include "batch_plan_output.hpp"
#include "track_list.hpp"

#include <boost/program_options.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace kiemidi::cli;

namespace {

constexpr const char* overview = R"(usage: kiemidi COMMAND [options]   (kiemidi COMMAND --help for details)

commands:
  run TASK_ID AUDIO_ID   one track: separation, MIDI generation, writes <out>/<name>.mid, .json, .svg
                         (run TASK_ID: every track of the music task, one output per track)
  midi SEPARATION_ID     MIDI from a finished separation (all stems, or --stem NAME / --audio-id ID)
  tracks TASK_ID         a music task's tracks: audio id, duration, title
  batch TRACKS           many tracks (CSV or JSON Lines), resumable through a journal
  status JOURNAL         what a batch journal holds: counts per state, failed and unknown tracks
                         (status --redis URL --batch-id NAME: the same for a shared batch)
  report DIR             DIR/index.html: every track of a batch (or run) with its piano roll
  credits                the account's remaining credits
  emulator               serve a local KIE emulator until SIGINT/SIGTERM
  --version              kiemidi's version, and the Boost and OpenSSL versions it was built with

KIE: --base-url/--api-key or KIE_BASE_URL/KIE_API_KEY; with neither, an embedded emulator
(in this process) is used. Behind an HTTP proxy: HTTPS_PROXY / NO_PROXY are followed, or --proxy URL
(--no-proxy: direct).
)";

constexpr const char* exit_codes = R"(
exit codes: 0 all done, 1 some tracks failed, 2 usage error (bad flags, unreadable list),
            3 some paid submissions have an unknown outcome (see `kiemidi status`),
            4 KIE cannot be reached or refused the API key,
            5 the account ran out of credits (batch: the tracks not started resume on a rerun),
            6 midi/run/tracks: the separation or music task named has not finished, or KIE knows
              no such task; nothing was paid (try again once it has finished, or check the id)
            7 batch --redis: the batch's state in Redis was lost (restart without persistence,
              flush, eviction, failover); the tracks this worker held were finished and recorded
              in DIR/kiemidi-shared-record.tsv; rerun the same command to re-seed the batch (tracks
              whose results are written are not paid again)
            8 KIE finished but result files could not be written (disk full, read-only,
              permissions, missing directory); fix it and rerun (also with --redis): nothing is
              paid again
            9 batch: the credit budget (--max-credits) stopped the run; the tracks not started stay
              pending: rerun with a higher budget to resume them
           10 batch: the track list had bad rows (the rest ran; --check lists them); --skip-bad-rows
              makes them a warning
           11 batch: KIE stayed unavailable (maintenance, server errors, no connection; also from the
              start) longer than --outage-wait; nothing failed, a rerun resumes
            130 / 143 batch: stopped by SIGINT / SIGTERM: no new paid submission was started, those
              in flight finished or are journaled; rerun the same command to resume (a second
              signal stops at once)
)";

po::options_description kie_options(kie_flags& f)
{
    po::options_description d("KIE and callbacks");
    d.add_options()
        ("base-url", po::value(&f.base_url)->value_name("URL"), "KIE base URL (default: KIE_BASE_URL, else https://api.kie.ai)")
        ("api-key", po::value(&f.api_key)->value_name("KEY"), "KIE API key (default: KIE_API_KEY; prefer the variable)")
        ("ca-file", po::value(&f.ca_file)->value_name("PEM"), "extra CA certificate to trust (e.g. a `kiemidi emulator --ca-out` file)")
        ("proxy", po::value(&f.proxy)->value_name("URL"),
         "reach KIE through this HTTP proxy: http://[user:password@]host[:port] (default: HTTPS_PROXY / "
         "HTTP_PROXY / ALL_PROXY, except the hosts in NO_PROXY)")
        ("no-proxy", po::bool_switch(&f.no_proxy), "reach KIE directly, whatever HTTPS_PROXY and friends say")
        ("listen-address", po::value(&f.listen_address)->value_name("ADDR"), "callback listener address (default 127.0.0.1)")
        ("listen-port", po::value(&f.listen_port)->value_name("N"), "callback listener port (default 0 = any free port)")
        ("public-url", po::value(&f.public_url)->value_name("URL"), "base URL at which KIE reaches the listener")
        ("poll-only", po::bool_switch(&f.poll_only), "no listener: poll record-info for results")
        ("poll-interval-ms", po::value(&f.poll_interval_ms)->value_name("N"), "first poll interval (default 5000; 200 on the embedded emulator)");
    return d;
}

po::options_description file_options(kiemidi::smf::file_choices& f)
{
    po::options_description d("MIDI files");
    d.add_options()
        ("tempo", po::value<std::string>()->value_name("auto|off|BPM")->notifier([&f](const std::string& v) {
             auto t = kiemidi::smf::parse_tempo_choice(v);
             if (!t) throw usage_error("--tempo takes auto, off or a BPM from 40 to 240, not '" + v + "'");
             f.tempo = *t;
         }),
         "tempo map of the .mid: auto (default) estimates the beats, bar lines and meter from the notes; off "
         "writes a fixed 120 BPM in 4/4; a BPM (40..240) keeps that tempo and fits only where the beats fall. "
         "Note times stay KIE's either way")
        ("quantize", po::value<std::string>()->value_name("GRID")->notifier([&f](const std::string& v) {
             auto q = kiemidi::smf::parse_quantize(v);
             if (!q) throw usage_error("--quantize takes off, 1/8, 1/16, 1/32, 1/8t or 1/16t, not '" + v + "'");
             f.quantize = *q;
         }),
         "snap note onsets in the .mid to this grid of the tempo map: 1/8, 1/16, 1/32, 1/8t, 1/16t (default off; "
         "the .json keeps KIE's times and says what was quantized)")
        ("quantize-ends", po::bool_switch(&f.quantize_ends), "with --quantize: snap note ends too");
    return d;
}

po::options_description shared_batch_options(shared_batch_flags& f, bool worker)
{
    po::options_description d("shared batch (several workers, state in Redis)");
    d.add_options()
        ("redis", po::value(&f.redis_url)->value_name("URL"), "redis://[[user]:password@]host[:port][/db]: the batch's state is in Redis, not in a journal")
        ("batch-id", po::value(&f.batch_id)->value_name("NAME"), "the shared batch's name (the same for every worker)");
    if (worker)
        d.add_options()
            ("worker-id", po::value(&f.worker_id)->value_name("ID"), "this worker's name in the shared state (default host:pid:random)")
            ("lease-ms", po::value(&f.lease_ms)->value_name("N"), "a dead worker's tracks are taken over N ms after its last renewal (default 30000)")
            ("require-durable-redis", po::bool_switch(&f.require_durable),
             "refuse to start (exit 2, nothing paid) unless Redis keeps the batch's state: appendonly yes and "
             "maxmemory-policy noeviction (also when Redis refuses CONFIG GET); without it, a one-line warning");
    return d;
}

/// Parses `args` with `desc` (+ positionals); throws usage_error. Returns true when --help was asked.
bool parse(const std::vector<std::string>& args, const po::options_description& desc,
           const po::positional_options_description& pos, po::variables_map& vm)
{
    try
    {
        kiemidi::apps::store_command_line(args, desc, pos, vm);
        if (vm.count("help")) return true;
        po::notify(vm);
    }
    catch (const po::error& e)
    {
        throw usage_error(e.what());
    }
    return false;
}

int usage_failure(const std::string& command, const std::string& what)
{
    return kiemidi::apps::usage_error(command.empty() ? "kiemidi" : "kiemidi " + command, what);
}

}  // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> all(argv + 1, argv + argc);
    if (all.empty())
    {
        std::cerr << overview << exit_codes;
        return exit_usage;
    }
    const std::string command = all.front();
    std::vector<std::string> args(all.begin() + 1, all.end());
    if (command == "--help" || command == "-h" || command == "help")
    {
        std::cout << overview << exit_codes;
        return exit_ok;
    }
    if (command == "--version" || command == "version")
    {
        kiemidi::apps::print_version("kiemidi");
        return exit_ok;
    }

    kie_flags kie;
    po::options_description help_opt("General");
    help_opt.add_options()("help,h", "this text");
    po::variables_map vm;
    po::positional_options_description pos;
    const char* synopsis = nullptr;
    po::options_description desc;
    try
    {
        if (command == "run")
        {
            synopsis = "usage: kiemidi run TASK_ID [AUDIO_ID] [-o DIR] [--name NAME] [--type TYPE] [--stem NAME] [options]\n"
                       "Separates one track, generates its MIDI and writes <DIR>/<NAME>.mid, <NAME>.json and <NAME>.svg (piano roll).\n"
                       "Without AUDIO_ID: every track of the music task (see `kiemidi tracks`), one after the other, each\n"
                       "with its own files (<NAME>-1, <NAME>-2, ... with --name); the exit code is the worst of theirs.";
            run_args r;
            std::string out = ".", type = "separate_vocal";
            po::options_description own("run");
            own.add_options()
                ("task-id", po::value(&r.task_id)->required(), "KIE music task id")
                ("audio-id", po::value(&r.audio_id), "the track's audio id (default: every track of the task)")
                ("output,o", po::value(&out)->value_name("DIR"), "output directory (default .)")
                ("name", po::value(&r.name)->value_name("NAME"), "output base name (default TASK_ID_AUDIO_ID)")
                ("type", po::value(&type)->value_name("TYPE"),
                 "separate_vocal (default: 2 stems, vocals + instrumental) or split_stem (up to 12 stems; "
                 "costs more, and KIE documents that its MIDI may be empty)")
                ("stem", po::value(&r.stem)->value_name("NAME"),
                 "transcribe only this stem, by KIE's name, case-insensitive (e.g. Instrumental, Bass, Drums); "
                 "an unknown name lists the ones the separation has");
            desc.add(help_opt).add(own).add(file_options(r.files)).add(kie_options(kie));
            pos.add("task-id", 1).add("audio-id", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            auto t = kiemidi::api::separation_type_from_string(type);
            if (!t) throw usage_error("--type must be separate_vocal or split_stem, not '" + type + "'");
            r.type = *t;
            r.output_dir = out;
            return run_command(kie, r);
        }
        if (command == "midi")
        {
            synopsis = "usage: kiemidi midi SEPARATION_TASK_ID [--stem NAME | --audio-id STEM_ID] [-o DIR] [--name NAME] [options]\n"
                       "MIDI generation from a finished separation (made earlier in KIE's web app, another tool or a\n"
                       "`kiemidi run`): writes <DIR>/<NAME>.mid, <NAME>.json and <NAME>.svg like `run`. The separation's\n"
                       "record is read first: one that has not finished or is unknown exits 6, a --stem it does not have\n"
                       "exits 2 and lists the stems it has; both cost nothing.";
            midi_args m;
            std::string out = ".";
            po::options_description own("midi");
            own.add_options()
                ("separation-task-id", po::value(&m.separation_task_id)->required(), "KIE separation task id")
                ("stem", po::value(&m.stem)->value_name("NAME"),
                 "only this stem, by KIE's name, case-insensitive (e.g. Instrumental, Bass); default: all stems")
                ("audio-id", po::value(&m.audio_id)->value_name("STEM_ID"), "only the stem with this audio id (originData[].id)")
                ("output,o", po::value(&out)->value_name("DIR"), "output directory (default .)")
                ("name", po::value(&m.name)->value_name("NAME"), "output base name (default SEPARATION_TASK_ID[_STEM])");
            desc.add(help_opt).add(own).add(file_options(m.files)).add(kie_options(kie));
            pos.add("separation-task-id", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            m.output_dir = out;
            return midi_command(kie, m);
        }
        if (command == "tracks")
        {
            synopsis = "usage: kiemidi tracks MUSIC_TASK_ID [options]\n"
                       "Lists the tracks of a KIE music task, one per line: audio id, duration (m:ss), title.\n"
                       "`kiemidi run MUSIC_TASK_ID AUDIO_ID` transcribes one, `kiemidi run MUSIC_TASK_ID` all.";
            std::string task;
            po::options_description own("tracks");
            own.add_options()("task-id", po::value(&task)->required(), "KIE music task id");
            desc.add(help_opt).add(own).add(kie_options(kie));
            pos.add("task-id", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            return tracks_command(kie, task);
        }
        if (command == "batch")
        {
            synopsis = "usage: kiemidi batch TRACKS [-o DIR] [--concurrency N] [--journal FILE] [--retry-failed] [--resubmit-unknown] [options]\n"
                       "       kiemidi batch TRACKS --redis URL --batch-id NAME [-o DIR] [--lease-ms N] [options]\n"
                       "TRACKS: CSV (task_id,audio_id[,name]; header line allowed; quoted fields) or JSON Lines\n"
                       "({\"task_id\":..,\"audio_id\":..,\"name\":..}; .jsonl/.ndjson or a first '{'). Optional per-row\n"
                       "type, stem, separation_task_id, tempo and quantize (CSV: named in the header) win over\n"
                       "--type / --stem / --tempo / --quantize; a row\n"
                       "with separation_task_id transcribes that finished separation (no separation paid). Bad rows are\n"
                       "reported with their line and the rest runs, then the batch exits 10 (--skip-bad-rows: 0);\n"
                       "--check only validates the list. Rows asking KIE for the same work (same task_id, audio_id,\n"
                       "type and stem, or separation_task_id and stem) are paid once: the others get copies of its\n"
                       "files under their own names (--allow-duplicates pays for each). Every run starts with its\n"
                       "plan in one line; --dry-run prints it in full (--json: as JSON) and pays nothing. Credits are\n"
                       "estimated per paid submission: separate_vocal 10, split_stem 50 (KIE's published figures),\n"
                       "midi 10 (assumed); --credit-cost KIND=N overrides. Rerun the same command to resume.\n"
                       "A result KIE finished whose files could not be written (or that were deleted or damaged\n"
                       "since) is written by the next run from KIE's record, which is free: nothing is paid again.\n"
                       "With --redis, every worker started with the same --batch-id shares the list: tracks are\n"
                       "claimed under a lease, and a dead worker's tracks are taken over once their leases expire.";
            batch_args b;
            std::string out = ".", list, journal, type = "separate_vocal";
            std::vector<std::string> credit_cost;
            std::int64_t max_credits = 0;
            po::options_description own("batch");
            own.add_options()
                ("tracks", po::value(&list)->required(), "track list file")
                ("type", po::value(&type)->value_name("TYPE"),
                 "separation of rows without their own type: separate_vocal (default) or split_stem")
                ("stem", po::value(&b.stem)->value_name("NAME"),
                 "transcribe only this stem (KIE's name, case-insensitive) in rows without their own stem")
                ("output,o", po::value(&out)->value_name("DIR"), "output directory (default .)")
                ("concurrency", po::value(&b.concurrency)->value_name("N"), "tracks in flight at once (default 16)")
                ("journal", po::value(&journal)->value_name("FILE"), "journal (default <DIR>/kiemidi-journal.sqlite)")
                ("resubmit-unknown", po::bool_switch(&b.resubmit_unknown),
                 "resubmit tracks whose paid submission has an unknown outcome (may be charged twice)")
                ("retry-failed", po::bool_switch(&b.retry_failed),
                 "retry failed tracks from the last step not paid yet: a finished MIDI task is only fetched, a "
                 "finished separation goes straight to MIDI; says first how many paid submissions it may make")
                ("resubmit", po::bool_switch(&b.resubmit_lost),
                 "pay again for tracks whose files are gone and whose result KIE no longer keeps")
                ("lost-answer-wait-ms", po::value(&b.lost_answer_wait_ms)->value_name("N"),
                 "how long a paid submission whose answer was lost (also by a crash) waits for its callback "
                 "to learn its task (default 900000; resumed ones only with a fixed --listen-port or --public-url)")
                ("callback-secret", po::value(&b.callback_secret)->value_name("S"),
                 "listener path secret (16+ of [A-Za-z0-9._~-]); default: kept in <journal>.callback-secret "
                 "so that a rerun receives the callbacks of an earlier run")
                ("outage-wait", po::value<std::string>()->value_name("DURATION")->notifier([&b](const std::string& v) {
                     auto d = parse_duration(v);
                     if (!d) throw usage_error("--outage-wait takes a duration such as 30min, 90s or 500ms, not '" + v + "'");
                     b.outage_wait = *d;
                 }),
                 "while KIE is down (also when it is already down at the start) the batch pauses (tracks not "
                 "yet paid wait); after one outage longer than this it stops, exit 11, a rerun resumes "
                 "(default 30min); a refused API key still exits 4 at once")
                ("metrics-port", po::value(&b.metrics_port)->value_name("N"),
                 "serve Prometheus metrics on http://ADDRESS:N/metrics while the batch runs")
                ("metrics-address", po::value(&b.metrics_address)->value_name("A"),
                 "address of --metrics-port (default 127.0.0.1)");
            po::options_description planning("plan, budget and list checks");
            planning.add_options()
                ("check", po::bool_switch(&b.check), "validate the list (bad rows, duplicates) without running it; no KIE")
                ("dry-run", po::bool_switch(&b.dry_run),
                 "print the plan (tracks new / to resume / done, paid submissions, estimated credits, the account's "
                 "credits, the rate limit's time) and pay nothing")
                ("json", po::bool_switch(&b.json), "with --dry-run: the plan as one JSON object")
                ("credit-cost", po::value(&credit_cost)->composing()->value_name("KIND=N"),
                 "credits of one paid submission of KIND (separate_vocal, split_stem, midi); repeatable")
                ("max-credits", po::value(&max_credits)->value_name("N"),
                 "credit budget of this run: no track starts whose paid submissions could take the run past N; "
                 "the rest stay pending (exit 9)")
                ("skip-bad-rows", po::bool_switch(&b.skip_bad_rows), "bad rows in the list are a warning, not exit 10")
                ("allow-duplicates", po::bool_switch(&b.allow_duplicates),
                 "pay again for rows asking for the same work (fresh results) instead of copying the first's");
            desc.add(help_opt).add(own).add(file_options(b.files)).add(planning).add(shared_batch_options(b.shared, true)).add(kie_options(kie));
            pos.add("tracks", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            if (b.concurrency == 0) throw usage_error("--concurrency must be at least 1");
            check_shared_batch_flags(b.shared);
            if (b.shared.enabled() && !journal.empty()) throw usage_error("--journal and --redis exclude each other");
            b.track_list = list;
            b.output_dir = out;
            b.journal = journal;
            b.lost_answer_wait_given = vm.count("lost-answer-wait-ms") != 0;
            auto t = kiemidi::api::separation_type_from_string(type);
            if (!t) throw usage_error("--type must be separate_vocal or split_stem, not '" + type + "'");
            b.type = *t;
            for (const auto& c : credit_cost) set_credit_cost(b.costs, c);
            if (vm.count("max-credits"))
            {
                if (max_credits < 0) throw usage_error("--max-credits must be at least 0");
                b.max_credits = max_credits;
            }
            if (b.json && !b.dry_run) throw usage_error("--json goes with --dry-run");
            if (b.check && b.dry_run) throw usage_error("--check and --dry-run exclude each other");
            return batch_command(kie, b);
        }
        if (command == "status")
        {
            synopsis = "usage: kiemidi status JOURNAL\n"
                       "       kiemidi status --redis URL --batch-id NAME\n"
                       "Counts per state; lists failed and outcome-unknown tracks with their errors (and, for a\n"
                       "shared batch, which worker holds which track).";
            std::string journal;
            shared_batch_flags shared;
            po::options_description own("status");
            own.add_options()("journal", po::value(&journal), "batch journal file");
            desc.add(help_opt).add(own).add(shared_batch_options(shared, false));
            pos.add("journal", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            if (shared.enabled())
            {
                if (!journal.empty()) throw usage_error("give a JOURNAL or --redis, not both");
                return shared_status_command(shared);
            }
            if (journal.empty()) throw usage_error("the JOURNAL (or --redis URL --batch-id NAME) is missing");
            check_shared_batch_flags(shared);
            return status_command(journal);
        }
        if (command == "report")
        {
            synopsis = "usage: kiemidi report DIR [--journal FILE]\n"
                       "Writes <DIR>/<name>.svg (a piano roll) next to every result and <DIR>/index.html: one row per\n"
                       "track with its state, instruments, notes, duration, piano roll and files, and for tracks that\n"
                       "are not done, KIE's message and what to do. Reads the batch journal (default\n"
                       "<DIR>/kiemidi-journal.sqlite, when it exists) and the .json result files in DIR.";
            report_args r;
            std::string dir, journal;
            po::options_description own("report");
            own.add_options()
                ("dir", po::value(&dir)->required(), "the batch's output directory")
                ("journal", po::value(&journal)->value_name("FILE"), "the batch's journal (default <DIR>/kiemidi-journal.sqlite)");
            desc.add(help_opt).add(own);
            pos.add("dir", 1);
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            r.dir = dir;
            r.journal = journal;
            return report_command(r);
        }
        if (command == "credits")
        {
            synopsis = "usage: kiemidi credits [--base-url URL] [--api-key KEY] [--ca-file PEM] [--proxy URL | --no-proxy]\n"
                       "Prints the account's remaining credits.";
            desc.add(help_opt).add(kie_options(kie));
            if (parse(args, desc, pos, vm)) { std::cout << synopsis << "\n" << desc << exit_codes; return exit_ok; }
            return credits_command(kie);
        }
        if (command == "emulator") return kiemidi::apps::emulator_main("kiemidi emulator", args);
        std::cerr << "kiemidi: unknown command '" << command << "'\n" << overview << exit_codes;
        return exit_usage;
    }
    catch (const usage_error& e)
    {
        return usage_failure(command, e.what());
    }
    catch (const std::exception& e)
    {
        std::cerr << "kiemidi " << command << ": " << e.what() << "\n";
        return exit_failed;
    }
}
