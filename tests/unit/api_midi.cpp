#include "common/api_fixture.hpp"

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

BOOST_AUTO_TEST_CASE(non_numeric_pitch_drops_that_note_and_keeps_the_others)
{
    const auto rec = parse_ok(fixture("midi_record_pitch_not_a_number.json"));
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 2u);
    BOOST_TEST(rec.midi.instruments[0].notes.size() == 1u);
    BOOST_TEST(rec.midi.instruments[1].notes.size() == 3u);
    BOOST_TEST(rec.midi.instruments[1].notes.back().pitch == 43);
    BOOST_TEST(rec.midi.repairs.notes_dropped == 1u);
    BOOST_TEST(rec.midi.repairs.notes_repaired == 0u);
    BOOST_TEST_REQUIRE(rec.midi.repairs.reasons.size() == 1u);
    BOOST_TEST(rec.midi.repairs.reasons[0].what == "pitch not an integer");
    BOOST_TEST(rec.midi.repairs.reasons[0].first_at == "data.midiData.instruments[1].notes[3]");
}

BOOST_AUTO_TEST_CASE(note_without_pitch_is_dropped_and_named)
{
    const auto rec = parse_ok(fixture("midi_record_note_without_pitch.json"));
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 1u);
    BOOST_TEST(rec.midi.instruments[0].notes.size() == 1u);
    BOOST_TEST(rec.midi.repairs.notes_dropped == 1u);
    BOOST_TEST_REQUIRE(rec.midi.repairs.reasons.size() == 1u);
    BOOST_TEST(rec.midi.repairs.reasons[0].what == "note without pitch");
    BOOST_TEST(rec.midi.repairs.reasons[0].first_at == "data.midiData.instruments[0].notes[1]");
}

BOOST_AUTO_TEST_CASE(pitch_outside_the_midi_range_or_fractional_drops_the_note)
{
    for (const char* pitch : {"-1", "128", "60.5", "\"high\"", "null", "true"})
    {
        const auto rec = parse_ok(record_with_note(std::string(R"({"pitch":)") + pitch + R"(,"start":0,"end":1,"velocity":1})"));
        BOOST_TEST(rec.midi.instruments.at(0).notes.empty(), "pitch " << pitch);
        BOOST_TEST(rec.midi.repairs.notes_dropped == 1u, "pitch " << pitch);
    }
    for (const char* pitch : {"0", "127", "\"60\"", "60.0"})
    {
        const auto rec = parse_ok(record_with_note(std::string(R"({"pitch":)") + pitch + R"(,"start":0,"end":1,"velocity":1})"));
        BOOST_TEST(rec.midi.instruments.at(0).notes.size() == 1u, "pitch " << pitch);
        BOOST_TEST(rec.midi.repairs.empty(), "pitch " << pitch);
    }
}

BOOST_AUTO_TEST_CASE(velocity_on_the_midi_scale_is_rescaled_and_others_are_clamped)
{
    struct case_t { const char* json; double expected; const char* reason; };
    const case_t cases[] = {
        {"100", 100.0 / 127.0, "velocity on the 0-127 scale"},
        {"127", 1.0, "velocity on the 0-127 scale"},
        {"\"64\"", 64.0 / 127.0, "velocity on the 0-127 scale"},
        {"1.01", 1.0, "velocity above 1 clamped"},
        {"127.5", 1.0, "velocity above 1 clamped"},
        {"300", 1.0, "velocity above 1 clamped"},
        {"1e999", 1.0, "velocity above 1 clamped"},
        {"-0.1", 0.0, "negative velocity clamped to 0"},
        {"\"loud\"", note::default_velocity, "velocity not a number (0.8 used)"},
    };
    for (const auto& c : cases)
    {
        const auto rec = parse_ok(record_with_note(std::string(R"({"pitch":60,"start":0,"end":1,"velocity":)") + c.json + "}"));
        BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 1u, "velocity " << c.json);
        BOOST_TEST(rec.midi.instruments[0].notes[0].velocity == c.expected, "velocity " << c.json);
        BOOST_TEST(rec.midi.repairs.notes_repaired == 1u, "velocity " << c.json);
        BOOST_TEST(rec.midi.repairs.notes_dropped == 0u);
        BOOST_TEST_REQUIRE(rec.midi.repairs.reasons.size() == 1u);
        BOOST_TEST(rec.midi.repairs.reasons[0].what == c.reason, "velocity " << c.json);
    }
    for (const char* velocity : {"0", "1", "\"0.25\""})
    {
        const auto rec = parse_ok(record_with_note(std::string(R"({"pitch":60,"start":0,"end":1,"velocity":)") + velocity + "}"));
        BOOST_TEST(rec.midi.repairs.empty(), "velocity " << velocity);
    }
}

