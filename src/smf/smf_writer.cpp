// Standard MIDI File writer: channel assignment, note → event conversion, atomic file output.
#include <kiemidi/atomic_file.hpp>
#include <kiemidi/smf/writer.hpp>

#include "smf_vlq.hpp"
#include "tempo_map.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/errc.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>


namespace kiemidi::smf {

namespace detail {

void append_vlq(std::vector<std::uint8_t>& out, std::uint32_t value)
{
    value = std::min(value, max_vlq);
    std::array<std::uint8_t, 4> groups{};
    std::size_t n = 0;
    do
    {
        groups[n++] = static_cast<std::uint8_t>(value & 0x7F);
        value >>= 7;
    } while (value != 0);
    while (n > 1) out.push_back(static_cast<std::uint8_t>(groups[--n] | 0x80));
    out.push_back(groups[0]);
}

}  // namespace detail

namespace {

constexpr std::int64_t max_tick = detail::max_vlq;
// Channels for melodic instruments, in the order they are handed out (9 is the drum channel).
constexpr std::array<std::uint8_t, 15> melodic_channels{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15};

struct timing
{
    std::uint16_t ticks_per_quarter;
    std::uint32_t tempo_us;  // microseconds per quarter note
};

timing effective_timing(const smf_options& opts) noexcept
{
    timing t{};
    t.ticks_per_quarter = std::clamp<std::uint16_t>(opts.ticks_per_quarter, 1, 0x7FFF);
    const double bpm = std::isfinite(opts.bpm) && opts.bpm > 0 ? opts.bpm : 120.0;
    const double us = std::round(60e6 / bpm);
    t.tempo_us = static_cast<std::uint32_t>(std::clamp(us, 1.0, double(0xFFFFFF)));
    return t;
}

// Seconds → ticks: through the grid's tempo map when there is one, else at the fixed tempo.
struct clock
{
    timing fixed;
    std::optional<detail::tempo_map> map;

