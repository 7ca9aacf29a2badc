/// @file
/// The files of one MIDI result, as every command and the batch write them: `<name>.json` (the
/// notes, what was repaired, and where the result came from: the separation, the stem transcribed,
/// the separation's stems so a report can link them) and `<name>.mid`, each written atomically.
/// The same module reads a result's .json back (a report, a rerun's check of its files).
/// Blocking file I/O: callers on an io_context run it on a pool.
#ifndef KIEMIDI_RESULT_FILES_HPP
#define KIEMIDI_RESULT_FILES_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/smf/writer.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiemidi {

/// Creates the output directory `dir` (and its parents) if missing.
KIEMIDI_DECL error_code make_output_dir(const std::filesystem::path& dir, diagnostics& diag);

/// Where a result came from, for its .json.
struct result_provenance
{
    std::string separation_task_id;  ///< The separation task the stems came from.
    /// The MIDI task: with the separation's, the result's paid tasks, so that a batch that lost
    /// its state knows from the files that this result needs no paying again.
    std::string midi_task_id;
    /// @{
    /// The source track (batch rows), to tell its result from another's.
    std::string music_task_id, audio_id;
    /// @}
    std::string stem;  ///< KIE's name of the stem transcribed; empty: all stems.
    std::vector<std::pair<std::string, std::string>> stems;  ///< (name, file URL) of the separation's stems.
};

/// The stems of a separation as (name, URL): originData's when listed (a stem without a name by
/// its id), else the record's URLs by kind; stems without a URL are left out.
KIEMIDI_DECL std::vector<std::pair<std::string, std::string>> stem_links(const std::vector<api::stem>& stems, const api::stem_urls& urls);

/// KIE's name of the stem `stem_id` among `stems` (its id when it has no name); empty when
/// `stem_id` is empty (all stems were transcribed).
KIEMIDI_DECL std::string stem_name(const std::vector<api::stem>& stems, const std::string& stem_id);

/// Writes `dir`/`<name>.json` (when `json`: smf::notes_to_json with the parser's repairs, plus
/// "separation_task_id", "midi_task_id", "music_task_id", "audio_id", "stem" and "stems" from `from` when set,
/// and "tempo": {"choice","bpm","time_signature","first_downbeat" (s),"confidence","estimated",
/// "note" (when the estimate was not trusted),"beats" (s, the map)} and "quantize": {"grid","ends"}) and then `dir`/`<name>.mid`, both titled `name`,
/// with the tempo map `choices` ask for (smf::estimate_beat_grid). `grid_out`, when given,
/// receives the grid written.
KIEMIDI_DECL error_code write_result_files(const std::filesystem::path& dir, const std::string& name, bool json,
                              const std::vector<api::instrument>& instruments, const api::result_repairs& repairs,
                              const result_provenance& from, const smf::file_choices& choices, diagnostics& diag,
                              smf::beat_grid* grid_out = nullptr);

/// Whether the files write_result_files() wrote for `name` in `dir` are still there and whole:
/// `<name>.mid` exists and starts with a MIDI header, and (when `json`) `<name>.json` parses as a
/// JSON object. Empty when they are; otherwise what is missing or damaged.
KIEMIDI_DECL std::string damaged_result_files(const std::filesystem::path& dir, const std::string& name, bool json);

/// A result's .json read back.
struct result_json
{
    /// What the file turned out to be.
    enum class status
    {
        ok,              ///< A kiemidi result: its instruments are below.
        missing,         ///< No such file (or it cannot be opened).
        not_json,        ///< Not a JSON object.
        no_instruments,  ///< A JSON object without an "instruments" list: not a kiemidi result.
    };
    status state = status::missing;  ///< What the file is; the members below are filled only for status::ok.
    std::vector<api::instrument> instruments;  ///< Each with its name and notes (pitch, start, end, velocity).
    std::string warning;                       ///< Its "warning", if any.
    /// Its "stems" as (name, URL), as written (result_provenance::stems); entries that are not
    /// two strings are left out.
    std::vector<std::pair<std::string, std::string>> stems;
    /// Its "tempo": the tempo map the .mid was written with; nullopt when absent or not usable.
    std::optional<smf::beat_grid> grid;
};

/// Reads the .json that write_result_files wrote at `path`.
KIEMIDI_DECL result_json read_result_json(const std::filesystem::path& path);

}  // namespace kiemidi

#endif
