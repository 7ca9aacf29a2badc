// Internal: what the emulator invents, deterministically from its seed: ids (task ids, uuids of
// stems and music tracks), track durations, the stems a separation yields and the notes a MIDI
// task transcribes. Same seed, same ids and notes. No I/O, no state.
#ifndef KIEMIDI_SRC_EMULATOR_SYNTHETIC_MUSIC_HPP
#define KIEMIDI_SRC_EMULATOR_SYNTHETIC_MUSIC_HPP

#include "synthetic_song.hpp"
#include "task_records.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::emulator::detail {

// ---- deterministic helpers ----
std::uint64_t mix64(std::uint64_t x) noexcept;
std::uint64_t hash_text(std::uint64_t seed, std::string_view text) noexcept;
/// A small deterministic generator (splitmix64).
struct det_rng
{
    std::uint64_t s;
    std::uint64_t next() noexcept { s += 0x9e3779b97f4a7c15ULL; return mix64(s); }
    int range(int lo, int hi) noexcept { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
    double unit() noexcept { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
};
/// `digits` lower-case hex digits of v.
std::string hex(std::uint64_t v, int digits);
/// A v4-looking uuid derived from the seed and two texts.
std::string derived_uuid(std::uint64_t seed, std::string_view a, std::string_view b);

/// One kind of stem as KIE names it in record-info, callbacks and file names.
struct stem_kind
{
    const char* group;      // stem_type_group_name
    const char* file;       // file name suffix
    const char* camel;      // record-info url field
    const char* snake;      // callback url field
};
// Index 0/1: separate_vocal; 0 and 2..12: split_stem (up to 12 stems).
inline constexpr stem_kind stem_kinds[] = {
    {"Vocals", "_Vocals.mp3", "vocalUrl", "vocal_url"},
    {"Instrumental", "_Instrumental.mp3", "instrumentalUrl", "instrumental_url"},
    {"Backing Vocals", "_Backing_Vocals.mp3", "backingVocalsUrl", "backing_vocals_url"},
    {"Drums", "_Drums.mp3", "drumsUrl", "drums_url"},
    {"Bass", "_Bass.mp3", "bassUrl", "bass_url"},
    {"Guitar", "_Guitar.mp3", "guitarUrl", "guitar_url"},
    {"Keyboard", "_Keyboard.mp3", "keyboardUrl", "keyboard_url"},
    {"Percussion", "_Percussion.mp3", "percussionUrl", "percussion_url"},
    {"Strings", "_Strings.mp3", "stringsUrl", "strings_url"},
    {"Synth", "_Synth.mp3", "synthUrl", "synth_url"},
    {"FX", "_FX.mp3", "fxUrl", "fx_url"},
    {"Brass", "_Brass.mp3", "brassUrl", "brass_url"},
    {"Woodwinds", "_Woodwinds.mp3", "woodwindsUrl", "woodwinds_url"},
};

/// The stem's file URL under `file_base` (its own URL once set at submission).
std::string stem_url(const stem_rec& s, std::string_view file_base);

// Example ids from KIE's documentation (see documentation_examples).
inline constexpr std::string_view doc_task_id = "5c79****be8e";
inline constexpr std::string_view doc_music_audio_id = "e231****-****-****-****-****8cadc7dc";
inline constexpr std::string_view doc_stem_id = "8ca376e7-******-08aaf2c6dd27";
inline constexpr std::string_view doc_sep_task_id = "3e63b4cc88d52611159371f6af5571e7";

/// The id of a music task's track 0 or 1 (the documentation's audio id for its example task).
std::string music_track_id(std::uint64_t seed, std::string_view music_task, int index);
/// A track's duration in seconds: 120.00 .. 299.99.
double track_duration(std::uint64_t seed, std::string_view audio_id);

/// The stems a separation of `audio_id` yields (urls left empty): vocals and instrumental, or with
/// `split` vocals, drums, bass and a track-dependent choice of the others.
std::vector<stem_rec> make_stems(std::uint64_t seed, const std::string& task_id, const std::string& audio_id, bool split);

/// The finished separation tasks of KIE's documentation examples, pre-seeded so the documented
/// requests work verbatim.
std::vector<separation_task> documentation_examples(std::uint64_t seed);

/// The song a separation's stems play (all its stems share one grid): its truth, for scoring.
song_truth song_of(std::uint64_t seed, const separation_task& sep);

/// The instruments transcribed from the separation's stems (only `audio_id`'s when given); a
/// split_stem stem gives none at `split_stem_empty_rate` (KIE: may be empty after split_stem).
std::vector<instrument_data> make_midi(std::uint64_t seed, const separation_task& sep,
                                       const std::optional<std::string>& audio_id, double split_stem_empty_rate);

/// Puts the odd_notes_rate fault's five notes before the first instrument's notes: velocity 100
/// (MIDI's 0..127 scale), a zero-length note, a note without velocity, pitch 200, a note at -0.05 s.
void add_odd_notes(std::vector<instrument_data>& instr);

}  // namespace kiemidi::emulator::detail

#endif
