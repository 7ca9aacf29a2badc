/// @file
/// Options of the local KIE emulator: where it listens, how fast tasks complete, which faults it
/// injects and how it calls back.
///
/// Every field has a usable default, so `emulator_options{}` gives a working emulator on
/// 127.0.0.1 with ephemeral ports, HTTP and HTTPS, fast tasks and no faults.
/// Rates are probabilities in [0, 1]; 0 disables a fault and 1 makes it happen every time.
#ifndef KIEMIDI_EMULATOR_OPTIONS_HPP
#define KIEMIDI_EMULATOR_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiemidi::emulator {

/// Faults injected by the emulator. Adjustable at run time with server::set_faults.
struct fault_options
{
    /// Share of requests answered HTTP 429 {"code":429,"msg":"Your call frequency is too high. ..."} + Retry-After (not processed).
    double http_429_rate = 0;
    /// Share of requests answered HTTP 500 {"code":500,...} (not processed).
    double http_500_rate = 0;
    /// Share of requests answered HTTP 455 {"code":455,...} "under maintenance" (not processed).
    double http_455_rate = 0;
    /// Share of requests whose connection is closed after reading the request, without answering and without processing it.
    double connection_reset_rate = 0;
    /// Share of slowed answers; each is delayed by `slow_response`.
    double slow_response_rate = 0;
    /// Extra delay of a slowed answer.
    std::chrono::milliseconds slow_response{0};
    /// Share of callbacks never sent.
    double callback_drop_rate = 0;
    /// Share of callbacks sent twice (the copy right after the first delivery).
    double callback_duplicate_rate = 0;
    /// Share of callbacks held back by `callback_delay` before sending.
    double callback_delay_rate = 0;
    /// Hold-back time of a delayed callback (also the longest a reordered callback waits for a successor).
    std::chrono::milliseconds callback_delay{0};
    /// Share of separation tasks that end in CREATE_TASK_FAILED or GENERATE_AUDIO_FAILED.
    double separation_failure_rate = 0;
    /// Share of MIDI tasks that end in successFlag 2 or 3.
    double midi_failure_rate = 0;
    /// Share of requests that ARE processed (and charged) but whose connection is then closed without an answer:
    /// the "outcome unknown" case of a paid POST.
    double reset_after_processing_rate = 0;
    /// Share of callbacks held back until the next callback has been sent (so they arrive out of order).
    double callback_reorder_rate = 0;
    /// Every accepted paid POST (separation, MIDI) is answered only after this delay; the task
    /// exists and is charged meanwhile. Opens a window in which a client can crash after sending
    /// a paid POST and before recording its answer.
    std::chrono::milliseconds paid_answer_delay{0};

    // Results KIE's documentation allows or leaves open, which a client must not reject.

    /// Share of MIDI results whose first instrument starts with five odd notes, in record-info and
    /// callback alike: velocity 100 (MIDI's 0..127 scale), a zero-length note, a note without
    /// velocity, pitch 200, and a note starting at -0.05 s.
    double odd_notes_rate = 0;
    /// Share of MIDI results with no instrument at all (KIE documents empty results).
    double empty_midi_rate = 0;
    /// Share of separations that end in CALLBACK_EXCEPTION with their stems present; their
    /// callback is never delivered (that is what the state says went wrong).
    double callback_exception_rate = 0;
    /// The first N record-info reads of every separation / MIDI task answer a successFlag no
    /// documentation lists ("WEIRD" / 4), whatever the task's state.
    unsigned unknown_success_flag_polls = 0;
    /// Separation records carry "musicIndex": -1.
    bool music_index_negative = false;
    /// Pending separation and MIDI records carry "successFlag": null.
    bool pending_success_flag_null = false;
    /// Completed separation records list one more originData item, with "id": null, before the real stems.
    bool origin_data_null_id = false;

    /// Share of paid POSTs (separation, MIDI) that ARE processed (and charged; the callback will
    /// come) but answered HTTP 502 with a gateway's HTML page instead of KIE's JSON.
    double processed_then_html_502_rate = 0;
    /// Share of paid POSTs that ARE processed but answered HTTP 200 with KIE's JSON cut in half.
    double processed_then_truncated_body_rate = 0;
    /// Share of paid POSTs that ARE processed but answered HTTP 200 with a body that is not JSON.
    double processed_then_non_json_200_rate = 0;
    /// Share of paid POSTs that ARE processed but answered with KIE's envelope {"code":500,...}
    /// (KIE's docs say a 5xx leaves a submission's outcome unknown).
    double processed_then_json_500_rate = 0;

    /// After a MIDI POST is answered, the callback of the separation task it names is delivered
    /// once more (KIE repeats callback deliveries). With midi_task_id_equals_separation, this
    /// repeated separation callback names the id the client now waits on for the MIDI result.
    bool repeat_separation_callback_after_midi_submit = false;
};

/// How KIE answers during an outage window (emulator_options::outage).
enum class outage_kind
{
    maintenance,       ///< HTTP 455 {"code":455,...} "undergoing maintenance" (KIE's maintenance windows).
    server_error,      ///< HTTP 503 with a gateway's HTML page (a 5xx storm behind KIE's proxy).
    connection_reset,  ///< The connection is closed after reading the request, unanswered.
    /// KIE's front door is down: each new connection is reset as soon as it is accepted, before
    /// anything is read (for HTTPS, before the TLS handshake), so no request leaves the client.
    /// A request on a connection opened before the window is closed unanswered, as connection_reset.
    connection_refused,
};

