// The emulator's KIE model: request validation, credits and the task lifecycle (submission,
// record reads, completion and the callbacks it triggers). What it invents comes from
// synthetic_music, what it writes from kie_bodies. No I/O here.
#include "model.hpp"

#include "../crypto/crypto.hpp"
#include "emulator_urls.hpp"
#include "kie_bodies.hpp"
#include "synthetic_music.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <random>
#include <thread>

namespace kiemidi::emulator::detail {

namespace {

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool well_formed_id(std::string_view id)
{
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '*';
    });
}

/// A string member, or nullopt when absent or null; sets `bad` when present with another type.
std::optional<std::string> string_member(const boost::json::object& o, std::string_view key, bool& bad)
{
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) { bad = true; return std::nullopt; }
    return std::string(v->get_string());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// model

model::model(const emulator_options& opts) : opts_(opts), faults_(opts.faults), credits_(opts.initial_credits)
{
    for (auto& t : documentation_examples(opts_.seed)) separations_.emplace(t.id, std::move(t));
}

void model::set_file_base(std::string base)
{
    std::lock_guard lk(m_);
    file_base_ = std::move(base);
}

void model::set_faults(const fault_options& f)
{
    std::lock_guard lk(faults_m_);
    faults_ = f;
}

fault_options model::faults() const
{
    std::lock_guard lk(faults_m_);
    return faults_;
}

std::string model::midi_notes_json(const std::string& task_id) const
{
    std::lock_guard lk(m_);
    auto it = midis_.find(task_id);
    if (it == midis_.end() || it->second.flag != 1 || !it->second.instruments_json) return {};
    return *it->second.instruments_json;
}

void model::set_credits(std::int64_t c)
{
    std::lock_guard lk(m_);
    credits_ = c;
}

bool model::forget_task(const std::string& task_id)
{
    std::lock_guard lk(m_);
    return separations_.erase(task_id) + midis_.erase(task_id) > 0;
}

double model::uniform01()
{
    // Fault dice are not part of the deterministic results; a per-thread generator avoids a lock.
    thread_local std::mt19937_64 gen(mix64(opts_.seed ^ std::hash<std::thread::id>{}(std::this_thread::get_id())));
    return std::uniform_real_distribution<double>(0, 1)(gen);
}

bool model::hit(double rate)
{
    if (!(rate > 0)) return false;
    if (rate >= 1) return true;
    return uniform01() < rate;
}

counters model::snapshot() const
{
    counters c;
    stats_.fill(c);
    std::lock_guard lk(m_);
    c.separation_submissions = sep_paid_;
    c.midi_submissions = midi_paid_;
    c.credits = credits_;
    return c;
}

api_answer model::counters_answer() const
{
    api_answer a;
    a.body = counters_json(snapshot());
    return a;
}

std::string model::new_task_id()
{
    auto n = id_counter_.fetch_add(1) + 1;
    auto a = mix64(opts_.seed * 0x2545f4914f6cdd1dULL + n);
    return hex(a, 16) + hex(mix64(a ^ 0xa0761d6478bd642fULL), 16);
}

api_answer model::error(int code, std::string_view msg, std::optional<unsigned> http) const
{
    api_answer a;
    a.code = code;
    a.http_status = http ? *http : (opts_.error_http_status_mirrors_code ? static_cast<unsigned>(code) : 200u);
    a.body = error_body(code, msg);
    return a;
}

api_answer model::unknown_task() const
{
    if (opts_.unknown_task_is_404) return error(404, "Task not found");
    api_answer a;
    a.body = no_data_body();
    return a;
}

