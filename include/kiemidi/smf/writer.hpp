/// @file
/// Standard MIDI File writer: KIE's per-instrument notes → format-1 .mid bytes.
///
/// Track 0 is the conductor (title, tempo map, time signature); each instrument gets a track with its name, a
/// program change and its notes. General MIDI names plus a small alias table pick programs;
/// drum kits play on MIDI channel 10. Pure code: write_smf returns bytes; write_smf_file only
/// replaces one file atomically. Thread safety: no shared state; call from any thread.
#ifndef KIEMIDI_SMF_WRITER_HPP
#define KIEMIDI_SMF_WRITER_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/smf/beat_grid.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::smf {

/// Where onsets (and optionally ends) are snapped in the file: a fraction of a whole note,
/// "t" for triplets. The .json keeps KIE's seconds.
enum class quantize_grid
{
    off,                ///< No quantization (the default): onsets at KIE's seconds.
    eighth,             ///< "1/8": 2 per beat
    sixteenth,          ///< "1/16": 4 per beat
    thirty_second,      ///< "1/32": 8 per beat
    eighth_triplet,     ///< "1/8t": 3 per beat
    sixteenth_triplet,  ///< "1/16t": 6 per beat
};

/// "off", "1/8", "1/16", "1/32", "1/8t", "1/16t"; nullopt for anything else.
KIEMIDI_DECL std::optional<quantize_grid> parse_quantize(std::string_view text);
/// The text parse_quantize reads.
KIEMIDI_DECL std::string_view to_string(quantize_grid q) noexcept;
/// Grid steps per beat (quarter note): 0 for off.
KIEMIDI_DECL int steps_per_beat(quantize_grid q) noexcept;

/// How notes become a file. Out-of-range values are corrected, never rejected (see each line).
struct smf_options
{
    /// Division of the header; 0 is treated as 1, values above 0x7FFF as 0x7FFF (the top bit means SMPTE).
    std::uint16_t ticks_per_quarter = 960;
    /// Tempo of the conductor track; non-finite or <= 0 means 120. The tempo written is
    /// round(60e6 / bpm) µs per quarter clamped to 1..0xFFFFFF, and note times use that exact value.
    double bpm = 120.0;
    /// 0-based GM program for melodic instruments with unknown names (0 = Acoustic Grand Piano; >127 → 127).
    std::uint8_t default_program = 0;
    /// Name of the conductor track (e.g. the song title); empty writes "kiemidi".
    std::string title;
    /// The tempo map (see estimate_beat_grid): when set and not empty, every beat of the grid is a
    /// quarter note, the conductor track holds a Set Tempo event wherever the tempo changes and
    /// the Time Signature of the grid (a short first bar for a pickup), and `bpm` is ignored.
    /// Note times read back through the map equal KIE's seconds within half a tick (see tempo_map
    /// in the sources). Unset: a fixed `bpm` in 4/4 from 0 s.
    std::optional<beat_grid> grid;
    /// Snaps note onsets to this subdivision of the beat (off by default).
    quantize_grid quantize = quantize_grid::off;
    /// With `quantize`: also snaps note ends (a note keeps at least one step).
    bool quantize_ends = false;
};

/// The options of a written file (the name the tempo choice is documented under).
using write_options = smf_options;

/// What the user chooses for written files: how the tempo map is found and what is quantized.
struct file_choices
{
    tempo_choice tempo;                                ///< auto (default), off (120 BPM) or a given BPM.
    quantize_grid quantize = quantize_grid::off;       ///< Off by default.
    bool quantize_ends = false;                        ///< Also snap note ends.

    /// Member-wise equality.
    friend bool operator==(const file_choices&, const file_choices&) = default;
};

/// Channel 9 (MIDI channel 10): the General MIDI percussion channel.
inline constexpr std::uint8_t drum_channel = 9;

/// Where one instrument plays.
struct channel_assignment
{
    std::uint8_t channel = 0;  ///< 0-based MIDI channel (9 for drums).
    std::uint8_t program = 0;  ///< 0-based program sent on that channel (0, the standard kit, for drums).
    bool drums = false;        ///< True when is_drum_instrument(name).

    /// Equal when every member is equal.
    friend bool operator==(const channel_assignment&, const channel_assignment&) = default;
};

/// Channel and program of each instrument, in input order; write_smf and notes_to_json use exactly this.
///
/// Drums go to channel 9. Melodic instruments take channels 0..8, 10..15 in input order; the 16th
/// melodic instrument wraps to channel 0 again. Instruments sharing a channel also share its
/// program in players (the last program change at tick 0 wins), so past 15 melodic instruments a
/// wrapped instrument may sound with another's program. Unknown names get `opts.default_program`.
KIEMIDI_DECL std::vector<channel_assignment> assign_channels(std::span<const api::instrument> instruments,
                                                             const smf_options& opts = {});