    std::int64_t ticks(double seconds) const noexcept;
};

std::int64_t to_ticks(double seconds, const timing& t) noexcept
{
    const double x = seconds * t.ticks_per_quarter * 1e6 / t.tempo_us;
    if (!(x > 0)) return 0;  // negative, zero and NaN
    if (x >= double(max_tick)) return max_tick;
    return std::llround(x);
}

std::int64_t clock::ticks(double seconds) const noexcept
{
    return map ? map->ticks(seconds, max_tick) : to_ticks(seconds, fixed);
}

// Snaps a tick to the nearest step of `steps` per quarter (beats are quarters from tick 0).
std::int64_t snap(std::int64_t tick, std::uint16_t ppq, int steps) noexcept
{
    if (steps <= 0) return tick;
    const double step = static_cast<double>(ppq) / steps;
    return std::min(max_tick, static_cast<std::int64_t>(std::llround(std::round(static_cast<double>(tick) / step) * step)));
}

std::string tempo_bytes(std::uint32_t us)
{
    return std::string{static_cast<char>(us >> 16), static_cast<char>(us >> 8), static_cast<char>(us)};
}

// nn/4, 24 MIDI clocks per click, 8 32nds per quarter.
std::string meter_bytes(int beats_per_bar) { return std::string{static_cast<char>(beats_per_bar), 2, 24, 8}; }

std::uint8_t to_velocity(double v) noexcept
{
    if (!(v > 0)) v = 0;  // NaN too
    if (v > 1) v = 1;
    return static_cast<std::uint8_t>(std::lround(v * 126) + 1);
}

std::uint8_t to_pitch(int p) noexcept { return static_cast<std::uint8_t>(std::clamp(p, 0, 127)); }

struct tick_note
{
    std::int64_t start;
    std::int64_t end;
    std::uint8_t pitch;
    std::uint8_t velocity;
    std::size_t track;  // index of the instrument
    bool kept = true;
};

// Makes same-pitch notes on one channel strictly sequential (see write_smf's documentation).
void resolve_overlaps(std::vector<std::vector<tick_note>>& tracks, const std::vector<channel_assignment>& assign)
{
    std::vector<std::vector<tick_note*>> keys(16 * 128);
    for (std::size_t i = 0; i < tracks.size(); ++i)
        for (auto& n : tracks[i]) keys[assign[i].channel * 128u + n.pitch].push_back(&n);

    for (auto& key : keys)
    {
        // Inserted by track then input order, so the stable sort keeps that order among equal starts.
        std::stable_sort(key.begin(), key.end(), [](const tick_note* a, const tick_note* b) { return a->start < b->start; });
        tick_note* last = nullptr;
        for (tick_note* n : key)
        {
            if (last == nullptr)
            {
                last = n;
                continue;
            }
            // Within one track "off before on" orders equal ticks; across tracks keep a 1-tick gap.
            const std::int64_t limit = n->start - (n->track == last->track ? 0 : 1);
            if (last->end <= limit)
                last = n;
            else if (limit > last->start)
            {
                last->end = limit;
                last = n;
            }
            else
            {
                last->end = std::max(last->end, n->end);
                last->velocity = std::max(last->velocity, n->velocity);
                n->kept = false;
            }
        }
    }
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v)
{
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

// Builds one MTrk body from events given in non-decreasing tick order.
class track_builder
{
public:
    void event(std::int64_t tick, std::initializer_list<std::uint8_t> bytes)
    {
        delta(tick);
        data_.insert(data_.end(), bytes);
    }

    void meta(std::int64_t tick, std::uint8_t type, std::string_view payload)
    {
        delta(tick);
        data_.push_back(0xFF);
        data_.push_back(type);
        detail::append_vlq(data_, static_cast<std::uint32_t>(std::min<std::size_t>(payload.size(), detail::max_vlq)));
        data_.insert(data_.end(), payload.begin(), payload.begin() + std::min<std::size_t>(payload.size(), detail::max_vlq));
    }

    void append_to(std::vector<std::uint8_t>& file)
    {
        meta(last_tick_, 0x2F, {});  // End of Track
        file.insert(file.end(), {'M', 'T', 'r', 'k'});
        put_u32(file, static_cast<std::uint32_t>(data_.size()));
        file.insert(file.end(), data_.begin(), data_.end());
    }

private:
    void delta(std::int64_t tick)
    {
        detail::append_vlq(data_, static_cast<std::uint32_t>(tick - last_tick_));
        last_tick_ = tick;
    }

    std::vector<std::uint8_t> data_;
    std::int64_t last_tick_ = 0;
};

struct midi_event
{
    std::int64_t tick;
    bool on;
    std::uint8_t pitch;
    std::uint8_t velocity;
};

}  // namespace

std::optional<quantize_grid> parse_quantize(std::string_view text)
{
    for (auto q : {quantize_grid::off, quantize_grid::eighth, quantize_grid::sixteenth, quantize_grid::thirty_second,
                   quantize_grid::eighth_triplet, quantize_grid::sixteenth_triplet})
        if (text == to_string(q)) return q;
    return std::nullopt;
}

std::string_view to_string(quantize_grid q) noexcept
{
    switch (q)
    {
    case quantize_grid::off: return "off";
    case quantize_grid::eighth: return "1/8";
    case quantize_grid::sixteenth: return "1/16";
    case quantize_grid::thirty_second: return "1/32";
    case quantize_grid::eighth_triplet: return "1/8t";
    case quantize_grid::sixteenth_triplet: return "1/16t";
    }
    return "off";
}

int steps_per_beat(quantize_grid q) noexcept
{
    switch (q)
    {
    case quantize_grid::off: return 0;
    case quantize_grid::eighth: return 2;
    case quantize_grid::sixteenth: return 4;
    case quantize_grid::thirty_second: return 8;
    case quantize_grid::eighth_triplet: return 3;
    case quantize_grid::sixteenth_triplet: return 6;
    }
    return 0;
}

std::vector<channel_assignment> assign_channels(std::span<const api::instrument> instruments, const smf_options& opts)
{
    std::vector<channel_assignment> out;
    out.reserve(instruments.size());
    std::size_t melodic = 0;
    for (const auto& inst : instruments)
    {
        channel_assignment a;
        if (is_drum_instrument(inst.name))
        {
            a.channel = drum_channel;
            a.program = 0;  // GM standard kit
            a.drums = true;
        }
        else
        {
            a.channel = melodic_channels[melodic++ % melodic_channels.size()];
            a.program = std::min<std::uint8_t>(gm_program_for(inst.name).value_or(opts.default_program), 127);
        }
        out.push_back(a);
    }
    return out;
}

std::vector<std::uint8_t> write_smf(std::span<const api::instrument> instruments, const smf_options& opts)
{
    if (instruments.size() > 0xFFFE) throw std::length_error("kiemidi::smf: a MIDI file holds at most 65534 instruments");

    const timing t = effective_timing(opts);
    const auto assign = assign_channels(instruments, opts);
    clock c{t, std::nullopt};
    if (opts.grid && !opts.grid->empty()) c.map.emplace(*opts.grid, t.ticks_per_quarter);
    const int steps = steps_per_beat(opts.quantize);

    std::vector<std::vector<tick_note>> tracks(instruments.size());
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        tracks[i].reserve(instruments[i].notes.size());
        for (const auto& n : instruments[i].notes)
        {
            tick_note tn{};
            tn.start = std::min(snap(c.ticks(n.start), t.ticks_per_quarter, steps), max_tick - 1);
            const std::int64_t end = c.ticks(n.end);
            tn.end = std::clamp(opts.quantize_ends ? snap(end, t.ticks_per_quarter, steps) : end, tn.start + 1, max_tick);
            tn.pitch = to_pitch(n.pitch);
            tn.velocity = to_velocity(n.velocity);
            tn.track = i;
            tracks[i].push_back(tn);
        }
    }
    resolve_overlaps(tracks, assign);

