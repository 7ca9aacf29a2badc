#include "common/api_fixture.hpp"

#include <kiemidi/api.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace kiemidi;
using namespace kiemidi::api;
using namespace kiemidi::test;

BOOST_AUTO_TEST_SUITE(api_separation)

BOOST_AUTO_TEST_CASE(separation_request_serializes_to_the_documented_body)
{
    separation_request req{.task_id = "5c79****be8e",
                           .audio_id = "e231****-****-****-****-****8cadc7dc",
                           .type = separation_type::separate_vocal,
                           .callback_url = "https://api.example.com/callback"};
    const auto body = boost::json::parse(serialize(req));
    BOOST_TEST(body == boost::json::parse(fixture("separation_request.json")));
    BOOST_TEST(body.as_object().size() == 4u);
}

BOOST_AUTO_TEST_CASE(split_stem_request_sends_its_type_and_keeps_key_order)
{
    separation_request req{.task_id = "t", .audio_id = "a", .type = separation_type::split_stem, .callback_url = "https://cb"};
    BOOST_TEST(serialize(req) == R"({"taskId":"t","audioId":"a","type":"split_stem","callBackUrl":"https://cb"})");
}

BOOST_AUTO_TEST_CASE(serialize_escapes_special_characters)
{
    separation_request req{.task_id = "a\"b\\c", .audio_id = "x", .callback_url = "https://cb/?a=1&b=\n"};
    const auto body = boost::json::parse(serialize(req)).as_object();
    BOOST_TEST(body.at("taskId").as_string() == "a\"b\\c");
    BOOST_TEST(body.at("callBackUrl").as_string() == "https://cb/?a=1&b=\n");
}

BOOST_AUTO_TEST_CASE(separation_record_doc_example_parses_to_its_values)
{
    separation_record rec;
    diagnostics diag;
    const auto ec = parse_response(fixture("separation_record_separate_vocal.json"), rec, diag);
    BOOST_TEST_REQUIRE(!ec, ec.message() << " " << diag.to_string());
    BOOST_TEST(rec.task_id == "3e63b4cc88d52611159371f6af5571e7");
    BOOST_TEST(rec.music_id == "376c687e-d439-42c1-b1e4-bcb43b095ec2");
    BOOST_TEST(rec.callback_url == "https://57312fc2e366.ngrok-free.app/api/v1/vocal-removal/test");
    BOOST_TEST(rec.music_index == std::optional<int>(0));
    BOOST_TEST((rec.state == separation_state::success));
    BOOST_TEST(rec.raw_state == "SUCCESS");
    BOOST_TEST(rec.create_time_ms == std::optional<std::int64_t>(1753782854000));
    BOOST_TEST(rec.complete_time_ms == std::optional<std::int64_t>(1753782937000));
    BOOST_TEST(!rec.error_code);
    BOOST_TEST(!rec.error_message);
    BOOST_TEST(rec.urls.instrumental.value_or("") ==
               "https://file.aiquickdraw.com/s/d92a13bf-c6f4-4ade-bb47-f69738435528_Instrumental.mp3");
    BOOST_TEST(rec.urls.vocal.value_or("") ==
               "https://file.aiquickdraw.com/s/3d7021c9-fa8b-4eda-91d1-3b9297ddb172_Vocals.mp3");
    BOOST_TEST(!rec.urls.origin);
    BOOST_TEST(!rec.urls.drums);
    BOOST_TEST(!rec.urls.woodwinds);
    BOOST_TEST_REQUIRE(rec.origin_data.size() == 2u);
    BOOST_TEST((rec.origin_data[0] == stem{"3d7021c9-fa8b-4eda-91d1-3b9297ddb172", "https://example001.mp3", "Vocals", 245.6}));
    BOOST_TEST((rec.origin_data[1] == stem{"d92a13bf-c6f4-4ade-bb47-f69738435528", "https://example002.mp3", "Instrumental", 245.6}));
    BOOST_TEST(diag.kie_code() == std::optional<int>(200));
    BOOST_TEST(diag.client_message().empty());
}

BOOST_AUTO_TEST_CASE(split_stem_record_fills_instrument_urls_and_leaves_instrumental_unset)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_split_stem.json"));
    BOOST_TEST(!rec.urls.instrumental);
    BOOST_TEST(!rec.urls.origin);  // "" means no file
    BOOST_TEST(!rec.urls.piano);
    BOOST_TEST(rec.urls.drums.value_or("") == "https://file.aiquickdraw.com/s/ac75c5ea_Drums.mp3");
    BOOST_TEST(rec.urls.backing_vocals.value_or("") == "https://file.aiquickdraw.com/s/aadc51a3_Backing_Vocals.mp3");
    BOOST_TEST(rec.urls.woodwinds.value_or("") == "https://file.aiquickdraw.com/s/d81545b1_Woodwinds.mp3");
    BOOST_TEST(rec.music_index == std::optional<int>(1));
    BOOST_TEST_REQUIRE(rec.origin_data.size() == 3u);
    BOOST_TEST(rec.origin_data[2].stem_type_group_name == "Bass");
    BOOST_TEST(rec.origin_data[2].id == "a3c2da5a-0000-0000-0000-000000000003");
}