bool model::charge_locked(std::int64_t cost, api_answer& refusal)
{
    if (opts_.rate_limit_per_10s > 0)
    {
        auto now = std::chrono::steady_clock::now();
        while (!paid_window_.empty() && now - paid_window_.front() >= opts_.rate_limit_window) paid_window_.pop_front();
        if (paid_window_.size() >= opts_.rate_limit_per_10s)
        {
            auto wait = opts_.rate_limit_window - (now - paid_window_.front());
            auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait + std::chrono::milliseconds(999)).count();
            refusal = error(429, "Your call frequency is too high. Please try again later.", 429);
            refusal.retry_after_s = static_cast<unsigned>(std::max<std::int64_t>(1, secs));
            ++stats_.rate_limited;
            return false;
        }
    }
    if (credits_ < cost)
    {
        refusal = opts_.insufficient_credits_code == 429
                      ? error(429, "Insufficient credits. Please top up your account to continue.")
                      : error(402, "Insufficient credits");
        return false;
    }
    credits_ -= cost;
    if (opts_.rate_limit_per_10s > 0) paid_window_.push_back(std::chrono::steady_clock::now());
    return true;
}

api_answer model::handle(const api_request& req)
{
    const auto target = parse_target(req.target);
    const auto path = target.path;
    const bool get = req.method == "GET", post = req.method == "POST";

    // The counters as JSON, for load drivers running the emulator as a separate process. Not a KIE
    // endpoint: not counted, never faulted, needs no key.
    if (get && path == "/emulator/counters") return counters_answer();

    auto ep = stats::other;
    if (post && path == "/api/v1/vocal-removal/generate") ep = stats::sep_generate;
    else if (get && path == "/api/v1/vocal-removal/record-info") ep = stats::sep_info;
    else if (post && path == "/api/v1/midi/generate") ep = stats::midi_generate;
    else if (get && path == "/api/v1/midi/record-info") ep = stats::midi_info;
    else if (get && path == "/api/v1/chat/credit") ep = stats::credit;
    else if (get && path == "/api/v1/generate/record-info") ep = stats::music_info;
    else if (get && path.starts_with("/files/")) ep = stats::files;
    ++stats_.requests[ep];

    if (ep != stats::files)
        if (auto a = outage_answer(ep)) return std::move(*a);
    const auto f = faults();
    if (hit(f.connection_reset_rate))
    {
        ++stats_.connection_resets;
        api_answer a;
        a.action = answer_action::reset_before;
        return a;
    }
    api_answer a;
    if (hit(f.http_429_rate))
    {
        a = error(429, "Your call frequency is too high. Please try again later.", 429);
        a.retry_after_s = 1;
    }
    else if (hit(f.http_455_rate))
        a = error(455, "The system is currently undergoing maintenance. Please try again later.", 455);
    else if (hit(f.http_500_rate))
        a = error(500, "Server error, please try again later.", 500);
    else
    {
        a = route(req, path, target.task_id, ep);
        if ((ep == stats::sep_generate || ep == stats::midi_generate) && a.code == 200 && f.paid_answer_delay.count() > 0)
            a.delay = f.paid_answer_delay;
        if (hit(f.reset_after_processing_rate))
        {
            ++stats_.connection_resets;
            a.action = answer_action::reset_after;
            return a;
        }
        if ((ep == stats::sep_generate || ep == stats::midi_generate) && a.code == 200) garble_after_processing(f, a);
    }
    if (hit(f.slow_response_rate) && f.slow_response.count() > 0)
    {
        ++stats_.slow_responses;
        a.delay = std::max(a.delay, f.slow_response);
    }
    if ((ep == stats::sep_generate || ep == stats::midi_generate) &&
        (opts_.accept_latency.count() > 0 || opts_.accept_latency_jitter.count() > 0))
    {
        // counted (rate limit, task start) at arrival above; only the answer is late
        auto latency = opts_.accept_latency;
        if (opts_.accept_latency_jitter.count() > 0)
            latency += std::chrono::milliseconds(static_cast<std::int64_t>(
                uniform01() * static_cast<double>(opts_.accept_latency_jitter.count())));
        a.delay = std::max(a.delay, latency);
    }
    return a;
}

