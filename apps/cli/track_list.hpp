// Track lists for `kiemidi batch`: CSV (task_id,audio_id[,name], optional header, RFC 4180
// quoting) or JSON Lines ({"task_id":..,"audio_id":..,"name":..}). A bad row becomes an error
// naming the file and line; the good rows are still returned, so the rest of a batch runs.
//
// Optional per-track choices: `type` (separate_vocal | split_stem), `stem` (one stem by KIE's
// name) and `separation_task_id` (a row that starts from a separation finished earlier instead
// of a music track). In CSV they need a header naming the columns, in any order; in JSON Lines
// they are fields of the same names.
#ifndef KIEMIDI_APPS_CLI_TRACK_LIST_HPP
#define KIEMIDI_APPS_CLI_TRACK_LIST_HPP

#include <kiemidi/api/separation.hpp>

#include <cstddef>
#include <filesystem>
#include <kiemidi/smf/writer.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::cli {

/// One good row: a music track (task_id + audio_id) or a separation (separation_task_id).
struct track_row
{
    std::string task_id;   ///< KIE music task id (empty in a separation row).
    std::string audio_id;  ///< The track of that task (empty in a separation row).
    std::string name;      ///< Output base name; empty → default_output_name().
    std::size_t line = 0;  ///< 1-based line in the file.
    /// The separation to make; unset: the command's default. Not in a separation row (it was made already).
    std::optional<api::separation_type> type;
    std::string stem;                ///< Only this stem, by KIE's name; empty: all stems.
    std::string separation_task_id;  ///< A separation finished earlier, to transcribe; empty: a music track.
    std::optional<smf::tempo_choice> tempo;     ///< The .mid's tempo map (auto, off, BPM); unset: the command's.
    std::optional<smf::quantize_grid> quantize;  ///< The .mid's quantization; unset: the command's.

    /// The row uses a per-track choice (type, stem or separation) beyond task_id,audio_id,name.
    bool has_choices() const { return type || !stem.empty() || !separation_task_id.empty(); }
};

/// One rejected row: "<file>:<line>: <message>".
struct track_list_error
{
    std::string file;
    std::size_t line = 0;
    std::string message;
    std::string to_string() const;
};

enum class track_list_format { automatic, csv, json_lines };

/// The parsed list: good rows in file order, and the bad ones.
struct track_list
{
    std::vector<track_row> rows;
    std::vector<track_list_error> errors;
};

/// Parses `text`. automatic: JSON Lines when the first non-blank character is '{', else CSV.
/// Blank lines (and CSV lines starting with '#') are skipped.
track_list parse_track_list(std::string_view text, std::string_view file_name,
                            track_list_format format = track_list_format::automatic);

/// Reads and parses a file; the format comes from the extension (.jsonl/.ndjson → JSON Lines,
/// .csv → CSV) or else from the content. nullopt when the file cannot be read (`why` says so).
std::optional<track_list> read_track_list(const std::filesystem::path& file, std::string& why);

/// "<task_id>_<audio_id>" with every character outside [A-Za-z0-9._-] replaced by '_'.
std::string default_output_name(std::string_view task_id, std::string_view audio_id);

/// Empty when `name` is usable as a file base name in the output directory, else why not.
std::string check_output_name(std::string_view name);

}  // namespace kiemidi::cli

#endif
