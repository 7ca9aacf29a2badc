// The notes read while parsing (note_reading::captured, what the parsers do) against the
// reference reading from a DOM of the whole body: same error, diagnostics and results, repairs
// included, over the fixtures, the fuzz corpora, edge cases and mutations of all of them.
#include "common/api_fixture.hpp"

#include "api/note_capture.hpp"

#include <kiemidi/api.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace note_capture_test {

using namespace kiemidi;
using namespace kiemidi::api;
using kiemidi::api::detail::note_reading;

std::string file_text(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> corpus(const std::string& dir)
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(std::string(KIEMIDI_FUZZ_CORPUS_DIR) + "/" + dir))
        if (e.is_regular_file()) out.push_back(file_text(e.path()));
    BOOST_TEST_REQUIRE(!out.empty(), "no seeds in fuzz/corpus/" << dir);
    return out;
}

std::vector<std::string> fixtures(const std::string& prefix)
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(KIEMIDI_TEST_FIXTURES_DIR))
        if (e.path().filename().string().starts_with(prefix)) out.push_back(file_text(e.path()));
    BOOST_TEST_REQUIRE(!out.empty(), "no fixtures " << prefix << "*");
    return out;
}

// Returns whether both readings agree, reporting the body when they do not.
bool same_record(const std::string& body)
{
    midi_record fast, ref;
    diagnostics fast_diag, ref_diag;
    const auto fast_ec = kiemidi::api::detail::parse_midi_record(body, fast, fast_diag, note_reading::captured);
    const auto ref_ec = kiemidi::api::detail::parse_midi_record(body, ref, ref_diag, note_reading::dom);
    const bool same = fast_ec == ref_ec && fast_diag.to_string() == ref_diag.to_string() && fast == ref;
    BOOST_TEST(same, "record read differently: " << body.substr(0, 400) << "\n captured: " << fast_ec.message() << " "
                                                 << fast_diag.to_string() << " " << summary(fast.midi.repairs)
                                                 << "\n dom: " << ref_ec.message() << " " << ref_diag.to_string() << " "
                                                 << summary(ref.midi.repairs));
    return same;
}

bool same_callback(const std::string& body)
{
    midi_callback fast, ref;
    diagnostics fast_diag, ref_diag;
    const auto fast_ec = kiemidi::api::detail::parse_midi_callback(body, fast, fast_diag, note_reading::captured);
    const auto ref_ec = kiemidi::api::detail::parse_midi_callback(body, ref, ref_diag, note_reading::dom);
    const bool same = fast_ec == ref_ec && fast_diag.to_string() == ref_diag.to_string() && fast == ref;
    BOOST_TEST(same, "callback read differently: " << body.substr(0, 400) << "\n captured: " << fast_ec.message()
                                                   << " " << fast_diag.to_string()
                                                   << "\n dom: " << ref_ec.message() << " " << ref_diag.to_string());
    return same;
}

