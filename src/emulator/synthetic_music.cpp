// The music the emulator invents: ids, stems and notes, derived from the seed alone.
#include "synthetic_music.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

namespace kiemidi::emulator::detail {

std::uint64_t mix64(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t hash_text(std::uint64_t seed, std::string_view text) noexcept
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) { h ^= c; h *= 0x100000001b3ULL; }
    return mix64(h ^ mix64(seed));
}

std::string hex(std::uint64_t v, int digits)
{
    static constexpr char d[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) { out[static_cast<std::size_t>(i)] = d[v & 15]; v >>= 4; }
    return out;
}

namespace {

std::string uuid_from(std::uint64_t a, std::uint64_t b)
{
    std::string h = hex(a, 16) + hex(b, 16);
    h[12] = '4';  // looks like a v4 uuid
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

constexpr std::size_t vocals_kind = 0, instrumental_kind = 1;

/// General MIDI instruments a stem is transcribed to, with a plausible pitch range and the part it plays.
struct gm_instrument { const char* name; int lo; int hi; song_part part; };
constexpr gm_instrument gm_drums{"Drums", 35, 81, song_part::drums};
constexpr gm_instrument gm_bass{"Electric Bass (finger)", 28, 55, song_part::bass};
constexpr gm_instrument gm_piano{"Acoustic Grand Piano", 48, 84, song_part::chords};
constexpr gm_instrument gm_guitar{"Electric Guitar (clean)", 40, 76, song_part::chords};
constexpr gm_instrument gm_strings{"String Ensemble 1", 55, 88, song_part::pad};
constexpr gm_instrument gm_voice{"Voice Oohs", 55, 79, song_part::melody};
constexpr gm_instrument gm_choir{"Choir Aahs", 52, 76, song_part::pad};
constexpr gm_instrument gm_brass{"Brass Section", 50, 77, song_part::chords};
constexpr gm_instrument gm_flute{"Flute", 60, 96, song_part::melody};
constexpr gm_instrument gm_lead{"Lead 2 (sawtooth)", 55, 84, song_part::melody};
constexpr gm_instrument gm_pad{"Pad 3 (polysynth)", 48, 72, song_part::pad};

std::vector<gm_instrument> instruments_for(std::size_t kind, det_rng& rng)
{
    switch (kind)
    {
    case vocals_kind: return {gm_voice};
    case instrumental_kind:
    {
        std::vector<gm_instrument> v{gm_drums, gm_bass, gm_piano};
        if (rng.next() % 3 != 0) v.push_back(gm_guitar);
        if (rng.next() % 2 == 0) v.push_back(gm_strings);
        return v;
    }
    case 2: return {gm_choir};
    case 3: return {gm_drums};
    case 4: return {gm_bass};
    case 5: return {gm_guitar};
    case 6: return {gm_piano};
    case 7: return {gm_drums};
    case 8: return {gm_strings};
    case 9: return {gm_lead};
    case 10: return {gm_pad};
    case 11: return {gm_brass};
    default: return {gm_flute};
    }
}

}  // namespace

std::string derived_uuid(std::uint64_t seed, std::string_view a, std::string_view b)
{
    std::string key;
    key.reserve(a.size() + b.size() + 1);
    key.append(a).push_back('|');
    key.append(b);
    auto h = hash_text(seed, key);
    return uuid_from(h, mix64(h ^ 0x5bd1e995ULL));
}

std::string stem_url(const stem_rec& s, std::string_view file_base)
{
    if (!s.url.empty()) return s.url;
    std::string url(file_base);
    url += s.id;
    url += stem_kinds[s.kind].file;
    return url;
}

std::string music_track_id(std::uint64_t seed, std::string_view music_task, int index)
{
    if (music_task == doc_task_id && index == 0) return std::string(doc_music_audio_id);
    return derived_uuid(seed, music_task, index == 0 ? "track-0" : "track-1");
}

double track_duration(std::uint64_t seed, std::string_view audio_id)
{
    auto h = hash_text(seed, audio_id);
    return static_cast<double>(12000 + static_cast<int>(h % 18000)) / 100.0;  // 120.00 .. 299.99 s
}

std::vector<stem_rec> make_stems(std::uint64_t seed, const std::string& task_id, const std::string& audio_id, bool split)
{
    std::vector<stem_rec> stems;
    const double duration = track_duration(seed, audio_id);
    auto add = [&](std::size_t kind) {
        stems.push_back(stem_rec{derived_uuid(seed, task_id, stem_kinds[kind].group), kind, {}, duration});
    };
    if (!split)
    {
        add(vocals_kind);
        add(instrumental_kind);
        return stems;
    }
    // split_stem: vocals, drums and bass always; the other stems depend on the track.
    det_rng rng{hash_text(seed, audio_id + "|stems")};
    add(vocals_kind);
    for (std::size_t k = 2; k < std::size(stem_kinds); ++k)
        if (k == 3 || k == 4 || rng.next() % 10 < 6) add(k);
    return stems;
}

std::vector<separation_task> documentation_examples(std::uint64_t seed)
{
    // The MIDI doc's separation task: its Instrumental stem is the doc's audioId.
    separation_task a;
    a.id = std::string(doc_task_id);
    a.music_task_id = std::string(doc_task_id);
    a.music_id = std::string(doc_music_audio_id);
    a.callback_url = "https://api.example.com/callback";
    a.flag = "SUCCESS";
    a.create_ms = 1760335100000;
    a.complete_ms = 1760335190000;
    a.stems = make_stems(seed, a.id, a.music_id, false);
    a.stems[1].id = std::string(doc_stem_id);

    // The separation-details doc's example task, with its stem ids.
    separation_task b;
    b.id = std::string(doc_sep_task_id);
    b.music_task_id = std::string(doc_sep_task_id);
    b.music_id = "376c687e-d439-42c1-b1e4-bcb43b095ec2";
    b.callback_url = "https://57312fc2e366.ngrok-free.app/api/v1/vocal-removal/test";
    b.flag = "SUCCESS";
    b.create_ms = 1753782854000;
    b.complete_ms = 1753782937000;
    b.stems = make_stems(seed, b.id, b.music_id, false);
    b.stems[0].id = "3d7021c9-fa8b-4eda-91d1-3b9297ddb172";
    b.stems[1].id = "d92a13bf-c6f4-4ade-bb47-f69738435528";
    for (auto& s : b.stems) s.duration = 245.6;
    return {std::move(a), std::move(b)};
}

song_truth song_of(std::uint64_t seed, const separation_task& sep)
{
    const std::string& key = sep.music_id.empty() ? sep.id : sep.music_id;
    const double duration = sep.stems.empty() ? track_duration(seed, key) : sep.stems.front().duration;
    return make_song_truth(seed, key, duration);
}

std::vector<instrument_data> make_midi(std::uint64_t seed, const separation_task& sep,
                                       const std::optional<std::string>& audio_id, double split_stem_empty_rate)
{
    std::vector<instrument_data> out;
    const song_truth song = song_of(seed, sep);
    std::vector<const stem_rec*> stems;
    for (const auto& s : sep.stems)
        if (!audio_id || s.id == *audio_id) stems.push_back(&s);
    for (const auto* s : stems)
    {
        det_rng rng{hash_text(seed, sep.id + "|" + s->id + "|midi")};
        if (sep.split && rng.unit() < split_stem_empty_rate) continue;  // KIE: may be empty after split_stem
        for (const auto& gi : instruments_for(s->kind, rng))
        {
            auto notes = play_part(song, gi.part, gi.lo, gi.hi, rng.next());
            auto same = std::find_if(out.begin(), out.end(), [&](const instrument_data& i) { return i.name == gi.name; });
            if (same == out.end()) out.push_back(instrument_data{gi.name, std::move(notes)});
            else
            {
                same->notes.insert(same->notes.end(), notes.begin(), notes.end());
                std::stable_sort(same->notes.begin(), same->notes.end(),
                                 [](const note_data& x, const note_data& y) { return x.start < y.start; });
            }
        }
    }
    return out;
}

void add_odd_notes(std::vector<instrument_data>& instr)
{
    if (instr.empty()) return;
    // What a client must repair or drop rather than reject the paid result.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const note_data odd[] = {{60, 0.5, 0.75, 100.0}, {62, 1.0, 1.0, 0.5}, {64, 1.25, 1.5, nan},
                             {200, 1.5, 1.75, 0.5}, {65, -0.05, 0.25, 0.5}};
    auto& notes = instr.front().notes;
    notes.insert(notes.begin(), std::begin(odd), std::end(odd));
}

}  // namespace kiemidi::emulator::detail
