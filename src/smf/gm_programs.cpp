// General MIDI program names, the alias table, and drum-kit detection.
#include <kiemidi/smf/writer.hpp>

#include <array>
#include <cstddef>
#include <string>

namespace kiemidi::smf {
namespace {

// General MIDI Level 1 sound set, in program order (index = 0-based program).
constexpr std::array<std::string_view, 128> gm_names{
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavi",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "SynthStrings 1", "SynthStrings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "SynthBrass 1", "SynthBrass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bag pipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
};

struct alias
{
    std::string_view name;  // already normalized
    std::uint8_t program;
};

// Short names a transcriber may use for a whole family; keep in sync with smf.hpp's list.
constexpr std::array<alias, 32> aliases{{
    {"piano", 0}, {"grandpiano", 0}, {"keyboard", 0}, {"keys", 0},
    {"electricpiano", 4}, {"clavinet", 7}, {"organ", 16},
    {"guitar", 24}, {"acousticguitar", 24}, {"electricguitar", 27},
    {"bass", 33}, {"electricbass", 33}, {"bassguitar", 33}, {"synthbass", 38},
    {"harp", 46}, {"strings", 48}, {"stringensemble", 48}, {"synthstrings", 50},
    {"choir", 52}, {"voice", 52}, {"vocals", 52}, {"horn", 60},
    {"brass", 61}, {"synthbrass", 62}, {"sax", 65}, {"saxophone", 65},
    {"woodwinds", 73}, {"synth", 80}, {"synthlead", 80}, {"lead", 80},
    {"pad", 88}, {"synthpad", 88},
}};

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Lower-case letters and digits only: "Electric Bass (finger)" → "electricbassfinger".
std::string normalize(std::string_view name)
{
    std::string out;
    out.reserve(name.size());
    for (char c : name)
    {
        c = lower(c);
        if (is_alnum(c)) out.push_back(c);
    }
    return out;
}

std::optional<std::uint8_t> exact_gm_program(const std::string& key)
{
    for (std::size_t i = 0; i < gm_names.size(); ++i)
        if (normalize(gm_names[i]) == key) return static_cast<std::uint8_t>(i);
    return std::nullopt;
}

}  // namespace

std::optional<std::uint8_t> gm_program_for(std::string_view instrument_name)
{
    const std::string key = normalize(instrument_name);
    if (key.empty()) return std::nullopt;
    if (auto p = exact_gm_program(key)) return p;
    for (const auto& a : aliases)
        if (a.name == key) return a.program;
    return std::nullopt;
}

std::string_view gm_program_name(std::uint8_t program) noexcept
{
    return program < gm_names.size() ? gm_names[program] : std::string_view{};
}

bool is_drum_instrument(std::string_view instrument_name)
{
    const std::string key = normalize(instrument_name);
    // "Steel Drums", "Taiko Drum", "Synth Drum" are melodic programs, not kits.
    if (exact_gm_program(key)) return false;
    return key.find("drum") != std::string::npos || key.find("percussion") != std::string::npos;
}

}  // namespace kiemidi::smf