// Single-byte edits of `body` drawn from JSON's punctuation and the notes' keys and numbers,
// so most mutants still parse and reach the note rules with odd values.
std::vector<std::string> mutants(const std::string& body, std::size_t count, std::uint32_t seed)
{
    static const std::string alphabet = "{}[]\":,0123456789.-+eE \\ntrfalsu";
    static const char* inserts[] = {"\"pitch\":", "\"start\":", "\"end\":", "\"velocity\":", "\"notes\":[", "null",
                                    "1e400", "\" 7 \"", "127", "-1", "{}", "[", "\"midiData\":\"{}\"", "\"notes\":"};
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    if (body.empty()) return out;
    for (std::size_t i = 0; i < count; ++i)
    {
        std::string m = body;
        const std::size_t at = rng() % m.size();
        switch (rng() % 3)
        {
        case 0: m[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: m.erase(at, 1 + rng() % 8); break;
        default: m.insert(at, inserts[rng() % std::size(inserts)]); break;
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::string record_with_notes(const std::string& notes)
{
    return R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,"midiData":{"instruments":[{"name":"Drums","notes":[)" +
           notes + R"(]},{"name":"Bass","notes":[{"pitch":40,"start":0,"end":1,"velocity":0.5},)" + notes + "]}]}}}";
}

std::string callback_with_notes(const std::string& notes)
{
    return R"({"code":200,"msg":"ok","data":{"task_id":"t","instruments":[{"name":"Drums","notes":[)" + notes + "]}]}}";
}

// One note per line: each alone, and all of them in one list (reasons met in order, paths).
const std::vector<std::string> odd_notes = {
    R"({"pitch":60,"start":0.5,"end":1,"velocity":0.5})",
    R"({"pitch":60,"pitch":200,"start":0,"end":1})",
    R"({"pitch":200,"pitch":61,"start":0,"end":1,"velocity":1})",
    R"({"pitch":"x","pitch":61,"start":0,"end":1,"velocity":0})",
    R"({"pitch":61,"start":0,"end":1,"velocity":90,"velocity":null})",
    R"({"pitch":61,"start":0,"end":1,"velocity":null,"velocity":90})",
    R"({"pitch":61,"start":{"a":1},"start":0.1,"end":1})",
    R"({"pitch":61,"start":0.1,"start":[1],"end":1})",
    R"({"pitch":61,"start":0.1,"start":"0.2","end":1,"end":"x"})",
    R"({"pitch":"60","start":" 0.5 ","end":"1e0","velocity":"73"})",
    R"({"pitch":" 60.0 ","start":"+0.5","end":"1","velocity":" 0.25 "})",
    R"({"pitch":"60.5","start":0,"end":1})",
    R"({"pitch":60,"start":"nan","end":1})",
    R"({"pitch":60,"start":"inf","end":"1"})",
    R"({"pitch":60,"start":"","end":1})",
    R"({"p\u0069tch":62,"st\u0061rt":"0\u002e5","end":1,"v\u0065locity":"9\u0030"})",
    R"(null)", R"(5)", R"("x")", R"("{\"pitch\":60,\"start\":0,\"end\":1}")", R"([1,2])",
    R"([{"pitch":1,"start":0,"end":1}])", R"(true)", R"({})",
    R"({"pitch":60})", R"({"pitch":60,"start":1})", R"({"start":0,"end":1})", R"({"pitch":null,"start":0,"end":1})",
    R"({"pitch":60,"start":0,"end":1,"velocity":1e400})",
    R"({"pitch":60,"start":0,"end":1,"velocity":-1e400})",
    R"({"pitch":60,"start":0,"end":1,"velocity":"1e400"})",
    R"({"pitch":60,"start":0,"end":1,"velocity":123456789012345678901234567890})",
    R"({"pitch":60,"start":0,"end":1,"velocity":18446744073709551615})",
    R"({"pitch":60,"start":0,"end":1e400,"velocity":1})",
    R"({"pitch":60,"start":0,"end":1,"velocity":0})",
    R"({"pitch":60,"start":0,"end":1,"velocity":1})",
    R"({"pitch":60,"start":0,"end":1,"velocity":1.0})",
    R"({"pitch":60,"start":0,"end":1,"velocity":2})",
    R"({"pitch":60,"start":0,"end":1,"velocity":64})",
    R"({"pitch":60,"start":0,"end":1,"velocity":127})",
    R"({"pitch":60,"start":0,"end":1,"velocity":127.5})",
    R"({"pitch":60,"start":0,"end":1,"velocity":128})",
    R"({"pitch":60,"start":0,"end":1,"velocity":64.5})",
    R"({"pitch":60,"start":0,"end":1,"velocity":-1})",
    R"({"pitch":60,"start":0,"end":1,"velocity":-0.0})",
    R"({"pitch":60,"start":0,"end":1,"velocity":true})",
    R"({"pitch":60,"start":0,"end":1,"velocity":{}})",
    R"({"pitch":60,"start":-1,"end":1,"velocity":0.5})",
    R"({"pitch":60,"start":-1,"end":1,"velocity":127})",
    R"({"pitch":60,"start":-1,"end":1})",
    R"({"pitch":60,"start":-1,"end":0})",
    R"({"pitch":60,"start":-1,"end":-0.5})",
    R"({"pitch":60,"start":-0.0,"end":0})",
    R"({"pitch":60,"start":1,"end":1})",
    R"({"pitch":60,"start":2,"end":1})",
    R"({"pitch":-1,"start":0,"end":1})", R"({"pitch":128,"start":0,"end":1})",
    R"({"pitch":60.0,"start":0,"end":1})", R"({"pitch":60.5,"start":0,"end":1})", R"({"pitch":1e2,"start":0,"end":1})",
    R"({"pitch":9223372036854775808,"start":0,"end":1})", R"({"pitch":18446744073709551615,"start":0,"end":1})",
    R"({"pitch":-9223372036854775809,"start":0,"end":1})", R"({"pitch":true,"start":0,"end":1})",
    R"({"pitch":60,"start":0.1000000000000000055511151231257827,"end":0.30000000000000004,"velocity":0.1})",
    R"({"pitch":60,"start":1.7976931348623157e308,"end":1e309})",
    R"({"pitch":60,"start":12345678901234567890123,"end":1.2345678901234567890123e23})",
    R"({"pitch":60,"start":0,"end":1,"extra":{"pitch":1,"notes":[{"pitch":3}]},"velocity":0.3})",
    R"({"pitch":60,"start":0,"end":1,"notes":[{"pitch":200}],"velocity":[0.3]})",
    R"({"pitch":60,"start":0,"end":1,"name":"x","velocity":0.3,"pitch":70})",
};

BOOST_AUTO_TEST_SUITE(api_note_capture)

BOOST_AUTO_TEST_CASE(fixtures_and_seeds_read_alike)
{
    for (const auto& body : fixtures("midi_record")) same_record(body);
    for (const auto& body : corpus("midi_record")) same_record(body);
    for (const auto& body : fixtures("midi_callback")) same_callback(body);
    for (const auto& body : corpus("midi_callback")) same_callback(body);
}

BOOST_AUTO_TEST_CASE(odd_notes_read_alike)
{
    std::string all;
    for (const auto& n : odd_notes)
    {
        same_record(record_with_notes(n));
        same_callback(callback_with_notes(n));
        all += all.empty() ? "" : ",";
        all += n;
    }
    same_record(record_with_notes(all));
    same_callback(callback_with_notes(all));
    same_record(record_with_notes(""));
}

BOOST_AUTO_TEST_CASE(notes_in_odd_places_read_alike)
{
    const std::string a = R"([{"pitch":60,"start":-1,"end":1},{"pitch":61,"start":0,"end":1,"velocity":127}])";
    const std::string b = R"([null,{"pitch":62,"start":0,"end":1,"velocity":2e0}])";
    const std::string head = R"({"code":200,"msg":"success","data":{"taskId":"t","successFlag":1,)";
    const std::vector<std::string> records = {
        // Duplicate keys: the last one wins, at every level.
        head + R"("midiData":{"instruments":[{"notes":)" + a + R"(,"notes":)" + b + "}]}}}",
        head + R"("midiData":{"instruments":[{"notes":)" + a + R"(,"notes":5}]}}})",
        head + R"("midiData":{"instruments":[{"notes":5,"notes":)" + a + "}]}}}",
        head + R"("midiData":{"instruments":[{"notes":)" + a + R"(,"notes":null}]}}})",
        head + R"("midiData":{"instruments":[{"notes":)" + a + R"(}],"instruments":[{"name":"x"},{"notes":)" + b + "}]}}}",
        head + R"("midiData":{"instruments":[{"notes":)" + a + R"(}]},"midiData":{"instruments":[{"notes":)" + b + "}]}}}",
        head + R"("midi_data":{"instruments":[{"notes":)" + a + "}]}}}",
        head + R"("midiData":null,"midi_data":{"instruments":[{"notes":)" + b + "}]}}}",
        // `notes` arrays nobody reads, and notes that are not a list.
        head + R"("notes":)" + a + R"(,"midiData":{"notes":)" + b + R"(,"instruments":[{"notes":)" + a + "}]}},\"notes\":[]}",
        head + R"("midiData":{"instruments":[{"notes":"[]"},{"notes":{}},{"notes":true},{"n\u006ftes":)" + a + "}]}}}",
        head + R"("midiData":{"instruments":[null,5,{"notes":)" + a + R"(},[{"notes":)" + b + "}]]}}}",
        head + R"("midiData":{"instruments":{"notes":)" + a + "}}}}",
        // The midiData object as JSON text, itself holding notes.
        head + R"("midiData":"{\"instruments\":[{\"notes\":[{\"pitch\":60,\"start\":-1,\"end\":1},null]}]}"}})",
        head + R"("midiData":"{\"instruments\":[{\"notes\":[{\"pitch\":60,\"start\":-1,\"end\":1}]]}"}})",
        head + R"("midiData":"  "}})",
        // Bodies that are not JSON, cut inside the notes.
        head + R"("midiData":{"instruments":[{"notes":[{"pitch":60,"start":0,)",
        head + R"("midiData":{"instruments":[{"notes":[{"pitch":60,"start":0,"end":1}]]}}})",
        head + R"("midiData":{"instruments":[{"notes":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}}})",
        R"({"code":500,"msg":"x","data":{"midiData":{"instruments":[{"notes":)" + a + "}]}}}",
    };
    for (const auto& body : records) same_record(body);

    const std::vector<std::string> callbacks = {
        R"({"code":200,"msg":"ok","data":{"task_id":"t","instruments":[{"notes":)" + a + "}]}}",
        R"({"code":200,"msg":"ok","data":{"task_id":"t","midiData":{"instruments":[{"notes":)" + a + "}]}}}",
        R"({"code":200,"msg":"ok","data":{"task_id":"t","midi_data":"{\"instruments\":[{\"notes\":)"
        R"([{\"pitch\":60,\"start\":-1,\"end\":1}]}]}"}})",
        R"({"code":500,"msg":"failed","data":{"task_id":"t","instruments":[{"notes":)" + b + "}]}}",
        R"({"code":500,"msg":"failed","data":{"task_id":"t"},"notes":)" + a + "}",
        R"({"code":200,"msg":"ok","data":{"task_id":"t","instruments":[{"notes":)" + a + R"(}]},"data":{"task_id":"u"}})",
    };
    for (const auto& body : callbacks) same_callback(body);
}

BOOST_AUTO_TEST_CASE(many_reasons_and_long_lists_read_alike)
{
    // More distinct reasons than result_repairs keeps, over several instruments.
    std::string notes;
    for (std::size_t i = 0; i < 400; ++i)
    {
        notes += i ? "," : "";
        notes += odd_notes[(i * 7) % odd_notes.size()];
    }
    same_record(record_with_notes(notes));
    same_callback(callback_with_notes(notes));
}

BOOST_AUTO_TEST_CASE(mutated_bodies_read_alike)
{
    std::vector<std::string> records = fixtures("midi_record");
    for (auto& s : corpus("midi_record")) records.push_back(std::move(s));
    records.push_back(record_with_notes(odd_notes[0] + "," + odd_notes[9] + "," + odd_notes[45]));
    std::vector<std::string> callbacks = fixtures("midi_callback");
    for (auto& s : corpus("midi_callback")) callbacks.push_back(std::move(s));
    callbacks.push_back(callback_with_notes(odd_notes[0] + "," + odd_notes[9] + "," + odd_notes[45]));

    std::uint32_t seed = 1;
    std::size_t failures = 0;
    for (const auto& body : records)
        for (const auto& m : mutants(body, 300, seed++))
            if (!same_record(m) && ++failures > 5) return;
    for (const auto& body : callbacks)
        for (const auto& m : mutants(body, 300, seed++))
            if (!same_callback(m) && ++failures > 5) return;
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace note_capture_test