bool model::in_outage_window() const
{
    const auto& o = opts_.outage;
    if (o.length.count() <= 0) return false;
    const auto since_start = std::chrono::steady_clock::now() - started_;
    return since_start >= o.start && since_start < o.start + o.length;
}

bool model::refuses_connection()
{
    if (opts_.outage.kind != outage_kind::connection_refused || !in_outage_window()) return false;
    ++stats_.outage_answers;
    ++stats_.connection_resets;
    return true;
}

std::optional<api_answer> model::outage_answer(stats::endpoint ep)
{
    if (!in_outage_window()) return std::nullopt;
    const auto& o = opts_.outage;
    ++stats_.outage_answers;
    if (ep == stats::sep_generate || ep == stats::midi_generate) ++stats_.outage_paid_refused;
    api_answer a;
    switch (o.kind)
    {
    case outage_kind::maintenance:
        return error(455, "The system is currently undergoing maintenance. Please try again later.", 455);
    case outage_kind::server_error:
        a.http_status = 503;
        a.code = 503;
        a.content_type = "text/html";
        a.body = "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service "
                 "Temporarily Unavailable</h1></center></body></html>";
        return a;
    case outage_kind::connection_reset:
    case outage_kind::connection_refused:  // a connection opened before the window
        ++stats_.connection_resets;
        a.action = answer_action::reset_before;
        return a;
    }
    return std::nullopt;
}

void model::garble_after_processing(const fault_options& f, api_answer& a)
{
    // The task exists and is charged (its completion is scheduled); only the answer is not KIE's.
    if (hit(f.processed_then_html_502_rate))
    {
        a.http_status = 502;
        a.code = 0;
        a.content_type = "text/html";
        a.body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                 "Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
    }
    else if (hit(f.processed_then_truncated_body_rate))
    {
        a.code = 0;
        a.body.resize(a.body.size() / 2);
    }
    else if (hit(f.processed_then_non_json_200_rate))
    {
        a.code = 0;
        a.content_type = "text/plain";
        a.body = "OK";
    }
    else if (hit(f.processed_then_json_500_rate))
    {
        // KIE's own envelope, saying "server error" about a request it did process.
        a.code = 500;
        a.body = error_body(500, "Server error, please try again later");
    }
    else
        return;
    ++stats_.garbled_after_processing;
}

api_answer model::route(const api_request& req, std::string_view path, const std::optional<std::string>& task_id_param,
                         stats::endpoint ep)
{
    if (ep == stats::other) return error(404, "Not Found: invalid request method or path", 404);
    if (ep == stats::files)
    {
        api_answer a;
        a.content_type = "audio/mpeg";
        a.body = std::string("ID3\x03\x00\x00\x00\x00\x00\x00", 10) + "kiemidi emulator stand-in stem " + std::string(path.substr(7));
        return a;
    }
    // KIE checks the key on every API call.
    constexpr std::string_view bearer = "Bearer ";
    auto auth = req.authorization;
    const bool auth_ok = auth.size() == bearer.size() + opts_.api_key.size() && !opts_.api_key.empty() &&
                         boost::beast::iequals(std::string_view(auth).substr(0, bearer.size()), bearer) &&
                         // Like a real server: the comparison's time says nothing about the key.
                         kiemidi::detail::constant_time_equal(auth.substr(bearer.size()), opts_.api_key);
    if (!auth_ok) return error(401, "You do not have access permissions");

    switch (ep)
    {
    case stats::sep_generate: return separation_generate(req.body);
    case stats::midi_generate: return midi_generate(req.body);
    case stats::credit: return credit_info();
    default: break;
    }
    if (!task_id_param || task_id_param->empty()) return error(422, "taskId cannot be empty");
    const auto& id = *task_id_param;
    if (ep == stats::sep_info) return separation_info(id);
    if (ep == stats::midi_info) return midi_info(id);
    return music_info(id);
}

// ---- paid submissions -----------------------------------------------------------------------

