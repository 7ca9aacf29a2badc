#include "common/api_fixture.hpp"

#include <kiemidi/api.hpp>

#include "api/json_reader.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace kiemidi;
using namespace kiemidi::api;
using namespace kiemidi::test;

BOOST_AUTO_TEST_SUITE(api_envelope)

BOOST_AUTO_TEST_CASE(separation_submit_answer_gives_the_task_id)
{
    task_created created;
    diagnostics diag;
    BOOST_TEST_REQUIRE(!parse_response(fixture("separation_submit_response.json"), created, diag));
    BOOST_TEST(created.task_id == "5c79****be8e");
    BOOST_TEST(diag.kie_code() == std::optional<int>(200));
}

BOOST_AUTO_TEST_CASE(midi_submit_answer_gives_the_task_id)
{
    const auto created = parse_ok<task_created>(fixture("midi_submit_response.json"));
    BOOST_TEST(created.task_id == "5c79****be8e");
}

BOOST_AUTO_TEST_CASE(submit_answer_accepts_snake_case_task_id_and_code_as_text)
{
    const auto created = parse_ok<task_created>(R"({"code":"200","msg":"success","data":{"task_id":"abc"}})");
    BOOST_TEST(created.task_id == "abc");
}

BOOST_AUTO_TEST_CASE(submit_answer_without_task_id_names_data_task_id)
{
    check_parse_error<task_created>(R"({"code":200,"msg":"success","data":{}})",
                                    client_errc::missing_field, "missing field data.taskId");
}

BOOST_AUTO_TEST_CASE(submit_answer_with_null_data_names_data)
{
    check_parse_error<task_created>(R"({"code":200,"msg":"success","data":null})",
                                    client_errc::missing_field, "missing field data");
}

BOOST_AUTO_TEST_CASE(submit_answer_with_empty_task_id_is_an_invalid_field)
{
    check_parse_error<task_created>(R"({"code":200,"msg":"success","data":{"taskId":""}})",
                                    client_errc::invalid_field, "invalid field data.taskId: empty id");
}

BOOST_AUTO_TEST_CASE(credits_doc_example_gives_the_remaining_credits)
{
    const auto c = parse_ok<credits>(fixture("credits.json"));
    BOOST_TEST(c.remaining == 100);
}

BOOST_AUTO_TEST_CASE(credits_sent_as_text_are_accepted)
{
    const auto c = parse_ok<credits>(fixture("credits_as_string.json"));
    BOOST_TEST(c.remaining == 100);
}

BOOST_AUTO_TEST_CASE(non_numeric_credits_text_is_an_invalid_field)
{
    check_parse_error<credits>(R"({"code":200,"msg":"success","data":"plenty"})",
                               client_errc::invalid_field, "invalid field data: expected an integer, got \"plenty\"");
}

BOOST_AUTO_TEST_CASE(music_task_doc_example_lists_its_tracks)
{
    const auto rec = parse_ok<music_task_record>(fixture("music_task_record.json"));
    BOOST_TEST(rec.task_id == "5c79****be8e");
    BOOST_TEST(rec.status == "SUCCESS");
    BOOST_TEST(rec.type == "GENERATE");
    BOOST_TEST(!rec.error_code);
    BOOST_TEST_REQUIRE(rec.tracks.size() == 1u);
    const auto& t = rec.tracks[0];
    BOOST_TEST(t.id == "e231****-****-****-****-****8cadc7dc");
    BOOST_TEST(t.audio_url == "https://example.cn/****.mp3");
    BOOST_TEST(t.stream_audio_url == "https://example.cn/****");
    BOOST_TEST(t.image_url == "https://example.cn/****.jpeg");
    BOOST_TEST(t.prompt == "[Verse] ...");
    BOOST_TEST(t.model_name == "chirp-v3-5");
    BOOST_TEST(t.title == "...");
    BOOST_TEST(t.tags == "electrifying, rock");
    BOOST_TEST(t.create_time == "2025-01-01 00:00:00");
    BOOST_TEST(t.duration == 198.44);
}

BOOST_AUTO_TEST_CASE(music_task_with_null_data_is_an_unknown_task)
{
    diagnostics diag;
    BOOST_TEST((parse_fails<music_task_record>(
        R"({"code":200,"msg":"success","data":null})", diag) == api_errc::unknown_task));
}

