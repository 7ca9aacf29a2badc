#include "api_fixture.hpp"

#include <kiemidi/api.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <charconv>
#include <chrono>
#include <iterator>
#include <string>

using namespace kiemidi;
using namespace kiemidi::api;
using kiemidi::test::fixture;

namespace {

midi_record parse_ok(const std::string& body)
{
    midi_record rec;
    diagnostics diag;
    const auto ec = parse_response(body, rec, diag);
    BOOST_TEST_REQUIRE(!ec, ec.message() << ": " << diag.to_string());
    return rec;
}

error_code parse_fails(const std::string& body, diagnostics& diag)
{
    midi_record rec;
    return parse_response(body, rec, diag);
}

std::string record_with_note(const std::string& note_json)
{
    return R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"midiData":{"instruments":[{"name":"Drums","notes":[)" +
           note_json + "]}]}}}";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api_midi)

BOOST_AUTO_TEST_CASE(midi_request_serializes_to_the_documented_body)
{
    midi_request req{.task_id = "5c79****be8e", .callback_url = "https://example.callback",
                     .audio_id = "8ca376e7-******-08aaf2c6dd27"};
    BOOST_TEST(boost::json::parse(serialize(req)) == boost::json::parse(fixture("midi_request.json")));
}

BOOST_AUTO_TEST_CASE(midi_request_without_audio_id_omits_the_key)
{
    midi_request req{.task_id = "t", .callback_url = "https://cb", .audio_id = std::nullopt};
    BOOST_TEST(serialize(req) == R"({"taskId":"t","callBackUrl":"https://cb"})");
    req.audio_id = "";
    BOOST_TEST(!boost::json::parse(serialize(req)).as_object().contains("audioId"));
}

BOOST_AUTO_TEST_CASE(midi_record_doc_example_parses_to_its_values)
{
    const auto rec = parse_ok(fixture("midi_record.json"));
    BOOST_TEST(rec.task_id == "5c79****be8e");
    BOOST_TEST(rec.record_task_id == std::optional<std::int64_t>(-1));
    BOOST_TEST(rec.audio_id == "e231****-****-****-****-****8cadc7dc");
    BOOST_TEST(rec.callback_url == "https://example.callback");
    BOOST_TEST((rec.state == midi_state::success));
    BOOST_TEST(rec.create_time_ms == std::optional<std::int64_t>(1760335251000));
    BOOST_TEST(rec.complete_time_ms == std::optional<std::int64_t>(1760335255000));
    BOOST_TEST(!rec.error_code);
    BOOST_TEST(rec.midi.state == "complete");
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 2u);
    BOOST_TEST(rec.midi.instruments[0].name == "Drums");
    BOOST_TEST_REQUIRE(rec.midi.instruments[0].notes.size() == 2u);
    BOOST_TEST((rec.midi.instruments[0].notes[0] == note{73, 0.036458333333333336, 0.18229166666666666, 1.0}));
    BOOST_TEST((rec.midi.instruments[0].notes[1] == note{61, 0.046875, 0.19270833333333334, 1.0}));
    BOOST_TEST(rec.midi.instruments[1].name == "Electric Bass (finger)");
    BOOST_TEST_REQUIRE(rec.midi.instruments[1].notes.size() == 1u);
    BOOST_TEST((rec.midi.instruments[1].notes[0] == note{44, 7.6875, 7.911458333333333, 1.0}));
    BOOST_TEST(note_count(rec.midi) == 3u);
}

BOOST_AUTO_TEST_CASE(midi_record_accepts_numbers_sent_as_strings_everywhere)
{
    const auto rec = parse_ok(fixture("midi_record_numbers_as_strings.json"));
    BOOST_TEST((rec.state == midi_state::success));
    BOOST_TEST(rec.record_task_id == std::optional<std::int64_t>(-1));
    BOOST_TEST(rec.callback_url == "https://example.callback");
    BOOST_TEST(rec.complete_time_ms == std::optional<std::int64_t>(1760335255000));
    BOOST_TEST(rec.create_time_ms == std::optional<std::int64_t>(1760335251000));
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 1u);
    const auto& notes = rec.midi.instruments[0].notes;
    BOOST_TEST_REQUIRE(notes.size() == 2u);
    BOOST_TEST((notes[0] == note{73, 0.036458333333333336, 0.18229166666666666, 1.0}));
    BOOST_TEST((notes[1] == note{61, 0.046875, 0.19270833333333334, 0.5}));
}

BOOST_AUTO_TEST_CASE(midi_record_with_null_midi_data_is_a_valid_empty_result)
{
    const auto rec = parse_ok(fixture("midi_record_midi_data_null.json"));
    BOOST_TEST((rec.state == midi_state::success));
    BOOST_TEST(rec.midi.instruments.empty());
    BOOST_TEST(rec.midi.state.empty());
}

BOOST_AUTO_TEST_CASE(midi_record_with_empty_midi_data_object_is_a_valid_empty_result)
{
    const auto rec = parse_ok(fixture("midi_record_midi_data_empty_object.json"));
    BOOST_TEST((rec.state == midi_state::success));
    BOOST_TEST(rec.midi.instruments.empty());
}

BOOST_AUTO_TEST_CASE(midi_record_without_instruments_is_a_valid_empty_result)
{
    const auto rec = parse_ok(fixture("midi_record_midi_data_without_instruments.json"));
    BOOST_TEST(rec.midi.state == "complete");
    BOOST_TEST(rec.midi.instruments.empty());
}

BOOST_AUTO_TEST_CASE(midi_record_without_midi_data_is_a_valid_empty_result)
{
    const auto rec = parse_ok(fixture("midi_record_midi_data_missing.json"));
    BOOST_TEST(rec.midi.instruments.empty());
    BOOST_TEST(note_count(rec.midi) == 0u);
}

BOOST_AUTO_TEST_CASE(midi_data_sent_as_json_text_is_read_like_an_object)
{
    const auto rec = parse_ok(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,
            "midiData":"{\"state\":\"complete\",\"instruments\":[{\"name\":\"Drums\",\"notes\":[{\"pitch\":36,\"start\":0,\"end\":0.1,\"velocity\":1}]}]}"}})");
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 1u);
    BOOST_TEST(rec.midi.instruments[0].notes[0].pitch == 36);
}