std::optional<api_answer> model::parse_submission(std::string_view body, task_kind kind, submission& out) const
{
    const bool separation = kind == task_kind::separation;
    boost::system::error_code ec;
    auto jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return error(400, "Format Error: the request body is not valid JSON");
    const auto& o = jv.get_object();
    bool bad = false;
    auto task_id = string_member(o, "taskId", bad);
    out.audio_id = string_member(o, "audioId", bad);
    if (separation) out.type = string_member(o, "type", bad);
    auto cb = string_member(o, "callBackUrl", bad);
    if (bad)
        return error(422, separation ? "Parameter type error: taskId, audioId, type and callBackUrl must be strings"
                                     : "Parameter type error: taskId, audioId and callBackUrl must be strings");
    if (!task_id || task_id->empty()) return error(422, "taskId cannot be empty");
    // A separation names its track; a MIDI task without audioId transcribes every stem.
    if (separation && (!out.audio_id || out.audio_id->empty())) return error(422, "audioId cannot be empty");
    if (!cb || cb->empty()) return error(422, "callBackUrl cannot be empty");
    if (!valid_callback_url(*cb)) return error(422, "callBackUrl must be a valid http(s) URL");
    if (out.audio_id && out.audio_id->empty()) out.audio_id.reset();
    out.task_id = std::move(*task_id);
    out.callback_url = std::move(*cb);
    return std::nullopt;
}

// ---- separation -----------------------------------------------------------------------------

api_answer model::separation_generate(std::string_view body)
{
    submission sub;
    if (auto refusal = parse_submission(body, task_kind::separation, sub)) return std::move(*refusal);
    const auto& task_id = sub.task_id;
    const auto& audio_id = *sub.audio_id;
    if (sub.type && *sub.type != "separate_vocal" && *sub.type != "split_stem")
        return error(422, "type must be separate_vocal or split_stem");
    if (!well_formed_id(task_id)) return error(422, "taskId is invalid");
    if (!well_formed_id(audio_id)) return error(422, "audioId is invalid");
    int music_index = -1;
    for (int i = 0; i < 2; ++i)
        if (music_track_id(opts_.seed, task_id, i) == audio_id) music_index = i;
    if (opts_.strict_music_ids && music_index < 0) return error(422, "audioId does not belong to the music task");
    const bool split = sub.type && *sub.type == "split_stem";

    separation_task t;
    t.id = new_task_id();
    t.music_task_id = task_id;
    t.music_id = audio_id;
    t.music_index = std::max(0, music_index);
    t.callback_url = sub.callback_url;
    t.split = split;
    t.create_ms = now_ms();
    t.stems = make_stems(opts_.seed, t.id, t.music_id, split);

    std::lock_guard lk(m_);
    api_answer refusal;
    if (!charge_locked(split ? opts_.split_stem_cost : opts_.separate_vocal_cost, refusal)) return refusal;
    for (auto& s : t.stems) s.url = stem_url(s, file_base_);
    ++sep_paid_[paid_key{task_id, audio_id}];
    ++stats_.tasks_created;
    api_answer a;
    a.body = submitted_body(t.id);
    a.completion = scheduled_completion{task_kind::separation, t.id, opts_.separation_delay};
    separations_.emplace(t.id, std::move(t));
    return a;
}

api_answer model::separation_info(std::string_view task_id)
{
    separation_task t;
    std::string file_base;
    {
        // copy out, render without holding the lock
        std::lock_guard lk(m_);
        auto it = separations_.find(std::string(task_id));
        if (it == separations_.end()) return unknown_task();
        ++it->second.info_reads;
        t = it->second;
        file_base = file_base_;
    }
    const auto f = faults();
    record_shape shape;
    shape.unknown_success_flag = t.info_reads <= f.unknown_success_flag_polls;
    shape.pending_success_flag_null = f.pending_success_flag_null;
    shape.music_index_negative = f.music_index_negative;
    shape.origin_data_null_id = f.origin_data_null_id;
    api_answer a;
    a.body = separation_record_body(t, file_base, shape);
    return a;
}