BOOST_AUTO_TEST_CASE(missing_or_null_velocity_gets_the_documented_default)
{
    for (const char* note_json : {R"({"pitch":60,"start":0,"end":1})", R"({"pitch":60,"start":0,"end":1,"velocity":null})"})
    {
        const auto rec = parse_ok(record_with_note(note_json));
        BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 1u);
        BOOST_TEST(rec.midi.instruments[0].notes[0].velocity == 0.8);
        BOOST_TEST(rec.midi.repairs.notes_repaired == 1u);
        BOOST_TEST(rec.midi.repairs.reasons.at(0).what == "no velocity (0.8 used)");
    }
}

BOOST_AUTO_TEST_CASE(zero_length_and_backwards_notes_are_dropped)
{
    const auto rec = parse_ok(record_with_note(
        R"({"pitch":60,"start":2,"end":"1.5","velocity":1},{"pitch":61,"start":2,"end":2,"velocity":1},)"
        R"({"pitch":62,"start":2,"end":2.5,"velocity":1})"));
    BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 1u);
    BOOST_TEST(rec.midi.instruments[0].notes[0].pitch == 62);
    BOOST_TEST(rec.midi.repairs.notes_dropped == 2u);
    BOOST_TEST_REQUIRE(rec.midi.repairs.reasons.size() == 2u);
    BOOST_TEST(rec.midi.repairs.reasons[0].what == "note ending before it starts");
    BOOST_TEST(rec.midi.repairs.reasons[0].first_at == "data.midiData.instruments[0].notes[0]");
    BOOST_TEST(rec.midi.repairs.reasons[1].what == "zero-length note");
}

BOOST_AUTO_TEST_CASE(negative_start_is_clamped_when_the_note_ends_after_zero_else_dropped)
{
    const auto rec = parse_ok(record_with_note(
        R"({"pitch":60,"start":-0.03,"end":0.2,"velocity":1},{"pitch":61,"start":-0.5,"end":-0.1,"velocity":1},)"
        R"({"pitch":62,"start":-0.5,"end":0,"velocity":1})"));
    BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 1u);
    const auto& n = rec.midi.instruments[0].notes[0];
    BOOST_TEST(n.pitch == 60);
    BOOST_TEST(n.start == 0.0);
    BOOST_TEST(n.end == 0.2);
    BOOST_TEST(rec.midi.repairs.notes_repaired == 1u);
    BOOST_TEST(rec.midi.repairs.notes_dropped == 2u);
    BOOST_TEST(rec.midi.repairs.reasons.at(0).what == "negative start clamped to 0");
    BOOST_TEST(rec.midi.repairs.reasons.at(1).what == "note before the track start");
}

BOOST_AUTO_TEST_CASE(non_numeric_or_missing_times_drop_the_note)
{
    for (const char* start : {"\"\"", "\"1.5s\"", "\"nan\"", "\"inf\"", "true", "null", "1e999"})
    {
        const auto rec = parse_ok(record_with_note(std::string(R"({"pitch":60,"start":)") + start + R"(,"end":3,"velocity":1})"));
        BOOST_TEST(rec.midi.instruments.at(0).notes.empty(), "start " << start);
        BOOST_TEST(rec.midi.repairs.notes_dropped == 1u, "start " << start);
        BOOST_TEST(rec.midi.repairs.reasons.at(0).what == "note time missing or not a finite number");
    }
    const auto rec = parse_ok(record_with_note(R"({"pitch":60,"start":0,"velocity":1})"));
    BOOST_TEST(rec.midi.repairs.notes_dropped == 1u);
}

