// Beat grid estimation: onset envelope → tempo (comb-filtered autocorrelation with a prior) →
// beats (Ellis's dynamic programming) → meter and bar phase (accents) → confidence.
#include <kiemidi/smf/beat_grid.hpp>

#include <kiemidi/smf/writer.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <numbers>
#include <numeric>
#include <utility>

namespace kiemidi::smf {

namespace {

constexpr double frame_rate = 100.0;  // envelope frames per second
constexpr double lowest_bpm = 40.0, highest_bpm = 240.0;
constexpr double prior_bpm = 120.0, prior_octaves = 1.0;
constexpr double max_step_change = 0.08;  // adjacent beat intervals differ by at most 8 %
constexpr std::size_t min_onsets = 16;

double clamp_bpm(double bpm) { return std::isfinite(bpm) ? std::clamp(bpm, lowest_bpm, highest_bpm) : prior_bpm; }

double velocity_of(const api::note& n)
{
    if (!std::isfinite(n.velocity)) return api::note::default_velocity;
    return std::clamp(n.velocity, 0.0, 1.0);
}

bool usable(const api::note& n) { return std::isfinite(n.start) && n.start >= 0 && std::isfinite(n.end); }

bool is_bass(std::string_view name)
{
    for (std::size_t i = 0; i + 4 <= name.size(); ++i)
    {
        const auto lower = [&](std::size_t k) { return static_cast<char>(name[i + k] | 0x20); };
        if (lower(0) == 'b' && lower(1) == 'a' && lower(2) == 's' && lower(3) == 's') return true;
    }
    return false;
}

enum class voice { drums, bass, other };

voice voice_of(const api::instrument& inst)
{
    if (is_drum_instrument(inst.name)) return voice::drums;
    return is_bass(inst.name) ? voice::bass : voice::other;
}

// How much an onset tells where the beat is (General MIDI drum keys: kicks and snares mark the
// beat, hi-hats and rides subdivide it).
double pulse_weight(voice v, int pitch)
{
    switch (v)
    {
    case voice::drums:
        if (pitch == 35 || pitch == 36) return 1.5;
        if (pitch == 37 || pitch == 38 || pitch == 39 || pitch == 40) return 1.2;
        if (pitch == 42 || pitch == 44 || pitch == 46 || pitch == 51 || pitch == 59) return 0.35;
        return 0.8;
    case voice::bass: return 1.2;
    case voice::other: return 0.7;
    }
    return 0.7;
}

// How much an onset says "bar line": kicks, crashes, bass, chords and long notes start bars.
double accent_weight(voice v, const api::note& n, double beat_seconds)
{
    switch (v)
    {
    case voice::drums:
        if (n.pitch == 35 || n.pitch == 36) return 2.0 * velocity_of(n);
        if (n.pitch == 49 || n.pitch == 57) return 2.0 * velocity_of(n);
        if (n.pitch == 42 || n.pitch == 44 || n.pitch == 46) return 0.1 * velocity_of(n);
        return 0.5 * velocity_of(n);
    case voice::bass:
    case voice::other:
    {
        const double beats = std::clamp((n.end - n.start) / beat_seconds, 0.0, 4.0);
        return velocity_of(n) * (1.0 + 0.5 * beats) * (v == voice::bass ? 1.5 : 1.0);
    }
    }
    return 0;
}

struct envelope
{
    std::vector<double> values;  // onset strength per frame
    std::size_t onsets = 0;
    double last_onset = 0, last_end = 0;
};

envelope onset_envelope(std::span<const api::instrument> instruments)
{
    envelope env;
    for (const auto& inst : instruments)
        for (const auto& n : inst.notes)
            if (usable(n))
            {
                ++env.onsets;
                env.last_onset = std::max(env.last_onset, n.start);
                env.last_end = std::max(env.last_end, n.end);
            }
    if (env.onsets == 0) return env;
    // Onsets beyond ~24 h are not music; bound the envelope so that memory stays bounded.
    const double span = std::min(env.last_onset, 86400.0);
    std::vector<double> raw(static_cast<std::size_t>(span * frame_rate) + 8, 0.0);
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n) || n.start > span) continue;
            const double x = n.start * frame_rate;
            const auto i = static_cast<std::size_t>(x);
            const double f = x - static_cast<double>(i);
            const double w = pulse_weight(v, n.pitch) * (0.3 + velocity_of(n));
            raw[i] += w * (1 - f);
            raw[i + 1] += w * f;
        }
    }
    // Compress stacked onsets (a chord is one event, not three), then smooth by ~10 ms.
    for (auto& r : raw) r = std::sqrt(r);
    constexpr std::array<double, 5> kernel{0.1, 0.2, 0.4, 0.2, 0.1};
    env.values.assign(raw.size(), 0.0);
    for (std::size_t i = 0; i < raw.size(); ++i)
        for (std::size_t k = 0; k < kernel.size(); ++k)
            if (i + k >= 2 && i + k - 2 < raw.size()) env.values[i] += kernel[k] * raw[i + k - 2];
    return env;
}

