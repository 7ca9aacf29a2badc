// The batch report page: well-formed markup (read back by an XML parser), one track body per
// row, escaped names, encoded links, inline piano rolls, KIE's message and advice for tracks
// that are not done.
#include "../../apps/cli/report.hpp"

#include <kiemidi/smf/piano_roll.hpp>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace kiemidi;
using namespace kiemidi::cli;
namespace pt = boost::property_tree;

namespace {

std::size_t count(const std::string& s, const std::string& what)
{
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
    return n;
}

pt::ptree parse_page(const std::string& html)
{
    std::istringstream in(html);
    pt::ptree tree;
    try
    {
        pt::read_xml(in, tree);
    }
    catch (const pt::xml_parser_error& e)
    {
        BOOST_FAIL("the report is not well-formed: " << e.what());
    }
    return tree;
}

std::vector<report_row> sample_rows()
{
    report_row done;
    done.name = "song one";
    done.task_id = "t1";
    done.audio_id = "a1";
    done.state = "done";
    done.instruments = {"Acoustic Grand Piano", "Drums"};
    done.notes = 3;
    done.duration_seconds = 185.4;
    const std::vector<api::instrument> in{{"Acoustic Grand Piano", {{60, 0, 1, 1}, {62, 1, 2, 1}}}, {"Drums", {{36, 0, 0.1, 1}}}};
    done.svg = smf::write_piano_roll_svg(in);
    done.links = {{"mid", "song one.mid"}, {"json", "song one.json"}, {"svg", "song one.svg"}};

    report_row failed;
    failed.name = "<bad> & co";
    failed.task_id = "t2";
    failed.audio_id = "a2";
    failed.state = "failed";
    failed.failed_stage = "separation";
    failed.message = "kiemidi.api:task_failed: Vocal separation failed <500>";

    report_row unknown;
    unknown.name = "lost";
    unknown.state = "outcome_unknown";
    unknown.failed_stage = "midi";
    unknown.message = "the answer to the paid MIDI submission was lost";
    return {done, failed, unknown};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_report)

BOOST_AUTO_TEST_CASE(one_track_body_per_row_with_its_roll_links_and_messages)
{
    const auto rows = sample_rows();
    const auto html = render_report_html("out", "out/kiemidi-journal.sqlite", rows);
    parse_page(html);
    BOOST_TEST(html.starts_with("<!DOCTYPE html>"));
    BOOST_TEST(count(html, "<tbody class=\"track") == 3u);
    BOOST_TEST(count(html, "<tbody class=\"track state-done\"") == 1u);
    BOOST_TEST(count(html, "<tbody class=\"track state-failed\"") == 1u);
    BOOST_TEST(count(html, "<tbody class=\"track state-outcome_unknown\"") == 1u);
    // The roll is inline; its notes are there.
    BOOST_TEST(count(html, "<svg") == 1u);
    BOOST_TEST(count(html, "class=\"note\"") == 3u);
    // Links are relative and encoded; names are escaped.
    BOOST_TEST(html.find("href=\"song%20one.mid\"") != std::string::npos);
    BOOST_TEST(html.find("href=\"song%20one.json\"") != std::string::npos);
    BOOST_TEST(html.find("&lt;bad&gt; &amp; co") != std::string::npos);
    BOOST_TEST(html.find("<bad>") == std::string::npos);
    // Failed and unknown tracks show KIE's message and what to do.
    BOOST_TEST(html.find("Vocal separation failed &lt;500&gt;") != std::string::npos);
    BOOST_TEST(html.find("kiemidi run t2 a2") != std::string::npos);
    BOOST_TEST(html.find("--resubmit-unknown") != std::string::npos);
    BOOST_TEST(html.find("3:05") != std::string::npos);
    BOOST_TEST(html.find("3 tracks, 1 done, 1 failed, 1 outcome_unknown; 3 notes") != std::string::npos);
    // No external asset: nothing is fetched at view time.
    BOOST_TEST(html.find("src=") == std::string::npos);
    BOOST_TEST(html.find("<link") == std::string::npos);
    BOOST_TEST(html.find("<script") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_large_batch_is_one_page_of_bounded_size)
{
    // 500 tracks with a roll each: the page is about the size of its rolls, not more.
    std::vector<report_row> rows;
    const std::vector<api::instrument> in{{"Piano", {{60, 0, 1, 1}, {64, 1, 2, 0.5}}}, {"Drums", {{36, 0, 0.1, 1}}}};
    const auto svg = smf::write_piano_roll_svg(in);
    for (int i = 0; i < 500; ++i)
    {
        report_row r;
        r.name = "song-" + std::to_string(i);
        r.state = "done";
        r.notes = 3;
        r.svg = svg;
        rows.push_back(std::move(r));
    }
    const auto html = render_report_html("big", "", rows);
    BOOST_TEST(count(html, "<tbody class=\"track") == 500u);
    BOOST_TEST(html.size() < 500 * (svg.size() + 1024));
    parse_page(html);
}

BOOST_AUTO_TEST_CASE(no_rows_is_a_valid_page_that_says_so)
{
    const auto html = render_report_html("empty", "", {});
    parse_page(html);
    BOOST_TEST(html.find("No track results here yet.") != std::string::npos);
    BOOST_TEST(count(html, "<tbody") == 0u);
}

BOOST_AUTO_TEST_CASE(advice_follows_the_state)
{
    report_row r;
    r.name = "x";
    r.state = "done";
    r.notes = 5;
    BOOST_TEST(advice_for(r).empty());
    r.notes = 0;
    BOOST_TEST(advice_for(r).find("no notes") != std::string::npos);
    r.state = "separating";
    BOOST_TEST(advice_for(r).find("run the same `kiemidi batch` command again") != std::string::npos);
    r.state = "pending";
    BOOST_TEST(advice_for(r).find("Not started") != std::string::npos);
    r.state = "failed";
    r.failed_stage = "output";
    BOOST_TEST(advice_for(r).find("could not be written") != std::string::npos);
    BOOST_TEST(advice_for(r).find("--retry-failed") != std::string::npos);
    r.state = "not_written";
    BOOST_TEST(advice_for(r).find("nothing paid") != std::string::npos);
    r.state = "result_lost";
    BOOST_TEST(advice_for(r).find("--resubmit") != std::string::npos);
    r.state = "outcome_unknown";
    BOOST_TEST(advice_for(r).find("charged twice") != std::string::npos);
    // The retry command is one a shell reads back as the same words.
    r.state = "failed";
    r.failed_stage = "midi";
    r.task_id = "it's";
    r.audio_id = "a b";
    r.name = "plain-name_1.x";
    BOOST_TEST(advice_for(r).find("kiemidi run 'it'\\''s' 'a b' --name plain-name_1.x -o DIR") != std::string::npos, advice_for(r));
}

BOOST_AUTO_TEST_CASE(links_are_percent_encoded_and_urls_kept)
{
    BOOST_TEST(encode_href("a b#c?d%.mid") == "a%20b%23c%3Fd%25.mid");
    BOOST_TEST(encode_href("dir/x-y_z~1.svg") == "dir/x-y_z~1.svg");
    report_row r;
    r.name = "s";
    r.state = "done";
    r.notes = 1;
    r.links = {{"vocals", "https://example.com/v.mp3?x=1&y=2"}};
    const auto html = render_report_html("t", "", std::vector<report_row>{r});
    BOOST_TEST(html.find("href=\"https://example.com/v.mp3?x=1&amp;y=2\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
