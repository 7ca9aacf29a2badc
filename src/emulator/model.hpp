// Internal: the emulator's KIE model without any I/O: accounts, tasks, request handling, results
// and callback bodies. The network side (server.cpp) feeds it parsed requests and runs its timers.
#ifndef KIEMIDI_SRC_EMULATOR_MODEL_HPP
#define KIEMIDI_SRC_EMULATOR_MODEL_HPP

#include <kiemidi/emulator/counters.hpp>
#include <kiemidi/emulator/options.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
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

/// A NaN velocity is left out of the JSON (the odd_notes_rate fault).
struct note_data { int pitch; double start; double end; double velocity; };
struct instrument_data { std::string name; std::vector<note_data> notes; };

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
    /// The instruments JSON of a successful MIDI task; empty otherwise.
    std::string midi_notes_json(const std::string& task_id) const;
    bool hit(double rate);
    double uniform01();
    counters snapshot() const;
    /// GET /emulator/counters: snapshot() as JSON (requests per endpoint, connections, callbacks, tasks).
    api_answer counters_answer() const;

    stats& counters_() noexcept { return stats_; }
    const emulator_options& options() const noexcept { return opts_; }

    struct stem_rec { std::string id; std::size_t kind; std::string url; double duration; };
    struct separation_task
    {
        std::string id, music_task_id, music_id, callback_url;
        int music_index = 0;
        bool split = false;
        std::string flag = "PENDING";
        std::int64_t create_ms = 0;
        std::optional<std::int64_t> complete_ms;
        std::vector<stem_rec> stems;
        std::optional<std::string> error_message;
        unsigned info_reads = 0;  ///< record-info reads so far (unknown_success_flag_polls)
    };
    struct midi_task
    {
        std::string id, separation_id, callback_url;
        std::optional<std::string> audio_id;
        int flag = 0;
        std::int64_t create_ms = 0;
        std::optional<std::int64_t> complete_ms;
        std::shared_ptr<const std::string> instruments_json;  ///< rendered once at completion, shared with readers
        std::optional<std::string> error_message;
        unsigned info_reads = 0;  ///< record-info reads so far (unknown_success_flag_polls)
    };

private:
    api_answer route(const api_request& req, std::string_view path, std::string_view query, stats::endpoint ep);
    api_answer separation_generate(std::string_view body);
    api_answer separation_info(std::string_view task_id);
    api_answer midi_generate(std::string_view body);
    api_answer midi_info(std::string_view task_id);
    api_answer credit_info();
    api_answer music_info(std::string_view task_id);
    api_answer error(int code, std::string_view msg, std::optional<unsigned> http = {}) const;
    api_answer unknown_task() const;
    void garble_after_processing(const fault_options& f, api_answer& a);
    bool charge_locked(std::int64_t cost, api_answer& refusal);
    std::string new_task_id();
    std::vector<stem_rec> make_stems(const std::string& task_id, const std::string& audio_id, bool split) const;
    std::vector<instrument_data> make_midi(const separation_task& sep, const std::optional<std::string>& audio_id) const;
    std::string separation_callback_body(const separation_task& t) const;
    std::string midi_callback_body(const midi_task& t, const std::vector<instrument_data>& instr) const;
    bool chinese_for(const std::string& task_id) const;
    void seed_examples();

    emulator_options opts_;
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

// ---- deterministic helpers (also used by the server for the signature) ----
std::uint64_t mix64(std::uint64_t x) noexcept;
std::uint64_t hash_text(std::uint64_t seed, std::string_view text) noexcept;
/// Shortest round-trip text of a double, as KIE prints it ("0.036458333333333336", "1").
std::string number_text(double v);
/// True when the URL's host is loopback (127.0.0.0/8, ::1, localhost); fills host/port/scheme/target.
struct parsed_url { bool tls = false; std::string host; std::string server_name; std::string port; std::string target; };
std::optional<parsed_url> parse_loopback_url(std::string_view url, bool& is_loopback);

// ---- crypto.cpp ----
struct tls_identity { std::string ca_cert_pem, server_cert_pem, server_key_pem; };
tls_identity make_tls_identity(const std::vector<std::string>& host_names);

}  // namespace kiemidi::emulator::detail

#endif