    // The file starts as the header chunk's id. Constructing it (rather than inserting into an empty
    // vector) also keeps g++ 12 from a false -Wstringop-overflow on the inlined insert into zero capacity.
    std::vector<std::uint8_t> file{'M', 'T', 'h', 'd'};
    put_u32(file, 6);
    put_u16(file, 1);  // format 1: simultaneous tracks
    put_u16(file, static_cast<std::uint16_t>(instruments.size() + 1));
    put_u16(file, t.ticks_per_quarter);

    {
        track_builder conductor;
        conductor.meta(0, 0x03, opts.title.empty() ? std::string_view("kiemidi") : std::string_view(opts.title));
        if (!c.map)
        {
            conductor.meta(0, 0x51, tempo_bytes(t.tempo_us));
            conductor.meta(0, 0x58, meter_bytes(4));
        }
        else
        {
            // Both lists are in tick order; at equal ticks the time signature comes first.
            const auto& tempos = c.map->tempos();
            const auto& meters = c.map->meters();
            std::size_t ti = 0, mi = 0;
            while (ti < tempos.size() || mi < meters.size())
            {
                if (mi < meters.size() && (ti == tempos.size() || meters[mi].tick <= tempos[ti].tick))
                {
                    conductor.meta(std::min(meters[mi].tick, max_tick), 0x58, meter_bytes(meters[mi].beats_per_bar));
                    ++mi;
                }
                else
                {
                    conductor.meta(std::min(tempos[ti].tick, max_tick), 0x51, tempo_bytes(tempos[ti].us_per_quarter));
                    ++ti;
                }
            }
        }
        conductor.append_to(file);
    }

    std::vector<midi_event> events;
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        const std::uint8_t ch = assign[i].channel;
        track_builder track;
        track.meta(0, 0x03, instruments[i].name);
        track.event(0, {static_cast<std::uint8_t>(0xC0 | ch), assign[i].program});

        events.clear();
        events.reserve(tracks[i].size() * 2);
        for (const auto& n : tracks[i])
        {
            if (!n.kept) continue;
            events.push_back({n.start, true, n.pitch, n.velocity});
            events.push_back({n.end, false, n.pitch, 0x40});
        }
        // Note-offs first at equal ticks, so a note ending where the next begins never cuts it.
        std::stable_sort(events.begin(), events.end(), [](const midi_event& a, const midi_event& b) {
            return a.tick != b.tick ? a.tick < b.tick : (!a.on && b.on);
        });
        for (const auto& e : events)
            track.event(e.tick, {static_cast<std::uint8_t>((e.on ? 0x90 : 0x80) | ch), e.pitch, e.velocity});
        track.append_to(file);
    }
    return file;
}

error_code write_smf_file(const std::filesystem::path& path,
                          std::span<const api::instrument> instruments,
                          const smf_options& opts,
                          diagnostics& diag)
{
    diag.clear();
    std::vector<std::uint8_t> bytes;
    try
    {
        bytes = write_smf(instruments, opts);
    }
    catch (const std::length_error& e)
    {
        diag.set_client_message(std::string(e.what()) + " (writing " + path.string() + ")");
        return make_error_code(boost::system::errc::value_too_large);
    }

    return write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), diag);
}

namespace {

boost::json::object notes_object(std::span<const api::instrument> instruments, const smf_options& opts)
{
    const auto assign = assign_channels(instruments, opts);
    boost::json::array list;
    list.reserve(instruments.size());
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        boost::json::array notes;
        notes.reserve(instruments[i].notes.size());
        for (const auto& n : instruments[i].notes)
            notes.push_back(boost::json::object{{"pitch", n.pitch}, {"start", n.start}, {"end", n.end}, {"velocity", n.velocity}});
        boost::json::object inst;
        inst["name"] = instruments[i].name;
        inst["program"] = assign[i].program;
        inst["channel"] = assign[i].channel;
        inst["drums"] = assign[i].drums;
        inst["notes"] = std::move(notes);
        list.push_back(std::move(inst));
    }
    boost::json::object root;
    root["instruments"] = std::move(list);
    return root;
}

}  // namespace

std::string notes_to_json(std::span<const api::instrument> instruments, const smf_options& opts)
{
    return boost::json::serialize(notes_object(instruments, opts));
}

std::string notes_to_json(std::span<const api::instrument> instruments, const smf_options& opts,
                          const api::result_repairs& repairs)
{
    auto root = notes_object(instruments, opts);
    std::size_t notes = 0;
    for (const auto& i : instruments) notes += i.notes.size();
    if (auto warning = api::result_warning(repairs, notes); !warning.empty()) root["warning"] = warning;
    if (!repairs.empty())
    {
        boost::json::array reasons;
        for (const auto& r : repairs.reasons)
            reasons.push_back(boost::json::object{{"what", r.what}, {"count", r.count}, {"first_at", r.first_at}});
        root["repairs"] = boost::json::object{{"notes_repaired", repairs.notes_repaired},
                                              {"notes_dropped", repairs.notes_dropped},
                                              {"items_dropped", repairs.items_dropped},
                                              {"fields_ignored", repairs.fields_ignored},
                                              {"reasons", std::move(reasons)}};
    }
    return boost::json::serialize(root);
}

}  // namespace kiemidi::smf
