// The files of one MIDI result, as every command and the batch write them: <name>.json (the
// notes, what was repaired, and where the result came from: the separation, the stem transcribed,
// the separation's stems so a report can link them) and <name>.mid, each written atomically.
// Blocking file I/O: callers on an io_context run it on a pool. Internal, but exported by a shared
// libkiemidi (KIEMIDI_DECL) for the kiemidi executable, which writes its results the same way.
#ifndef KIEMIDI_SRC_OUTPUT_RESULT_FILES_HPP
#define KIEMIDI_SRC_OUTPUT_RESULT_FILES_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiemidi::detail {

/// Writes `data` to `path` atomically: a uniquely named temporary file in the same directory
/// (several processes may write the same file), fsync, rename, then fsync of the directory so
/// the rename itself survives a power loss. `diag` says what failed (stage "output").
KIEMIDI_DECL error_code write_file_atomically(const std::filesystem::path& path, std::string_view data, diagnostics& diag);

/// Creates the output directory `dir` (and its parents) if missing.
KIEMIDI_DECL error_code make_output_dir(const std::filesystem::path& dir, diagnostics& diag);

/// Where a result came from, for its .json.
struct result_provenance
{
    std::string separation_task_id;
    /// The MIDI task: with the separation's, the result's paid tasks, so that a batch that lost
    /// its state knows from the files that this result needs no paying again.
    std::string midi_task_id;
    std::string music_task_id, audio_id;  ///< The source track (batch rows), to tell its result from another's.
    std::string stem;  ///< KIE's name of the stem transcribed; empty: all stems.
    std::vector<std::pair<std::string, std::string>> stems;  ///< (name, file URL) of the separation's stems.
};

/// The stems of a separation as (name, URL): originData's when listed (a stem without a name by
/// its id), else the record's URLs by kind; stems without a URL are left out.
KIEMIDI_DECL std::vector<std::pair<std::string, std::string>> stem_links(const std::vector<api::stem>& stems, const api::stem_urls& urls);

/// KIE's name of the stem `stem_id` among `stems` (its id when it has no name); empty when
/// `stem_id` is empty (all stems were transcribed).
KIEMIDI_DECL std::string stem_name(const std::vector<api::stem>& stems, const std::string& stem_id);

/// Writes `dir`/<name>.json (when `json`: smf::notes_to_json with the parser's repairs, plus
/// "separation_task_id", "midi_task_id", "music_task_id", "audio_id", "stem" and "stems" from `from` when set) and then `dir`/<name>.mid,
/// both titled `name`.
KIEMIDI_DECL error_code write_result_files(const std::filesystem::path& dir, const std::string& name, bool json,
                              const std::vector<api::instrument>& instruments, const api::result_repairs& repairs,
                              const result_provenance& from, diagnostics& diag);

/// Whether the files write_result_files() wrote for `name` in `dir` are still there and whole:
/// <name>.mid exists and starts with a MIDI header, and (when `json`) <name>.json parses as a
/// JSON object. Empty when they are; otherwise what is missing or damaged.
KIEMIDI_DECL std::string damaged_result_files(const std::filesystem::path& dir, const std::string& name, bool json);

}  // namespace kiemidi::detail

#endif