// In-place radix-2 FFT of (re, im), size a power of two; `inverse` also divides by the size.
// Plain double arithmetic: std::complex's multiplication checks for infinities on every call.
void fft(std::vector<double>& re, std::vector<double>& im, bool inverse)
{
    const std::size_t n = re.size();
    for (std::size_t i = 1, j = 0; i < n; ++i)
    {
        std::size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) std::swap(re[i], re[j]), std::swap(im[i], im[j]);
    }
    std::vector<double> cos_table(n / 2), sin_table(n / 2);
    for (std::size_t k = 0; k < n / 2; ++k)
    {
        const double angle = 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(n) * (inverse ? 1 : -1);
        cos_table[k] = std::cos(angle);
        sin_table[k] = std::sin(angle);
    }
    for (std::size_t len = 2; len <= n; len <<= 1)
    {
        const std::size_t half = len / 2, stride = n / len;
        for (std::size_t i = 0; i < n; i += len)
            for (std::size_t k = 0; k < half; ++k)
            {
                const double wr = cos_table[k * stride], wi = sin_table[k * stride];
                const std::size_t a = i + k, b = a + half;
                const double vr = re[b] * wr - im[b] * wi, vi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - vr, im[b] = im[a] - vi;
                re[a] += vr, im[a] += vi;
            }
    }
    if (inverse)
        for (std::size_t i = 0; i < n; ++i) re[i] /= static_cast<double>(n), im[i] /= static_cast<double>(n);
}

double prior(double period_frames)
{
    const double octaves = std::log2((60.0 * frame_rate / period_frames) / prior_bpm) / prior_octaves;
    return std::exp(-0.5 * octaves * octaves);
}

double at_fraction(const std::vector<double>& v, double x)
{
    const auto i = static_cast<std::size_t>(x);
    if (i + 1 >= v.size()) return 0;
    const double f = x - static_cast<double>(i);
    return v[i] * (1 - f) + v[i + 1] * f;
}

// The beat period in frames: the comb-filtered autocorrelation's best lag under the prior.
double tempo_period(const std::vector<double>& env)
{
    // At half the frame rate: the period only seeds the beat tracker, which finds the beats'
    // exact spacing, and an hour of music stays a few milliseconds of work.
    constexpr std::size_t decimation = 2;
    std::vector<double> all(env.size() / decimation + 1, 0.0);
    for (std::size_t i = 0; i < env.size(); ++i) all[i / decimation] += env[i];
    // A long song's tempo comes from its busiest ~160 s, which bounds the work (the beat tracker
    // follows the tempo through the rest).
    constexpr std::size_t window = 8192;
    std::size_t from = 0;
    if (all.size() > window)
    {
        double sum = std::accumulate(all.begin(), all.begin() + window, 0.0), best_sum = sum;
        for (std::size_t i = window; i < all.size(); ++i)
        {
            sum += all[i] - all[i - window];
            if (sum > best_sum) best_sum = sum, from = i - window + 1;
        }
    }
    const std::vector<double> coarse(all.begin() + static_cast<std::ptrdiff_t>(from),
                                     all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), from + window)));
    const double mean = std::accumulate(coarse.begin(), coarse.end(), 0.0) / static_cast<double>(coarse.size());
    const double rate = frame_rate / decimation;
    const double min_lag = 60.0 * rate / highest_bpm, max_lag = 60.0 * rate / lowest_bpm;
    constexpr int teeth = 4;
    const auto lags = static_cast<std::size_t>(max_lag * teeth) + 2;
    std::vector<double> ac(lags, 0.0);
    // Autocorrelation through the FFT: O(n log n).
    std::size_t size = 1;
    while (size < 2 * coarse.size()) size <<= 1;
    std::vector<double> re(size, 0.0), im(size, 0.0);
    for (std::size_t i = 0; i < coarse.size(); ++i) re[i] = coarse[i] - mean;
    fft(re, im, false);
    for (std::size_t i = 0; i < size; ++i) re[i] = re[i] * re[i] + im[i] * im[i], im[i] = 0;
    fft(re, im, true);
    for (std::size_t lag = 0; lag < lags && lag < coarse.size(); ++lag) ac[lag] = re[lag] / static_cast<double>(coarse.size());
    auto comb = [&](double lag) {
        double s = 0;
        for (int k = 1; k <= teeth; ++k) s += at_fraction(ac, lag * k);
        return s / teeth * prior(lag * decimation);
    };
    double best = 0, best_score = -1e300;
    for (double lag = min_lag; lag <= max_lag; lag += 0.25)
        if (const double s = comb(lag); s > best_score) best_score = s, best = lag;
    for (double lag = best - 0.25; lag <= best + 0.25; lag += 0.01)
        if (const double s = comb(lag); s > best_score) best_score = s, best = lag;
    return best * decimation;
}

