#include "json_result.hpp"

#include <algorithm>
#include <cstdio>

namespace kiemidi::bench {

double percentile(std::vector<double> v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

std::string fmt(double v, int digits)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string json_string(const std::string& s)
{
    std::string o = "\"";
    for (char c : s)
    {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
        else o += c;
    }
    return o + "\"";
}

void write_requests_per_pipeline(std::ostream& j, const std::optional<emulator_counters>& before,
                                 const std::optional<emulator_counters>& after, double n, std::string_view skip)
{
    j << ",\"requests_per_pipeline\":{";
    if (before && after)
    {
        bool first = true;
        for (auto& [k, v] : after->requests)
        {
            auto b = before->requests.count(k) ? before->requests.at(k) : 0;
            if (v == b || (!skip.empty() && k == skip)) continue;
            j << (first ? "" : ",") << json_string(k) << ":" << fmt(static_cast<double>(v - b) / n, 3);
            first = false;
        }
    }
    j << "}";
}

}  // namespace kiemidi::bench
