// kiemidi::emulator::server: endpoints, task lifecycle, record-info shapes, auth, validation,
// credits and the documented examples, over real sockets on 127.0.0.1.
#include "common/emulator_fixture.hpp"

#include <regex>
#include <set>

namespace asio = boost::asio;

using namespace kiemidi::test;

namespace {

emu::emulator_options fast_options()
{
    emu::emulator_options o;
    o.separation_delay = 150ms;
    o.midi_delay = 150ms;
    return o;
}

bool is_task_id(std::string_view id) { return std::regex_match(std::string(id), std::regex("[0-9a-f]{32}")); }

/// Submits a separation, checks the pending record, waits for the callback and returns the success record.
asio::awaitable<json::value> separate(raw_client& cli, callback_receiver& rx, const std::string& type,
                                      const std::string& music = "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                                      const std::string& audio = "11111111-2222-4333-8444-555555555555")
{
    auto r = co_await cli.request(post_json("/api/v1/vocal-removal/generate", separation_body(music, audio, type, rx.url())));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.code() == 200);
    const auto task = str(r.json().at("data").at("taskId"));
    BOOST_TEST(is_task_id(task));

    auto pending = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=" + task));
    const auto pd = pending.json().at("data");
    BOOST_TEST(str(pd.at("successFlag")) == "PENDING");
    BOOST_TEST(pd.at("response").is_null());
    BOOST_TEST(pd.at("completeTime").is_null());
    BOOST_TEST(pd.at("createTime").is_int64());
    BOOST_TEST(str(pd.at("musicId")) == audio);
    BOOST_TEST(str(pd.at("callbackUrl")) == rx.url());

    auto cb = co_await rx.next();
    BOOST_TEST(cb.target == "/callback");
    BOOST_TEST(cb.headers["content-type"] == "application/json");
    const auto cbj = cb.json();
    BOOST_TEST(cbj.at("code").as_int64() == 200);
    BOOST_TEST(str(cbj.at("msg")) == "vocal separation generated successfully.");
    BOOST_TEST(str(cbj.at("data").at("task_id")) == task);
    const auto& info = cbj.at("data").at("vocal_separation_info").as_object();
    BOOST_TEST(str(info.at("origin_url")) == "");
    BOOST_TEST(info.at("vocal_url").is_string());

    auto done = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=" + task));
    co_return done.json();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_server)

BOOST_AUTO_TEST_CASE(separate_vocal_then_midi_completes_with_documented_shapes)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;

        auto rec = co_await separate(cli, rx, "separate_vocal");
        BOOST_TEST(rec.at("code").as_int64() == 200);
        const auto& d = rec.at("data");
        BOOST_TEST(str(d.at("successFlag")) == "SUCCESS");
        BOOST_TEST(d.at("completeTime").is_int64());
        BOOST_TEST(d.at("musicIndex").is_int64());
        BOOST_TEST(d.at("errorCode").is_null());
        BOOST_TEST(d.at("errorMessage").is_null());
        const auto& resp = d.at("response").as_object();
        BOOST_TEST(resp.at("id").is_null());
        BOOST_TEST(resp.at("originUrl").is_null());
        const auto& stems = resp.at("originData").as_array();
        BOOST_REQUIRE(stems.size() == 2u);
        BOOST_TEST(str(stems[0].at("stem_type_group_name")) == "Vocals");
        BOOST_TEST(str(stems[1].at("stem_type_group_name")) == "Instrumental");
        BOOST_TEST(stems[0].at("duration").is_double());
        const auto vocal_id = str(stems[0].at("id"));
        const auto instrumental_id = str(stems[1].at("id"));
        BOOST_TEST(str(stems[0].at("audio_url")).find(vocal_id) != std::string::npos);
        BOOST_TEST(str(stems[0].at("audio_url")).starts_with(srv.http_base_url() + "/files/"));
        BOOST_TEST(str(resp.at("vocalUrl")) == str(stems[0].at("audio_url")));
        BOOST_TEST(str(resp.at("instrumentalUrl")) == str(stems[1].at("audio_url")));
        for (const char* k : {"backingVocalsUrl", "drumsUrl", "bassUrl", "guitarUrl", "pianoUrl", "keyboardUrl", "percussionUrl",
                              "stringsUrl", "synthUrl", "fxUrl", "brassUrl", "woodwindsUrl"})
            BOOST_TEST(resp.at(k).is_null(), k);

