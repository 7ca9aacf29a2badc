#include "common/api_fixture.hpp"

#include <kiemidi/api.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace kiemidi;
using namespace kiemidi::api;
using namespace kiemidi::test;

namespace {

/// The callback's envelope: KIE's code and message, and the task it is about.
template <class Callback>
void check_envelope(const Callback& cb, int code, const std::string& msg, const std::string& task_id)
{
    BOOST_TEST(cb.code == code);
    BOOST_TEST(cb.msg == msg);
    BOOST_TEST(cb.task_id == task_id);
}

bool has_result(const separation_callback& cb) { return cb.urls.has_value(); }
bool has_result(const midi_callback& cb) { return cb.midi.has_value(); }

/// A failure callback: KIE's code 500 and message for the task, and no result.
template <class Callback>
void check_failure_without_result(const Callback& cb, const std::string& msg, const std::string& task_id)
{
    check_envelope(cb, 500, msg, task_id);
    BOOST_TEST(!has_result(cb));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api_callbacks)

BOOST_AUTO_TEST_CASE(separation_callback_accepts_vocal_separation_info)
{
    const auto cb = parse_ok<separation_callback>(fixture("separation_callback_vocal_separation_info.json"));
    check_envelope(cb, 200, "vocal separation generated successfully.", "3e63b4cc88d52611159371f6af5571e7");
    BOOST_TEST_REQUIRE(cb.urls.has_value());
    BOOST_TEST(cb.urls->instrumental.value_or("") ==
               "https://file.aiquickdraw.com/s/d92a13bf-c6f4-4ade-bb47-f69738435528_Instrumental.mp3");
    BOOST_TEST(cb.urls->vocal.value_or("") ==
               "https://file.aiquickdraw.com/s/3d7021c9-fa8b-4eda-91d1-3b9297ddb172_Vocals.mp3");
    BOOST_TEST(!cb.urls->origin);  // "" is no file
    BOOST_TEST(!cb.urls->drums);
}

BOOST_AUTO_TEST_CASE(separation_callback_accepts_vocal_removal_info)
{
    const auto cb = parse_ok<separation_callback>(fixture("separation_callback_vocal_removal_info.json"));
    check_envelope(cb, 200, "vocal Removal generated successfully.", "e649edb7abfd759285bd41a47a634b10");
    BOOST_TEST_REQUIRE(cb.urls.has_value());
    const auto& u = *cb.urls;
    BOOST_TEST(!u.instrumental);
    // Every stem KIE names, with its file.
    struct stem
    {
        const std::optional<std::string>& url;
        const char* file;
    };
    for (const auto& [url, file] : {stem{u.vocal, "https://file.aiquickdraw.com/s/07420749-..._Vocals.mp3"},
                                    stem{u.backing_vocals, "https://file.aiquickdraw.com/s/aadc51a3-..._Backing_Vocals.mp3"},
                                    stem{u.drums, "https://file.aiquickdraw.com/s/ac75c5ea-..._Drums.mp3"},
                                    stem{u.bass, "https://file.aiquickdraw.com/s/a3c2da5a-..._Bass.mp3"},
                                    stem{u.guitar, "https://file.aiquickdraw.com/s/064dd08e-..._Guitar.mp3"},
                                    stem{u.keyboard, "https://file.aiquickdraw.com/s/adc934e0-..._Keyboard.mp3"},
                                    stem{u.percussion, "https://file.aiquickdraw.com/s/0f70884d-..._Percussion.mp3"},
                                    stem{u.strings, "https://file.aiquickdraw.com/s/49829425-..._Strings.mp3"},
                                    stem{u.synth, "https://file.aiquickdraw.com/s/56b2d94a-..._Synth.mp3"},
                                    stem{u.fx, "https://file.aiquickdraw.com/s/a8822c73-..._FX.mp3"},
                                    stem{u.brass, "https://file.aiquickdraw.com/s/334b2d23-..._Brass.mp3"},
                                    stem{u.woodwinds, "https://file.aiquickdraw.com/s/d81545b1-..._Woodwinds.mp3"}})
        BOOST_TEST(url.value_or("") == file);
    BOOST_TEST(!u.piano);
}

BOOST_AUTO_TEST_CASE(separation_failure_callback_is_not_a_parse_error)
{
    check_failure_without_result(parse_ok<separation_callback>(fixture("separation_callback_failure.json")),
                                 "Vocal separation failed", "3e63b4cc88d52611159371f6af5571e7");
}

BOOST_AUTO_TEST_CASE(separation_callback_accepts_camel_case_task_id_in_data)
{
    const auto cb = parse_ok<separation_callback>(fixture("separation_callback_data_task_id_camel_case.json"));
    BOOST_TEST(cb.task_id == "3e63b4cc88d52611159371f6af5571e7");
    BOOST_TEST_REQUIRE(cb.urls.has_value());
    BOOST_TEST(cb.urls->instrumental.value_or("") == "https://example/Instrumental.mp3");
}

BOOST_AUTO_TEST_CASE(separation_callback_accepts_top_level_task_id_and_code_as_text)
{
    const auto cb = parse_ok<separation_callback>(fixture("separation_callback_top_level_task_id.json"));
    BOOST_TEST(cb.task_id == "3e63b4cc88d52611159371f6af5571e7");
    BOOST_TEST(cb.code == 200);
    BOOST_TEST_REQUIRE(cb.urls.has_value());
    BOOST_TEST(cb.urls->vocal.value_or("") == "https://example/Vocals.mp3");
}

BOOST_AUTO_TEST_CASE(separation_callback_without_task_id_names_data_task_id)
{
    check_parse_error<separation_callback>(R"({"code":200,"msg":"ok","data":{"vocal_removal_info":null}})",
                                           client_errc::missing_field, "missing field data.task_id");
}

BOOST_AUTO_TEST_CASE(separation_callback_without_code_names_the_field)
{
    check_parse_error<separation_callback>(R"({"msg":"ok","data":{"task_id":"t"}})",
                                           client_errc::missing_field, "missing field code");
}

BOOST_AUTO_TEST_CASE(callback_that_is_not_json_is_bad_json)
{
    separation_callback scb;
    midi_callback mcb;
    diagnostics diag;
    BOOST_TEST((parse_separation_callback("{\"code\":200,", scb, diag) == client_errc::bad_json));
    BOOST_TEST(!diag.client_message().empty());
    BOOST_TEST((parse_midi_callback("", mcb, diag) == client_errc::bad_json));
    BOOST_TEST((parse_midi_callback("[1,2]", mcb, diag) == client_errc::bad_json));
}

BOOST_AUTO_TEST_CASE(midi_callback_with_top_level_task_id_and_mixed_number_types_parses)
{
    const auto cb = parse_ok<midi_callback>(fixture("midi_callback_top_level_task_id.json"));
    check_envelope(cb, 200, "success", "5c79****be8e");
    BOOST_TEST_REQUIRE(cb.midi.has_value());
    BOOST_TEST(cb.midi->state == "complete");
    BOOST_TEST_REQUIRE(cb.midi->instruments.size() == 2u);
    const auto& drums = cb.midi->instruments[0].notes;
    BOOST_TEST_REQUIRE(drums.size() == 3u);
    BOOST_TEST((drums[0] == note{73, 0.036458333333333336, 0.18229166666666666, 1.0}));
    BOOST_TEST((drums[1] == note{61, 0.046875, 0.19270833333333334, 1.0}));
    BOOST_TEST((drums[2] == note{73, 0.1875, 0.4895833333333333, 1.0}));
    BOOST_TEST((cb.midi->instruments[1].notes.at(0) == note{44, 7.6875, 7.911458333333333, 1.0}));
}

BOOST_AUTO_TEST_CASE(midi_callback_with_task_id_inside_data_parses)
{
    const auto cb = parse_ok<midi_callback>(fixture("midi_callback_data_task_id.json"));
    BOOST_TEST(cb.task_id == "5c79****be8e");
    BOOST_TEST_REQUIRE(cb.midi.has_value());
    BOOST_TEST(note_count(*cb.midi) == 3u);
    BOOST_TEST(cb.midi->instruments[1].name == "Electric Bass (finger)");
}

BOOST_AUTO_TEST_CASE(midi_failure_callback_with_task_id_in_data_has_no_result)
{
    check_failure_without_result(parse_ok<midi_callback>(fixture("midi_callback_failure_data_task_id.json")),
                                 "MIDI generation failed", "5c79****be8e");
}

BOOST_AUTO_TEST_CASE(midi_failure_callback_with_null_data_has_no_result)
{
    check_failure_without_result(parse_ok<midi_callback>(fixture("midi_callback_failure_data_null.json")),
                                 "MIDI generation failed", "5c79****be8e");
}

BOOST_AUTO_TEST_CASE(midi_success_callback_without_instruments_is_a_valid_empty_result)
{
    const auto cb = parse_ok<midi_callback>(fixture("midi_callback_success_without_notes.json"));
    BOOST_TEST_REQUIRE(cb.midi.has_value());
    BOOST_TEST(cb.midi->state == "complete");
    BOOST_TEST(cb.midi->instruments.empty());
}

BOOST_AUTO_TEST_CASE(midi_callback_with_odd_notes_keeps_the_result_and_counts_the_repairs)
{
    const auto cb = parse_ok<midi_callback>(
        R"({"task_id":"t","code":200,"msg":"success","data":{"instruments":[{"name":"Drums","notes":[
            {"pitch":36,"start":"0","end":"x","velocity":1},{"pitch":38,"start":"0","end":"0.5","velocity":"100"},
            {"pitch":40,"start":0.5,"end":"0.75"}]},{"name":null,"notes":null}]}})");
    BOOST_TEST_REQUIRE(cb.midi.has_value());
    BOOST_TEST_REQUIRE(cb.midi->instruments.size() == 2u);
    const auto& notes = cb.midi->instruments[0].notes;
    BOOST_TEST_REQUIRE(notes.size() == 2u);
    BOOST_TEST(notes[0].velocity == 100.0 / 127.0);
    BOOST_TEST(notes[1].velocity == note::default_velocity);
    BOOST_TEST(cb.midi->repairs.notes_repaired == 2u);
    BOOST_TEST(cb.midi->repairs.notes_dropped == 1u);
    BOOST_TEST(cb.midi->repairs.reasons.at(0).first_at == "data.instruments[0].notes[0]");
    BOOST_TEST(cb.midi->instruments[1].name.empty());
}

