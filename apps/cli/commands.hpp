// The CLI's commands. Each returns the process exit code (see exit_code in session.hpp) and
// writes results to stdout, problems and progress to stderr.
#ifndef KIEMIDI_APPS_CLI_COMMANDS_HPP
#define KIEMIDI_APPS_CLI_COMMANDS_HPP

#include "session.hpp"
#include "shared_batch.hpp"

#include <kiemidi/credit_costs.hpp>

#include <chrono>
#include <cstdint>
#include <kiemidi/smf/writer.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace kiemidi::cli {

/// `kiemidi run`: one track → <out>/<name>.mid, <name>.json and <name>.svg (piano roll); without
/// an audio id, every track of the music task, one after the other, each with its own files.
struct run_args
{
    std::string task_id, audio_id, name;
    api::separation_type type = api::separation_type::separate_vocal;  ///< --type
    std::string stem;                                                  ///< --stem: one stem by KIE's name
    std::filesystem::path output_dir = ".";
    smf::file_choices files;  ///< --tempo, --quantize, --quantize-ends
};
int run_command(const kie_flags& flags, const run_args& args);

/// `kiemidi midi`: MIDI from a finished separation → the same files as `run`.
struct midi_args
{
    std::string separation_task_id;
    std::string stem;      ///< --stem: by KIE's name, case-insensitive
    std::string audio_id;  ///< --audio-id: by the stem's audio id
    std::string name;
    std::filesystem::path output_dir = ".";
    smf::file_choices files;  ///< --tempo, --quantize, --quantize-ends
};
int midi_command(const kie_flags& flags, const midi_args& args);

/// `kiemidi tracks`: a music task's tracks (audio id, duration, title), one per line.
int tracks_command(const kie_flags& flags, const std::string& music_task_id);

/// `kiemidi batch`: a track list through the batch runner, resumable through its journal.
struct batch_args
{
    std::filesystem::path track_list;
    std::filesystem::path output_dir = ".";
    std::filesystem::path journal;  ///< empty → <output_dir>/kiemidi-journal.sqlite
    unsigned concurrency = 16;
    bool resubmit_unknown = false;
    bool retry_failed = false;   ///< --retry-failed
    bool resubmit_lost = false;  ///< --resubmit: pay again for results KIE no longer keeps
    unsigned lost_answer_wait_ms = 900000;  ///< --lost-answer-wait-ms
    bool lost_answer_wait_given = false;
    std::string callback_secret;            ///< --callback-secret; empty → kept next to the journal
    std::chrono::milliseconds outage_wait{std::chrono::minutes(30)};  ///< --outage-wait
    shared_batch_flags shared;      ///< With --redis: one worker of a shared batch, no local journal.
    std::uint16_t metrics_port = 0;               ///< --metrics-port: serve /metrics while the batch runs; 0: no.
    std::string metrics_address = "127.0.0.1";  ///< --metrics-address
    api::separation_type type = api::separation_type::separate_vocal;  ///< --type: rows without their own
    std::string stem;                                                  ///< --stem: rows without their own
    smf::file_choices files;  ///< --tempo, --quantize, --quantize-ends: rows without their own
    bool check = false;             ///< --check: validate the list only (no KIE, nothing written).
    bool dry_run = false;           ///< --dry-run: print the plan, pay nothing, write nothing.
    bool json = false;              ///< --json: the dry run's plan as one JSON object.
    bool skip_bad_rows = false;     ///< --skip-bad-rows: bad rows are a warning, not exit 10.
    bool allow_duplicates = false;  ///< --allow-duplicates: rows asking for the same work are each paid.
    std::optional<std::int64_t> max_credits;  ///< --max-credits: the run's credit budget.
    credit_costs costs;                       ///< --credit-cost KIND=N over the default table.
};
int batch_command(const kie_flags& flags, const batch_args& args);

/// `kiemidi status JOURNAL`: counts per state, failed and outcome-unknown tracks with their errors.
int status_command(const std::filesystem::path& journal);

/// `kiemidi status --redis URL --batch-id NAME`: the same for a shared batch, plus who holds which track.
int shared_status_command(const shared_batch_flags& shared);

/// `kiemidi report DIR`: <DIR>/<name>.svg next to every result and <DIR>/index.html, from the
/// journal (when there is one) and the .json result files in DIR.
struct report_args
{
    std::filesystem::path dir;
    std::filesystem::path journal;  ///< empty → <dir>/kiemidi-journal.sqlite when it exists
};
int report_command(const report_args& args);

/// What report_command does, without printing: false with the reason in `why` when index.html
/// could not be written. `journal` may be empty or missing (then only the result files count).
bool write_report(const std::filesystem::path& dir, const std::filesystem::path& journal, std::string& why,
                  std::size_t* track_count = nullptr);

/// `kiemidi credits`: the account's remaining credits.
int credits_command(const kie_flags& flags);

}  // namespace kiemidi::cli

#endif