BOOST_AUTO_TEST_CASE(pending_separation_record_has_no_stems)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_pending.json"));
    BOOST_TEST((rec.state == separation_state::pending));
    BOOST_TEST(!is_final(rec.state));
    BOOST_TEST((rec.urls == stem_urls{}));
    BOOST_TEST(rec.origin_data.empty());
    BOOST_TEST(!rec.complete_time_ms);
}

BOOST_AUTO_TEST_CASE(older_separation_record_without_origin_data_and_with_alternate_spellings_parses)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_older_without_origin_data.json"));
    BOOST_TEST(rec.task_id == "3e63b4cc88d52611159371f6af5571e7");  // task_id spelling
    BOOST_TEST(rec.callback_url == "https://api.example.com/callback");  // callBackUrl spelling
    BOOST_TEST(rec.origin_data.empty());
    BOOST_TEST(rec.music_id.empty());
    BOOST_TEST(!rec.music_index);
    BOOST_TEST(rec.urls.vocal.value_or("") == "https://file.aiquickdraw.com/s/3d7021c9_Vocals.mp3");
}

BOOST_AUTO_TEST_CASE(separation_record_accepts_numbers_sent_as_strings_and_ignores_unknown_fields)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_numbers_as_strings.json"));
    BOOST_TEST(rec.music_index == std::optional<int>(0));
    BOOST_TEST(rec.create_time_ms == std::optional<std::int64_t>(1753782854000));
    BOOST_TEST(rec.complete_time_ms == std::optional<std::int64_t>(1753782937000));
    BOOST_TEST_REQUIRE(rec.origin_data.size() == 1u);
    BOOST_TEST(rec.origin_data[0].duration == 245.6);
    BOOST_TEST((rec.state == separation_state::success));  // successFlag "1"
    BOOST_TEST(rec.raw_state == "1");
}

BOOST_AUTO_TEST_CASE(separation_record_accepts_a_numeric_success_flag_and_a_numeric_error_code)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_numeric_success_flag.json"));
    BOOST_TEST((rec.state == separation_state::generate_audio_failed));
    BOOST_TEST(rec.raw_state == "3");
    BOOST_TEST(rec.error_code == std::optional<std::string>("500"));
    BOOST_TEST(rec.error_message == std::optional<std::string>("separation failed"));
}

BOOST_AUTO_TEST_CASE(failed_separation_record_keeps_kie_error_text)
{
    const auto rec = parse_ok<separation_record>(fixture("separation_record_failed.json"));
    BOOST_TEST((rec.state == separation_state::generate_audio_failed));
    BOOST_TEST(is_final(rec.state));
    BOOST_TEST(rec.error_code == std::optional<std::string>("E_AUDIO"));
    BOOST_TEST(rec.error_message == std::optional<std::string>("audio processing failed"));
}

BOOST_AUTO_TEST_CASE(unknown_success_flag_is_kept_verbatim_as_unknown_state)
{
    const auto rec = parse_ok<separation_record>(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SENSITIVE_WORD_ERROR"}})");
    BOOST_TEST((rec.state == separation_state::unknown));
    BOOST_TEST(rec.raw_state == "SENSITIVE_WORD_ERROR");
}

BOOST_AUTO_TEST_CASE(separation_states_round_trip_through_kie_spelling)
{
    for (auto s : {separation_state::pending, separation_state::success, separation_state::create_task_failed,
                   separation_state::generate_audio_failed, separation_state::callback_exception})
        BOOST_TEST((parse_separation_state(to_string(s)) == s));
    BOOST_TEST((parse_separation_state("success") == separation_state::success));
    BOOST_TEST((parse_separation_state("0") == separation_state::pending));
    BOOST_TEST((parse_separation_state("") == separation_state::unknown));
    BOOST_TEST(to_string(separation_type::split_stem) == "split_stem");
    BOOST_TEST(to_string(separation_type::separate_vocal) == "separate_vocal");
}

BOOST_AUTO_TEST_CASE(separation_record_with_null_data_is_an_unknown_task)
{
    diagnostics diag;
    const auto ec = parse_fails<separation_record>(R"({"code":200,"msg":"success","data":null})", diag);
    BOOST_TEST((ec == api_errc::unknown_task));
    BOOST_TEST(!diag.client_message().empty());
}