BOOST_AUTO_TEST_CASE(separation_callback_with_odd_stem_info_keeps_the_task)
{
    separation_callback cb;
    diagnostics diag;
    BOOST_TEST_REQUIRE(!parse_separation_callback(
        R"({"code":200,"msg":["odd"],"data":{"task_id":"t","vocal_separation_info":{"vocal_url":7,"instrumental_url":"i"}}})",
        cb, diag));
    BOOST_TEST(cb.task_id == "t");
    BOOST_TEST(cb.msg.empty());
    BOOST_TEST_REQUIRE(cb.urls.has_value());
    BOOST_TEST(!cb.urls->vocal.has_value());
    BOOST_TEST(cb.urls->instrumental.has_value());
    BOOST_TEST(cb.repairs.fields_ignored == 1u);
    BOOST_TEST_REQUIRE(!parse_separation_callback(
        R"({"code":200,"msg":"ok","data":{"task_id":"t","vocal_separation_info":"done"}})", cb, diag));
    BOOST_TEST(!cb.urls.has_value());
    BOOST_TEST(cb.repairs.fields_ignored == 1u);
}

BOOST_AUTO_TEST_CASE(callback_task_id_is_found_in_data_task_id)
{
    BOOST_TEST(find_callback_task_id(fixture("separation_callback_vocal_separation_info.json")) ==
               std::optional<std::string>("3e63b4cc88d52611159371f6af5571e7"));
}