// Ellis (2007): C(t) = O(t) + max over τ of (C(τ) - α·log²((t-τ)/P)); the best path's beats.
std::vector<double> track_beats(const std::vector<double>& env, double period)
{
    const std::size_t n = env.size();
    double norm = 0;
    for (double e : env) norm += e * e;
    norm = std::sqrt(norm / static_cast<double>(n));
    if (!(norm > 0)) norm = 1;
    constexpr double alpha = 400.0;
    std::vector<double> score(n);
    std::vector<std::ptrdiff_t> from(n, -1);
    const auto lo = static_cast<std::ptrdiff_t>(std::floor(period / (1 + 2 * max_step_change)));
    const auto hi = static_cast<std::ptrdiff_t>(std::ceil(period * (1 + 2 * max_step_change)));
    std::vector<double> penalty(static_cast<std::size_t>(hi + 1), 0.0);
    for (std::ptrdiff_t d = std::max<std::ptrdiff_t>(1, lo); d <= hi; ++d)
    {
        const double l = std::log(static_cast<double>(d) / period);
        penalty[static_cast<std::size_t>(d)] = alpha * l * l;
    }
    for (std::size_t t = 0; t < n; ++t)
    {
        double best = 0;
        std::ptrdiff_t arg = -1;
        for (std::ptrdiff_t d = std::max<std::ptrdiff_t>(1, lo); d <= hi; ++d)
        {
            const std::ptrdiff_t tau = static_cast<std::ptrdiff_t>(t) - d;
            if (tau < 0) break;
            const double s = score[static_cast<std::size_t>(tau)] - penalty[static_cast<std::size_t>(d)];
            if (arg < 0 || s > best) best = s, arg = tau;
        }
        score[t] = env[t] / norm + (arg >= 0 ? best : 0.0);
        from[t] = arg;
    }
    // The path ends at the best-scoring frame of the last period.
    const std::size_t tail = static_cast<std::size_t>(std::min<double>(period, static_cast<double>(n)));
    std::size_t end = n - 1;
    for (std::size_t t = n - tail; t < n; ++t)
        if (score[t] > score[end]) end = t;
    std::vector<double> beats;
    for (std::ptrdiff_t t = static_cast<std::ptrdiff_t>(end); t >= 0; t = from[static_cast<std::size_t>(t)])
        beats.push_back(static_cast<double>(t) / frame_rate);
    std::reverse(beats.begin(), beats.end());
    return beats;
}