BOOST_AUTO_TEST_CASE(separation_record_with_null_or_absent_success_flag_is_pending)
{
    for (const char* body : {R"({"code":200,"msg":"success","data":{"taskId":"t"}})",
                             R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":null,"response":null}})"})
    {
        const auto rec = parse_ok<separation_record>(body);
        BOOST_TEST((rec.state == separation_state::pending));
        BOOST_TEST(rec.raw_state.empty());
        BOOST_TEST(!is_final(rec.state));
    }
}

BOOST_AUTO_TEST_CASE(success_flag_of_another_kind_is_unknown_not_an_error)
{
    const auto rec = parse_ok<separation_record>(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":{"x":1}}})");
    BOOST_TEST((rec.state == separation_state::unknown));
    BOOST_TEST(!is_final(rec.state));
}

BOOST_AUTO_TEST_CASE(negative_music_index_reads_as_absent)
{
    for (const char* index : {"-1", "\"-1\"", "\"first\"", "1.5"})
    {
        const auto rec = parse_ok<separation_record>(
            std::string(R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS","musicIndex":)") + index + "}}");
        BOOST_TEST(!rec.music_index.has_value(), "musicIndex " << index);
    }
}

BOOST_AUTO_TEST_CASE(stem_without_id_is_left_out_and_counted)
{
    const auto rec = parse_ok<separation_record>(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS",
            "response":{"originData":[{"id":"a","stem_type_group_name":"Vocals"},{"audio_url":"u"},
                                      {"id":null,"stem_type_group_name":"Other"},{"id":""},{"id":1.5},null,
                                      {"id":"b","stem_type_group_name":"Instrumental"}]}}})");
    BOOST_TEST_REQUIRE(rec.origin_data.size() == 2u);
    BOOST_TEST(rec.origin_data[0].id == "a");
    BOOST_TEST(rec.origin_data[1].id == "b");
    BOOST_TEST(rec.origin_data[1].stem_type_group_name == "Instrumental");
    BOOST_TEST(rec.repairs.items_dropped == 5u);
    BOOST_TEST_REQUIRE(rec.repairs.reasons.size() == 2u);
    BOOST_TEST(rec.repairs.reasons[0].what == "stem without id");
    BOOST_TEST(rec.repairs.reasons[0].count == 4u);
    BOOST_TEST(rec.repairs.reasons[0].first_at == "data.response.originData[1]");
    BOOST_TEST(rec.repairs.reasons[1].what == "stem entry that is not an object");
}

BOOST_AUTO_TEST_CASE(non_numeric_duration_reads_as_unknown)
{
    const auto rec = parse_ok<separation_record>(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS",
            "response":{"originData":[{"id":"a","duration":"long"}]}}})");
    BOOST_TEST_REQUIRE(rec.origin_data.size() == 1u);
    BOOST_TEST(rec.origin_data[0].duration == 0.0);
    BOOST_TEST(rec.repairs.fields_ignored == 1u);
    BOOST_TEST(rec.repairs.reasons.at(0).first_at == "data.response.originData[0].duration");
}

BOOST_AUTO_TEST_CASE(url_of_the_wrong_type_reads_as_absent)
{
    const auto rec = parse_ok<separation_record>(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS","response":{"vocalUrl":42,"instrumentalUrl":"i"}}})");
    BOOST_TEST(!rec.urls.vocal.has_value());
    BOOST_TEST(rec.urls.instrumental == std::optional<std::string>("i"));
    BOOST_TEST(rec.repairs.fields_ignored == 1u);
    BOOST_TEST(rec.repairs.reasons.at(0).first_at == "data.response.vocalUrl");
}

BOOST_AUTO_TEST_CASE(response_or_origin_data_of_the_wrong_type_reads_as_absent)
{
    separation_record rec;
    diagnostics diag;
    BOOST_TEST_REQUIRE(!parse_response(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS","response":"later"}})", rec, diag));
    BOOST_TEST(rec.repairs.fields_ignored == 1u);
    BOOST_TEST_REQUIRE(!parse_response(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"SUCCESS","response":{"vocalUrl":"v","originData":{}}}})",
        rec, diag));
    BOOST_TEST(rec.urls.vocal.has_value());
    BOOST_TEST(rec.origin_data.empty());
    BOOST_TEST(rec.repairs.fields_ignored == 1u);
}

BOOST_AUTO_TEST_CASE(separation_record_without_task_id_still_fails)
{
    diagnostics diag;
    BOOST_TEST((parse_fails<separation_record>(
        R"({"code":200,"msg":"success","data":{"successFlag":"SUCCESS"}})", diag) ==
                client_errc::missing_field));
}

BOOST_AUTO_TEST_SUITE_END()
