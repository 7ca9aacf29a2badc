// A worker's own record of the paid tasks of a shared batch's tracks, in the output directory
// (kiemidi-shared-record.tsv), and what the result files there say: the second source of truth
// when the batch's state in Redis is lost (a restart without persistence, a flush, an eviction,
// a failover). A rerun that re-seeds the batch asks it before paying, so a track whose task ids
// or results this worker has is resumed or counted done, never paid again. Internal.
//
// One line per fact, appended and fsynced: `<kind>\t<track key>\t<value>`, kind "separation" or
// "midi" (a task id KIE gave), "done" (the result files are written), or "lost" (KIE no longer
// keeps the track's result: what came before is forgotten). Later lines win. All calls block
// (file I/O): run them on the batch's pool.
#ifndef KIEMIDI_SRC_BATCH_LOCAL_TRACK_RECORD_HPP
#define KIEMIDI_SRC_BATCH_LOCAL_TRACK_RECORD_HPP

#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/journal.hpp>

#include <filesystem>
#include <map>
#include <string>

namespace kiemidi::detail {

/// What this worker's files say about one track.
struct local_evidence
{
    std::string separation_task_id;
    std::string midi_task_id;
    bool written = false;  ///< Its result files are there: nothing is left to do.
    std::string source;    ///< Which file said so, for messages.

    bool any() const { return written || !separation_task_id.empty() || !midi_task_id.empty(); }
};

class local_track_record
{
public:
    /// The record of the output directory `dir` (file name: file_name).
    explicit local_track_record(std::filesystem::path dir);

    static constexpr const char* file_name = "kiemidi-shared-record.tsv";

    /// Reads the record (a missing one is empty).
    void load();

    /// Appends `kind` ("separation", "midi", "done", "lost") with `value` for track `e` named `out_name`.
    error_code note(const track_spec& t, const std::string& out_name, const std::string& kind, const std::string& value,
                    diagnostics& diag);

    /// What the record and `out_name`'s result files (.mid, and the task ids in its .json) say.
    local_evidence find(const track_spec& t, const std::string& out_name) const;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path dir_, path_;
    /// Applies one line's fact to the track's evidence.
    static void apply(local_evidence& ev, const std::string& kind, const std::string& value);

    std::map<std::string, local_evidence> known_;  ///< By track key.
};

}  // namespace kiemidi::detail

#endif
