// A small, strict Standard MIDI File reader for tests: header, chunks, variable-length
// quantities, running status, meta and sysex events, tempo; it rebuilds notes in seconds and
// checks note-on/note-off pairing the way a player hears it (all tracks merged per channel).
// Independent of the writer on purpose: it throws std::runtime_error on anything malformed.
#ifndef KIEMIDI_TESTS_COMMON_SMF_READER_HPP
#define KIEMIDI_TESTS_COMMON_SMF_READER_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kiemidi::test::smf {

struct event
{
    std::uint64_t tick = 0;            ///< Absolute tick in its track.
    std::uint8_t status = 0;           ///< 0x80..0xEF channel message, 0xFF meta, 0xF0/0xF7 sysex.
    std::uint8_t meta_type = 0;        ///< For meta events.
    std::vector<std::uint8_t> data;    ///< Channel data bytes, or the meta/sysex payload.

    std::uint8_t kind() const { return status & 0xF0; }
    std::uint8_t channel() const { return status & 0x0F; }
};

struct track
{
    std::vector<event> events;

    /// The first track-name meta event (FF 03), if any.
    std::optional<std::string> name() const
    {
        for (const auto& e : events)
            if (e.status == 0xFF && e.meta_type == 0x03) return std::string(e.data.begin(), e.data.end());
        return std::nullopt;
    }
    /// Programs set per channel (C0..CF), in order.
    std::vector<std::pair<int, int>> program_changes() const
    {
        std::vector<std::pair<int, int>> out;
        for (const auto& e : events)
            if (e.status != 0xFF && e.kind() == 0xC0) out.emplace_back(e.channel(), e.data.at(0));
        return out;
    }
};

struct file
{
    std::uint16_t format = 0;
    std::uint16_t declared_tracks = 0;
    std::uint16_t division = 0;
    std::vector<track> tracks;
};

/// Decodes one variable-length quantity at `pos` (advanced past it); at most 4 bytes.
inline std::uint32_t read_vlq(std::span<const std::uint8_t> bytes, std::size_t& pos)
{
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i)
    {
        if (pos >= bytes.size()) throw std::runtime_error("truncated variable-length quantity");
        const std::uint8_t b = bytes[pos++];
        value = (value << 7) | (b & 0x7F);
        if ((b & 0x80) == 0) return value;
    }
    throw std::runtime_error("variable-length quantity longer than 4 bytes");
}

namespace detail {

inline std::uint32_t be(std::span<const std::uint8_t> b, std::size_t pos, int n)
{
    if (pos + n > b.size()) throw std::runtime_error("truncated integer");
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | b[pos + i];
    return v;
}

inline int data_bytes(std::uint8_t kind) { return kind == 0xC0 || kind == 0xD0 ? 1 : 2; }

inline track parse_track(std::span<const std::uint8_t> b)
{
    track t;
    std::size_t pos = 0;
    std::uint64_t tick = 0;
    std::uint8_t running = 0;
    bool ended = false;
    while (pos < b.size())
    {
        if (ended) throw std::runtime_error("event after End of Track");
        tick += read_vlq(b, pos);
        if (pos >= b.size()) throw std::runtime_error("delta time without event");
        event e;
        e.tick = tick;
        std::uint8_t first = b[pos];
        if (first == 0xFF)
        {
            if (pos + 2 > b.size()) throw std::runtime_error("truncated meta event");
            e.status = 0xFF;
            e.meta_type = b[pos + 1];
            pos += 2;
            const std::uint32_t len = read_vlq(b, pos);
            if (pos + len > b.size()) throw std::runtime_error("truncated meta payload");
            e.data.assign(b.begin() + pos, b.begin() + pos + len);
            pos += len;
            if (e.meta_type == 0x2F)
            {
                if (len != 0) throw std::runtime_error("End of Track with a payload");
                ended = true;
            }
            running = 0;
        }
        else if (first == 0xF0 || first == 0xF7)
        {
            e.status = first;
            ++pos;
            const std::uint32_t len = read_vlq(b, pos);
            if (pos + len > b.size()) throw std::runtime_error("truncated sysex");
            e.data.assign(b.begin() + pos, b.begin() + pos + len);
            pos += len;
            running = 0;
        }
        else
        {
            if (first & 0x80)
            {
                if (first >= 0xF0) throw std::runtime_error("system message inside a track");
                running = first;
                ++pos;
            }
            else if (running == 0)
                throw std::runtime_error("data byte without running status");
            e.status = running;
            const int n = data_bytes(running & 0xF0);
            if (pos + n > b.size()) throw std::runtime_error("truncated channel message");
            for (int i = 0; i < n; ++i)
            {
                if (b[pos] & 0x80) throw std::runtime_error("status byte where a data byte belongs");
                e.data.push_back(b[pos++]);
            }
        }
        t.events.push_back(std::move(e));
    }
    if (!ended) throw std::runtime_error("track without End of Track");
    return t;
}

}  // namespace detail