BOOST_AUTO_TEST_CASE(pending_midi_record_has_no_notes)
{
    const auto rec = parse_ok(fixture("midi_record_pending.json"));
    BOOST_TEST((rec.state == midi_state::pending));
    BOOST_TEST(!is_final(rec.state));
    BOOST_TEST(!rec.complete_time_ms);
    BOOST_TEST(rec.midi.instruments.empty());
}

BOOST_AUTO_TEST_CASE(failed_midi_record_keeps_a_numeric_error_code_as_text)
{
    const auto rec = parse_ok(fixture("midi_record_failed.json"));
    BOOST_TEST((rec.state == midi_state::generation_failed));
    BOOST_TEST(is_final(rec.state));
    BOOST_TEST(rec.error_code == std::optional<std::string>("500"));
    BOOST_TEST(rec.error_message == std::optional<std::string>("MIDI generation failed"));
}

BOOST_AUTO_TEST_CASE(midi_record_accepts_a_text_success_flag)
{
    const auto rec = parse_ok(fixture("midi_record_text_success_flag.json"));
    BOOST_TEST((rec.state == midi_state::success));
    BOOST_TEST_REQUIRE(note_count(rec.midi) == 1u);
    BOOST_TEST(rec.midi.instruments[0].notes[0].velocity == 0.8);
}

BOOST_AUTO_TEST_CASE(midi_success_flag_values_map_to_states)
{
    BOOST_TEST((to_midi_state(0) == midi_state::pending));
    BOOST_TEST((to_midi_state(1) == midi_state::success));
    BOOST_TEST((to_midi_state(2) == midi_state::create_task_failed));
    BOOST_TEST((to_midi_state(3) == midi_state::generation_failed));
    BOOST_TEST((to_midi_state(4) == midi_state::unknown));
    BOOST_TEST((to_midi_state(-1) == midi_state::unknown));
    const auto rec = parse_ok(R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"2"}})");
    BOOST_TEST((rec.state == midi_state::create_task_failed));
}

