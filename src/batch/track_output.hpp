// The files a batch writes for a finished track: <name>.mid and, when asked, <name>.json, each
// written atomically. Blocking: the runner calls them on its pool, never on the io_context. Internal.
#ifndef KIEMIDI_SRC_BATCH_TRACK_OUTPUT_HPP
#define KIEMIDI_SRC_BATCH_TRACK_OUTPUT_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiemidi::batch_detail {

/// Writes `data` to `path` atomically: temporary file in the same directory, fsync, rename,
/// then fsync of the directory so the rename itself survives a power loss.
error_code write_file_atomically(const std::filesystem::path& path, std::string_view data, diagnostics& diag);

/// Where a result came from, for its .json: the separation, the one stem transcribed, and the
/// separation's stems (name, file URL) so a report can link them.
struct track_files_info
{
    std::string separation_task_id;
    std::string stem;  ///< KIE's name of the stem transcribed; empty: all stems.
    std::vector<std::pair<std::string, std::string>> stems;
};

/// The stems of a separation record as (name, URL): originData's when listed (a stem without a
/// name by its id), else the record's URLs by kind; stems without a URL are left out.
std::vector<std::pair<std::string, std::string>> stem_links(const api::separation_record& sep);

/// Writes `dir`/<name>.json (when `json`; smf::notes_to_json with the parser's repairs, plus
/// "separation_task_id", "stem" and "stems" from `info` when set) and then `dir`/<name>.mid for
/// `midi`, titled `name`. `diag` says what failed (stage "output").
error_code write_track_files(const std::filesystem::path& dir, const std::string& name, bool json, const api::midi_data& midi,
                             const track_files_info& info, diagnostics& diag);

/// Creates the output directory `dir` (and its parents) if missing.
error_code make_output_dir(const std::filesystem::path& dir, diagnostics& diag);

}  // namespace kiemidi::batch_detail

#endif