// Moves each beat to the weighted mean of the pulse onsets within 12 % of a beat of it.
void refine_beats(std::vector<double>& beats, std::span<const api::instrument> instruments, double period_s)
{
    std::vector<double> sum(beats.size(), 0.0), weight(beats.size(), 0.0);
    const double reach = 0.12 * period_s;
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n)) continue;
            const auto it = std::lower_bound(beats.begin(), beats.end(), n.start - reach);
            if (it == beats.end() || *it > n.start + reach) continue;
            const auto i = static_cast<std::size_t>(it - beats.begin());
            const double w = pulse_weight(v, n.pitch) * velocity_of(n);
            sum[i] += w * (n.start - beats[i]);
            weight[i] += w;
        }
    }
    for (std::size_t i = 0; i < beats.size(); ++i)
        if (weight[i] > 0) beats[i] += sum[i] / weight[i];
}

double median_interval(const std::vector<double>& beats);

// The pulse weight of the onsets near the beats and near the midpoints between them.
std::pair<double, double> beat_and_midpoint_weight(const std::vector<double>& beats, std::span<const api::instrument> instruments)
{
    double on = 0, mid = 0;
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n)) continue;
            auto it = std::upper_bound(beats.begin(), beats.end(), n.start);
            if (it == beats.begin() || it == beats.end()) continue;
            const double phase = (n.start - *(it - 1)) / (*it - *(it - 1));
            const double w = pulse_weight(v, n.pitch) * velocity_of(n);
            if (phase < 0.08 || phase > 0.92) on += w;
            else if (std::abs(phase - 0.5) < 0.08) mid += w;
        }
    }
    return {on, mid};
}

// When the midpoints between the tracked beats carry nearly as much pulse as the beats (a
// backbeat the autocorrelation took for off-beats), they are beats too: the tempo is doubled.
bool split_beats_if_midpoints_are_beats(std::vector<double>& beats, std::span<const api::instrument> instruments)
{
    if (beats.size() < 2 || 60.0 / median_interval(beats) * 2 > highest_bpm) return false;
    const auto [on, mid] = beat_and_midpoint_weight(beats, instruments);
    if (!(on > 0) || mid < 0.3 * on) return false;
    std::vector<double> split;
    split.reserve(beats.size() * 2);
    for (std::size_t i = 0; i + 1 < beats.size(); ++i) split.push_back(beats[i]), split.push_back(0.5 * (beats[i] + beats[i + 1]));
    split.push_back(beats.back());
    beats = std::move(split);
    return true;
}

// When every other tracked beat carries little pulse (eighths the autocorrelation took for
// beats), only the stronger half are beats: the tempo is halved.
bool merge_beats_if_every_other_is_weak(std::vector<double>& beats, std::span<const api::instrument> instruments)
{
    if (beats.size() < 4 || 60.0 / median_interval(beats) / 2 < lowest_bpm) return false;
    std::array<double, 2> parity{0, 0};
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n)) continue;
            auto it = std::lower_bound(beats.begin(), beats.end(), n.start);
            std::size_t k = static_cast<std::size_t>(it - beats.begin());
            if (it == beats.end() || (k > 0 && n.start - beats[k - 1] < *it - n.start)) --k;
            const double unit = k + 1 < beats.size() ? beats[k + 1] - beats[k] : beats[k] - beats[k - 1];
            if (std::abs(n.start - beats[k]) < 0.16 * unit) parity[k % 2] += pulse_weight(v, n.pitch) * velocity_of(n);
        }
    }
    const std::size_t strong = parity[0] >= parity[1] ? 0 : 1;
    if (!(parity[strong] > 0) || parity[1 - strong] > 0.3 * parity[strong]) return false;
    std::vector<double> kept;
    kept.reserve(beats.size() / 2 + 1);
    for (std::size_t i = strong; i < beats.size(); i += 2) kept.push_back(beats[i]);
    beats = std::move(kept);
    return true;
}

// No interval more than 8 % away from its neighbour's: intervals are pulled to their local median.
void limit_changes(std::vector<double>& beats)
{
    if (beats.size() < 3) return;
    std::vector<double> ibi(beats.size() - 1);
    for (std::size_t i = 0; i + 1 < beats.size(); ++i) ibi[i] = beats[i + 1] - beats[i];
    for (int pass = 0; pass < 8; ++pass)
    {
        bool changed = false;
        for (std::size_t i = 1; i < ibi.size(); ++i)
        {
            const double r = ibi[i] / ibi[i - 1];
            if (r > 1 + max_step_change || r < 1 / (1 + max_step_change))
            {
                const double m = std::sqrt(ibi[i] * ibi[i - 1]);
                ibi[i] = ibi[i - 1] = m;  // keeps the two beats' total time close, both within range
                changed = true;
            }
        }
        if (!changed) break;
    }
    for (std::size_t i = 0; i + 1 < beats.size(); ++i) beats[i + 1] = beats[i] + ibi[i];
}

