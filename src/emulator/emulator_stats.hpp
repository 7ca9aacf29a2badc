// Internal: the emulator's counters, updated by the model and the network side from any thread,
// and their JSON form (GET /emulator/counters, for load drivers running the emulator apart).
#ifndef KIEMIDI_SRC_EMULATOR_EMULATOR_STATS_HPP
#define KIEMIDI_SRC_EMULATOR_EMULATOR_STATS_HPP

#include <kiemidi/emulator/counters.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace kiemidi::emulator::detail {

/// Thread-safe counters shared by the model and the network side.
class stats
{
public:
    enum endpoint : std::size_t
    {
        sep_generate, sep_info, midi_generate, midi_info, credit, music_info, files, other, endpoint_count
    };
    static std::string_view endpoint_key(endpoint e) noexcept;

    std::array<std::atomic<std::uint64_t>, endpoint_count> requests{};
    std::atomic<std::uint64_t> tcp_accepted{0}, tls_accepted{0}, tls_handshake_failures{0}, open_connections{0};
    std::atomic<std::uint64_t> connection_resets{0}, slow_responses{0}, rate_limited{0}, garbled_after_processing{0};
    std::atomic<std::uint64_t> outage_answers{0}, outage_paid_refused{0};
    std::atomic<std::uint64_t> callbacks_sent{0}, callbacks_dropped{0}, callbacks_duplicated{0}, callbacks_delayed{0},
        callbacks_reordered{0}, callbacks_failed{0}, callback_attempts{0}, callbacks_skipped{0};
    std::atomic<std::uint64_t> tasks_created{0}, tasks_completed{0}, tasks_failed{0};

    void count_response(int code, unsigned http_status);
    void fill(counters& out) const;

private:
    mutable std::mutex m_;
    std::map<int, std::uint64_t> by_code_;
    std::map<unsigned, std::uint64_t> by_status_;
};

/// The counters as JSON: requests per endpoint, connections, callbacks, tasks, paid submissions, credits.
std::string counters_json(const counters& c);

}  // namespace kiemidi::emulator::detail

#endif