BOOST_AUTO_TEST_CASE(midi_record_with_null_data_is_an_unknown_task)
{
    diagnostics diag;
    BOOST_TEST((parse_fails(fixture("midi_record_data_null.json"), diag) == api_errc::unknown_task));
}

BOOST_AUTO_TEST_CASE(non_numeric_pitch_is_an_invalid_field_naming_the_note)
{
    diagnostics diag;
    BOOST_TEST((parse_fails(fixture("midi_record_pitch_not_a_number.json"), diag) == client_errc::invalid_field));
    BOOST_TEST(diag.client_message() ==
               "invalid field data.midiData.instruments[1].notes[3].pitch: expected an integer, got \"high\"");
}

BOOST_AUTO_TEST_CASE(note_without_pitch_is_a_missing_field_naming_the_note)
{
    diagnostics diag;
    BOOST_TEST((parse_fails(fixture("midi_record_note_without_pitch.json"), diag) == client_errc::missing_field));
    BOOST_TEST(diag.client_message() == "missing field data.midiData.instruments[0].notes[1].pitch");
}

BOOST_AUTO_TEST_CASE(pitch_outside_the_midi_range_is_rejected)
{
    for (const char* pitch : {"-1", "128", "60.5"})
    {
        diagnostics diag;
        const auto ec = parse_fails(record_with_note(std::string(R"({"pitch":)") + pitch + R"(,"start":0,"end":1,"velocity":1})"), diag);
        BOOST_TEST((ec == client_errc::invalid_field), "pitch " << pitch);
        BOOST_TEST(diag.client_message().find("data.midiData.instruments[0].notes[0].pitch") != std::string::npos);
    }
    for (const char* pitch : {"0", "127", "\"60\"", "60.0"})
    {
        diagnostics diag;
        BOOST_TEST(!parse_fails(record_with_note(std::string(R"({"pitch":)") + pitch + R"(,"start":0,"end":1,"velocity":1})"), diag),
                   "pitch " << pitch << ": " << diag.client_message());
    }
}

BOOST_AUTO_TEST_CASE(velocity_outside_zero_to_one_is_rejected)
{
    for (const char* velocity : {"-0.1", "1.01", "100", "\"loud\""})
    {
        diagnostics diag;
        const auto ec = parse_fails(record_with_note(std::string(R"({"pitch":60,"start":0,"end":1,"velocity":)") + velocity + "}"), diag);
        BOOST_TEST((ec == client_errc::invalid_field), "velocity " << velocity);
        BOOST_TEST(diag.client_message().find("data.midiData.instruments[0].notes[0].velocity") != std::string::npos);
    }
    for (const char* velocity : {"0", "1", "\"0.25\""})
    {
        diagnostics diag;
        BOOST_TEST(!parse_fails(record_with_note(std::string(R"({"pitch":60,"start":0,"end":1,"velocity":)") + velocity + "}"), diag),
                   "velocity " << velocity);
    }
}

BOOST_AUTO_TEST_CASE(note_ending_before_it_starts_is_rejected)
{
    diagnostics diag;
    const auto ec = parse_fails(record_with_note(R"({"pitch":60,"start":2,"end":"1.5","velocity":1})"), diag);
    BOOST_TEST((ec == client_errc::invalid_field));
    BOOST_TEST(diag.client_message().find("data.midiData.instruments[0].notes[0].end") != std::string::npos);
    // A zero-length note is accepted.
    BOOST_TEST(!parse_fails(record_with_note(R"({"pitch":60,"start":2,"end":2,"velocity":1})"), diag));
}

