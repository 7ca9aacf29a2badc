// Progress drawing; see progress.hpp.
#include "progress.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace kiemidi::cli {

std::string format_rate_limit_line(std::size_t queued)
{
    return "waiting for KIE's rate limit: " + std::to_string(queued) + (queued == 1 ? " request" : " requests") + " queued";
}

std::string format_kie_line(const metrics::kie_availability& kie, std::chrono::steady_clock::time_point now)
{
    if (!kie.down) return {};
    std::string text = "KIE unavailable (";
    if (kie.code != 0) text += "code " + std::to_string(kie.code) + ", ";
    text += kie.reason + ")";
    const std::time_t t = std::chrono::system_clock::to_time_t(kie.since);
    std::tm tm{};
    localtime_r(&t, &tm);
    char clock[16];
    if (std::strftime(clock, sizeof clock, "%H:%M:%S", &tm) > 0) text += std::string(" since ") + clock;
    const auto next = std::chrono::ceil<std::chrono::seconds>(std::max(kie.next_try - now, std::chrono::steady_clock::duration::zero()));
    return text + ", next try in " + std::to_string(next.count()) + " s";
}

std::string format_progress_line(const progress_counts& c, std::chrono::steady_clock::duration elapsed)
{
    const double seconds = std::chrono::duration<double>(elapsed).count();
    const std::size_t finished_now = c.done + c.failed - std::min(c.skipped, c.done + c.failed);
    const double rate = seconds > 0 ? static_cast<double>(finished_now) / seconds : 0.0;
    const std::size_t remaining = c.total > c.done + c.failed ? c.total - c.done - c.failed : 0;
    char eta[32] = "--:--";
    if (rate > 0 && remaining > 0)
    {
        auto s = static_cast<long long>(std::ceil(static_cast<double>(remaining) / rate));
        if (s >= 3600) std::snprintf(eta, sizeof eta, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        else std::snprintf(eta, sizeof eta, "%lld:%02lld", s / 60, s % 60);
    }
    else if (remaining == 0)
        std::snprintf(eta, sizeof eta, "0:00");
    char line[160];
    std::snprintf(line, sizeof line, "%zu/%zu done, %zu failed, %zu in flight, %.1f tracks/s, ETA %s", c.done, c.total,
                  c.failed, c.in_flight, rate, eta);
    std::string out = line;
    if (c.rate_limit_queued != 0) out += "; " + format_rate_limit_line(c.rate_limit_queued);
    if (!c.kie_unavailable.empty()) out += "; " + c.kie_unavailable;
    return out;
}

progress_printer::progress_printer(std::FILE* out, bool live) : out_(out), live_(live) {}

void progress_printer::clear_line()
{
    if (live_ && drawn_) std::fputs("\r\033[K", out_);
    drawn_ = false;
}

void progress_printer::draw(const progress_counts& c)
{
    last_ = c;
    last_.rate_limit_queued = queued_;
    last_.kie_unavailable = kie_;
    std::fputs(("\r" + format_progress_line(last_, std::chrono::steady_clock::now() - start_) + "\033[K").c_str(), out_);
    std::fflush(out_);
    drawn_ = true;
    last_draw_ = std::chrono::steady_clock::now();
}

void progress_printer::track_line(std::string_view status, std::string_view track, std::string_view message,
                                  const progress_counts& c)
{
    std::lock_guard lock(mutex_);
    if (live_)
    {
        // Only failures leave a line behind on a terminal; successes just move the counter.
        if (status != "ok" && status != "skip")
        {
            clear_line();
            std::fprintf(out_, "%.*s %.*s: %.*s\n", int(status.size()), status.data(), int(track.size()), track.data(),
                         int(message.size()), message.data());
        }
        draw(c);
        return;
    }
    last_ = c;
    std::fprintf(out_, "%-4.*s %.*s%s%.*s  [%zu/%zu done, %zu failed]\n", int(status.size()), status.data(),
                 int(track.size()), track.data(), message.empty() ? "" : ": ", int(message.size()), message.data(),
                 c.done, c.total, c.failed);
    std::fflush(out_);
}

void progress_printer::update(const progress_counts& c)
{
    std::lock_guard lock(mutex_);
    last_ = c;
    redraw_if_due();
}

void progress_printer::redraw_if_due()
{
    if (!live_) return;
    if (drawn_ && std::chrono::steady_clock::now() - last_draw_ < std::chrono::milliseconds(100)) return;
    draw(last_);
}

void progress_printer::rate_limit(std::size_t queued)
{
    std::lock_guard lock(mutex_);
    const bool changed = queued != queued_;
    queued_ = queued;
    if (live_)
    {
        if (changed) redraw_if_due();
        return;
    }
    if (queued == 0)
    {
        queued_said_ = false;
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (queued_said_ && now - queued_said_at_ < plain_repeat) return;
    queued_said_ = true;
    queued_said_at_ = now;
    std::fprintf(out_, "%s\n", format_rate_limit_line(queued).c_str());
    std::fflush(out_);
}

void progress_printer::kie_status(const std::string& unavailable)
{
    std::lock_guard lock(mutex_);
    const bool was_down = !kie_.empty();
    const bool changed = unavailable != kie_;
    kie_ = unavailable;
    if (live_)
    {
        if (changed) redraw_if_due();
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (unavailable.empty())
    {
        if (was_down) std::fprintf(out_, "KIE is available again; the batch goes on\n");
    }
    else if (!was_down || now - kie_said_at_ >= plain_repeat)
    {
        kie_said_at_ = now;
        std::fprintf(out_, "%s; tracks not yet paid wait\n", unavailable.c_str());
    }
    std::fflush(out_);
}

void progress_printer::note(std::string_view text)
{
    std::lock_guard lock(mutex_);
    clear_line();
    std::fprintf(out_, "%.*s\n", int(text.size()), text.data());
    std::fflush(out_);
}

void progress_printer::finish(const progress_counts& c)
{
    std::lock_guard lock(mutex_);
    queued_ = 0;
    if (!live_) return;
    draw(c);
    std::fputs("\n", out_);
    std::fflush(out_);
    drawn_ = false;
}

}  // namespace kiemidi::cli