double median_interval(const std::vector<double>& beats)
{
    std::vector<double> ibi;
    ibi.reserve(beats.size());
    for (std::size_t i = 0; i + 1 < beats.size(); ++i) ibi.push_back(beats[i + 1] - beats[i]);
    if (ibi.empty()) return 60.0 / prior_bpm;
    std::nth_element(ibi.begin(), ibi.begin() + static_cast<std::ptrdiff_t>(ibi.size() / 2), ibi.end());
    return ibi[ibi.size() / 2];
}

// Beats before the first and after the last at their neighbour's interval, to cover 0 s .. `until`.
void extend_beats(std::vector<double>& beats, double until)
{
    if (beats.size() < 2) return;
    const double first = beats[1] - beats[0];
    std::size_t before = 0;
    while (beats.front() - static_cast<double>(before + 1) * first > 0.5 * first) ++before;
    const double front = beats.front();
    beats.insert(beats.begin(), before, 0.0);
    for (std::size_t i = 0; i < before; ++i) beats[i] = front - static_cast<double>(before - i) * first;
    const double last = beats[beats.size() - 1] - beats[beats.size() - 2];
    while (beats.back() <= until) beats.push_back(beats.back() + last);
}

// The beat each onset is nearest, and the weighted fraction lying within 10 % of a beat of a
// beat or its midpoint (evenly spread onsets give ~0.4).
double on_grid_share(const std::vector<double>& beats, std::span<const api::instrument> instruments)
{
    double on = 0, all = 0;
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n)) continue;
            const double w = pulse_weight(v, n.pitch) * velocity_of(n);
            all += w;
            auto it = std::upper_bound(beats.begin(), beats.end(), n.start);
            if (it == beats.begin() || it == beats.end()) continue;
            const double b0 = *(it - 1), b1 = *it;
            const double phase = (n.start - b0) / (b1 - b0);
            const double d = std::min({phase, std::abs(phase - 0.5), 1 - phase});
            if (d <= 0.1) on += w;
        }
    }
    return all > 0 ? on / all : 0;
}

// Meter and first downbeat from the accents on each beat.
void fit_bars(beat_grid& g, std::span<const api::instrument> instruments)
{
    const auto& beats = g.beats;
    std::vector<double> accent(beats.size(), 0.0);
    const double period = 60.0 / g.bpm;
    for (const auto& inst : instruments)
    {
        const voice v = voice_of(inst);
        for (const auto& n : inst.notes)
        {
            if (!usable(n)) continue;
            auto it = std::lower_bound(beats.begin(), beats.end(), n.start - 0.1 * period);
            if (it == beats.end() || *it > n.start + 0.1 * period) continue;
            accent[static_cast<std::size_t>(it - beats.begin())] += accent_weight(v, n, period);
        }
    }
    // How much more the would-be downbeats of a meter and phase carry than the average beat.
    const double mean = std::accumulate(accent.begin(), accent.end(), 0.0) / static_cast<double>(std::max<std::size_t>(1, accent.size()));
    auto contrast = [&](std::size_t meter, std::size_t phase) {
        double on = 0;
        std::size_t count = 0;
        for (std::size_t i = phase; i < accent.size(); i += meter) on += accent[i], ++count;
        return count == 0 || !(mean > 0) ? 0.0 : on / static_cast<double>(count) / mean;
    };
    auto best_phase = [&](std::size_t meter) {
        std::size_t best = 0;
        for (std::size_t phase = 1; phase < meter; ++phase)
            if (contrast(meter, phase) > contrast(meter, best)) best = phase;
        return best;
    };
    const std::size_t phase4 = best_phase(4), phase3 = best_phase(3);
    // 3/4 only when its accents are clearly more regular than 4/4's.
    const bool waltz = contrast(3, phase3) > 1.08 * contrast(4, phase4);
    g.beats_per_bar = waltz ? 3 : 4;
    g.first_downbeat = waltz ? phase3 : phase4;
}

}  // namespace