BOOST_AUTO_TEST_CASE(a_note_with_two_repairs_counts_once_with_both_reasons)
{
    const auto rec = parse_ok(record_with_note(R"({"pitch":60,"start":-0.1,"end":0.5,"velocity":90})"));
    BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 1u);
    BOOST_TEST(rec.midi.instruments[0].notes[0].start == 0.0);
    BOOST_TEST(rec.midi.instruments[0].notes[0].velocity == 90.0 / 127.0);
    BOOST_TEST(rec.midi.repairs.notes_repaired == 1u);
    BOOST_TEST(rec.midi.repairs.reasons.size() == 2u);
    BOOST_TEST(summary(rec.midi.repairs) == "1 note repaired (negative start clamped to 0 x1, velocity on the 0-127 scale x1)");
}

BOOST_AUTO_TEST_CASE(odd_notes_never_fail_the_record_and_are_summarized)
{
    // The five odd notes the emulator's odd_notes_rate injects, plus one ordinary note.
    const auto rec = parse_ok(record_with_note(
        R"({"pitch":60,"start":0.5,"end":0.75,"velocity":100},{"pitch":62,"start":1,"end":1,"velocity":0.5},)"
        R"({"pitch":64,"start":1.25,"end":"1.5"},{"pitch":200,"start":1.5,"end":1.75,"velocity":0.5},)"
        R"({"pitch":65,"start":"-0.05","end":0.25,"velocity":0.5},{"pitch":67,"start":2,"end":2.5,"velocity":0.5},)"
        R"(null,42)"));
    BOOST_TEST(rec.midi.instruments.at(0).notes.size() == 4u);
    BOOST_TEST(rec.midi.repairs.notes_repaired == 3u);
    BOOST_TEST(rec.midi.repairs.notes_dropped == 4u);
    BOOST_TEST(summary(rec.midi.repairs) ==
               "3 notes repaired, 4 dropped (velocity on the 0-127 scale x1, zero-length note x1, no velocity (0.8 used) x1, "
               "pitch outside 0-127 x1, negative start clamped to 0 x1, note that is not an object x2)");
    for (const auto& n : rec.midi.instruments[0].notes)
    {
        BOOST_TEST((n.pitch >= 0 && n.pitch <= 127));
        BOOST_TEST((n.start >= 0 && n.start < n.end));
        BOOST_TEST((n.velocity >= 0 && n.velocity <= 1));
    }
}

BOOST_AUTO_TEST_CASE(null_names_null_notes_and_null_instruments_are_an_empty_part_not_an_error)
{
    const auto rec = parse_ok(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"midiData":{"state":null,"instruments":[
            {"name":null,"notes":null},{"name":{"x":1},"notes":"none"},null,
            {"name":"Drums","notes":[{"pitch":36,"start":0,"end":0.1,"velocity":1}]}]}}})");
    BOOST_TEST_REQUIRE(rec.midi.instruments.size() == 3u);
    BOOST_TEST(rec.midi.instruments[0].name.empty());
    BOOST_TEST(rec.midi.instruments[0].notes.empty());
    BOOST_TEST(rec.midi.instruments[1].name.empty());
    BOOST_TEST(rec.midi.instruments[2].notes.size() == 1u);
    BOOST_TEST(rec.midi.repairs.items_dropped == 1u);
    BOOST_TEST(rec.midi.repairs.fields_ignored == 2u);
    BOOST_TEST(note_count(rec.midi) == 1u);
}

BOOST_AUTO_TEST_CASE(null_or_absent_success_flag_reads_as_pending)
{
    for (const char* flag : {R"("successFlag":null,)", ""})
    {
        const auto rec = parse_ok(std::string(R"({"code":200,"msg":"success","data":{)") + flag +
                                  R"("taskId":"t","midiData":null}})");
        BOOST_TEST((rec.state == midi_state::pending));
        BOOST_TEST(!is_final(rec.state));
    }
}

BOOST_AUTO_TEST_CASE(unknown_success_flag_is_not_final_and_kept_verbatim)
{
    for (const char* flag : {"4", "\"WEIRD\"", "-7", "true"})
    {
        const auto rec = parse_ok(std::string(R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":)") + flag + "}}");
        BOOST_TEST((rec.state == midi_state::unknown), "flag " << flag);
        BOOST_TEST(!is_final(rec.state));
    }
    BOOST_TEST(parse_ok(R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":4}})").raw_state == "4");
    BOOST_TEST(parse_ok(R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":"WEIRD"}})").raw_state == "WEIRD");
}

