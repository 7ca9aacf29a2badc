// The emulator's KIE bodies, byte for byte, for a fixed seed: answers (errors, submissions,
// record-info in every state and with every shape fault), callbacks in both dialects and the
// counters. White-box (the model without sockets), so the bodies are reproducible: only the
// wall-clock createTime/completeTime values are masked. The golden values were captured from the
// emulator and pin its number formats (integers vs shortest round-trip doubles, start/end as
// strings in MIDI callbacks, velocity left out, musicIndex -1, null fields).
#include "emulator/model.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace json = boost::json;
namespace emu = kiemidi::emulator;
namespace det = kiemidi::emulator::detail;

namespace {

constexpr std::string_view key_header = "Bearer kie-emulator-key";

std::string mask_times(const std::string& body)
{
    static const std::regex times(R"re("(createTime|completeTime)":[0-9]+)re");
    return std::regex_replace(body, times, "\"$1\":T");
}

std::uint64_t fnv(const std::string& s)
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) { h ^= c; h *= 0x100000001b3ULL; }
    return h;
}

/// Small bodies verbatim; large ones (MIDI notes) and binary ones as their length and FNV-1a hash.
std::string golden_form(const std::string& body)
{
    if (body.size() <= 700 && std::none_of(body.begin(), body.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        return body;
    char buf[64];
    std::snprintf(buf, sizeof buf, "len=%zu fnv=%016llx", body.size(), static_cast<unsigned long long>(fnv(body)));
    return buf;
}

struct recorder
{
    std::vector<std::pair<std::string, std::string>> bodies;
    void add(std::string name, const std::string& body) { bodies.emplace_back(std::move(name), mask_times(body)); }
};

det::api_answer call(det::model& m, std::string_view method, const std::string& target, const std::string& body = {},
                     std::string_view auth = key_header)
{
    return m.handle(det::api_request{method, target, auth, body});
}

std::string task_of(const det::api_answer& a)
{
    return std::string(json::parse(a.body).at("data").at("taskId").as_string());
}

emu::emulator_options base_options(emu::callback_dialect dialect)
{
    emu::emulator_options o;
    o.seed = 7;
    o.dialect = dialect;
    o.split_stem_empty_midi_rate = 0;
    return o;
}

const std::string cb = "http://127.0.0.1:9/cb?x=1";

std::string sep_body(const std::string& task, const std::string& audio, const std::string& type)
{
    return R"({"taskId":")" + task + R"(","audioId":")" + audio + R"(","type":")" + type + R"(","callBackUrl":")" + cb + "\"}";
}

std::string midi_body(const std::string& task, const std::string& audio = {})
{
    std::string b = R"({"taskId":")" + task + "\"";
    if (!audio.empty()) b += R"(,"audioId":")" + audio + "\"";
    return b + R"(,"callBackUrl":")" + cb + "\"}";
}