BOOST_AUTO_TEST_CASE(note_starting_before_the_track_is_rejected)
{
    // Found by fuzz/midi_callback: api::note promises 0 <= start, which nothing checked.
    diagnostics diag;
    const auto ec = parse_fails(record_with_note(R"({"pitch":60,"start":-0.03,"end":0.2,"velocity":1})"), diag);
    BOOST_TEST((ec == client_errc::invalid_field));
    BOOST_TEST(diag.client_message().find("data.midiData.instruments[0].notes[0].start") != std::string::npos);
    BOOST_TEST(!parse_fails(record_with_note(R"({"pitch":60,"start":0,"end":0.2,"velocity":1})"), diag));
}

BOOST_AUTO_TEST_CASE(non_numeric_start_text_is_an_invalid_field)
{
    for (const char* start : {"\"\"", "\"1.5s\"", "\"nan\"", "\"inf\"", "true"})
    {
        diagnostics diag;
        const auto ec = parse_fails(record_with_note(std::string(R"({"pitch":60,"start":)") + start + R"(,"end":3,"velocity":1})"), diag);
        BOOST_TEST((ec == client_errc::invalid_field), "start " << start);
        BOOST_TEST(diag.client_message().find("data.midiData.instruments[0].notes[0].start") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(instruments_of_the_wrong_type_are_an_invalid_field)
{
    diagnostics diag;
    const auto ec = parse_fails(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"midiData":{"instruments":{"name":"Drums"}}}})", diag);
    BOOST_TEST((ec == client_errc::invalid_field));
    BOOST_TEST(diag.client_message() == "invalid field data.midiData.instruments: expected an array, got an object");
}

BOOST_AUTO_TEST_CASE(note_times_round_trip_exactly_through_json_text)
{
    // Shortest round-trip text of doubles that a naive decimal parser gets one ULP wrong.
    const double times[] = {0.036458333333333336, 0.18229166666666666, 0.19270833333333334, 7.911458333333333,
                            0.4895833333333333, 123.456789012345678, 1e-7, 0.1 + 0.2};
    std::string notes;
    for (double t : times)
    {
        if (!notes.empty()) notes += ',';
        char buf[64];
        const auto res = std::to_chars(buf, buf + sizeof buf, t);
        notes += R"({"pitch":60,"start":)" + std::string(buf, res.ptr) + R"(,"end":)" + std::string(buf, res.ptr) +
                 R"(,"velocity":1})";
    }
    const auto rec = parse_ok(record_with_note(notes));
    BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == std::size(times));
    for (std::size_t i = 0; i < std::size(times); ++i)
    {
        BOOST_TEST(rec.midi.instruments[0].notes[i].start == times[i], "exact bits for note " << i);
        BOOST_TEST(rec.midi.instruments[0].notes[i].end == times[i]);
    }
}

BOOST_AUTO_TEST_CASE(twenty_thousand_note_record_parses_quickly)
{
    constexpr int instruments = 4;
    constexpr int notes_per_instrument = 5000;
    std::string body = R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"midiData":{"state":"complete","instruments":[)";
    for (int i = 0; i < instruments; ++i)
    {
        if (i) body += ',';
        body += R"({"name":"Instrument )" + std::to_string(i) + R"(","notes":[)";
        for (int n = 0; n < notes_per_instrument; ++n)
        {
            if (n) body += ',';
            const double start = n * 0.125;
            body += R"({"pitch":)" + std::to_string(36 + n % 60) + R"(,"start":)" + std::to_string(start) +
                    R"(,"end":")" + std::to_string(start + 0.1) + R"(","velocity":0.75})";
        }
        body += "]}";
    }
    body += "]}}}";

    midi_record rec;
    diagnostics diag;
    const auto ec = parse_response(body, rec, diag);
    BOOST_TEST_REQUIRE(!ec, diag.to_string());
    BOOST_TEST(note_count(rec.midi) == std::size_t(instruments * notes_per_instrument));
    BOOST_TEST(rec.midi.instruments[3].notes[4999].pitch == 36 + 4999 % 60);
    BOOST_TEST(rec.midi.instruments[3].notes[4999].velocity == 0.75);
    // Its speed is measured in benchmarks/, not asserted here.
}

BOOST_AUTO_TEST_SUITE_END()