/// Parses a whole file; throws std::runtime_error when anything is malformed.
inline file parse(std::span<const std::uint8_t> b)
{
    file f;
    if (b.size() < 14 || std::string(b.begin(), b.begin() + 4) != "MThd") throw std::runtime_error("missing MThd");
    if (detail::be(b, 4, 4) != 6) throw std::runtime_error("header length is not 6");
    f.format = static_cast<std::uint16_t>(detail::be(b, 8, 2));
    f.declared_tracks = static_cast<std::uint16_t>(detail::be(b, 10, 2));
    f.division = static_cast<std::uint16_t>(detail::be(b, 12, 2));
    std::size_t pos = 14;
    while (pos < b.size())
    {
        if (pos + 8 > b.size()) throw std::runtime_error("truncated chunk header");
        const std::string id(b.begin() + pos, b.begin() + pos + 4);
        const std::uint32_t len = detail::be(b, pos + 4, 4);
        pos += 8;
        if (pos + len > b.size()) throw std::runtime_error("chunk longer than the file");
        if (id == "MTrk") f.tracks.push_back(detail::parse_track(b.subspan(pos, len)));
        pos += len;
    }
    if (f.tracks.size() != f.declared_tracks) throw std::runtime_error("track count differs from the header");
    return f;
}

/// Microseconds per quarter from the first tempo event (FF 51 03), 500000 when there is none.
inline std::uint32_t tempo_us(const file& f)
{
    for (const auto& t : f.tracks)
        for (const auto& e : t.events)
            if (e.status == 0xFF && e.meta_type == 0x51)
            {
                if (e.data.size() != 3) throw std::runtime_error("tempo payload is not 3 bytes");
                return detail::be(e.data, 0, 3);
            }
    return 500000;
}

/// Every Set Tempo event (tick, µs per quarter) of every track, in tick order; 500000 from tick 0
/// when the first is later or there is none.
inline std::vector<std::pair<std::uint64_t, std::uint32_t>> tempo_changes(const file& f)
{
    std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
    for (const auto& t : f.tracks)
        for (const auto& e : t.events)
            if (e.status == 0xFF && e.meta_type == 0x51)
            {
                if (e.data.size() != 3) throw std::runtime_error("tempo payload is not 3 bytes");
                out.emplace_back(e.tick, detail::be(e.data, 0, 3));
            }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (out.empty() || out.front().first != 0) out.insert(out.begin(), {0, 500000});
    return out;
}

/// Seconds at a tick through the file's tempo map, as a player counts them.
struct clock
{
    std::vector<std::pair<std::uint64_t, std::uint32_t>> changes;
    std::vector<double> at;  // seconds at each change
    double division = 1;

    explicit clock(const file& f) : changes(tempo_changes(f)), division(f.division)
    {
        at.push_back(0);
        for (std::size_t i = 1; i < changes.size(); ++i)
            at.push_back(at.back() + double(changes[i].first - changes[i - 1].first) * changes[i - 1].second / 1e6 / division);
    }
    double seconds(std::uint64_t tick) const
    {
        auto it = std::upper_bound(changes.begin(), changes.end(), tick, [](std::uint64_t t, const auto& c) { return t < c.first; });
        const auto i = static_cast<std::size_t>(it - changes.begin()) - 1;
        return at[i] + double(tick - changes[i].first) * changes[i].second / 1e6 / division;
    }
};

inline double seconds(const file& f, std::uint64_t tick) { return clock(f).seconds(tick); }

