// Seconds → ticks through a beat grid (see tempo_map.hpp).
#include "tempo_map.hpp"

#include <algorithm>
#include <cmath>

namespace kiemidi::smf::detail {

tempo_map::tempo_map(const beat_grid& grid, std::uint16_t ticks_per_quarter) : ppq_(std::max<std::uint16_t>(1, ticks_per_quarter))
{
    // The quarters' boundaries in µs: 0, then every beat (the first beat is the end of the lead-in).
    std::vector<double> bounds;
    bounds.reserve(grid.beats.size() + 1);
    const bool lead_in = grid.beats.front() * 1e6 >= 0.5;
    bounds.push_back(0.0);
    for (std::size_t i = lead_in ? 0 : 1; i < grid.beats.size(); ++i) bounds.push_back(grid.beats[i] * 1e6);

    anchor_us_.reserve(bounds.size());
    quarter_us_.reserve(bounds.size());
    std::int64_t at = 0;
    for (std::size_t j = 0; j + 1 < bounds.size(); ++j)
    {
        anchor_us_.push_back(at);
        const double want = std::round(bounds[j + 1] - static_cast<double>(at));
        const auto us = static_cast<std::uint32_t>(std::clamp(want, 1.0, double(0xFFFFFF)));
        quarter_us_.push_back(us);
        at += us;
        if (tempos_.empty() || tempos_.back().us_per_quarter != us)
            tempos_.push_back({static_cast<std::int64_t>(j) * ppq_, us});
    }
    anchor_us_.push_back(at);

    const auto bar = static_cast<std::int64_t>(std::clamp(grid.beats_per_bar, 1, 255));
    const auto downbeat = static_cast<std::int64_t>(grid.first_downbeat) + (lead_in ? 1 : 0);
    const std::int64_t pickup = downbeat % bar;
    if (pickup != 0) meters_.push_back({0, static_cast<int>(pickup)});
    meters_.push_back({pickup * ppq_, static_cast<int>(bar)});
}

std::int64_t tempo_map::ticks(double seconds, std::int64_t max_tick) const noexcept
{
    const double us = seconds * 1e6;
    if (!(us > 0)) return 0;
    // The last quarter whose start is at or before `us`; past the grid its tempo continues.
    const auto it = std::upper_bound(anchor_us_.begin(), anchor_us_.end() - 1, us, [](double v, std::int64_t a) { return v < static_cast<double>(a); });
    const std::size_t j = static_cast<std::size_t>(it - anchor_us_.begin()) - 1;
    const double x = static_cast<double>(j) * ppq_ + (us - static_cast<double>(anchor_us_[j])) / quarter_us_[std::min(j, quarter_us_.size() - 1)] * ppq_;
    if (x >= static_cast<double>(max_tick)) return max_tick;
    return std::llround(x);
}

double tempo_map::seconds(std::int64_t tick) const noexcept
{
    if (tick <= 0) return 0;
    const auto j = std::min(static_cast<std::size_t>(tick / ppq_), quarter_us_.size() - 1);
    const double rest = static_cast<double>(tick - static_cast<std::int64_t>(j) * ppq_);
    return (static_cast<double>(anchor_us_[j]) + rest / ppq_ * quarter_us_[j]) / 1e6;
}

}  // namespace kiemidi::smf::detail
