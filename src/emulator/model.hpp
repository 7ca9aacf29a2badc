// Internal: the emulator's KIE model without any I/O: accounts, request validation and the task
// lifecycle. The music it invents (synthetic_music), the bodies it writes (kie_bodies) and its
// counters (emulator_stats) have their own files. The network side (server.cpp) feeds it parsed
// requests and runs its timers.
#ifndef KIEMIDI_SRC_EMULATOR_MODEL_HPP
#define KIEMIDI_SRC_EMULATOR_MODEL_HPP

#include "emulator_stats.hpp"
#include "emulator_urls.hpp"  // parse_loopback_url, for the server
#include "task_records.hpp"

#include <kiemidi/emulator/counters.hpp>
#include <kiemidi/emulator/options.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiemidi::emulator::detail {

/// A request as read from the wire.
struct api_request
{
    std::string_view method;
    std::string_view target;         ///< path and query
    std::string_view authorization;  ///< the Authorization header value
    std::string_view body;
};

enum class task_kind { separation, midi };

/// What to do with a request.
enum class answer_action
{
    respond,       ///< send the answer
    reset_before,  ///< close the connection without answering; nothing was processed
    reset_after,   ///< close the connection without answering; the request WAS processed
};

/// A task timer the network side must start.
struct scheduled_completion
{
    task_kind kind;
    std::string task_id;
    std::chrono::milliseconds delay;
};

/// A callback the network side must deliver.
struct callback_job
{
    std::string url;
    std::string body;
    std::string task_id;
    std::chrono::milliseconds delay{0};
    bool duplicate = false;
    bool reorder = false;
};

struct api_answer
{
    answer_action action = answer_action::respond;
    unsigned http_status = 200;
    int code = 200;                          ///< KIE body code, for the counters
    std::string body;
    std::string content_type = "application/json";
    std::optional<unsigned> retry_after_s;   ///< Retry-After header
    std::chrono::milliseconds delay{0};      ///< slow-response fault
    std::optional<scheduled_completion> completion;
    std::optional<callback_job> after_answer;  ///< a callback to deliver once this answer is written
};

class model
{
public:
    explicit model(const emulator_options& opts);

    /// Base of stem file URLs (set once the http port is known).
    void set_file_base(std::string base);
    /// Handles one request; thread-safe.
    api_answer handle(const api_request& req);
    /// A task's timer fired: decides success or failure and returns the callback to send, if any.
    std::optional<callback_job> complete(task_kind kind, const std::string& task_id);

    void set_faults(const fault_options& f);
    fault_options faults() const;
    void set_credits(std::int64_t c);
    /// Drops a task's record (separation or MIDI); true when there was one.
    bool forget_task(const std::string& task_id);
    /// The instruments JSON of a successful MIDI task; empty otherwise.
    std::string midi_notes_json(const std::string& task_id) const;
    bool hit(double rate);
    double uniform01();
    counters snapshot() const;
    /// GET /emulator/counters: snapshot() as JSON (requests per endpoint, connections, callbacks, tasks).
    api_answer counters_answer() const;

    stats& counters_() noexcept { return stats_; }
    /// True while an outage of kind connection_refused is on: the server resets a new connection
    /// at once, unread. Counted as an outage answer and a connection reset.
    bool refuses_connection();
    const emulator_options& options() const noexcept { return opts_; }

private:
    /// A paid POST's fields, checked alike for both kinds (see parse_submission).
    struct submission
    {
        std::string task_id;
        std::optional<std::string> audio_id;  ///< MIDI: an empty audioId means none
        std::optional<std::string> type;      ///< separation only
        std::string callback_url;
    };

    api_answer route(const api_request& req, std::string_view path, const std::optional<std::string>& task_id_param,
                     stats::endpoint ep);
    /// Parses and checks a paid POST's body; the refusal to answer, if it is not acceptable.
    std::optional<api_answer> parse_submission(std::string_view body, task_kind kind, submission& out) const;
    api_answer separation_generate(std::string_view body);
    api_answer separation_info(std::string_view task_id);
    api_answer midi_generate(std::string_view body);
    api_answer midi_info(std::string_view task_id);
    api_answer credit_info();
    api_answer music_info(std::string_view task_id);
    api_answer error(int code, std::string_view msg, std::optional<unsigned> http = {}) const;
    api_answer unknown_task() const;
    /// The outage's answer when `now` falls in emulator_options::outage's window.
    std::optional<api_answer> outage_answer(stats::endpoint ep);
    bool in_outage_window() const;
    void garble_after_processing(const fault_options& f, api_answer& a);
    bool charge_locked(std::int64_t cost, api_answer& refusal);
    std::string new_task_id();
    bool chinese_for(const std::string& task_id) const;

    emulator_options opts_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    stats stats_;
    std::atomic<std::uint64_t> id_counter_{0};

    mutable std::mutex faults_m_;
    fault_options faults_;

    mutable std::mutex m_;  // guards everything below
    std::string file_base_;
    std::int64_t credits_;
    std::deque<std::chrono::steady_clock::time_point> paid_window_;
    std::unordered_map<std::string, separation_task> separations_;
    std::unordered_map<std::string, midi_task> midis_;
    std::map<paid_key, std::uint64_t> sep_paid_, midi_paid_;
};

// ---- crypto.cpp ----
struct tls_identity { std::string ca_cert_pem, server_cert_pem, server_key_pem; };
tls_identity make_tls_identity(const std::vector<std::string>& host_names);

}  // namespace kiemidi::emulator::detail

#endif
