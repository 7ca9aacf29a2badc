// The emulator's KIE model: request validation, credits, tasks, deterministic results and the
// JSON bodies of answers and callbacks, built from KIE's documented shapes. No I/O here.
#include "model.hpp"

#include "../crypto/crypto.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>
#include <thread>

namespace kiemidi::emulator::detail {

// ---------------------------------------------------------------------------------------------
// deterministic helpers

std::uint64_t mix64(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t hash_text(std::uint64_t seed, std::string_view text) noexcept
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) { h ^= c; h *= 0x100000001b3ULL; }
    return mix64(h ^ mix64(seed));
}

std::string number_text(double v)
{
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

namespace {

/// A small deterministic generator (splitmix64).
struct det_rng
{
    std::uint64_t s;
    std::uint64_t next() noexcept { s += 0x9e3779b97f4a7c15ULL; return mix64(s); }
    int range(int lo, int hi) noexcept { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
    double unit() noexcept { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
};

std::string hex(std::uint64_t v, int digits)
{
    static constexpr char d[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) { out[static_cast<std::size_t>(i)] = d[v & 15]; v >>= 4; }
    return out;
}

std::string uuid_from(std::uint64_t a, std::uint64_t b)
{
    std::string h = hex(a, 16) + hex(b, 16);
    h[12] = '4';  // looks like a v4 uuid
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string derived_uuid(std::uint64_t seed, std::string_view a, std::string_view b)
{
    std::string key;
    key.reserve(a.size() + b.size() + 1);
    key.append(a).push_back('|');
    key.append(b);
    auto h = hash_text(seed, key);
    return uuid_from(h, mix64(h ^ 0x5bd1e995ULL));
}

void append_quoted(std::string& out, std::string_view s)
{
    out.push_back('"');
    for (char c : s)
    {
        switch (c)
        {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20)
            {
                out += "\\u00";
                out += hex(static_cast<unsigned char>(c), 2);
            }
            else out.push_back(c);
        }
    }
    out.push_back('"');
}

std::string quoted(std::string_view s)
{
    std::string out;
    append_quoted(out, s);
    return out;
}

std::string opt_quoted(const std::optional<std::string>& s) { return s ? quoted(*s) : std::string("null"); }
std::string opt_int(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("null"); }

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// One kind of stem as KIE names it in record-info, callbacks and file names.
struct stem_kind
{
    const char* group;      // stem_type_group_name
    const char* file;       // file name suffix
    const char* camel;      // record-info url field
    const char* snake;      // callback url field
};
// Index 0/1: separate_vocal; 0 and 2..12: split_stem (up to 12 stems).
constexpr stem_kind stem_kinds[] = {
    {"Vocals", "_Vocals.mp3", "vocalUrl", "vocal_url"},
    {"Instrumental", "_Instrumental.mp3", "instrumentalUrl", "instrumental_url"},
    {"Backing Vocals", "_Backing_Vocals.mp3", "backingVocalsUrl", "backing_vocals_url"},
    {"Drums", "_Drums.mp3", "drumsUrl", "drums_url"},
    {"Bass", "_Bass.mp3", "bassUrl", "bass_url"},
    {"Guitar", "_Guitar.mp3", "guitarUrl", "guitar_url"},
    {"Keyboard", "_Keyboard.mp3", "keyboardUrl", "keyboard_url"},
    {"Percussion", "_Percussion.mp3", "percussionUrl", "percussion_url"},
    {"Strings", "_Strings.mp3", "stringsUrl", "strings_url"},
    {"Synth", "_Synth.mp3", "synthUrl", "synth_url"},
    {"FX", "_FX.mp3", "fxUrl", "fx_url"},
    {"Brass", "_Brass.mp3", "brassUrl", "brass_url"},
    {"Woodwinds", "_Woodwinds.mp3", "woodwindsUrl", "woodwinds_url"},
};
constexpr std::size_t vocals_kind = 0, instrumental_kind = 1;
// record-info url fields in KIE's order; pianoUrl is never filled (KIE's split has "Keyboard").
constexpr const char* url_fields[] = {"instrumentalUrl", "vocalUrl", "backingVocalsUrl", "drumsUrl", "bassUrl",
                                      "guitarUrl", "pianoUrl", "keyboardUrl", "percussionUrl", "stringsUrl",
                                      "synthUrl", "fxUrl", "brassUrl", "woodwindsUrl"};

/// General MIDI instruments a stem is transcribed to, with a plausible pitch range.
struct gm_instrument { const char* name; int lo; int hi; bool drums; };
constexpr gm_instrument gm_drums{"Drums", 35, 81, true};
constexpr gm_instrument gm_bass{"Electric Bass (finger)", 28, 55, false};
constexpr gm_instrument gm_piano{"Acoustic Grand Piano", 48, 84, false};
constexpr gm_instrument gm_guitar{"Electric Guitar (clean)", 40, 76, false};
constexpr gm_instrument gm_strings{"String Ensemble 1", 55, 88, false};
constexpr gm_instrument gm_voice{"Voice Oohs", 55, 79, false};
constexpr gm_instrument gm_choir{"Choir Aahs", 52, 76, false};
constexpr gm_instrument gm_brass{"Brass Section", 50, 77, false};
constexpr gm_instrument gm_flute{"Flute", 60, 96, false};
constexpr gm_instrument gm_lead{"Lead 2 (sawtooth)", 55, 84, false};
constexpr gm_instrument gm_pad{"Pad 3 (polysynth)", 48, 72, false};

std::vector<gm_instrument> instruments_for(std::size_t kind, det_rng& rng)
{
    switch (kind)
    {
    case vocals_kind: return {gm_voice};
    case instrumental_kind:
    {
        std::vector<gm_instrument> v{gm_drums, gm_bass, gm_piano};
        if (rng.next() % 3 != 0) v.push_back(gm_guitar);
        if (rng.next() % 2 == 0) v.push_back(gm_strings);
        return v;
    }
    case 2: return {gm_choir};
    case 3: return {gm_drums};
    case 4: return {gm_bass};
    case 5: return {gm_guitar};
    case 6: return {gm_piano};
    case 7: return {gm_drums};
    case 8: return {gm_strings};
    case 9: return {gm_lead};
    case 10: return {gm_pad};
    case 11: return {gm_brass};
    default: return {gm_flute};
    }
}

constexpr int drum_notes[] = {35, 36, 38, 40, 42, 44, 46, 49, 51, 61, 73};

std::vector<note_data> make_notes(const gm_instrument& gi, double duration, det_rng& rng)
{
    std::vector<note_data> notes;
    const int count = gi.drums ? rng.range(60, 140) : rng.range(30, 100);
    const int total_ticks = std::max(192, static_cast<int>(duration * 192.0));  // 1/192 s grid, like KIE's values
    const int mean_step = std::max(1, total_ticks / (count + 1));
    int tick = rng.range(0, mean_step);
    for (int i = 0; i < count && tick < total_ticks; ++i)
    {
        note_data n{};
        n.pitch = gi.drums ? drum_notes[rng.next() % std::size(drum_notes)] : rng.range(gi.lo, gi.hi);
        const int len = gi.drums ? rng.range(12, 60) : rng.range(24, 240);
        n.start = tick / 192.0;
        n.end = (tick + len) / 192.0;
        n.velocity = (gi.drums && rng.next() % 2 == 0) ? 1.0 : rng.range(40, 127) / 127.0;
        notes.push_back(n);
        tick += rng.range(mean_step / 2, mean_step + mean_step / 2 + 1);
    }
    return notes;
}

double duration_for(std::uint64_t seed, std::string_view audio_id)
{
    auto h = hash_text(seed, audio_id);
    return static_cast<double>(12000 + static_cast<int>(h % 18000)) / 100.0;  // 120.00 .. 299.99 s
}

bool well_formed_id(std::string_view id)
{
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '*';
    });
}

std::string percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i)
    {
        if (s[i] == '%' && i + 2 < s.size() && val(s[i + 1]) >= 0 && val(s[i + 2]) >= 0)
        {
            out.push_back(static_cast<char>(val(s[i + 1]) * 16 + val(s[i + 2])));
            i += 2;
        }
        else if (s[i] == '+') out.push_back(' ');
        else out.push_back(s[i]);
    }
    return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name)
{
    while (!query.empty())
    {
        auto amp = query.find('&');
        auto part = query.substr(0, amp);
        auto eq = part.find('=');
        if (percent_decode(part.substr(0, eq)) == name)
            return eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

/// A string member, or nullopt when absent or null; sets `bad` when present with another type.
std::optional<std::string> string_member(const boost::json::object& o, std::string_view key, bool& bad)
{
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) { bad = true; return std::nullopt; }
    return std::string(v->get_string());
}

bool valid_callback_url(std::string_view url)
{
    auto r = boost::urls::parse_absolute_uri(url);
    if (!r) return false;
    auto scheme = r->scheme();
    return (scheme == "http" || scheme == "https") && !r->host().empty();
}

// Example ids from KIE's documentation, pre-seeded so the documented requests work verbatim.
constexpr std::string_view doc_task_id = "5c79****be8e";
constexpr std::string_view doc_music_audio_id = "e231****-****-****-****-****8cadc7dc";
constexpr std::string_view doc_stem_id = "8ca376e7-******-08aaf2c6dd27";
constexpr std::string_view doc_sep_task_id = "3e63b4cc88d52611159371f6af5571e7";

std::string music_track_id(std::uint64_t seed, std::string_view music_task, int index)
{
    if (music_task == doc_task_id && index == 0) return std::string(doc_music_audio_id);
    return derived_uuid(seed, music_task, index == 0 ? "track-0" : "track-1");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// URL check for callbacks: only loopback targets are ever contacted.

std::optional<parsed_url> parse_loopback_url(std::string_view url, bool& is_loopback)
{
    is_loopback = false;
    auto r = boost::urls::parse_absolute_uri(url);
    if (!r) return std::nullopt;
    parsed_url out;
    if (r->scheme() == "https") out.tls = true;
    else if (r->scheme() != "http") return std::nullopt;
    out.port = r->has_port() ? std::string(r->port()) : (out.tls ? "443" : "80");
    out.target = std::string(r->encoded_path());
    if (out.target.empty()) out.target = "/";
    if (r->has_query()) { out.target += "?"; out.target += std::string(r->encoded_query()); }
    switch (r->host_type())
    {
    case boost::urls::host_type::ipv4:
        is_loopback = r->host_ipv4_address().to_bytes()[0] == 127;
        out.host = r->host_ipv4_address().to_string();
        break;
    case boost::urls::host_type::ipv6:
        is_loopback = r->host_ipv6_address().is_loopback();
        out.host = r->host_ipv6_address().to_string();
        break;
    case boost::urls::host_type::name:
    {
        std::string h = r->host_name();
        std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        is_loopback = (h == "localhost");
        out.server_name = h;
        out.host = is_loopback ? "127.0.0.1" : h;  // never resolved through DNS
        break;
    }
    default: return std::nullopt;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// stats

std::string_view stats::endpoint_key(endpoint e) noexcept
{
    switch (e)
    {
    case sep_generate: return "POST /api/v1/vocal-removal/generate";
    case sep_info: return "GET /api/v1/vocal-removal/record-info";
    case midi_generate: return "POST /api/v1/midi/generate";
    case midi_info: return "GET /api/v1/midi/record-info";
    case credit: return "GET /api/v1/chat/credit";
    case music_info: return "GET /api/v1/generate/record-info";
    case files: return "GET /files";
    default: return "other";
    }
}

void stats::count_response(int code, unsigned http_status)
{
    std::lock_guard lk(m_);
    ++by_code_[code];
    ++by_status_[http_status];
}

void stats::fill(counters& c) const
{
    for (std::size_t i = 0; i < endpoint_count; ++i)
        if (auto n = requests[i].load()) c.requests[std::string(endpoint_key(static_cast<endpoint>(i)))] = n;
    {
        std::lock_guard lk(m_);
        c.responses_by_code = by_code_;
        c.responses_by_http_status = by_status_;
    }
    c.tcp_connections_accepted = tcp_accepted;
    c.tls_connections_accepted = tls_accepted;
    c.tls_handshake_failures = tls_handshake_failures;
    c.open_connections = open_connections;
    c.connection_resets = connection_resets;
    c.slow_responses = slow_responses;
    c.rate_limited = rate_limited;
    c.garbled_after_processing = garbled_after_processing;
    c.callbacks_sent = callbacks_sent;
    c.callbacks_dropped = callbacks_dropped;
    c.callbacks_duplicated = callbacks_duplicated;
    c.callbacks_delayed = callbacks_delayed;
    c.callbacks_reordered = callbacks_reordered;
    c.callbacks_failed = callbacks_failed;
    c.callback_attempts = callback_attempts;
    c.callbacks_skipped_non_loopback = callbacks_skipped;
    c.tasks_created = tasks_created;
    c.tasks_completed = tasks_completed;
    c.tasks_failed = tasks_failed;
}

// ---------------------------------------------------------------------------------------------
// model

model::model(const emulator_options& opts) : opts_(opts), faults_(opts.faults), credits_(opts.initial_credits)
{
    seed_examples();
}

void model::seed_examples()
{
    // The MIDI doc's separation task: its Instrumental stem is the doc's audioId.
    separation_task a;
    a.id = std::string(doc_task_id);
    a.music_task_id = std::string(doc_task_id);
    a.music_id = std::string(doc_music_audio_id);
    a.callback_url = "https://api.example.com/callback";
    a.flag = "SUCCESS";
    a.create_ms = 1760335100000;
    a.complete_ms = 1760335190000;
    a.stems = make_stems(a.id, a.music_id, false);
    a.stems[1].id = std::string(doc_stem_id);
    separations_.emplace(a.id, a);

    // The separation-details doc's example task, with its stem ids.
    separation_task b;
    b.id = std::string(doc_sep_task_id);
    b.music_task_id = std::string(doc_sep_task_id);
    b.music_id = "376c687e-d439-42c1-b1e4-bcb43b095ec2";
    b.callback_url = "https://57312fc2e366.ngrok-free.app/api/v1/vocal-removal/test";
    b.flag = "SUCCESS";
    b.create_ms = 1753782854000;
    b.complete_ms = 1753782937000;
    b.stems = make_stems(b.id, b.music_id, false);
    b.stems[0].id = "3d7021c9-fa8b-4eda-91d1-3b9297ddb172";
    b.stems[1].id = "d92a13bf-c6f4-4ade-bb47-f69738435528";
    for (auto& s : b.stems) s.duration = 245.6;
    separations_.emplace(b.id, b);
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
    const auto c = snapshot();
    boost::json::object requests;
    for (const auto& [k, n] : c.requests) requests[k] = n;
    boost::json::object o;
    o["requests"] = std::move(requests);
    o["tcp_connections_accepted"] = c.tcp_connections_accepted;
    o["tls_connections_accepted"] = c.tls_connections_accepted;
    o["callbacks_sent"] = c.callbacks_sent;
    o["callbacks_failed"] = c.callbacks_failed;
    o["tasks_created"] = c.tasks_created;
    o["tasks_completed"] = c.tasks_completed;
    o["tasks_failed"] = c.tasks_failed;
    o["duplicate_paid_submissions"] = c.duplicate_paid_submissions();
    o["garbled_after_processing"] = c.garbled_after_processing;
    std::uint64_t paid_separations = 0, paid_midis = 0;
    for (const auto& [k, n] : c.separation_submissions) paid_separations += n;
    for (const auto& [k, n] : c.midi_submissions) paid_midis += n;
    o["paid_separation_submissions"] = paid_separations;
    o["paid_midi_submissions"] = paid_midis;
    o["open_connections"] = c.open_connections;
    o["credits"] = c.credits;
    api_answer a;
    a.body = boost::json::serialize(o);
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
    a.body = "{\"code\":" + std::to_string(code) + ",\"msg\":" + quoted(msg) + ",\"data\":null}";
    return a;
}

api_answer model::unknown_task() const
{
    if (opts_.unknown_task_is_404) return error(404, "Task not found");
    api_answer a;
    a.body = R"({"code":200,"msg":"success","data":null})";
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
    auto qpos = req.target.find('?');
    auto path = req.target.substr(0, qpos);
    auto query = qpos == std::string_view::npos ? std::string_view() : req.target.substr(qpos + 1);
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
        a = route(req, path, query, ep);
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
        a.body = R"({"code":500,"msg":"Server error, please try again later","data":null})";
    }
    else
        return;
    ++stats_.garbled_after_processing;
}

api_answer model::route(const api_request& req, std::string_view path, std::string_view query, stats::endpoint ep)
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
                         std::equal(bearer.begin(), bearer.end(), auth.begin(),
                                    [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) ==
                                                                std::tolower(static_cast<unsigned char>(y)); }) &&
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
    auto id = query_param(query, "taskId");
    if (!id || id->empty()) return error(422, "taskId cannot be empty");
    if (ep == stats::sep_info) return separation_info(*id);
    if (ep == stats::midi_info) return midi_info(*id);
    return music_info(*id);
}

// ---- separation -----------------------------------------------------------------------------

std::vector<model::stem_rec> model::make_stems(const std::string& task_id, const std::string& audio_id, bool split) const
{
    std::vector<stem_rec> stems;
    const double duration = duration_for(opts_.seed, audio_id);
    auto add = [&](std::size_t kind) {
        stems.push_back(stem_rec{derived_uuid(opts_.seed, task_id, stem_kinds[kind].group), kind, {}, duration});
    };
    if (!split)
    {
        add(vocals_kind);
        add(instrumental_kind);
        return stems;
    }
    // split_stem: vocals, drums and bass always; the other stems depend on the track.
    det_rng rng{hash_text(opts_.seed, audio_id + "|stems")};
    add(vocals_kind);
    for (std::size_t k = 2; k < std::size(stem_kinds); ++k)
        if (k == 3 || k == 4 || rng.next() % 10 < 6) add(k);
    return stems;
}

api_answer model::separation_generate(std::string_view body)
{
    boost::system::error_code ec;
    auto jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return error(400, "Format Error: the request body is not valid JSON");
    const auto& o = jv.get_object();
    bool bad = false;
    auto task_id = string_member(o, "taskId", bad);
    auto audio_id = string_member(o, "audioId", bad);
    auto type = string_member(o, "type", bad);
    auto cb = string_member(o, "callBackUrl", bad);
    if (bad) return error(422, "Parameter type error: taskId, audioId, type and callBackUrl must be strings");
    if (!task_id || task_id->empty()) return error(422, "taskId cannot be empty");
    if (!audio_id || audio_id->empty()) return error(422, "audioId cannot be empty");
    if (!cb || cb->empty()) return error(422, "callBackUrl cannot be empty");
    if (!valid_callback_url(*cb)) return error(422, "callBackUrl must be a valid http(s) URL");
    if (type && *type != "separate_vocal" && *type != "split_stem")
        return error(422, "type must be separate_vocal or split_stem");
    if (!well_formed_id(*task_id)) return error(422, "taskId is invalid");
    if (!well_formed_id(*audio_id)) return error(422, "audioId is invalid");
    int music_index = -1;
    for (int i = 0; i < 2; ++i)
        if (music_track_id(opts_.seed, *task_id, i) == *audio_id) music_index = i;
    if (opts_.strict_music_ids && music_index < 0) return error(422, "audioId does not belong to the music task");
    const bool split = type && *type == "split_stem";

    separation_task t;
    t.id = new_task_id();
    t.music_task_id = *task_id;
    t.music_id = *audio_id;
    t.music_index = std::max(0, music_index);
    t.callback_url = *cb;
    t.split = split;
    t.create_ms = now_ms();
    t.stems = make_stems(t.id, t.music_id, split);

    std::lock_guard lk(m_);
    api_answer refusal;
    if (!charge_locked(split ? opts_.split_stem_cost : opts_.separate_vocal_cost, refusal)) return refusal;
    for (auto& s : t.stems) s.url = file_base_ + s.id + stem_kinds[s.kind].file;
    ++sep_paid_[paid_key{*task_id, *audio_id}];
    ++stats_.tasks_created;
    api_answer a;
    a.body = R"({"code":200,"msg":"success","data":{"taskId":)" + quoted(t.id) + "}}";
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
    const bool weird_flag = t.info_reads <= f.unknown_success_flag_polls;
    const bool has_stems = t.flag == "SUCCESS" || t.flag == "CALLBACK_EXCEPTION";
    std::string d;
    d.reserve(2048);
    d += R"({"code":200,"msg":"success","data":{"taskId":)" + quoted(t.id);
    d += ",\"musicId\":" + quoted(t.music_id);
    d += ",\"callbackUrl\":" + quoted(t.callback_url);
    d += ",\"musicIndex\":" + std::to_string(f.music_index_negative ? -1 : t.music_index);
    d += ",\"completeTime\":" + opt_int(t.complete_ms);
    d += ",\"response\":";
    if (!has_stems || weird_flag) d += "null";
    else
    {
        d += R"({"id":null,"originUrl":null,"originData":[)";
        if (f.origin_data_null_id)
            d += "{\"duration\":" + number_text(t.stems.empty() ? 0.0 : t.stems[0].duration) + ",\"audio_url\":" +
                 quoted(file_base + "unnamed_Other.mp3") + R"(,"stem_type_group_name":"Other","id":null})" +
                 (t.stems.empty() ? "" : ",");
        for (std::size_t i = 0; i < t.stems.size(); ++i)
        {
            const auto& s = t.stems[i];
            const std::string url = s.url.empty() ? file_base + s.id + stem_kinds[s.kind].file : s.url;
            if (i) d += ',';
            d += "{\"duration\":" + number_text(s.duration) + ",\"audio_url\":" + quoted(url) +
                 ",\"stem_type_group_name\":" + quoted(stem_kinds[s.kind].group) + ",\"id\":" + quoted(s.id) + "}";
        }
        d += ']';
        for (const char* field : url_fields)
        {
            d += ",\"";
            d += field;
            d += "\":";
            auto st = std::find_if(t.stems.begin(), t.stems.end(),
                                   [&](const stem_rec& s) { return std::string_view(stem_kinds[s.kind].camel) == field; });
            if (st == t.stems.end()) d += "null";
            else d += quoted(st->url.empty() ? file_base + st->id + stem_kinds[st->kind].file : st->url);
        }
        d += '}';
    }
    if (weird_flag) d += R"(,"successFlag":"WEIRD")";
    else if (t.flag == "PENDING" && f.pending_success_flag_null) d += R"(,"successFlag":null)";
    else d += ",\"successFlag\":" + quoted(t.flag);
    d += ",\"createTime\":" + std::to_string(t.create_ms);
    d += ",\"errorCode\":" + std::string(t.error_message ? "500" : "null");
    d += ",\"errorMessage\":" + opt_quoted(t.error_message);
    d += "}}";
    api_answer a;
    a.body = std::move(d);
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

std::string model::separation_callback_body(const separation_task& t) const
{
    const bool zh = chinese_for(t.id);
    const char* info_key = zh ? "vocal_removal_info" : "vocal_separation_info";
    std::string b;
    if (t.flag != "SUCCESS")
    {
        b = R"({"code":500,"msg":"Vocal separation failed","data":{"task_id":)" + quoted(t.id) + ",\"" + info_key + "\":null}}";
        return b;
    }
    b = "{\"code\":200,\"msg\":";
    b += zh ? "\"vocal Removal generated successfully.\"" : "\"vocal separation generated successfully.\"";
    b += ",\"data\":{\"task_id\":" + quoted(t.id) + ",\"" + info_key + "\":{\"origin_url\":\"\"";
    for (const auto& s : t.stems)
    {
        b += ",\"";
        b += stem_kinds[s.kind].snake;
        b += "\":" + quoted(s.url);
    }
    b += "}}}";
    return b;
}

// ---- MIDI -----------------------------------------------------------------------------------

std::vector<instrument_data> model::make_midi(const separation_task& sep, const std::optional<std::string>& audio_id) const
{
    std::vector<instrument_data> out;
    std::vector<const stem_rec*> stems;
    for (const auto& s : sep.stems)
        if (!audio_id || s.id == *audio_id) stems.push_back(&s);
    for (const auto* s : stems)
    {
        det_rng rng{hash_text(opts_.seed, sep.id + "|" + s->id + "|midi")};
        if (sep.split && rng.unit() < opts_.split_stem_empty_midi_rate) continue;  // KIE: may be empty after split_stem
        for (const auto& gi : instruments_for(s->kind, rng))
        {
            auto notes = make_notes(gi, s->duration, rng);
            auto same = std::find_if(out.begin(), out.end(), [&](const instrument_data& i) { return i.name == gi.name; });
            if (same == out.end()) out.push_back(instrument_data{gi.name, std::move(notes)});
            else
            {
                same->notes.insert(same->notes.end(), notes.begin(), notes.end());
                std::stable_sort(same->notes.begin(), same->notes.end(),
                                 [](const note_data& x, const note_data& y) { return x.start < y.start; });
            }
        }
    }
    return out;
}

namespace {

/// `[{"name":..,"notes":[..]},..]`; with `task_seed`, some start/end values are written as strings
/// (KIE's MIDI callback mixes both within one body).
std::string instruments_json(const std::vector<instrument_data>& instr, std::optional<std::uint64_t> task_seed)
{
    std::string s;
    s.reserve(64 * 1024);
    s += '[';
    for (std::size_t i = 0; i < instr.size(); ++i)
    {
        if (i) s += ',';
        s += "{\"name\":" + quoted(instr[i].name) + ",\"notes\":[";
        for (std::size_t n = 0; n < instr[i].notes.size(); ++n)
        {
            const auto& nd = instr[i].notes[n];
            const auto h = task_seed ? mix64(*task_seed + i * 100003 + n) : 0;
            const bool start_str = task_seed && h % 4 == 0, end_str = task_seed && h % 2 == 0;
            if (n) s += ',';
            s += "{\"pitch\":" + std::to_string(nd.pitch) + ",\"start\":";
            s += start_str ? quoted(number_text(nd.start)) : number_text(nd.start);
            s += ",\"end\":";
            s += end_str ? quoted(number_text(nd.end)) : number_text(nd.end);
            if (!std::isnan(nd.velocity)) s += ",\"velocity\":" + number_text(nd.velocity);
            s += '}';
        }
        s += "]}";
    }
    s += ']';
    return s;
}

}  // namespace

std::string model::midi_callback_body(const midi_task& t, const std::vector<instrument_data>& instr) const
{
    const bool zh = chinese_for(t.id);
    if (t.flag != 1)
    {
        if (zh) return R"({"code":500,"msg":"MIDI generation failed","data":{"taskId":)" + quoted(t.id) + "}}";
        return "{\"task_id\":" + quoted(t.id) + R"(,"code":500,"msg":"MIDI generation failed","data":null})";
    }
    auto notes = instruments_json(instr, hash_text(opts_.seed, t.id));
    if (zh)
        return R"({"code":200,"msg":"success","data":{"state":"complete","taskId":)" + quoted(t.id) +
               ",\"instruments\":" + notes + "}}";
    return "{\"task_id\":" + quoted(t.id) + R"(,"code":200,"msg":"success","data":{"state":"complete","instruments":)" +
           notes + "}}";
}

api_answer model::midi_generate(std::string_view body)
{
    boost::system::error_code ec;
    auto jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) return error(400, "Format Error: the request body is not valid JSON");
    const auto& o = jv.get_object();
    bool bad = false;
    auto task_id = string_member(o, "taskId", bad);
    auto audio_id = string_member(o, "audioId", bad);
    auto cb = string_member(o, "callBackUrl", bad);
    if (bad) return error(422, "Parameter type error: taskId, audioId and callBackUrl must be strings");
    if (!task_id || task_id->empty()) return error(422, "taskId cannot be empty");
    if (!cb || cb->empty()) return error(422, "callBackUrl cannot be empty");
    if (!valid_callback_url(*cb)) return error(422, "callBackUrl must be a valid http(s) URL");
    if (audio_id && audio_id->empty()) audio_id.reset();

    std::lock_guard lk(m_);
    auto it = separations_.find(*task_id);
    if (it == separations_.end()) return error(422, "The vocal separation task does not exist: taskId " + *task_id);
    const auto& sep = it->second;
    if (sep.flag == "PENDING") return error(422, "The vocal separation task has not completed yet");
    // CALLBACK_EXCEPTION: only the callback failed; the stems exist.
    if (sep.flag != "SUCCESS" && sep.flag != "CALLBACK_EXCEPTION")
        return error(422, "The vocal separation task failed; MIDI cannot be generated");
    if (audio_id && std::none_of(sep.stems.begin(), sep.stems.end(), [&](const stem_rec& s) { return s.id == *audio_id; }))
        return error(422, "audioId is not a stem of this vocal separation task");
    api_answer refusal;
    if (!charge_locked(opts_.midi_cost, refusal)) return refusal;
    ++midi_paid_[paid_key{*task_id, audio_id.value_or("")}];
    ++stats_.tasks_created;

    midi_task t;
    // As in KIE's example, where the MIDI task carries the separation's id.
    t.id = opts_.midi_task_id_equals_separation || *task_id == doc_task_id ? *task_id : new_task_id();
    t.separation_id = *task_id;
    t.audio_id = audio_id;
    t.callback_url = *cb;
    t.create_ms = now_ms();
    api_answer a;
    a.body = R"({"code":200,"msg":"success","data":{"taskId":)" + quoted(t.id) + "}}";
    a.completion = scheduled_completion{task_kind::midi, t.id, opts_.midi_delay};
    if (faults().repeat_separation_callback_after_midi_submit)
    {
        // KIE repeats deliveries: the separation's callback once more, after this answer.
        bool loopback = false;
        if (parse_loopback_url(sep.callback_url, loopback) && loopback)
            a.after_answer = callback_job{sep.callback_url, separation_callback_body(sep), sep.id};
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
    const bool weird_flag = t.info_reads <= f.unknown_success_flag_polls;
    std::string d;
    d.reserve((t.instruments_json ? t.instruments_json->size() : 0) + 512);
    d += R"({"code":200,"msg":"success","data":{"taskId":)" + quoted(t.id);
    d += ",\"recordTaskId\":-1";
    d += ",\"audioId\":" + quoted(t.audio_id.value_or(""));
    d += ",\"callbackUrl\":" + quoted(t.callback_url);
    d += ",\"completeTime\":" + opt_int(t.complete_ms);
    d += ",\"midiData\":";
    if (t.flag == 1 && t.instruments_json && !weird_flag) d += R"({"state":"complete","instruments":)" + *t.instruments_json + "}";
    else d += "null";
    if (weird_flag) d += R"(,"successFlag":4)";
    else if (t.flag == 0 && f.pending_success_flag_null) d += R"(,"successFlag":null)";
    else d += ",\"successFlag\":" + std::to_string(t.flag);
    d += ",\"createTime\":" + std::to_string(t.create_ms);
    d += ",\"errorCode\":" + std::string(t.error_message ? "500" : "null");
    d += ",\"errorMessage\":" + opt_quoted(t.error_message);
    d += "}}";
    api_answer a;
    a.body = std::move(d);
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
            job.body = separation_callback_body(t);
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
            instr = make_midi(sep, t.audio_id);
            if (hit(f.empty_midi_rate)) instr.clear();
            if (!instr.empty() && hit(f.odd_notes_rate))
            {
                // What a client must repair or drop rather than reject the paid result.
                const double nan = std::numeric_limits<double>::quiet_NaN();
                const note_data odd[] = {{60, 0.5, 0.75, 100.0}, {62, 1.0, 1.0, 0.5}, {64, 1.25, 1.5, nan},
                                         {200, 1.5, 1.75, 0.5}, {65, -0.05, 0.25, 0.5}};
                auto& notes = instr.front().notes;
                notes.insert(notes.begin(), std::begin(odd), std::end(odd));
            }
            t.instruments_json = std::make_shared<const std::string>(instruments_json(instr, std::nullopt));
            t.flag = 1;
        }
        t.complete_ms = now_ms();
        job.url = t.callback_url;
        job.body = midi_callback_body(t, instr);
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
    a.body = R"({"code":200,"msg":"success","data":)" + std::to_string(credits_) + "}";
    return a;
}

api_answer model::music_info(std::string_view task_id)
{
    {
        // Separation and MIDI ids are not music tasks (KIE answers data null on the wrong endpoint).
        std::lock_guard lk(m_);
        std::string key(task_id);
        if ((separations_.count(key) && key != doc_task_id) || midis_.count(key)) return unknown_task();
    }
    if (!well_formed_id(task_id)) return unknown_task();
    const std::string id(task_id);
    std::string d = R"({"code":200,"msg":"success","data":{"taskId":)" + quoted(id);
    d += R"(,"parentMusicId":"","param":)" + quoted(R"({"prompt":"A calm piano track","customMode":false,"instrumental":false,"model":"V3_5"})");
    d += R"(,"response":{"taskId":)" + quoted(id) + ",\"sunoData\":[";
    std::string base;
    {
        std::lock_guard lk(m_);
        base = file_base_;
    }
    for (int i = 0; i < 2; ++i)
    {
        auto aid = music_track_id(opts_.seed, id, i);
        if (i) d += ',';
        d += "{\"id\":" + quoted(aid) + ",\"audioUrl\":" + quoted(base + aid + ".mp3") +
             ",\"streamAudioUrl\":" + quoted(base + aid + "_stream") + ",\"imageUrl\":" + quoted(base + aid + ".jpeg") +
             R"(,"prompt":"[Verse] Night city lights","modelName":"chirp-v3-5","title":"Emulated Track )" +
             std::to_string(i + 1) + R"(","tags":"electrifying, rock","createTime":"2025-01-01 00:00:00","duration":)" +
             number_text(duration_for(opts_.seed, aid)) + "}";
    }
    d += R"(]},"status":"SUCCESS","type":"GENERATE","errorCode":null,"errorMessage":null}})";
    api_answer a;
    a.body = std::move(d);
    return a;
}

}  // namespace kiemidi::emulator::detail