/// Time Signature events (tick, numerator, denominator) of every track, in tick order.
inline std::vector<std::tuple<std::uint64_t, int, int>> time_signatures(const file& f)
{
    std::vector<std::tuple<std::uint64_t, int, int>> out;
    for (const auto& t : f.tracks)
        for (const auto& e : t.events)
            if (e.status == 0xFF && e.meta_type == 0x58)
            {
                if (e.data.size() != 4) throw std::runtime_error("time signature payload is not 4 bytes");
                out.emplace_back(e.tick, e.data[0], 1 << e.data[1]);
            }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    return out;
}

/// A note rebuilt from a note-on and its note-off.
struct note
{
    std::size_t track = 0;
    int channel = 0;
    int pitch = 0;
    int velocity = 0;  ///< MIDI 1..127.
    std::uint64_t start_tick = 0, end_tick = 0;
    double start = 0, end = 0;  ///< Seconds through the tempo map.
};

/// Result of replaying every track through one player.
struct playback
{
    std::vector<note> notes;        ///< In order of their note-offs.
    std::size_t note_ons = 0;       ///< Note-ons with velocity > 0.
    std::size_t note_offs = 0;      ///< 8x events and 9x with velocity 0.
    std::size_t retriggers = 0;     ///< Note-ons of a key that was already sounding.
    std::size_t orphan_offs = 0;    ///< Note-offs of a key that was not sounding.
    std::size_t stuck = 0;          ///< Keys still sounding at the end.
};

/// Merges all tracks by tick (ties: track order, or reversed with `reverse_ties`), then pairs
/// note-ons with note-offs per (channel, pitch) as a player does.
inline playback play(const file& f, bool reverse_ties = false)
{
    struct item
    {
        std::uint64_t tick;
        std::size_t track;
        std::size_t index;
    };
    std::vector<item> order;
    for (std::size_t t = 0; t < f.tracks.size(); ++t)
        for (std::size_t i = 0; i < f.tracks[t].events.size(); ++i) order.push_back({f.tracks[t].events[i].tick, t, i});
    std::stable_sort(order.begin(), order.end(), [&](const item& a, const item& b) {
        if (a.tick != b.tick) return a.tick < b.tick;
        if (a.track != b.track) return reverse_ties ? a.track > b.track : a.track < b.track;
        return a.index < b.index;
    });

    playback p;
    const clock time(f);
    std::map<std::pair<int, int>, note> sounding;
    for (const auto& it : order)
    {
        const event& e = f.tracks[it.track].events[it.index];
        if (e.status == 0xFF || e.status == 0xF0 || e.status == 0xF7) continue;
        const bool on = e.kind() == 0x90 && e.data.at(1) > 0;
        const bool off = e.kind() == 0x80 || (e.kind() == 0x90 && e.data.at(1) == 0);
        const auto key = std::make_pair(int(e.channel()), int(e.data.at(0)));
        if (on)
        {
            ++p.note_ons;
            if (sounding.count(key)) ++p.retriggers;
            note n;
            n.track = it.track;
            n.channel = key.first;
            n.pitch = key.second;
            n.velocity = e.data.at(1);
            n.start_tick = e.tick;
            sounding[key] = n;
        }
        else if (off)
        {
            ++p.note_offs;
            auto found = sounding.find(key);
            if (found == sounding.end())
            {
                ++p.orphan_offs;
                continue;
            }
            note n = found->second;
            sounding.erase(found);
            n.end_tick = e.tick;
            n.start = time.seconds(n.start_tick);
            n.end = time.seconds(n.end_tick);
            p.notes.push_back(n);
        }
    }
    p.stuck = sounding.size();
    return p;
}

/// Notes of one track, sorted by (start, pitch).
inline std::vector<note> notes_of_track(const playback& p, std::size_t track)
{
    std::vector<note> out;
    for (const auto& n : p.notes)
        if (n.track == track) out.push_back(n);
    std::sort(out.begin(), out.end(), [](const note& a, const note& b) {
        return std::tie(a.start_tick, a.pitch, a.end_tick) < std::tie(b.start_tick, b.pitch, b.end_tick);
    });
    return out;
}

}  // namespace kiemidi::test::smf

#endif