/// Runs every scenario in `dialect` and records the bodies in order.
void scenarios(recorder& r, emu::callback_dialect dialect)
{
    det::model m(base_options(dialect));
    m.set_file_base("http://127.0.0.1:8080/files/");

    // errors and envelopes
    r.add("unauthorized", call(m, "GET", "/api/v1/chat/credit", {}, "Bearer nope").body);
    r.add("no such path", call(m, "GET", "/api/v1/nothing").body);
    r.add("not json", call(m, "POST", "/api/v1/vocal-removal/generate", "{nope").body);
    r.add("type error", call(m, "POST", "/api/v1/vocal-removal/generate", R"({"taskId":1})").body);
    r.add("bad type", call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("t1", "a1", "karaoke")).body);
    r.add("bad id", call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("t 1", "a1", "split_stem")).body);
    r.add("escaped msg", call(m, "POST", "/api/v1/midi/generate", midi_body(R"(q\"\\\n\t\u0001x)")).body);
    r.add("credit", call(m, "GET", "/api/v1/chat/credit").body);
    r.add("no task id", call(m, "GET", "/api/v1/vocal-removal/record-info?other=1").body);
    r.add("empty task id", call(m, "GET", "/api/v1/midi/record-info?taskId=").body);
    r.add("unknown task", call(m, "GET", "/api/v1/midi/record-info?x=1&taskId=nope").body);
    r.add("music info", call(m, "GET", "/api/v1/generate/record-info?taskId=music%2D1").body);
    r.add("music info doc", call(m, "GET", "/api/v1/generate/record-info?taskId=5c79****be8e").body);
    r.add("file", call(m, "GET", "/files/abc_Vocals.mp3").body);

    // separate_vocal: pending, callback, success
    const auto sv = call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-1", "audio-1", "separate_vocal"));
    r.add("sep submit", sv.body);
    const auto sv_id = task_of(sv);
    r.add("sep pending", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + sv_id).body);
    r.add("sep callback", m.complete(det::task_kind::separation, sv_id).value().body);
    r.add("sep success", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + sv_id + "&taskId=other").body);

    // split_stem with the record's shape faults
    const auto ss = call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-2", "audio-2", "split_stem"));
    const auto ss_id = task_of(ss);
    emu::fault_options f;
    f.pending_success_flag_null = true;
    m.set_faults(f);
    r.add("split pending null", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + ss_id).body);
    r.add("split callback", m.complete(det::task_kind::separation, ss_id).value().body);
    f.music_index_negative = true;
    f.origin_data_null_id = true;
    m.set_faults(f);
    r.add("split success odd", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + ss_id).body);
    f.unknown_success_flag_polls = 1000;
    m.set_faults(f);
    r.add("split weird flag", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + ss_id).body);
    m.set_faults({});

    // MIDI of the whole separation, with odd notes
    const auto mv = call(m, "POST", "/api/v1/midi/generate", midi_body(sv_id));
    r.add("midi submit", mv.body);
    const auto mv_id = task_of(mv);
    r.add("midi pending", call(m, "GET", "/api/v1/midi/record-info?taskId=" + mv_id).body);
    f = {};
    f.pending_success_flag_null = true;
    m.set_faults(f);
    r.add("midi pending null", call(m, "GET", "/api/v1/midi/record-info?taskId=" + mv_id).body);
    f.odd_notes_rate = 1;
    m.set_faults(f);
    r.add("midi callback odd", m.complete(det::task_kind::midi, mv_id).value().body);
    r.add("midi success odd", call(m, "GET", "/api/v1/midi/record-info?taskId=" + mv_id).body);
    r.add("midi notes odd", m.midi_notes_json(mv_id));
    f = {};
    f.unknown_success_flag_polls = 1000;
    m.set_faults(f);
    r.add("midi weird flag", call(m, "GET", "/api/v1/midi/record-info?taskId=" + mv_id).body);
    m.set_faults({});

    // MIDI of one split stem
    const auto stem = std::string(json::parse(call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + ss_id).body)
                                      .at("data").at("response").at("originData").at(1).at("id").as_string());
    const auto ms = call(m, "POST", "/api/v1/midi/generate", midi_body(ss_id, stem));
    const auto ms_id = task_of(ms);
    r.add("midi stem callback", m.complete(det::task_kind::midi, ms_id).value().body);
    r.add("midi stem success", call(m, "GET", "/api/v1/midi/record-info?taskId=" + ms_id).body);
    r.add("midi not a stem", call(m, "POST", "/api/v1/midi/generate", midi_body(ss_id, "nope")).body);
    r.add("midi sep unknown", call(m, "POST", "/api/v1/midi/generate", midi_body("nope")).body);

    // failures
    f = {};
    f.separation_failure_rate = 1;
    f.midi_failure_rate = 1;
    m.set_faults(f);
    const auto sf_id = task_of(call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-3", "audio-3", "separate_vocal")));
    r.add("midi sep pending", call(m, "POST", "/api/v1/midi/generate", midi_body(sf_id)).body);
    r.add("sep failed callback", m.complete(det::task_kind::separation, sf_id).value().body);
    r.add("sep failed", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + sf_id).body);
    r.add("midi sep failed", call(m, "POST", "/api/v1/midi/generate", midi_body(sf_id)).body);
    const auto mf_id = task_of(call(m, "POST", "/api/v1/midi/generate", midi_body(sv_id)));
    r.add("midi failed callback", m.complete(det::task_kind::midi, mf_id).value().body);
    r.add("midi failed", call(m, "GET", "/api/v1/midi/record-info?taskId=" + mf_id).body);

    // empty MIDI result
    f = {};
    f.empty_midi_rate = 1;
    m.set_faults(f);
    const auto me_id = task_of(call(m, "POST", "/api/v1/midi/generate", midi_body(sv_id)));
    r.add("midi empty callback", m.complete(det::task_kind::midi, me_id).value().body);
    r.add("midi empty", call(m, "GET", "/api/v1/midi/record-info?taskId=" + me_id).body);
    m.set_faults({});

    m.set_credits(5);
    r.add("no credits", call(m, "POST", "/api/v1/midi/generate", midi_body(sv_id)).body);
    r.add("counters", m.counters_answer().body);
}

