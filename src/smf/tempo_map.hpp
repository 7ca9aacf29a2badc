// Internal: seconds → ticks through a beat grid, and the conductor events that make a player
// read the ticks back as the same seconds.
//
// Every beat of the grid is one quarter note. The lead-in from 0 s to the first beat (when the
// first beat is after 0 s) is one quarter note at its own tempo. Each quarter's tempo is chosen
// in whole microseconds so that the time a player accumulates stays within 0.5 µs of the grid's
// beat (no drift over a long song); ticks are then placed through exactly those tempos, so a
// note's time read back differs from KIE's by at most half a tick. A pickup before the first
// downbeat is a short first bar (its own time signature), then the song's meter.
#ifndef KIEMIDI_SRC_SMF_TEMPO_MAP_HPP
#define KIEMIDI_SRC_SMF_TEMPO_MAP_HPP

#include <kiemidi/smf/beat_grid.hpp>

#include <cstdint>
#include <vector>

namespace kiemidi::smf::detail {

class tempo_map
{
public:
    struct tempo_event { std::int64_t tick; std::uint32_t us_per_quarter; };
    struct meter_event { std::int64_t tick; int beats_per_bar; };

    /// `grid` must not be empty.
    tempo_map(const beat_grid& grid, std::uint16_t ticks_per_quarter);

    /// The tick of a time in seconds (negative and NaN: 0), rounded, at most `max_tick`.
    std::int64_t ticks(double seconds, std::int64_t max_tick) const noexcept;
    /// The time in seconds a player reads for `tick`.
    double seconds(std::int64_t tick) const noexcept;

    /// Set Tempo events: at tick 0, then wherever the tempo changes.
    const std::vector<tempo_event>& tempos() const noexcept { return tempos_; }
    /// Time Signature events (x/4): the pickup bar's at tick 0 when there is one, then the meter's.
    const std::vector<meter_event>& meters() const noexcept { return meters_; }
    std::uint16_t ticks_per_quarter() const noexcept { return ppq_; }

private:
    std::uint16_t ppq_;
    std::vector<std::int64_t> anchor_us_;   // the time a player reads at quarter j (tick j * ppq)
    std::vector<std::uint32_t> quarter_us_; // the tempo of quarter j
    std::vector<tempo_event> tempos_;
    std::vector<meter_event> meters_;
};

}  // namespace kiemidi::smf::detail

#endif