beat_grid fixed_beat_grid(double bpm, double until_seconds)
{
    beat_grid g;
    g.bpm = clamp_bpm(bpm);
    const double period = 60.0 / g.bpm;
    const double until = std::isfinite(until_seconds) ? std::clamp(until_seconds, 0.0, 86400.0) : 0.0;
    const auto count = static_cast<std::size_t>(until / period) + 2;
    g.beats.reserve(count);
    for (std::size_t i = 0; i < count; ++i) g.beats.push_back(static_cast<double>(i) * period);
    return g;
}

beat_grid estimate_beat_grid(std::span<const api::instrument> instruments, const tempo_choice& choice)
{
    const envelope env = onset_envelope(instruments);
    if (choice.mode == tempo_mode::off) return fixed_beat_grid(prior_bpm, env.last_end);
    if (env.onsets < min_onsets)
    {
        auto g = fixed_beat_grid(choice.mode == tempo_mode::given ? choice.bpm : prior_bpm, env.last_end);
        g.confidence = choice.mode == tempo_mode::given ? 1.0 : 0.0;
        if (choice.mode != tempo_mode::given) g.note = "too few notes to tell the tempo: written at a fixed 120 BPM";
        return g;
    }

    const double period = choice.mode == tempo_mode::given ? 60.0 * frame_rate / clamp_bpm(choice.bpm) : tempo_period(env.values);
    beat_grid g;
    g.beats = track_beats(env.values, period);
    if (g.beats.size() >= 2)
    {
        if (choice.mode == tempo_mode::given)
        {
            // The user's tempo: only the phase is the notes' (the tracked beats' mean offset).
            const double p = period / frame_rate;
            double s = 0, c = 0;
            for (double b : g.beats) s += std::sin(2 * std::numbers::pi * b / p), c += std::cos(2 * std::numbers::pi * b / p);
            double phase = std::atan2(s, c) / (2 * std::numbers::pi) * p;
            if (phase < 0) phase += p;
            g.beats.clear();
            for (double b = phase; b <= env.last_end + p; b += p) g.beats.push_back(b);
        }
        else
        {
            refine_beats(g.beats, instruments, period / frame_rate);
            if (merge_beats_if_every_other_is_weak(g.beats, instruments)) refine_beats(g.beats, instruments, period / frame_rate * 2);
            else if (split_beats_if_midpoints_are_beats(g.beats, instruments)) refine_beats(g.beats, instruments, period / frame_rate / 2);
            limit_changes(g.beats);
        }
    }
    if (g.beats.size() < 2) return fixed_beat_grid(prior_bpm, env.last_end);
    extend_beats(g.beats, env.last_end);
    g.bpm = clamp_bpm(60.0 / median_interval(g.beats));
    const double share = on_grid_share(g.beats, instruments);
    g.confidence = choice.mode == tempo_mode::given ? 1.0 : std::clamp((share - 0.4) / 0.5, 0.0, 1.0);
    g.estimated = true;
    if (choice.mode != tempo_mode::given && g.confidence < min_confidence)
    {
        const double confidence = g.confidence;
        g = fixed_beat_grid(g.bpm, env.last_end);
        g.confidence = confidence;
        g.note = "no steady pulse in the notes: written at a fixed " + std::to_string(static_cast<int>(std::lround(g.bpm))) + " BPM";
        return g;
    }
    fit_bars(g, instruments);
    return g;
}

std::optional<tempo_choice> parse_tempo_choice(std::string_view text)
{
    if (text == "auto") return tempo_choice{tempo_mode::automatic, 0};
    if (text == "off") return tempo_choice{tempo_mode::off, 0};
    double bpm = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bpm);
    if (ec != std::errc{} || end != text.data() + text.size() || !(bpm >= lowest_bpm && bpm <= highest_bpm)) return std::nullopt;
    return tempo_choice{tempo_mode::given, bpm};
}

std::string to_string(const tempo_choice& choice)
{
    switch (choice.mode)
    {
    case tempo_mode::automatic: return "auto";
    case tempo_mode::off: return "off";
    case tempo_mode::given:
    {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, choice.bpm);
        return ec == std::errc{} ? std::string(buf, end) : "auto";
    }
    }
    return "auto";
}

}  // namespace kiemidi::smf