BOOST_AUTO_TEST_CASE(callback_task_id_is_found_in_data_camel_case_task_id)
{
    BOOST_TEST(find_callback_task_id(fixture("midi_callback_data_task_id.json")) ==
               std::optional<std::string>("5c79****be8e"));
}

BOOST_AUTO_TEST_CASE(callback_task_id_is_found_at_top_level_task_id)
{
    BOOST_TEST(find_callback_task_id(fixture("midi_callback_top_level_task_id.json")) ==
               std::optional<std::string>("5c79****be8e"));
    BOOST_TEST(find_callback_task_id(fixture("midi_callback_failure_data_null.json")) ==
               std::optional<std::string>("5c79****be8e"));
}

BOOST_AUTO_TEST_CASE(callback_task_id_is_found_at_top_level_camel_case_task_id)
{
    const auto body = boost::json::parse(fixture("separation_callback_top_level_task_id.json"));
    BOOST_TEST(find_callback_task_id(body) == std::optional<std::string>("3e63b4cc88d52611159371f6af5571e7"));
}

BOOST_AUTO_TEST_CASE(callback_task_id_prefers_data_task_id_over_other_placements)
{
    BOOST_TEST(find_callback_task_id(R"({"taskId":"d","task_id":"c","data":{"taskId":"b","task_id":"a"}})") ==
               std::optional<std::string>("a"));
    BOOST_TEST(find_callback_task_id(R"({"taskId":"d","task_id":"c","data":{"taskId":"b"}})") ==
               std::optional<std::string>("b"));
    BOOST_TEST(find_callback_task_id(R"({"taskId":"d","task_id":"c","data":null})") == std::optional<std::string>("c"));
    BOOST_TEST(find_callback_task_id(R"({"task_id":"","taskId":42})") == std::optional<std::string>("42"));
}

