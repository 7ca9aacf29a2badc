// Piano roll SVG: layout (time scale, pitch rows, drum lane, legend) and XML text output.
#include <kiemidi/smf/piano_roll.hpp>
#include <kiemidi/smf/writer.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

namespace kiemidi::smf {

namespace {

// Colours that stay apart from each other on white and for the common kinds of colour blindness
// as far as 12 colours can; the first is the one a one-instrument roll shows.
constexpr std::array<std::string_view, 12> palette{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                                   "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"};

constexpr double margin_left = 56, margin_right = 16, margin_top = 8, legend_row = 18, axis_height = 22;
constexpr double drum_lane_max = 120, lane_gap = 10;
// Seconds past this are drawn here: a time KIE cannot mean still yields finite coordinates.
constexpr double max_time = 1e7;

/// A number as SVG wants it: at most one decimal, no exponent.
std::string num(double v)
{
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    std::string s(buf);
    if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
    return s == "-0" ? "0" : s;
}

/// An opacity with two decimals ("0.65").
std::string opacity_text(double o)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", o);
    return buf;
}

double clean_time(double t) noexcept { return std::isfinite(t) && t > 0 ? std::min(t, max_time) : 0.0; }

double opacity(double velocity) noexcept
{
    if (!(velocity > 0)) velocity = 0;
    return 0.3 + 0.7 * std::min(velocity, 1.0);
}

/// "m:ss" (or "h:mm:ss"), with tenths when the grid step is below a second.
std::string time_label(double seconds, bool tenths)
{
    char buf[48];
    const auto whole = static_cast<long long>(seconds);
    if (tenths) std::snprintf(buf, sizeof buf, "%lld:%04.1f", whole / 60, seconds - double(whole / 60 * 60));
    else if (whole >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", whole / 60, whole % 60);
    return buf;
}

/// The grid step in seconds: the first "round" step at least `min_px` wide.
double grid_step(double px_per_second, double min_px)
{
    static constexpr std::array<double, 14> steps{0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    for (double s : steps)
        if (s * px_per_second >= min_px) return s;
    double s = steps.back();
    while (s * px_per_second < min_px) s *= 2;
    return s;
}

/// Rough width of a legend entry's text at font size 11 (sans-serif averages ~6.2 px per character).
double text_width(std::string_view s) { return 6.2 * double(s.size()); }

}  // namespace

std::string_view piano_roll_colour(std::size_t index) noexcept { return palette[index % palette.size()]; }

std::string xml_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text)
    {
        switch (c)
        {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
        {
            const auto u = static_cast<unsigned char>(c);
            // XML 1.0 cannot hold these even as character references.
            out += (u < 0x20 && c != '\t' && c != '\n') || u == 0x7f ? '?' : c;
        }
        }
    }
    return out;
}