        // the stem file URLs stay on the emulator
        auto file = co_await cli.request(get_path(str(resp.at("vocalUrl")).substr(srv.http_base_url().size()), std::nullopt));
        BOOST_TEST(file.status == 200u);
        BOOST_TEST(file.headers["content-type"] == "audio/mpeg");

        // MIDI from the instrumental stem
        const auto sep_task = str(d.at("taskId"));
        auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(sep_task, rx.url("/midi"), instrumental_id)));
        BOOST_TEST(m.code() == 200);
        const auto midi_task = str(m.json().at("data").at("taskId"));
        BOOST_TEST(is_task_id(midi_task));
        BOOST_TEST(midi_task != sep_task);

        auto pending = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=" + midi_task));
        const auto pd = pending.json().at("data");
        BOOST_TEST(pd.at("successFlag").as_int64() == 0);
        BOOST_TEST(pd.at("midiData").is_null());
        BOOST_TEST(pd.at("recordTaskId").as_int64() == -1);
        BOOST_TEST(str(pd.at("callbackUrl")) == rx.url("/midi"));
        BOOST_TEST(str(pd.at("audioId")) == instrumental_id);

        auto cb = co_await rx.next();
        BOOST_TEST(cb.target == "/midi");
        auto cbj = cb.json();
        BOOST_TEST(str(cbj.at("task_id")) == midi_task);
        BOOST_TEST(cbj.at("code").as_int64() == 200);
        BOOST_TEST(str(cbj.at("msg")) == "success");
        BOOST_TEST(str(cbj.at("data").at("state")) == "complete");
        std::size_t string_times = 0, cb_notes = 0;
        for (const auto& ins : cbj.at("data").at("instruments").as_array())
            for (const auto& n : ins.at("notes").as_array())
            {
                ++cb_notes;
                string_times += n.at("start").is_string() + n.at("end").is_string();
            }
        BOOST_TEST(string_times > 0u);  // KIE's callback mixes numbers and strings

        auto done = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=" + midi_task));
        const auto md = done.json().at("data");
        BOOST_TEST(md.at("successFlag").as_int64() == 1);
        BOOST_TEST(md.at("completeTime").is_int64());
        BOOST_TEST(str(md.at("midiData").at("state")) == "complete");
        std::set<std::string> names;
        std::size_t notes = 0;
        for (const auto& ins : md.at("midiData").at("instruments").as_array())
        {
            names.insert(str(ins.at("name")));
            for (const auto& n : ins.at("notes").as_array())
            {
                ++notes;
                const auto pitch = n.at("pitch").as_int64();
                const auto start = n.at("start").to_number<double>(), end = n.at("end").to_number<double>();
                const auto vel = n.at("velocity").to_number<double>();
                BOOST_TEST((pitch >= 0 && pitch <= 127));
                BOOST_TEST((start >= 0 && end > start));
                BOOST_TEST((vel > 0 && vel <= 1));
            }
        }
        BOOST_TEST(names.count("Drums") == 1u);
        BOOST_TEST(names.count("Electric Bass (finger)") == 1u);
        BOOST_TEST(names.count("Acoustic Grand Piano") == 1u);
        BOOST_TEST((notes >= 100 && notes <= 20000));  // a 2–5 minute song played on a beat grid
        BOOST_TEST(notes == cb_notes);

        auto c = srv.snapshot();
        BOOST_TEST(c.tasks_created == 2u);
        BOOST_TEST(c.tasks_completed == 2u);
        BOOST_TEST(c.callbacks_sent == 2u);
        BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);
        BOOST_TEST(c.requests_to("GET /api/v1/midi/record-info") == 2u);
        BOOST_TEST(c.tcp_connections_accepted == 1u);  // keep-alive
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(https_is_verified_against_the_emulator_ca)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::server srv(ioc.get_executor(), fast_options());
        srv.start();
        BOOST_TEST(srv.https_base_url() == "https://127.0.0.1:" + std::to_string(srv.https_port()));
        BOOST_TEST(srv.ca_certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        callback_receiver rx(ioc.get_executor());

        for (const char* host : {"localhost", "127.0.0.1"})
        {
            raw_client cli(ioc.get_executor(), srv.https_port(), srv.ca_certificate_pem(), host);
            auto credit = co_await cli.request(get_path("/api/v1/chat/credit"));
            BOOST_TEST(credit.code() == 200);
            BOOST_TEST(credit.json().at("data").is_int64());
        }
        raw_client cli(ioc.get_executor(), srv.https_port(), srv.ca_certificate_pem());
        auto rec = co_await separate(cli, rx, "separate_vocal");
        BOOST_TEST(str(rec.at("data").at("successFlag")) == "SUCCESS");

        // a client that does not trust the emulator's CA fails the handshake
        raw_client stranger(ioc.get_executor(), srv.https_port(), std::string(), "localhost");
        raw_response out;
        auto ec = co_await stranger.try_request(get_path("/api/v1/chat/credit"), out);
        BOOST_TEST(static_cast<bool>(ec));
        co_await wait_counters(srv, [](const emu::counters& c) { return c.tls_handshake_failures == 1; });
        BOOST_TEST(srv.snapshot().tls_connections_accepted == 4u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(wrong_or_missing_key_is_refused_with_401)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;
        for (std::optional<std::string> key : {std::optional<std::string>("wrong"), std::optional<std::string>()})
        {
            auto r = co_await cli.request(get_path("/api/v1/chat/credit", key));
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.body == R"({"code":401,"msg":"You do not have access permissions","data":null})");
            auto p = co_await cli.request(post_json("/api/v1/vocal-removal/generate",
                                                    separation_body("t1", "a1", "separate_vocal", "http://127.0.0.1:1/cb"), key));
            BOOST_TEST(p.code() == 401);
        }
        auto c = srv.snapshot();
        BOOST_TEST(c.tasks_created == 0u);
        BOOST_TEST(c.responses_with_code(401) == 4u);
        BOOST_TEST(c.credits == 1000000);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(invalid_requests_are_rejected_without_charge)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;
        const std::string cb = "http://127.0.0.1:9/cb";
        struct case_t { std::string target, body; std::int64_t code; };
        const std::vector<case_t> cases{
            {"/api/v1/vocal-removal/generate", "{not json", 400},
            {"/api/v1/vocal-removal/generate", R"({"audioId":"a","type":"separate_vocal","callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/vocal-removal/generate", R"({"taskId":"t","type":"separate_vocal","callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/vocal-removal/generate", R"({"taskId":"t","audioId":"a","type":"separate_vocal"})", 422},
            {"/api/v1/vocal-removal/generate", R"({"taskId":"t","audioId":"a","type":"karaoke","callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/vocal-removal/generate", R"({"taskId":7,"audioId":"a","type":"split_stem","callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/vocal-removal/generate", R"({"taskId":"t","audioId":"a","callBackUrl":"not a url"})", 422},
            {"/api/v1/midi/generate", "[1,2", 400},
            {"/api/v1/midi/generate", R"({"callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/midi/generate", R"({"taskId":"5c79****be8e"})", 422},
            {"/api/v1/midi/generate", R"({"taskId":"ffffffffffffffffffffffffffffffff","callBackUrl":")" + cb + "\"}", 422},
            {"/api/v1/midi/generate", R"({"taskId":"5c79****be8e","audioId":"not-a-stem","callBackUrl":")" + cb + "\"}", 422},
        };
        for (const auto& c : cases)
        {
            auto r = co_await cli.request(post_json(c.target, c.body));
            BOOST_TEST(r.status == 200u, c.body);
            BOOST_TEST(r.code() == c.code, c.body);
            BOOST_TEST(!std::string(r.json().at("msg").as_string()).empty());
            BOOST_TEST(r.json().at("data").is_null());
        }
        auto missing = co_await cli.request(get_path("/api/v1/vocal-removal/record-info"));
        BOOST_TEST(missing.code() == 422);
        auto c = srv.snapshot();
        BOOST_TEST(c.tasks_created == 0u);
        BOOST_TEST(c.credits == 1000000);
        BOOST_TEST(c.separation_submissions.empty());
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(midi_on_a_pending_separation_is_refused)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = fast_options();
        o.separation_delay = 5s;
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        auto r = co_await cli.request(post_json("/api/v1/vocal-removal/generate",
                                                separation_body("m1", "a1", "separate_vocal", "http://127.0.0.1:9/cb")));
        const auto task = str(r.json().at("data").at("taskId"));
        auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(task, "http://127.0.0.1:9/cb")));
        BOOST_TEST(m.code() == 422);
        BOOST_TEST(srv.snapshot().midi_submissions.empty());
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(unknown_tasks_answer_data_null_or_404)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        {
            emulator_under_test kie(ioc.get_executor(), fast_options());
            auto& [srv, cli] = kie;
            for (const char* ep : {"/api/v1/vocal-removal/record-info", "/api/v1/midi/record-info"})
            {
                auto r = co_await cli.request(get_path(std::string(ep) + "?taskId=0123456789abcdef0123456789abcdef"));
                BOOST_TEST(r.status == 200u);
                BOOST_TEST(r.body == R"({"code":200,"msg":"success","data":null})");
            }
            auto nf = co_await cli.request(get_path("/api/v1/nothing-here"));
            BOOST_TEST(nf.status == 404u);
            BOOST_TEST(nf.code() == 404);
            srv.stop();
        }
        {
            auto o = fast_options();
            o.unknown_task_is_404 = true;
            o.error_http_status_mirrors_code = true;
            emulator_under_test kie(ioc.get_executor(), o);
            auto& [srv, cli] = kie;
            auto r = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=0123456789abcdef0123456789abcdef"));
            BOOST_TEST(r.status == 404u);
            BOOST_TEST(r.code() == 404);
            BOOST_TEST(r.json().at("data").is_null());
            auto a = co_await cli.request(get_path("/api/v1/chat/credit", "nope"));
            BOOST_TEST(a.status == 401u);
            BOOST_TEST(a.code() == 401);
            srv.stop();
        }
    });
}