BOOST_AUTO_TEST_CASE(callback_task_id_is_absent_from_bad_json_and_idless_bodies)
{
    BOOST_TEST(!find_callback_task_id(std::string_view("not json")));
    BOOST_TEST(!find_callback_task_id(std::string_view(R"({"code":200,"data":{"state":"complete"}})")));
    BOOST_TEST(!find_callback_task_id(std::string_view(R"(["task_id"])")));
    BOOST_TEST(!find_callback_task_id(std::string_view(R"({"task_id":null,"data":{"taskId":{}}})")));
}

BOOST_AUTO_TEST_CASE(callback_parsers_take_the_task_id_the_listener_routes_by)
{
    // The listener routes by find_callback_task_id; the parsers must name the same task, not fail
    // on a placement the listener skipped (an empty or non-id value).
    for (std::string body : {R"({"task_id":"m1","code":200,"data":{"taskId":""}})",
                             R"({"task_id":"m1","code":200,"data":{"task_id":"","taskId":null}})",
                             R"({"taskId":"m1","code":200,"data":{"task_id":true}})",
                             R"({"code":200,"data":{"task_id":1.5,"taskId":"m1"}})"})
    {
        BOOST_TEST_CONTEXT(body)
        {
            BOOST_TEST(find_callback_task_id(std::string_view(body)) == std::optional<std::string>("m1"));
            diagnostics diag;
            midi_callback m;
            BOOST_TEST(!parse_midi_callback(body, m, diag), diag.to_string());
            BOOST_TEST(m.task_id == "m1");
            separation_callback sc;
            BOOST_TEST(!parse_separation_callback(body, sc, diag), diag.to_string());
            BOOST_TEST(sc.task_id == "m1");
        }
    }
    // No placement holds an id: the listener refuses the body, and the parser names the field.
    const std::string none = R"({"task_id":"","code":200,"data":{}})";
    BOOST_TEST(!find_callback_task_id(std::string_view(none)));
    diagnostics diag;
    midi_callback m;
    BOOST_TEST((parse_midi_callback(none, m, diag) == client_errc::invalid_field));
    BOOST_TEST(diag.client_message().find("task_id") != std::string::npos, diag.client_message());
}

BOOST_AUTO_TEST_SUITE_END()
