/// @file
/// Rows of a batch that ask KIE for the same work, paid once.
///
/// KIE charges every submission, also the same track submitted again (it keeps no cache). Two rows
/// with the same task_id, audio_id, separation type and stem, or with the same separation_task_id
/// and stem, would pay for the same result twice. The batch runs the first of them only; the
/// others get copies of its files under their own names (copy_result_files).
#ifndef KIEMIDI_BATCH_DUPLICATES_HPP
#define KIEMIDI_BATCH_DUPLICATES_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/pipeline_options.hpp>
#include <kiemidi/track.hpp>

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace kiemidi {

/// What `track` asks KIE for, with the batch's defaults (`defaults.separation`, `defaults.stem`)
/// for the choices it leaves open; equal for two tracks exactly when one paid result serves both.
/// Stems compare case-insensitively (KIE's names do).
KIEMIDI_DECL std::string same_work_key(const track_spec& track, const midi_params& defaults);

/// For each of `tracks`, the index of the first track asking for the same work: its own index
/// when it is the first (or the only one).
KIEMIDI_DECL std::vector<std::size_t> first_of_same_work(std::span<const track_spec> tracks, const midi_params& defaults);

/// Whether `a` and `b` are the same track of a journal (ids, name and choices alike).
KIEMIDI_DECL bool same_track(const track_spec& a, const track_spec& b) noexcept;

/// Copies the result files of `from` in `dir` (`<from>.mid`, and `<from>.json` / `<from>.svg` when
/// present) to `<to>.mid`, `.json`, `.svg`, each written atomically. `diag` says what failed.
/// Blocking file I/O.
KIEMIDI_DECL error_code copy_result_files(const std::filesystem::path& dir, const std::string& from, const std::string& to,
                                          diagnostics& diag);

}  // namespace kiemidi

#endif
