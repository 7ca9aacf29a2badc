// Command-line durations; see duration.hpp.
#include "duration.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace kiemidi::cli {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text)
{
    if (text.empty()) return std::nullopt;
    std::int64_t total = 0;
    while (!text.empty())
    {
        std::int64_t n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc() || end == text.data() || n < 0) return std::nullopt;
        text.remove_prefix(static_cast<std::size_t>(end - text.data()));
        std::int64_t unit = 0;
        for (auto [name, ms] : {std::pair<std::string_view, std::int64_t>{"ms", 1}, {"min", 60000}, {"h", 3600000}, {"s", 1000}})
        {
            if (text.starts_with(name))
            {
                unit = ms;
                text.remove_prefix(name.size());
                break;
            }
        }
        if (unit == 0)
        {
            if (!text.empty() || total != 0) return std::nullopt;  // only a lone bare number means seconds
            unit = 1000;
        }
        if (n > (std::numeric_limits<std::int64_t>::max() - total) / unit) return std::nullopt;
        total += n * unit;
    }
    return std::chrono::milliseconds(total);
}

}  // namespace kiemidi::cli