BOOST_AUTO_TEST_CASE(credits_decrease_per_paid_call_and_run_out_with_402)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = fast_options();
        o.initial_credits = 70;
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        auto credits = [&]() -> asio::awaitable<std::int64_t> {
            auto r = co_await cli.request(get_path("/api/v1/chat/credit"));
            BOOST_TEST(r.code() == 200);
            co_return r.json().at("data").as_int64();
        };
        const std::string cb = "http://127.0.0.1:9/cb";
        BOOST_TEST(co_await credits() == 70);
        auto s1 = co_await cli.request(post_json("/api/v1/vocal-removal/generate", separation_body("m1", "a1", "separate_vocal", cb)));
        BOOST_TEST(s1.code() == 200);
        BOOST_TEST(co_await credits() == 60);
        auto s2 = co_await cli.request(post_json("/api/v1/vocal-removal/generate", separation_body("m1", "a2", "split_stem", cb)));
        BOOST_TEST(s2.code() == 200);
        BOOST_TEST(co_await credits() == 10);
        auto m1 = co_await cli.request(post_json("/api/v1/midi/generate", midi_body("5c79****be8e", cb)));
        BOOST_TEST(m1.code() == 200);
        BOOST_TEST(co_await credits() == 0);
        auto s3 = co_await cli.request(post_json("/api/v1/vocal-removal/generate", separation_body("m1", "a3", "separate_vocal", cb)));
        BOOST_TEST(s3.body == R"({"code":402,"msg":"Insufficient credits","data":null})");
        auto m2 = co_await cli.request(post_json("/api/v1/midi/generate", midi_body("5c79****be8e", cb)));
        BOOST_TEST(m2.code() == 402);
        BOOST_TEST(co_await credits() == 0);
        srv.set_credits(10);
        BOOST_TEST(co_await credits() == 10);
        auto c = srv.snapshot();
        BOOST_TEST(c.responses_with_code(402) == 2u);
        BOOST_TEST(c.tasks_created == 3u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(seed_doc_curl_example_answers_exactly_as_documented)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;
        const std::string body = R"({
  "taskId": "5c79****be8e",
  "callBackUrl": "https://example.callback",
  "audioId": "8ca376e7-******-08aaf2c6dd27"
})";
        auto r = co_await cli.request(post_json("/api/v1/midi/generate", body));
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == R"({"code":200,"msg":"success","data":{"taskId":"5c79****be8e"}})");

        auto done = co_await poll_until(cli, get_path("/api/v1/midi/record-info?taskId=5c79****be8e"),
                                        [](const raw_response& x) { return midi_flag(x) == 1; });
        const auto d = done.json().at("data");
        BOOST_TEST(str(d.at("audioId")) == "8ca376e7-******-08aaf2c6dd27");
        BOOST_TEST(str(d.at("callbackUrl")) == "https://example.callback");
        BOOST_TEST(!d.at("midiData").at("instruments").as_array().empty());
        // the documented callback URL is not on this machine: never contacted, only counted
        auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_skipped_non_loopback == 1; });
        BOOST_TEST(c.callback_attempts == 0u);
        BOOST_TEST(c.callbacks_sent == 0u);
        BOOST_TEST((c.midi_submissions.at({"5c79****be8e", "8ca376e7-******-08aaf2c6dd27"}) == 1u));

        // the pre-seeded separation lists the documented stem id
        auto sep = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=5c79%2A%2A%2A%2Abe8e"));
        bool found = false;
        const auto sj = sep.json();
        for (const auto& s : sj.at("data").at("response").at("originData").as_array())
            found = found || str(s.at("id")) == "8ca376e7-******-08aaf2c6dd27";
        BOOST_TEST(found);
        auto example = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=3e63b4cc88d52611159371f6af5571e7"));
        BOOST_TEST(str(example.json().at("data").at("response").at("originData").at(0).at("id")) ==
                   "3d7021c9-fa8b-4eda-91d1-3b9297ddb172");
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(music_tasks_have_two_tracks_derived_from_the_task_id)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;
        auto doc = co_await cli.request(get_path("/api/v1/generate/record-info?taskId=5c79****be8e"));
        const auto dd = doc.json().at("data");
        BOOST_TEST(str(dd.at("status")) == "SUCCESS");
        BOOST_TEST(dd.at("param").is_string());
        BOOST_TEST(str(dd.at("response").at("sunoData").at(0).at("id")) == "e231****-****-****-****-****8cadc7dc");

        auto a = co_await cli.request(get_path("/api/v1/generate/record-info?taskId=music-task-42"));
        auto b = co_await cli.request(get_path("/api/v1/generate/record-info?taskId=music-task-42"));
        BOOST_TEST(a.body == b.body);
        const auto tracks = a.json().at("data").at("response").at("sunoData").as_array();
        BOOST_REQUIRE(tracks.size() == 2u);
        BOOST_TEST(str(tracks[0].at("id")) != str(tracks[1].at("id")));
        BOOST_TEST(tracks[0].at("duration").to_number<double>() > 60.0);

        // a separation task id is not a music task
        auto s = co_await cli.request(post_json("/api/v1/vocal-removal/generate",
                                                separation_body("music-task-42", str(tracks[1].at("id")), "separate_vocal",
                                                                "http://127.0.0.1:9/cb")));
        const auto sep = str(s.json().at("data").at("taskId"));
        auto wrong = co_await cli.request(get_path("/api/v1/generate/record-info?taskId=" + sep));
        BOOST_TEST(wrong.json().at("data").is_null());
        auto sr = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=" + sep));
        BOOST_TEST(sr.json().at("data").at("musicIndex").as_int64() == 1);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(split_stem_gives_up_to_twelve_stems_and_stem_specific_midi)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), fast_options());
        auto& [srv, cli] = kie;
        auto rec = co_await separate(cli, rx, "split_stem");
        const auto& resp = rec.at("data").at("response");
        BOOST_TEST(resp.at("instrumentalUrl").is_null());
        BOOST_TEST(resp.at("drumsUrl").is_string());
        BOOST_TEST(resp.at("bassUrl").is_string());
        const auto& stems = resp.at("originData").as_array();
        BOOST_TEST((stems.size() >= 3 && stems.size() <= 12));
        const auto task = str(rec.at("data").at("taskId"));
        std::size_t empty = 0;
        for (const auto& s : stems)
        {
            const auto group = str(s.at("stem_type_group_name"));
            auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(task, rx.url("/m"), str(s.at("id")))));
            BOOST_REQUIRE(m.code() == 200);
            (void)co_await rx.next();
            auto done = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=" + str(m.json().at("data").at("taskId"))));
            const auto ins = done.json().at("data").at("midiData").at("instruments").as_array();
            if (ins.empty()) { ++empty; continue; }
            BOOST_TEST(ins.size() == 1u);
            const auto name = str(ins[0].at("name"));
            if (group == "Drums") BOOST_TEST(name == "Drums");
            if (group == "Bass") BOOST_TEST(name == "Electric Bass (finger)");
            if (group == "Guitar") BOOST_TEST(name == "Electric Guitar (clean)");
            if (group == "Strings") BOOST_TEST(name == "String Ensemble 1");
            if (group == "Keyboard") BOOST_TEST(name == "Acoustic Grand Piano");
        }
        BOOST_TEST(empty < stems.size());
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(ids_and_results_are_deterministic_from_the_seed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        std::vector<std::string> ids, notes;
        for (int round = 0; round < 2; ++round)
        {
            auto o = fast_options();
            o.seed = 77;
            callback_receiver rx(ioc.get_executor());
            emulator_under_test kie(ioc.get_executor(), o);
            auto& [srv, cli] = kie;
            auto r = co_await cli.request(post_json("/api/v1/vocal-removal/generate",
                                                    separation_body("m9", "a9", "separate_vocal", rx.url())));
            ids.push_back(str(r.json().at("data").at("taskId")));
            (void)co_await rx.next();
            auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(ids.back(), rx.url())));
            (void)co_await rx.next();
            auto done = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=" + str(m.json().at("data").at("taskId"))));
            notes.push_back(json::serialize(done.json().at("data").at("midiData")));
            srv.stop();
        }
        BOOST_TEST(ids[0] == ids[1]);
        BOOST_TEST(notes[0] == notes[1]);
        BOOST_TEST(is_task_id(ids[0]));
    });
}

BOOST_AUTO_TEST_CASE(oversized_body_is_refused_with_413)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = fast_options();
        o.max_request_body = 1024;
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        auto r = co_await cli.request(post_json("/api/v1/midi/generate", std::string(4096, ' ') + "{}"));
        BOOST_TEST(r.status == 413u);
        BOOST_TEST(r.code() == 413);
        srv.stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