std::string note_name(int pitch)
{
    static constexpr std::array<const char*, 12> names{"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
    pitch = std::clamp(pitch, 0, 127);
    return std::string(names[static_cast<std::size_t>(pitch % 12)]) + std::to_string(pitch / 12 - 1);
}

std::string write_piano_roll_svg(std::span<const api::instrument> instruments, const piano_roll_options& opts)
{
    const double pps = std::isfinite(opts.pixels_per_second) && opts.pixels_per_second > 0 ? opts.pixels_per_second : 40.0;
    const double max_w = std::isfinite(opts.max_plot_width) ? std::clamp(opts.max_plot_width, 100.0, 20000.0) : 1200.0;
    const double max_h = std::isfinite(opts.max_plot_height) ? std::clamp(opts.max_plot_height, 60.0, 4000.0) : 420.0;

    // What there is to draw: time span, pitched range, drum sounds.
    std::vector<bool> drums(instruments.size());
    double duration = 0;
    int lo = 128, hi = -1;
    std::set<int> drum_pitches;
    std::size_t notes = 0;
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        drums[i] = is_drum_instrument(instruments[i].name);
        for (const auto& n : instruments[i].notes)
        {
            ++notes;
            duration = std::max({duration, clean_time(n.start), clean_time(n.end)});
            const int p = std::clamp(n.pitch, 0, 127);
            if (drums[i]) drum_pitches.insert(p);
            else
            {
                lo = std::min(lo, p);
                hi = std::max(hi, p);
            }
        }
    }

    std::string svg;
    svg.reserve(2048 + notes * 96);
    auto open_svg = [&](double w, double h) {
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"piano-roll\" width=\"" + num(w) + "\" height=\"" + num(h) +
               "\" viewBox=\"0 0 " + num(w) + " " + num(h) + "\" font-family=\"sans-serif\" font-size=\"11\">";
        svg += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + num(w) + "\" height=\"" + num(h) + "\" fill=\"#ffffff\"/>";
    };
    const bool bars = opts.grid && !opts.grid->empty();
    std::string heading = opts.title;
    if (bars)
    {
        char tempo[64];
        std::snprintf(tempo, sizeof tempo, "%s%.1f BPM, %d/4", heading.empty() ? "" : " \xE2\x80\x94 ", opts.grid->bpm, opts.grid->beats_per_bar);
        heading += tempo;
    }
    const std::string title = xml_escape(heading);

    if (notes == 0)
    {
        open_svg(320, title.empty() ? 40 : 58);
        double y = 0;
        if (!title.empty())
        {
            svg += "<text x=\"8\" y=\"16\" font-weight=\"bold\">" + title + "</text>";
            y = 18;
        }
        svg += "<text class=\"empty\" x=\"8\" y=\"" + num(y + 25) + "\" fill=\"#555555\">no notes</text></svg>";
        return svg;
    }

    const double time_span = std::max(duration, 1.0);
    const double plot_w = std::clamp(time_span * pps, 200.0, max_w);
    const double sx = plot_w / time_span;

    // Pitched rows from a C to a B, so every octave line has its label.
    const bool pitched = hi >= 0;
    int row_lo = 0, row_hi = -1;
    double row_h = 0;
    if (pitched)
    {
        row_lo = lo - lo % 12;
        row_hi = std::min(127, hi - hi % 12 + 11);
        row_h = std::clamp(max_h / double(row_hi - row_lo + 1), 2.0, 8.0);
    }
    const double pitched_h = pitched ? row_h * double(row_hi - row_lo + 1) : 0;
    const std::vector<int> drum_rows(drum_pitches.begin(), drum_pitches.end());
    const double drum_h_row = drum_rows.empty() ? 0 : std::clamp(drum_lane_max / double(drum_rows.size()), 2.0, 6.0);
    const double drum_h = drum_h_row * double(drum_rows.size());

    // Legend: one swatch and name per instrument, wrapped to the image's width.
    const double width = margin_left + plot_w + margin_right;
    struct legend_item { double x, y; std::string text; };
    std::vector<legend_item> legend;
    double lx = margin_left, ly = margin_top + (title.empty() ? 0 : 20);
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        std::string text = instruments[i].name.empty() ? "(unnamed)" : instruments[i].name;
        text += drums[i] ? " (drums, " : " (";
        text += std::to_string(instruments[i].notes.size()) + (instruments[i].notes.size() == 1 ? " note)" : " notes)");
        const double w = 16 + text_width(text) + 14;
        if (lx > margin_left && lx + w > width - margin_right)
        {
            lx = margin_left;
            ly += legend_row;
        }
        legend.push_back({lx, ly, xml_escape(text)});
        lx += w;
    }
    const double plot_top = ly + legend_row + 6;
    const double drum_top = plot_top + pitched_h + (pitched && drum_h > 0 ? lane_gap : 0);
    const double plot_bottom = drum_top + drum_h;
    const double height = plot_bottom + axis_height;

    open_svg(width, height);
    if (!title.empty()) svg += "<text x=\"" + num(margin_left) + "\" y=\"" + num(margin_top + 12) + "\" font-weight=\"bold\">" + title + "</text>";
    svg += "<g class=\"legend\">";
    for (std::size_t i = 0; i < legend.size(); ++i)
    {
        const auto& it = legend[i];
        svg += "<rect class=\"swatch\" x=\"" + num(it.x) + "\" y=\"" + num(it.y) + "\" width=\"12\" height=\"12\" fill=\"" +
               std::string(piano_roll_colour(i)) + "\"/><text x=\"" + num(it.x + 16) + "\" y=\"" + num(it.y + 10) + "\">" +
               it.text + "</text>";
    }
    svg += "</g>";

    // Rows: black keys shaded, a line and a name at every C; the drum lane has its own background.
    svg += "<g class=\"rows\">";
    if (pitched)
    {
        for (int p = row_lo; p <= row_hi; ++p)
        {
            const int k = p % 12;
            const double y = plot_top + double(row_hi - p) * row_h;
            const bool black = k == 1 || k == 3 || k == 6 || k == 8 || k == 10;
            svg += "<rect class=\"key\" x=\"" + num(margin_left) + "\" y=\"" + num(y) + "\" width=\"" + num(plot_w) +
                   "\" height=\"" + num(row_h) + "\" fill=\"" + (black ? "#eef0f3" : "#fafbfc") + "\"/>";
            if (k == 0)
            {
                const double base = y + row_h;
                svg += "<line x1=\"" + num(margin_left) + "\" y1=\"" + num(base) + "\" x2=\"" + num(margin_left + plot_w) + "\" y2=\"" +
                       num(base) + "\" stroke=\"#9aa3ad\" stroke-width=\"1\"/><text x=\"" + num(margin_left - 4) + "\" y=\"" +
                       num(base) + "\" text-anchor=\"end\" fill=\"#444444\">" + note_name(p) + "</text>";
            }
        }
    }
    if (!drum_rows.empty())
    {
        svg += "<rect class=\"drum-lane\" x=\"" + num(margin_left) + "\" y=\"" + num(drum_top) + "\" width=\"" + num(plot_w) +
               "\" height=\"" + num(drum_h) + "\" fill=\"#f3efe6\"/><text x=\"" + num(margin_left - 4) + "\" y=\"" +
               num(drum_top + std::min(drum_h, 12.0) - 1) + "\" text-anchor=\"end\" fill=\"#444444\">drums</text>";
    }
    svg += "</g>";

    if (bars)
    {
        // Bar lines on the downbeats, numbered from the first (a pickup bar is 0); labels at
        // least ~60 px apart.
        const auto& g = *opts.grid;
        const auto per_bar = static_cast<std::size_t>(std::max(1, g.beats_per_bar));
        std::size_t every = 1;
        if (g.beats.size() > g.first_downbeat + per_bar)
            while (every < 4096 && (g.beats[g.first_downbeat + per_bar] - g.beats[g.first_downbeat]) * sx * double(every) < 60) every *= 2;
        svg += "<g class=\"bars\" stroke=\"#c8ced6\" stroke-width=\"1\">";
        std::string labels;
        std::size_t bar = 1;
        for (std::size_t i = g.first_downbeat; i < g.beats.size() && g.beats[i] <= time_span + 1e-9; i += per_bar, ++bar)
        {
            const double x = margin_left + g.beats[i] * sx;
            svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(plot_top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(plot_bottom) + "\"/>";
            if ((bar - 1) % every == 0)
                labels += "<text x=\"" + num(x) + "\" y=\"" + num(plot_bottom + 14) + "\" text-anchor=\"middle\" fill=\"#444444\">" +
                          std::to_string(bar) + "</text>";
        }
        svg += "</g><g class=\"bar-labels\">" + labels + "</g>";
    }
    else
    {
        // Time grid with labels under the plot.
        const double step = grid_step(sx, 60);
        svg += "<g class=\"grid\" stroke=\"#c8ced6\" stroke-width=\"1\">";
        std::string labels;
        for (double t = 0; t <= time_span + 1e-9; t += step)
        {
            const double x = margin_left + t * sx;
            svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(plot_top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(plot_bottom) + "\"/>";
            labels += "<text x=\"" + num(x) + "\" y=\"" + num(plot_bottom + 14) + "\" text-anchor=\"middle\" fill=\"#444444\">" +
                      time_label(t, step < 1) + "</text>";
        }
        svg += "</g><g class=\"time-labels\">" + labels + "</g>";
    }

    // Notes, one rect each, in instrument order (later instruments on top).
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        svg += "<g class=\"instrument\" fill=\"" + std::string(piano_roll_colour(i)) + "\">";
        for (const auto& n : instruments[i].notes)
        {
            const int p = std::clamp(n.pitch, 0, 127);
            const double start = clean_time(n.start);
            const double w = std::max((clean_time(n.end) - start) * sx, 1.0);
            double y = 0, h = 0;
            if (drums[i])
            {
                const auto row = std::lower_bound(drum_rows.begin(), drum_rows.end(), p) - drum_rows.begin();
                // Lower drum sounds (kicks) at the bottom, as in the pitched area.
                y = drum_top + double(drum_rows.size() - 1 - static_cast<std::size_t>(row)) * drum_h_row;
                h = drum_h_row;
            }
            else
            {
                y = plot_top + double(row_hi - p) * row_h;
                h = row_h;
            }
            if (h >= 4) { y += 0.5; h -= 1; }
            svg += "<rect class=\"note\" x=\"" + num(margin_left + start * sx) + "\" y=\"" + num(y) + "\" width=\"" + num(w) +
                   "\" height=\"" + num(h) + "\" fill-opacity=\"" + opacity_text(opacity(n.velocity)) + "\"/>";
        }
        svg += "</g>";
    }
    svg += "</svg>";
    return svg;
}

}  // namespace kiemidi::smf