bool model::chinese_for(const std::string& task_id) const
{
    switch (opts_.dialect)
    {
    case callback_dialect::english: return false;
    case callback_dialect::chinese: return true;
    default: return (hash_text(opts_.seed, task_id + "|dialect") & 1) != 0;
    }
}

// ---- MIDI -----------------------------------------------------------------------------------

api_answer model::midi_generate(std::string_view body)
{
    submission sub;
    if (auto refusal = parse_submission(body, task_kind::midi, sub)) return std::move(*refusal);
    const auto& task_id = sub.task_id;
    const auto& audio_id = sub.audio_id;

    std::lock_guard lk(m_);
    auto it = separations_.find(task_id);
    if (it == separations_.end()) return error(422, "The vocal separation task does not exist: taskId " + task_id);
    const auto& sep = it->second;
    if (sep.flag == "PENDING") return error(422, "The vocal separation task has not completed yet");
    // CALLBACK_EXCEPTION: only the callback failed; the stems exist.
    if (sep.flag != "SUCCESS" && sep.flag != "CALLBACK_EXCEPTION")
        return error(422, "The vocal separation task failed; MIDI cannot be generated");
    if (audio_id && std::none_of(sep.stems.begin(), sep.stems.end(), [&](const stem_rec& s) { return s.id == *audio_id; }))
        return error(422, "audioId is not a stem of this vocal separation task");
    api_answer refusal;
    if (!charge_locked(opts_.midi_cost, refusal)) return refusal;
    ++midi_paid_[paid_key{task_id, audio_id.value_or("")}];
    ++stats_.tasks_created;

    midi_task t;
    // As in KIE's example, where the MIDI task carries the separation's id.
    t.id = opts_.midi_task_id_equals_separation || task_id == doc_task_id ? task_id : new_task_id();
    t.separation_id = task_id;
    t.audio_id = audio_id;
    t.callback_url = sub.callback_url;
    t.create_ms = now_ms();
    api_answer a;
    a.body = submitted_body(t.id);
    a.completion = scheduled_completion{task_kind::midi, t.id, opts_.midi_delay};
    if (faults().repeat_separation_callback_after_midi_submit)
    {
        // KIE repeats deliveries: the separation's callback once more, after this answer.
        bool loopback = false;
        if (parse_loopback_url(sep.callback_url, loopback) && loopback)
            a.after_answer = callback_job{sep.callback_url, separation_callback_body(sep, chinese_for(sep.id)), sep.id};
    }
    midis_.insert_or_assign(t.id, std::move(t));
    return a;
}

api_answer model::midi_info(std::string_view task_id)
{
    midi_task t;
    {
        // copy out (the note data is shared, not copied), render without holding the lock
        std::lock_guard lk(m_);
        auto it = midis_.find(std::string(task_id));
        if (it == midis_.end()) return unknown_task();
        ++it->second.info_reads;
        t = it->second;
    }
    const auto f = faults();
    record_shape shape;
    shape.unknown_success_flag = t.info_reads <= f.unknown_success_flag_polls;
    shape.pending_success_flag_null = f.pending_success_flag_null;
    api_answer a;
    a.body = midi_record_body(t, shape);
    return a;
}

// ---- completion -----------------------------------------------------------------------------

