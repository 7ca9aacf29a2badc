// Track lists of `kiemidi batch`: CSV and JSON Lines, bad rows reported with file and line.
#include "../../apps/cli/duration.hpp"
#include "../../apps/cli/progress.hpp"
#include "../../apps/cli/track_list.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

using namespace kiemidi::cli;
using namespace std::chrono_literals;

namespace {

/// `text` read as the track list `file`: no bad rows, and exactly `rows` rows.
track_list clean_list(std::string_view text, std::string_view file, std::size_t rows)
{
    auto l = parse_track_list(text, file);
    BOOST_TEST(l.errors.empty(), (l.errors.empty() ? std::string{} : l.errors.front().to_string()));
    BOOST_REQUIRE_EQUAL(l.rows.size(), rows);
    return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(track_list_parsing)

BOOST_AUTO_TEST_CASE(csv_with_header_and_optional_names)
{
    const auto l = clean_list("task_id,audio_id,name\nt1,a1,first\nt2,a2\n\n t3 , a3 , third \n", "x.csv", 3u);
    BOOST_TEST(l.rows[0].task_id == "t1");
    BOOST_TEST(l.rows[0].name == "first");
    BOOST_TEST(l.rows[0].line == 2u);
    BOOST_TEST(l.rows[1].name.empty());
    BOOST_TEST(l.rows[2].task_id == "t3");
    BOOST_TEST(l.rows[2].name == "third");
    BOOST_TEST(l.rows[2].line == 5u);
}

BOOST_AUTO_TEST_CASE(csv_without_header_and_crlf)
{
    const auto l = clean_list("t1,a1\r\nt2,a2,n2\r\n", "x.csv", 2u);
    BOOST_TEST(l.rows[0].audio_id == "a1");
    BOOST_TEST(l.rows[1].name == "n2");
}

BOOST_AUTO_TEST_CASE(csv_quoted_fields_keep_commas_and_quotes)
{
    const auto l = clean_list("t1,a1,\"Song, \"\"live\"\"\"\n\"t2\",\"a2\"\n", "x.csv", 2u);
    BOOST_TEST(l.rows[0].name == "Song, \"live\"");
    BOOST_TEST(l.rows[1].task_id == "t2");
}

BOOST_AUTO_TEST_CASE(csv_quoted_newline_keeps_later_line_numbers_right)
{
    auto l = parse_track_list("t1,a1,\"two\nlines\"\nt2,a2\nbad\n", "x.csv");
    BOOST_REQUIRE_EQUAL(l.rows.size(), 1u);  // a name with a newline is not a file name
    BOOST_REQUIRE_EQUAL(l.errors.size(), 2u);
    BOOST_TEST(l.errors[0].line == 1u);
    BOOST_TEST(l.rows[0].line == 3u);
    BOOST_TEST(l.errors[1].line == 4u);
}

BOOST_AUTO_TEST_CASE(bad_csv_rows_name_file_and_line_and_the_rest_is_kept)
{
    auto l = parse_track_list("task_id,audio_id\nt1,a1\nonly-one-field\nt2,a2,n,extra\n,a3\nt4,a4,../escape\nt5,\"open\nt6,a6\n",
                              "tracks.csv");
    BOOST_REQUIRE_EQUAL(l.rows.size(), 1u);
    BOOST_TEST(l.rows[0].task_id == "t1");
    BOOST_REQUIRE_EQUAL(l.errors.size(), 5u);
    BOOST_TEST(l.errors[0].to_string().starts_with("tracks.csv:3: expected 2 or 3 fields"));
    BOOST_TEST(l.errors[1].line == 4u);
    BOOST_TEST(l.errors[2].to_string() == "tracks.csv:5: empty task_id");
    BOOST_TEST(l.errors[3].line == 6u);
    BOOST_TEST(l.errors[3].message.find("'/'") != std::string::npos);
    BOOST_TEST(l.errors[4].line == 7u);
    BOOST_TEST(l.errors[4].message == "unterminated quoted field");
}

BOOST_AUTO_TEST_CASE(stray_quote_in_unquoted_field_is_a_row_error)
{
    auto l = parse_track_list("t1,a\"1\nt2,a2\n", "x.csv");
    BOOST_REQUIRE_EQUAL(l.errors.size(), 1u);
    BOOST_TEST(l.errors[0].line == 1u);
    BOOST_REQUIRE_EQUAL(l.rows.size(), 1u);
    BOOST_TEST(l.rows[0].line == 2u);
}

BOOST_AUTO_TEST_CASE(json_lines_detected_by_first_brace)
{
    const auto l = clean_list("\n  {\"task_id\":\"t1\",\"audio_id\":\"a1\",\"name\":\"n1\"}\n{\"task_id\":\"t2\",\"audio_id\":\"a2\",\"x\":1}\n",
                              "list.txt", 2u);
    BOOST_TEST(l.rows[0].name == "n1");
    BOOST_TEST(l.rows[0].line == 2u);
    BOOST_TEST(l.rows[1].task_id == "t2");
}

BOOST_AUTO_TEST_CASE(bad_json_lines_are_reported_per_line)
{
    auto l = parse_track_list("{\"task_id\":\"t1\",\"audio_id\":\"a1\"}\n{not json\n[1]\n{\"task_id\":\"t3\"}\n"
                              "{\"task_id\":\"t4\",\"audio_id\":[1]}\n{\"task_id\":5,\"audio_id\":\"a5\"}\n",
                              "l.jsonl", track_list_format::json_lines);
    BOOST_REQUIRE_EQUAL(l.rows.size(), 2u);
    BOOST_TEST(l.rows[1].task_id == "5");
    BOOST_REQUIRE_EQUAL(l.errors.size(), 4u);
    BOOST_TEST(l.errors[0].to_string().starts_with("l.jsonl:2: invalid JSON"));
    BOOST_TEST(l.errors[1].to_string() == "l.jsonl:3: expected a JSON object");
    BOOST_TEST(l.errors[2].to_string() == "l.jsonl:4: missing \"audio_id\"");
    BOOST_TEST(l.errors[3].line == 5u);
}

BOOST_AUTO_TEST_CASE(csv_header_names_optional_columns_in_any_order)
{
    const auto l = clean_list("audio_id,task_id,stem,type,name\n"
                              "a1,t1,Bass,split_stem,bass-line\n"
                              "a2,t2,,,\n"
                              "a3,t3\n",  // trailing columns may be left out
                              "x.csv", 3u);
    BOOST_TEST(l.rows[0].task_id == "t1");
    BOOST_TEST(l.rows[0].audio_id == "a1");
    BOOST_TEST(l.rows[0].stem == "Bass");
    BOOST_TEST((l.rows[0].type == kiemidi::api::separation_type::split_stem));
    BOOST_TEST(l.rows[0].name == "bass-line");
    BOOST_TEST(l.rows[0].has_choices());
    BOOST_TEST(!l.rows[1].type.has_value());
    BOOST_TEST(l.rows[1].stem.empty());
    BOOST_TEST(!l.rows[1].has_choices());
    BOOST_TEST(l.rows[2].task_id == "t3");
}

BOOST_AUTO_TEST_CASE(csv_rows_may_name_a_separation_instead_of_a_music_track)
{
    auto l = parse_track_list("separation_task_id,task_id,audio_id,stem,type\n"
                              "s1,,,drums\n"
                              ",t2,a2,,separate_vocal\n"
                              "s3,t3,a3\n"           // both: which one is meant?
                              "s4,,,,split_stem\n"   // a separation made already has its type
                              ",t5,a5,,all_stems\n"  // not a type KIE knows
                              ",t6,a6,,,extra\n",
                              "x.csv");
    BOOST_REQUIRE_EQUAL(l.rows.size(), 2u);
    BOOST_TEST(l.rows[0].separation_task_id == "s1");
    BOOST_TEST(l.rows[0].task_id.empty());
    BOOST_TEST(l.rows[0].stem == "drums");
    BOOST_TEST(l.rows[1].task_id == "t2");
    BOOST_TEST((l.rows[1].type == kiemidi::api::separation_type::separate_vocal));
    BOOST_REQUIRE_EQUAL(l.errors.size(), 4u);
    BOOST_TEST(l.errors[0].line == 4u);
    BOOST_TEST(l.errors[0].message.find("not both") != std::string::npos, l.errors[0].message);
    BOOST_TEST(l.errors[1].message.find("type does not apply") != std::string::npos, l.errors[1].message);
    BOOST_TEST(l.errors[2].message == "type must be separate_vocal or split_stem, not 'all_stems'");
    BOOST_TEST(l.errors[3].message.find("at most 5 fields") != std::string::npos, l.errors[3].message);
}

BOOST_AUTO_TEST_CASE(a_csv_header_with_an_unknown_column_is_an_error_and_rows_are_read_positionally)
{
    auto l = parse_track_list("task_id,audio_id,colour\nt1,a1\n", "x.csv");
    BOOST_REQUIRE_EQUAL(l.errors.size(), 1u);
    BOOST_TEST(l.errors[0].line == 1u);
    BOOST_TEST(l.errors[0].message.find("unknown column 'colour'") != std::string::npos, l.errors[0].message);
    BOOST_REQUIRE_EQUAL(l.rows.size(), 1u);
    BOOST_TEST(l.rows[0].audio_id == "a1");
    auto twice = parse_track_list("task_id,audio_id,stem,stem\n", "x.csv");
    BOOST_REQUIRE_EQUAL(twice.errors.size(), 1u);
    BOOST_TEST(twice.errors[0].message == "column 'stem' twice");
    auto neither = parse_track_list("name,stem\n", "x.csv");
    BOOST_REQUIRE_EQUAL(neither.errors.size(), 1u);
    BOOST_TEST(neither.errors[0].message.find("needs task_id and audio_id, or separation_task_id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_lines_take_type_stem_and_separation_fields)
{
    auto l = parse_track_list("{\"task_id\":\"t1\",\"audio_id\":\"a1\",\"type\":\"split_stem\",\"stem\":\"Bass\"}\n"
                              "{\"separation_task_id\":\"s2\",\"stem\":\"Instrumental\",\"name\":\"inst\"}\n"
                              "{\"separation_task_id\":\"s3\",\"type\":\"split_stem\"}\n"
                              "{\"task_id\":\"t4\",\"audio_id\":\"a4\",\"type\":\"two_stems\"}\n"
                              "{\"task_id\":\"t5\",\"audio_id\":\"a5\",\"stem\":7}\n"
                              "{\"stem\":\"Bass\"}\n",
                              "l.jsonl", track_list_format::json_lines);
    BOOST_REQUIRE_EQUAL(l.rows.size(), 3u);  // "stem":7 is read as the text "7", as numbers elsewhere
    BOOST_TEST((l.rows[0].type == kiemidi::api::separation_type::split_stem));
    BOOST_TEST(l.rows[0].stem == "Bass");
    BOOST_TEST(l.rows[1].separation_task_id == "s2");
    BOOST_TEST(l.rows[1].task_id.empty());
    BOOST_TEST(l.rows[1].name == "inst");
    BOOST_TEST(l.rows[2].stem == "7");
    BOOST_REQUIRE_EQUAL(l.errors.size(), 3u);
    BOOST_TEST(l.errors[0].to_string() == "l.jsonl:3: type does not apply to a separation made already (separation_task_id)");
    BOOST_TEST(l.errors[1].to_string() == "l.jsonl:4: type must be separate_vocal or split_stem, not 'two_stems'");
    BOOST_TEST(l.errors[2].to_string() == "l.jsonl:6: missing \"task_id\"");
}

BOOST_AUTO_TEST_CASE(extension_chooses_json_lines)
{
    auto dir = std::filesystem::temp_directory_path() / ("kiemidi-track-list-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream(dir / "t.ndjson") << "# not csv\n";
        std::ofstream(dir / "t.csv") << "t1,a1\n";
    }
    std::string why;
    auto j = read_track_list(dir / "t.ndjson", why);
    BOOST_REQUIRE(j);
    BOOST_TEST(j->errors.size() == 1u);  // '#' is not a comment in JSON Lines
    auto c = read_track_list(dir / "t.csv", why);
    BOOST_REQUIRE(c);
    BOOST_TEST(c->rows.size() == 1u);
    BOOST_TEST(!read_track_list(dir / "missing.csv", why));
    BOOST_TEST(why.find("missing.csv") != std::string::npos);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(default_output_names_are_safe_file_names)
{
    BOOST_TEST(default_output_name("5c79/be8e", "e231 x:y") == "5c79_be8e_e231_x_y");
    BOOST_TEST(default_output_name(".hidden", "a") == "_hidden_a");
    BOOST_TEST(check_output_name("ok name (live)").empty());
    BOOST_TEST(!check_output_name("..").empty());
    BOOST_TEST(!check_output_name("a/b").empty());
}

BOOST_AUTO_TEST_CASE(progress_line_shows_counts_rate_and_eta)
{
    progress_counts c{.total = 60, .done = 20, .failed = 1, .in_flight = 16, .skipped = 0};
    auto line = format_progress_line(c, 7s);
    BOOST_TEST(line == "20/60 done, 1 failed, 16 in flight, 3.0 tracks/s, ETA 0:13");
    progress_counts resumed{.total = 10, .done = 10, .failed = 0, .in_flight = 0, .skipped = 10};
    BOOST_TEST(format_progress_line(resumed, 1s) == "10/10 done, 0 failed, 0 in flight, 0.0 tracks/s, ETA 0:00");
}

BOOST_AUTO_TEST_CASE(progress_line_says_when_kie_rate_limit_holds_requests_back)
{
    progress_counts c{.total = 60, .done = 20, .failed = 1, .in_flight = 16, .skipped = 0, .rate_limit_queued = 12};
    BOOST_TEST(format_progress_line(c, 7s) ==
               "20/60 done, 1 failed, 16 in flight, 3.0 tracks/s, ETA 0:13; waiting for KIE's rate limit: 12 requests queued");
    BOOST_TEST(format_rate_limit_line(1) == "waiting for KIE's rate limit: 1 request queued");
}

BOOST_AUTO_TEST_CASE(progress_line_says_since_when_kie_is_unavailable_and_when_it_is_tried_next)
{
    const auto now = std::chrono::steady_clock::now();
    kiemidi::metrics::kie_availability kie;
    BOOST_TEST(format_kie_line(kie, now).empty());  // up: nothing to say
    kie.down = true;
    kie.code = 455;
    kie.reason = "maintenance";
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mon = 11;
    tm.tm_mday = 7;
    tm.tm_hour = 12;
    tm.tm_min = 3;
    tm.tm_sec = 10;
    tm.tm_isdst = -1;
    kie.since = std::chrono::system_clock::from_time_t(std::mktime(&tm));  // local time, as shown
    kie.next_try = now + 19500ms;
    const auto line = format_kie_line(kie, now);
    BOOST_TEST(line == "KIE unavailable (code 455, maintenance) since 12:03:10, next try in 20 s");
    progress_counts c{.total = 30, .done = 6, .failed = 0, .in_flight = 6, .skipped = 0, .rate_limit_queued = 0,
                      .kie_unavailable = line};
    BOOST_TEST(format_progress_line(c, 6s) == "6/30 done, 0 failed, 6 in flight, 1.0 tracks/s, ETA 0:24; " + line);
}

BOOST_AUTO_TEST_CASE(durations_take_units_and_a_bare_number_means_seconds)
{
    BOOST_TEST(parse_duration("30min").value().count() == 1800000);
    BOOST_TEST(parse_duration("90s").value().count() == 90000);
    BOOST_TEST(parse_duration("500ms").value().count() == 500);
    BOOST_TEST(parse_duration("1h30min").value().count() == 5400000);
    BOOST_TEST(parse_duration("45").value().count() == 45000);
    for (const char* bad : {"", "-1s", "5m", "s", "1.5s", "10 s", "99999999999999999h"})
        BOOST_TEST(!parse_duration(bad).has_value(), bad);
}

// A named namespace, not a file-local one: Boost.Test's test cases derive from these fixtures, and
// in a unity build g++ (-Wsubobject-linkage) refuses a base of a file-local type in an included file.
namespace cli_progress_fixtures {

/// What a progress_printer wrote to `file`, captured in memory (the fixture of the progress tests).
struct captured_output
{
    char* data = nullptr;
    std::size_t size = 0;
    std::FILE* file = ::open_memstream(&data, &size);
    captured_output() { BOOST_TEST_REQUIRE(file != nullptr); }
    ~captured_output() { std::free(data); }
    std::string written()
    {
        std::fflush(file);
        return std::string(data, size);
    }
};

}  // namespace cli_progress_fixtures
using namespace cli_progress_fixtures;

BOOST_FIXTURE_TEST_CASE(progress_in_a_pipe_prints_plain_lines_and_one_rate_limit_line_per_spell, captured_output)
{
    {
        progress_printer p(file, false);
        progress_counts c{.total = 3, .done = 0, .failed = 0, .in_flight = 3, .skipped = 0};
        p.update(c);
        p.rate_limit(0);
        p.rate_limit(2);
        p.rate_limit(1);  // the same spell, within plain_repeat: not repeated
        c.done = 1;
        p.track_line("ok", "first", "out/first.mid", c);
        p.rate_limit(0);
        p.rate_limit(1);  // a new spell
        p.note("a notice");
        c.failed = 1;
        p.track_line("FAIL", "second", "KIE said no", c);
        p.finish(c);
    }
    const auto text = written();
    std::fclose(file);
    BOOST_TEST(text == "waiting for KIE's rate limit: 2 requests queued\n"
                       "ok   first: out/first.mid  [1/3 done, 0 failed]\n"
                       "waiting for KIE's rate limit: 1 request queued\n"
                       "a notice\n"
                       "FAIL second: KIE said no  [1/3 done, 1 failed]\n");
    BOOST_TEST(text.find('\x1b') == std::string::npos);
    BOOST_TEST(text.find('\r') == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(progress_on_a_terminal_redraws_one_status_line_below_the_track_lines, captured_output)
{
    progress_printer p(file, true);
    progress_counts c{.total = 2, .done = 0, .failed = 0, .in_flight = 2, .skipped = 0};
    p.update(c);
    auto text = written();
    BOOST_TEST(text.starts_with("\r0/2 done, 0 failed, 2 in flight"), text);
    BOOST_TEST(text.ends_with("\033[K"), text);
    BOOST_TEST(text.find('\n') == std::string::npos, text);  // redrawn in place

    std::this_thread::sleep_for(120ms);  // past the redraw throttle
    p.rate_limit(5);
    text = written();
    BOOST_TEST(text.ends_with("; waiting for KIE's rate limit: 5 requests queued\033[K"), text);
    BOOST_TEST(text.find('\n') == std::string::npos, text);

    // A failure clears the status line, leaves its own line and redraws the status below it.
    c.failed = 1;
    c.in_flight = 1;
    const auto before = text.size();
    p.track_line("FAIL", "second", "KIE said no", c);
    text = written();
    BOOST_TEST(text.substr(before).starts_with("\r\033[KFAIL second: KIE said no\n\r0/2 done, 1 failed, 1 in flight"),
               text.substr(before));
    p.rate_limit(0);
    c.done = 1;
    c.in_flight = 0;
    p.finish(c);
    text = written();
    const auto last = text.substr(text.rfind('\r'));
    BOOST_TEST(last.starts_with("\r1/2 done, 1 failed, 0 in flight, "), last);
    BOOST_TEST(last.ends_with(" tracks/s, ETA 0:00\033[K\n"), last);  // the limiter's line is gone
    std::fclose(file);
}

BOOST_AUTO_TEST_SUITE_END()