BOOST_AUTO_TEST_CASE(odd_optional_record_fields_read_as_absent)
{
    const auto rec = parse_ok(
        R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"recordTaskId":"n/a","audioId":[1],
            "callbackUrl":5,"createTime":"soon","completeTime":{},"errorCode":{},"errorMessage":[],"midiData":null}})");
    BOOST_TEST(!rec.record_task_id.has_value());
    BOOST_TEST(rec.audio_id.empty());
    BOOST_TEST(rec.callback_url.empty());
    BOOST_TEST(!rec.create_time_ms.has_value());
    BOOST_TEST(!rec.error_code.has_value());
    BOOST_TEST(rec.midi.repairs.fields_ignored == 6u);
}

BOOST_AUTO_TEST_CASE(a_record_without_task_id_still_fails)
{
    diagnostics diag;
    BOOST_TEST((parse_fails(R"({"code":200,"msg":"success","data":{"successFlag":1}})", diag) == client_errc::missing_field));
    BOOST_TEST(diag.client_message() == "missing field data.taskId");
}

BOOST_AUTO_TEST_CASE(result_warning_says_what_was_repaired_and_when_there_are_no_notes)
{
    result_repairs none;
    BOOST_TEST(result_warning(none, 5).empty());
    BOOST_TEST(result_warning(none, 0) == "KIE detected no notes in this track (valid after split_stem)");
    const auto rec = parse_ok(record_with_note(R"({"pitch":60,"start":1,"end":1,"velocity":1})"));
    BOOST_TEST(result_warning(rec.midi.repairs, 0) ==
               "1 note dropped (zero-length note x1); KIE detected no notes in this track (valid after split_stem)");
    result_repairs merged = rec.midi.repairs;
    merge(merged, rec.midi.repairs);
    BOOST_TEST(merged.notes_dropped == 2u);
    BOOST_TEST(merged.reasons.size() == 1u);
    BOOST_TEST(merged.reasons[0].count == 2u);
}

BOOST_AUTO_TEST_CASE(reasons_are_bounded_but_counts_cover_everything)
{
    std::string notes;
    // 25 distinct reasons cannot happen with notes alone; distinct optional fields can: use both.
    for (int i = 0; i < 30; ++i)
    {
        if (i) notes += ',';
        notes += R"({"pitch":60,"start":1,"end":1,"velocity":1})";
    }
    const auto rec = parse_ok(record_with_note(notes));
    BOOST_TEST(rec.midi.repairs.notes_dropped == 30u);
    BOOST_TEST(rec.midi.repairs.reasons.size() == 1u);
    BOOST_TEST(rec.midi.repairs.reasons[0].count == 30u);
    result_repairs many;
    for (std::size_t i = 0; i < result_repairs::max_reasons + 5; ++i)
    {
        result_repairs one;
        one.items_dropped = 1;
        one.reasons.push_back(repair_reason{"reason " + std::to_string(i), 1, ""});
        merge(many, one);
    }
    BOOST_TEST(many.items_dropped == result_repairs::max_reasons + 5);
    BOOST_TEST(many.reasons.size() == result_repairs::max_reasons);
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
        // Each time once as a start and once as an end (a zero-length note would be dropped).
        notes += R"({"pitch":60,"start":)" + std::string(buf, res.ptr) + R"(,"end":1000,"velocity":1},)";
        notes += R"({"pitch":60,"start":0,"end":)" + std::string(buf, res.ptr) + R"(,"velocity":1})";
    }
    const auto rec = parse_ok(record_with_note(notes));
    BOOST_TEST_REQUIRE(rec.midi.instruments.at(0).notes.size() == 2 * std::size(times));
    for (std::size_t i = 0; i < std::size(times); ++i)
    {
        BOOST_TEST(rec.midi.instruments[0].notes[2 * i].start == times[i], "exact bits for note " << i);
        BOOST_TEST(rec.midi.instruments[0].notes[2 * i + 1].end == times[i]);
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