BOOST_AUTO_TEST_CASE(error_code_in_body_becomes_api_errc_with_kie_message)
{
    struct expectation { const char* file; api_errc ec; int code; const char* msg; };
    for (const auto& e : {expectation{"error_unauthorized.json", api_errc::unauthorized, 401, "You do not have access permissions"},
                          expectation{"error_bad_request_data_null.json", api_errc::bad_request, 400, "..."},
                          expectation{"error_rate_limited_with_http_200.json", api_errc::rate_limited, 429,
                                      "Your call frequency is too high. Please try again later."},
                          expectation{"error_insufficient_credits.json", api_errc::insufficient_credits, 402, "Credits insufficient"}})
    {
        BOOST_TEST_CONTEXT(e.file)
        {
            const auto body = fixture(e.file);
            // Every answer type checks the envelope first.
            task_created t;
            separation_record s;
            midi_record m;
            credits c;
            music_task_record mt;
            diagnostics d1, d2, d3, d4, d5;
            for (auto [ec, diag] : {std::pair{parse_response(body, t, d1), &d1}, std::pair{parse_response(body, s, d2), &d2},
                                    std::pair{parse_response(body, m, d3), &d3}, std::pair{parse_response(body, c, d4), &d4},
                                    std::pair{parse_response(body, mt, d5), &d5}})
            {
                BOOST_TEST((ec == e.ec));
                BOOST_TEST(diag->kie_code() == std::optional<int>(e.code));
                BOOST_TEST(diag->server_message() == e.msg);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_kie_code_maps_to_unknown_code_and_keeps_the_number)
{
    diagnostics diag;
    BOOST_TEST((parse_fails<credits>(R"({"code":418,"msg":"teapot"})", diag) == api_errc::unknown_code));
    BOOST_TEST(diag.kie_code() == std::optional<int>(418));
    BOOST_TEST(diag.server_message() == "teapot");
}

BOOST_AUTO_TEST_CASE(non_json_body_is_bad_json_and_quotes_the_body)
{
    credits c;
    diagnostics diag;
    BOOST_TEST((parse_response("error code: 1010", c, diag) == client_errc::bad_json));
    BOOST_TEST(diag.client_message().find("error code: 1010") != std::string::npos);
    BOOST_TEST(!diag.kie_code());
    BOOST_TEST((parse_response("", c, diag) == client_errc::bad_json));
    BOOST_TEST((parse_response(R"({"code":200,"data":1)", c, diag) == client_errc::bad_json));
    BOOST_TEST((parse_response("[200]", c, diag) == client_errc::bad_json));
    BOOST_TEST((parse_response("null", c, diag) == client_errc::bad_json));
}

BOOST_AUTO_TEST_CASE(body_without_code_names_the_field)
{
    check_parse_error<credits>(R"({"msg":"success","data":1})", client_errc::missing_field, "missing field code");
}

BOOST_AUTO_TEST_CASE(non_numeric_code_text_is_an_invalid_field)
{
    check_parse_error<credits>(R"({"code":"OK","msg":"success","data":1})",
                               client_errc::invalid_field, "invalid field code: expected an integer, got \"OK\"");
}

BOOST_AUTO_TEST_CASE(json_path_renders_keys_and_indexes)
{
    using namespace kiemidi::detail;
    const json_path root;
    const json_path data(root, "data");
    const json_path instruments(data, "instruments");
    const json_path second(instruments, std::size_t{1});
    const json_path pitch(second, "pitch");
    BOOST_TEST(root.to_string() == "(body)");
    BOOST_TEST(pitch.to_string() == "data.instruments[1].pitch");
    const json_path first_element(root, std::size_t{0});
    BOOST_TEST(first_element.to_string() == "[0]");
}

BOOST_AUTO_TEST_CASE(numeric_text_parsing_is_strict)
{
    using kiemidi::detail::parse_double_text;
    using kiemidi::detail::parse_int64_text;
    BOOST_TEST(parse_double_text(" 0.5 ") == std::optional<double>(0.5));
    BOOST_TEST(parse_double_text("+1e3") == std::optional<double>(1000.0));
    BOOST_TEST(!parse_double_text("0.5x"));
    BOOST_TEST(!parse_double_text(""));
    BOOST_TEST(!parse_double_text("nan"));
    BOOST_TEST(parse_int64_text("1753782854000") == std::optional<std::int64_t>(1753782854000));
    BOOST_TEST(parse_int64_text("-1") == std::optional<std::int64_t>(-1));
    BOOST_TEST(parse_int64_text("12.0") == std::optional<std::int64_t>(12));
    BOOST_TEST(!parse_int64_text("12.5"));
    BOOST_TEST(!parse_int64_text("99999999999999999999"));
}

BOOST_AUTO_TEST_SUITE_END()