/// The Standard MIDI File (format 1) for these instruments: 1 + instruments.size() tracks.
///
/// Conversions (documented because listeners hear them):
/// - time: ticks = round(seconds * ticks_per_quarter * 1e6 / tempo_us); at 960 PPQ and 120 BPM one
///   tick is ~0.52 ms, so times read back within 1 ms. With a grid, the same through the tempo of
///   each beat (at 960 PPQ within 1 ms down to 40 BPM). Negative or non-finite times count as 0;
///   times are capped at tick 0x0FFFFFFF (~38.8 h at the defaults), the largest delta a file can hold.
/// - duration: every note lasts at least 1 tick (zero-length notes included).
/// - velocity: round(v * 126) + 1 with v clamped to 0..1, so 0 → 1 (still a note-on) and 1 → 127.
/// - pitch: clamped to 0..127 (KIE's parser already rejects other values).
/// - same pitch on the same channel (MIDI cannot sound one key twice): notes are taken in start
///   order; when a note starts while the previous one is still sounding, the previous one is
///   truncated to end where the new one starts (one tick earlier when the two notes are on
///   different tracks sharing the channel, so no player's track merge order can reverse them).
///   When truncation would leave the previous note shorter than 1 tick, the two are merged into
///   the previous one (latest end, loudest velocity). Result: every note-on has exactly one
///   note-off, and no note is left sounding.
/// - order: at equal ticks within a track, note-offs come before note-ons.
/// Throws std::length_error for more than 65534 instruments (the header counts tracks in 16 bits).
KIEMIDI_DECL std::vector<std::uint8_t> write_smf(std::span<const api::instrument> instruments,
                                                 const smf_options& opts = {});

/// Writes write_smf's bytes to `path`, atomically: a temporary file in the same directory is
/// written, fsync'ed and renamed over `path` (then the directory is fsync'ed), so a crash leaves
/// either the old file or the complete new one, never half a file. On failure the temporary
/// file is removed, an OS error code is returned (errc::value_too_large for more than 65534
/// instruments), and diag (cleared first) gets a client message naming the path.
/// The new file has mode 0644. Only a crash between creating and renaming the temporary file
/// can leave a stray `<path>.tmp-XXXXXX` behind; `path` itself is never partial. A symbolic
/// link at `path` is replaced by the file, not followed. POSIX only (mkostemp, fsync, rename).
KIEMIDI_DECL error_code write_smf_file(const std::filesystem::path& path,
                                       std::span<const api::instrument> instruments,
                                       const smf_options& opts,
                                       diagnostics& diag);

/// 0-based General MIDI program for an instrument name, or nullopt when unknown.
///
/// Matches the 128 GM names ignoring case, spaces and punctuation ("electric bass (finger)" → 33,
/// "SynthStrings 1" == "Synth Strings 1"), then these aliases: Piano, Grand Piano, Keyboard,
/// Keys → 0; Electric Piano → 4; Clavinet → 7; Organ → 16; Guitar, Acoustic Guitar → 24;
/// Electric Guitar → 27; Bass, Electric Bass, Bass Guitar → 33; Synth Bass → 38; Harp → 46;
/// Strings, String Ensemble → 48; Synth Strings → 50; Choir, Voice, Vocals → 52; Horn → 60;
/// Brass → 61; Synth Brass → 62; Sax, Saxophone → 65; Woodwinds → 73; Synth, Synth Lead,
/// Lead → 80; Pad, Synth Pad → 88. Drum kits have no melodic program: see is_drum_instrument.
KIEMIDI_DECL std::optional<std::uint8_t> gm_program_for(std::string_view instrument_name);

/// The General MIDI name of a 0-based program ("Acoustic Grand Piano" for 0); values above 127 give "".
KIEMIDI_DECL std::string_view gm_program_name(std::uint8_t program) noexcept;

/// True for drum kits, which play on channel 9: names containing "drum" or "percussion"
/// (ignoring case), e.g. "Drums", "Drum Kit", "Percussion". The melodic GM programs whose names
/// contain "drum" ("Steel Drums", "Taiko Drum", "Synth Drum") are not kits and return false.
KIEMIDI_DECL bool is_drum_instrument(std::string_view instrument_name);

/// The notes as JSON, with the channel and program write_smf uses:
/// {"instruments":[{"name","program","channel","drums","notes":[{"pitch","start","end","velocity"}]}]}.
/// Values are KIE's (seconds, velocity 0..1), not the rounded MIDI ones.
KIEMIDI_DECL std::string notes_to_json(std::span<const api::instrument> instruments, const smf_options& opts = {});

/// As above, plus what kiemidi repaired in KIE's answer and the result's warning, when there is
/// any (files without them stay exactly as the overload above writes them):
/// {"instruments":[...],"warning":"2 notes repaired, ...","repairs":{"notes_repaired","notes_dropped",
/// "items_dropped","fields_ignored","reasons":[{"what","count","first_at"}]}}. "warning" also
/// says when there are no notes at all (api::result_warning); "repairs" is absent when empty.
KIEMIDI_DECL std::string notes_to_json(std::span<const api::instrument> instruments, const smf_options& opts,
                                       const api::result_repairs& repairs);

}  // namespace kiemidi::smf

#endif