std::optional<callback_job> model::complete(task_kind kind, const std::string& task_id)
{
    const auto f = faults();
    callback_job job;
    if (kind == task_kind::separation)
    {
        {
            std::lock_guard lk(m_);
            auto it = separations_.find(task_id);
            if (it == separations_.end() || it->second.flag != "PENDING") return std::nullopt;
            auto& t = it->second;
            t.complete_ms = now_ms();
            if (hit(f.separation_failure_rate))
            {
                t.flag = (hash_text(opts_.seed, t.id) & 1) ? "GENERATE_AUDIO_FAILED" : "CREATE_TASK_FAILED";
                t.error_message = t.flag == "CREATE_TASK_FAILED" ? "Task creation failed" : "Audio separation failed";
                ++stats_.tasks_failed;
            }
            else
            {
                t.flag = "SUCCESS";
                ++stats_.tasks_completed;
                if (hit(f.callback_exception_rate))
                {
                    // The stems exist; what failed is the callback, which therefore never arrives.
                    t.flag = "CALLBACK_EXCEPTION";
                    ++stats_.callbacks_dropped;
                    return std::nullopt;
                }
            }
            job.url = t.callback_url;
            job.body = separation_callback_body(t, chinese_for(t.id));
        }
    }
    else
    {
        // Generating and rendering notes is the heavy part: done outside the lock.
        midi_task t;
        separation_task sep;
        {
            std::lock_guard lk(m_);
            auto it = midis_.find(task_id);
            if (it == midis_.end() || it->second.flag != 0) return std::nullopt;
            t = it->second;
            auto s = separations_.find(t.separation_id);
            if (s != separations_.end()) sep = s->second;
        }
        std::vector<instrument_data> instr;
        if (hit(f.midi_failure_rate))
        {
            t.flag = (hash_text(opts_.seed, t.id) & 1) ? 3 : 2;
            t.error_message = t.flag == 2 ? "Task creation failed" : "MIDI generation failed";
        }
        else
        {
            instr = make_midi(opts_.seed, sep, t.audio_id, opts_.split_stem_empty_midi_rate);
            if (hit(f.empty_midi_rate)) instr.clear();
            // What a client must repair or drop rather than reject the paid result.
            if (!instr.empty() && hit(f.odd_notes_rate)) add_odd_notes(instr);
            t.instruments_json = std::make_shared<const std::string>(instruments_json(instr, std::nullopt));
            t.flag = 1;
        }
        t.complete_ms = now_ms();
        job.url = t.callback_url;
        job.body = midi_callback_body(t, instr, chinese_for(t.id), hash_text(opts_.seed, t.id));
        std::lock_guard lk(m_);
        auto it = midis_.find(task_id);
        if (it == midis_.end() || it->second.flag != 0 || it->second.create_ms != t.create_ms) return std::nullopt;
        it->second = std::move(t);
        ++(it->second.flag == 1 ? stats_.tasks_completed : stats_.tasks_failed);
    }
    job.task_id = task_id;
    bool loopback = false;
    if (!parse_loopback_url(job.url, loopback) || !loopback)
    {
        ++stats_.callbacks_skipped;  // this emulator never sends traffic off the machine
        return std::nullopt;
    }
    if (hit(f.callback_drop_rate))
    {
        ++stats_.callbacks_dropped;
        return std::nullopt;
    }
    if (hit(f.callback_delay_rate))
    {
        ++stats_.callbacks_delayed;
        job.delay = f.callback_delay;
    }
    job.duplicate = hit(f.callback_duplicate_rate);
    job.reorder = hit(f.callback_reorder_rate);
    return job;
}

// ---- credits and music tasks ----------------------------------------------------------------

api_answer model::credit_info()
{
    std::lock_guard lk(m_);
    api_answer a;
    a.body = credit_body(credits_);
    return a;
}

api_answer model::music_info(std::string_view task_id)
{
    std::string base;
    {
        // Separation and MIDI ids are not music tasks (KIE answers data null on the wrong endpoint).
        std::lock_guard lk(m_);
        std::string key(task_id);
        if ((separations_.count(key) && key != doc_task_id) || midis_.count(key)) return unknown_task();
        base = file_base_;
    }
    if (!well_formed_id(task_id)) return unknown_task();
    api_answer a;
    a.body = music_record_body(task_id, base, opts_.seed);
    return a;
}

}  // namespace kiemidi::emulator::detail