/// A time window in which every KIE API request (not /files/, not /emulator/counters) is
/// answered per `kind` and NOT processed: nothing is created or charged.
struct outage_options
{
    /// Start of the window, counted from the emulator's construction.
    std::chrono::milliseconds start{0};
    /// Length of the window; 0 = no outage.
    std::chrono::milliseconds length{0};
    /// How KIE answers during the window (see outage_kind).
    outage_kind kind = outage_kind::maintenance;
};

/// Key names used by separation callbacks and the MIDI callback's task id placement.
enum class callback_dialect
{
    english,  ///< data.vocal_separation_info; MIDI with top-level task_id (KIE's English pages).
    chinese,  ///< data.vocal_removal_info, "vocal Removal generated successfully."; MIDI with data.taskId only.
    mixed,    ///< Per task, chosen deterministically from the task id: some English, some Chinese.
};

/// Everything the emulator can be configured with.
struct emulator_options
{
    /// Listening address; keep it on loopback.
    std::string address = "127.0.0.1";
    /// Plain HTTP port; 0 picks a free one (see server::http_port()).
    std::uint16_t http_port = 0;
    /// Whether to serve HTTPS too (certificate generated at start, see server::ca_certificate_pem()).
    bool enable_https = true;
    /// HTTPS port; 0 picks a free one.
    std::uint16_t https_port = 0;
    /// The only accepted bearer token.
    std::string api_key = "kie-emulator-key";
    /// Time a separation task stays PENDING.
    std::chrono::milliseconds separation_delay{20};
    /// Time a MIDI task stays pending.
    std::chrono::milliseconds midi_delay{20};
    /// Injected faults (adjustable later with server::set_faults).
    fault_options faults;
    /// A scheduled outage: maintenance, 5xx storm or connection resets for a time window.
    outage_options outage;
    /// Seed of every derived id and result: same seed, same ids and notes.
    std::uint64_t seed = 1;
    /// Credits of the emulated account.
    std::int64_t initial_credits = 1000000;
    /// The body code of a paid POST refused for lack of credits: 402 (KIE's credits page) or 429
    /// with msg "Insufficient credits..." (how KIE's Suno OpenAPI spells it).
    int insufficient_credits_code = 402;
    /// DNS names and IP addresses put in the server certificate's subjectAltName.
    std::vector<std::string> tls_host_names{"localhost", "127.0.0.1"};

    /// Error answers (401, 402, 404, 422, 400) use this HTTP status too instead of HTTP 200.
    bool error_http_status_mirrors_code = false;
    /// Unknown separation/MIDI task ids on record-info answer code 404 instead of code 200 with data null.
    bool unknown_task_is_404 = false;
    /// When true, a separation's audioId must be one of the music task's track ids (see GET /api/v1/generate/record-info).
    bool strict_music_ids = false;
    /// A MIDI task gets the task id of the separation it transcribes, as in the example of KIE's
    /// MIDI page (POST {"taskId":"5c79****be8e"} answered with data.taskId "5c79****be8e"); the
    /// pre-seeded example task always does this. A later MIDI POST for the same separation then
    /// replaces the earlier MIDI task.
    bool midi_task_id_equals_separation = false;
    /// Credit cost of a separate_vocal separation.
    std::int64_t separate_vocal_cost = 10;
    /// Credit cost of a split_stem separation.
    std::int64_t split_stem_cost = 50;
    /// Credit cost of a MIDI generation.
    std::int64_t midi_cost = 10;
    /// Simulated account rate limit: paid POSTs accepted per `rate_limit_window`; 0 = no limit.
    unsigned rate_limit_per_10s = 0;
    /// Window of the simulated rate limit.
    std::chrono::milliseconds rate_limit_window{10000};
    /// Every paid POST (accepted or refused) is answered only this long after it arrived, plus a
    /// uniform random share of `accept_latency_jitter`: a server slow to accept a burst. The rate
    /// limit counts at arrival, so a client that frees its budget when a request was sent, not
    /// when it was answered, lets the next burst land in the same window.
    std::chrono::milliseconds accept_latency{0};
    /// Upper bound of the random extra accept latency.
    std::chrono::milliseconds accept_latency_jitter{0};
    /// Share of split_stem MIDI results (deterministic per stem) that contain no instrument.
    double split_stem_empty_midi_rate = 0.25;
    /// Largest accepted request body; larger ones get HTTP 413 and the connection is closed.
    std::size_t max_request_body = 64 * 1024;
    /// Keep-alive connections idle for longer than this are closed.
    std::chrono::milliseconds idle_timeout{60000};
    /// Base of the stem file URLs; empty means the emulator's own http base URL + "/files/".
    std::string file_base_url;

    /// Callback body dialect.
    callback_dialect dialect = callback_dialect::english;
    /// Non-empty: every callback carries X-Webhook-Timestamp and X-Webhook-Signature (KIE's webhook verification).
    std::string webhook_hmac_key;
    /// Verify the certificate of https callback receivers (against callback_ca_pem, or the system store if empty).
    bool callback_tls_verify = false;
    /// PEM CA certificate(s) trusted for https callbacks when callback_tls_verify is set.
    std::string callback_ca_pem;
    /// Time limit of one callback delivery attempt (KIE documents 15 s).
    std::chrono::milliseconds callback_timeout{15000};
    /// Further attempts after a failed delivery (connection error, timeout, non-2xx).
    unsigned callback_max_retries = 3;
    /// Pause between delivery attempts.
    std::chrono::milliseconds callback_retry_delay{500};
    /// How long server::async_stop lets answers being prepared and callbacks being delivered
    /// finish before it closes what is left (cancelling the stop closes it at once).
    std::chrono::milliseconds stop_grace{5000};
};

}  // namespace kiemidi::emulator

#endif