/// The same knobs on an emulator with the other option switches.
void option_scenarios(recorder& r)
{
    auto o = base_options(emu::callback_dialect::mixed);
    o.unknown_task_is_404 = true;
    o.error_http_status_mirrors_code = true;
    o.strict_music_ids = true;
    o.midi_task_id_equals_separation = true;
    o.insufficient_credits_code = 429;
    det::model m(o);
    m.set_file_base("http://127.0.0.1:8080/files/");
    r.add("404 unknown", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=nope").body);
    r.add("strict ids", call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-1", "audio-1", "split_stem")).body);
    const auto tracks = json::parse(call(m, "GET", "/api/v1/generate/record-info?taskId=music-1").body);
    const auto audio = std::string(tracks.at("data").at("response").at("sunoData").at(1).at("id").as_string());
    const auto s_id = task_of(call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-1", audio, "separate_vocal")));
    r.add("mixed sep callback", m.complete(det::task_kind::separation, s_id).value().body);
    r.add("same id midi", call(m, "POST", "/api/v1/midi/generate", midi_body(s_id)).body);
    r.add("mixed midi callback", m.complete(det::task_kind::midi, s_id).value().body);
    r.add("doc example midi", call(m, "POST", "/api/v1/midi/generate", midi_body("5c79****be8e", "8ca376e7-******-08aaf2c6dd27")).body);
    r.add("doc example sep", call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=3e63b4cc88d52611159371f6af5571e7").body);
    m.set_credits(0);
    r.add("no credits 429", call(m, "POST", "/api/v1/midi/generate", midi_body(s_id)).body);
}

/// A scenario's golden body; `chinese` is empty where both dialects answer alike.
struct dialect_golden
{
    std::string name;
    std::string english;
    std::string chinese = {};
};

// Every scenario's body in the english dialect and, where it differs, in the chinese one.
// clang-format off
const std::vector<dialect_golden> dialect_golden_values = {
    {"unauthorized", R"golden({"code":401,"msg":"You do not have access permissions","data":null})golden"},
    {"no such path", R"golden({"code":404,"msg":"Not Found: invalid request method or path","data":null})golden"},
    {"not json", R"golden({"code":400,"msg":"Format Error: the request body is not valid JSON","data":null})golden"},
    {"type error", R"golden({"code":422,"msg":"Parameter type error: taskId, audioId, type and callBackUrl must be strings","data":null})golden"},
    {"bad type", R"golden({"code":422,"msg":"type must be separate_vocal or split_stem","data":null})golden"},
    {"bad id", R"golden({"code":422,"msg":"taskId is invalid","data":null})golden"},
    {"escaped msg", R"golden({"code":422,"msg":"The vocal separation task does not exist: taskId q\"\\\n\t\u0001x","data":null})golden"},
    {"credit", R"golden({"code":200,"msg":"success","data":1000000})golden"},
    {"no task id", R"golden({"code":422,"msg":"taskId cannot be empty","data":null})golden"},
    {"empty task id", R"golden({"code":422,"msg":"taskId cannot be empty","data":null})golden"},
    {"unknown task", R"golden({"code":200,"msg":"success","data":null})golden"},
    {"music info", R"golden(len=1247 fnv=c35aa4a40acbe2ef)golden"},
    {"music info doc", R"golden(len=1257 fnv=c56f70521fe733e2)golden"},
    {"file", R"golden(len=55 fnv=d9bb1bda37f21d21)golden"},
    {"sep submit", R"golden({"code":200,"msg":"success","data":{"taskId":"6dce4c364a5b1f2e74b0347afc663453"}})golden"},
    {"sep pending", R"golden({"code":200,"msg":"success","data":{"taskId":"6dce4c364a5b1f2e74b0347afc663453","musicId":"audio-1","callbackUrl":"http://127.0.0.1:9/cb?x=1","musicIndex":0,"completeTime":null,"response":null,"successFlag":"PENDING","createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"sep callback", R"golden({"code":200,"msg":"vocal separation generated successfully.","data":{"task_id":"6dce4c364a5b1f2e74b0347afc663453","vocal_separation_info":{"origin_url":"","vocal_url":"http://127.0.0.1:8080/files/ec78f128-3de5-4340-b685-1fde43d6c26c_Vocals.mp3","instrumental_url":"http://127.0.0.1:8080/files/f646108e-48e8-4e97-3008-b92646302043_Instrumental.mp3"}}})golden",
     R"golden({"code":200,"msg":"vocal Removal generated successfully.","data":{"task_id":"6dce4c364a5b1f2e74b0347afc663453","vocal_removal_info":{"origin_url":"","vocal_url":"http://127.0.0.1:8080/files/ec78f128-3de5-4340-b685-1fde43d6c26c_Vocals.mp3","instrumental_url":"http://127.0.0.1:8080/files/f646108e-48e8-4e97-3008-b92646302043_Instrumental.mp3"}}})golden"},
    {"sep success", R"golden(len=1092 fnv=e649e02198a5171e)golden"},
    {"split pending null", R"golden({"code":200,"msg":"success","data":{"taskId":"ef774e08d13f0cbf9c9bd5ba83ec5f38","musicId":"audio-2","callbackUrl":"http://127.0.0.1:9/cb?x=1","musicIndex":0,"completeTime":null,"response":null,"successFlag":null,"createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"split callback", R"golden(len=781 fnv=a13dff1a43fd6379)golden",
     R"golden(len=775 fnv=d28eec16becc4517)golden"},
    {"split success odd", R"golden(len=2473 fnv=c02e0338a9735aa2)golden"},
    {"split weird flag", R"golden({"code":200,"msg":"success","data":{"taskId":"ef774e08d13f0cbf9c9bd5ba83ec5f38","musicId":"audio-2","callbackUrl":"http://127.0.0.1:9/cb?x=1","musicIndex":-1,"completeTime":T,"response":null,"successFlag":"WEIRD","createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"midi submit", R"golden({"code":200,"msg":"success","data":{"taskId":"4be87146d37dd22adb6a9dc466bc91a4"}})golden"},
    {"midi pending", R"golden({"code":200,"msg":"success","data":{"taskId":"4be87146d37dd22adb6a9dc466bc91a4","recordTaskId":-1,"audioId":"","callbackUrl":"http://127.0.0.1:9/cb?x=1","completeTime":null,"midiData":null,"successFlag":0,"createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"midi pending null", R"golden({"code":200,"msg":"success","data":{"taskId":"4be87146d37dd22adb6a9dc466bc91a4","recordTaskId":-1,"audioId":"","callbackUrl":"http://127.0.0.1:9/cb?x=1","completeTime":null,"midiData":null,"successFlag":null,"createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"midi callback odd", R"golden(len=135808 fnv=b1041b2d41363886)golden",
     R"golden(len=135807 fnv=0026dfa02e579d0b)golden"},
    {"midi success odd", R"golden(len=133616 fnv=f5141992ecfa3b32)golden"},
    {"midi notes odd", R"golden(len=133330 fnv=f64c7c83bda3fa5f)golden"},
    {"midi weird flag", R"golden({"code":200,"msg":"success","data":{"taskId":"4be87146d37dd22adb6a9dc466bc91a4","recordTaskId":-1,"audioId":"","callbackUrl":"http://127.0.0.1:9/cb?x=1","completeTime":T,"midiData":null,"successFlag":4,"createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"midi stem callback", R"golden(len=139639 fnv=daf428b1a846ee8a)golden",
     R"golden(len=139638 fnv=486513bafb6c9ac1)golden"},
    {"midi stem success", R"golden(len=137435 fnv=51ed111735cdb228)golden"},
    {"midi not a stem", R"golden({"code":422,"msg":"audioId is not a stem of this vocal separation task","data":null})golden"},
    {"midi sep unknown", R"golden({"code":422,"msg":"The vocal separation task does not exist: taskId nope","data":null})golden"},
    {"midi sep pending", R"golden({"code":422,"msg":"The vocal separation task has not completed yet","data":null})golden"},
    {"sep failed callback", R"golden({"code":500,"msg":"Vocal separation failed","data":{"task_id":"4f178c191cf3de79885af318b0633fb5","vocal_separation_info":null}})golden",
     R"golden({"code":500,"msg":"Vocal separation failed","data":{"task_id":"4f178c191cf3de79885af318b0633fb5","vocal_removal_info":null}})golden"},
    {"sep failed", R"golden({"code":200,"msg":"success","data":{"taskId":"4f178c191cf3de79885af318b0633fb5","musicId":"audio-3","callbackUrl":"http://127.0.0.1:9/cb?x=1","musicIndex":0,"completeTime":T,"response":null,"successFlag":"CREATE_TASK_FAILED","createTime":T,"errorCode":500,"errorMessage":"Task creation failed"}})golden"},
    {"midi sep failed", R"golden({"code":422,"msg":"The vocal separation task failed; MIDI cannot be generated","data":null})golden"},
    {"midi failed callback", R"golden({"task_id":"65d41b89c839b3b44fbfe095d7951d59","code":500,"msg":"MIDI generation failed","data":null})golden",
     R"golden({"code":500,"msg":"MIDI generation failed","data":{"taskId":"65d41b89c839b3b44fbfe095d7951d59"}})golden"},
    {"midi failed", R"golden({"code":200,"msg":"success","data":{"taskId":"65d41b89c839b3b44fbfe095d7951d59","recordTaskId":-1,"audioId":"","callbackUrl":"http://127.0.0.1:9/cb?x=1","completeTime":T,"midiData":null,"successFlag":3,"createTime":T,"errorCode":500,"errorMessage":"MIDI generation failed"}})golden"},
    {"midi empty callback", R"golden({"task_id":"ea5ea730536c852fb5d4f5bc6eba1abe","code":200,"msg":"success","data":{"state":"complete","instruments":[]}})golden",
     R"golden({"code":200,"msg":"success","data":{"state":"complete","taskId":"ea5ea730536c852fb5d4f5bc6eba1abe","instruments":[]}})golden"},
    {"midi empty", R"golden({"code":200,"msg":"success","data":{"taskId":"ea5ea730536c852fb5d4f5bc6eba1abe","recordTaskId":-1,"audioId":"","callbackUrl":"http://127.0.0.1:9/cb?x=1","completeTime":T,"midiData":{"state":"complete","instruments":[]},"successFlag":1,"createTime":T,"errorCode":null,"errorMessage":null}})golden"},
    {"no credits", R"golden({"code":402,"msg":"Insufficient credits","data":null})golden"},
    {"counters", R"golden({"requests":{"GET /api/v1/chat/credit":2,"GET /api/v1/generate/record-info":2,"GET /api/v1/midi/record-info":9,"GET /api/v1/vocal-removal/record-info":8,"GET /files":1,"POST /api/v1/midi/generate":10,"POST /api/v1/vocal-removal/generate":7,"other":1},"tcp_connections_accepted":0,"tls_connections_accepted":0,"callbacks_sent":0,"callbacks_failed":0,"tasks_created":7,"tasks_completed":5,"tasks_failed":2,"duplicate_paid_submissions":2,"garbled_after_processing":0,"paid_separation_submissions":3,"paid_midi_submissions":4,"open_connections":0,"credits":5})golden"},
};

// The option scenarios' bodies.
const std::vector<std::pair<std::string, std::string>> option_golden_values = {
    {"404 unknown", R"golden({"code":404,"msg":"Task not found","data":null})golden"},
    {"strict ids", R"golden({"code":422,"msg":"audioId does not belong to the music task","data":null})golden"},
    {"mixed sep callback", R"golden({"code":200,"msg":"vocal separation generated successfully.","data":{"task_id":"6dce4c364a5b1f2e74b0347afc663453","vocal_separation_info":{"origin_url":"","vocal_url":"http://127.0.0.1:8080/files/ec78f128-3de5-4340-b685-1fde43d6c26c_Vocals.mp3","instrumental_url":"http://127.0.0.1:8080/files/f646108e-48e8-4e97-3008-b92646302043_Instrumental.mp3"}}})golden"},
    {"same id midi", R"golden({"code":200,"msg":"success","data":{"taskId":"6dce4c364a5b1f2e74b0347afc663453"}})golden"},
    {"mixed midi callback", R"golden(len=122578 fnv=df35443e4cdac178)golden"},
    {"doc example midi", R"golden({"code":200,"msg":"success","data":{"taskId":"5c79****be8e"}})golden"},
    {"doc example sep", R"golden(len=1155 fnv=00cfd236b62653d4)golden"},
    {"no credits 429", R"golden({"code":429,"msg":"Insufficient credits. Please top up your account to continue.","data":null})golden"},
};
// clang-format on

/// The bodies in the order the test records them: both dialects, then the option scenarios.
std::vector<std::pair<std::string, std::string>> all_golden_values()
{
    std::vector<std::pair<std::string, std::string>> all;
    for (const auto& g : dialect_golden_values) all.emplace_back(g.name, g.english);
    for (const auto& g : dialect_golden_values) all.emplace_back(g.name, g.chinese.empty() ? g.english : g.chinese);
    all.insert(all.end(), option_golden_values.begin(), option_golden_values.end());
    return all;
}

const std::vector<std::pair<std::string, std::string>> golden = all_golden_values();

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_bodies)

BOOST_AUTO_TEST_CASE(bodies_match_the_golden_values, *boost::unit_test::timeout(60))
{
    recorder r;
    scenarios(r, emu::callback_dialect::english);
    scenarios(r, emu::callback_dialect::chinese);
    option_scenarios(r);
    std::string regenerated;
    BOOST_TEST(r.bodies.size() == golden.size());
    for (std::size_t i = 0; i < r.bodies.size(); ++i)
    {
        const auto actual = golden_form(r.bodies[i].second);
        regenerated += "    {\"" + r.bodies[i].first + "\", R\"golden(" + actual + ")golden\"},\n";
        if (i >= golden.size()) continue;
        BOOST_TEST_CONTEXT(r.bodies[i].first)
        {
            BOOST_TEST(r.bodies[i].first == golden[i].first);
            BOOST_TEST(actual == golden[i].second);
        }
    }
    if (r.bodies.size() != golden.size()) BOOST_TEST_MESSAGE("golden values:\n" << regenerated);
}

// Field by field: the odd values the knobs exist for, as a client parses them.
BOOST_AUTO_TEST_CASE(odd_values_keep_their_json_types, *boost::unit_test::timeout(60))
{
    det::model m(base_options(emu::callback_dialect::english));
    m.set_file_base("http://127.0.0.1:8080/files/");
    const auto sep = task_of(call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-1", "audio-1", "separate_vocal")));
    BOOST_TEST_REQUIRE(m.complete(det::task_kind::separation, sep).has_value());
    emu::fault_options f;
    f.odd_notes_rate = 1;
    f.music_index_negative = true;
    f.origin_data_null_id = true;
    m.set_faults(f);

    const auto rec = json::parse(call(m, "GET", "/api/v1/vocal-removal/record-info?taskId=" + sep).body).at("data");
    BOOST_TEST(rec.at("musicIndex").as_int64() == -1);
    BOOST_TEST(rec.at("errorCode").is_null());
    BOOST_TEST(rec.at("response").at("pianoUrl").is_null());
    BOOST_TEST(rec.at("response").at("originData").at(0).at("id").is_null());
    BOOST_TEST(rec.at("response").at("originData").at(1).at("duration").is_double());

    const auto midi = task_of(call(m, "POST", "/api/v1/midi/generate", midi_body(sep)));
    const auto cb_body = m.complete(det::task_kind::midi, midi).value().body;
    const auto notes = json::parse(m.midi_notes_json(midi)).as_array().at(0).at("notes").as_array();
    BOOST_TEST(notes.at(0).at("velocity").is_int64());  // written "100", not "100.0"
    BOOST_TEST(notes.at(0).at("velocity").as_int64() == 100);
    BOOST_TEST(!notes.at(2).as_object().contains("velocity"));
    BOOST_TEST(notes.at(3).at("pitch").as_int64() == 200);
    BOOST_TEST(notes.at(4).at("start").as_double() == -0.05);
    const auto cb_notes = json::parse(cb_body).at("data").at("instruments").at(0).at("notes").as_array();
    bool string_start = false, number_start = false;
    for (const auto& n : cb_notes) (n.at("start").is_string() ? string_start : number_start) = true;
    BOOST_TEST(string_start);
    BOOST_TEST(number_start);
}

// Request targets: the taskId parameter is decoded ("%49" is "I", "+" a space, the first one
// counts), and a target RFC 3986 does not allow (a bad escape, a fragment, "|") is still read as sent.
BOOST_AUTO_TEST_CASE(query_strings_are_read_as_sent, *boost::unit_test::timeout(60))
{
    det::model m(base_options(emu::callback_dialect::english));
    m.set_file_base("http://127.0.0.1:8080/files/");
    const auto sep = task_of(call(m, "POST", "/api/v1/vocal-removal/generate", sep_body("music-1", "audio-1", "separate_vocal")));
    const std::string info = "/api/v1/vocal-removal/record-info?";
    auto data = [&](const std::string& query) { return json::parse(call(m, "GET", info + query).body).at("data"); };
    BOOST_TEST(data("task%49d=" + sep).at("taskId").as_string() == sep);
    BOOST_TEST(data("x=%zz&taskId=" + sep + "&taskId=other").at("taskId").as_string() == sep);
    BOOST_TEST(data("taskId=" + sep + "|").is_null());     // looked up as sent: unknown
    BOOST_TEST(data("taskId=" + sep + "#x").is_null());
    BOOST_TEST(data("taskId=%zz").is_null());
    BOOST_TEST(data("taskId=a+b").is_null());
    BOOST_TEST(json::parse(call(m, "GET", info + "taskId").body).at("code").as_int64() == 422);
    BOOST_TEST(json::parse(call(m, "GET", info + "taskId=%").body).at("data").is_null());
    BOOST_TEST(json::parse(call(m, "GET", "/api/v1/generate/record-info?taskId=a|b").body).at("data").is_null());
    BOOST_TEST(json::parse(call(m, "GET", "/api/v1/generate/record-info?taskId=music%2D1").body)
                   .at("data").at("taskId").as_string() == "music-1");
}

BOOST_AUTO_TEST_SUITE_END()
