// The piano-roll SVG: well-formed XML (read back by Boost.PropertyTree's XML parser), one rect per
// note, escaped names, bounded size, clamped pitches, the drum lane and velocity as opacity.
#include <kiemidi/smf/piano_roll.hpp>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace kiemidi;
using kiemidi::api::instrument;
using kiemidi::api::note;
namespace pt = boost::property_tree;

namespace {

/// The SVG parsed by a real XML parser; fails the test when it is not well-formed.
pt::ptree parse_svg(const std::string& svg)
{
    std::istringstream in(svg);
    pt::ptree tree;
    try
    {
        pt::read_xml(in, tree);
    }
    catch (const pt::xml_parser_error& e)
    {
        BOOST_FAIL("the SVG is not well-formed XML: " << e.what() << "\n" << svg.substr(0, 2000));
    }
    return tree;
}

std::string attr(const pt::ptree& node, const std::string& name) { return node.get<std::string>("<xmlattr>." + name, ""); }

/// A shape read back from the document.
struct shape
{
    std::string group_fill;  ///< fill of the enclosing <g class="instrument">
    double x = 0, y = 0, width = 0, height = 0;
    std::string opacity;
};

/// Every element named `tag` whose class is `cls`, in document order, with its parent's fill.
void collect(const pt::ptree& node, const std::string& tag, const std::string& cls, const std::string& fill,
             std::vector<shape>& out, std::vector<std::string>& texts)
{
    for (const auto& [name, child] : node)
    {
        if (name == "<xmlattr>") continue;
        if (name == tag && attr(child, "class") == cls)
            out.push_back({fill, child.get<double>("<xmlattr>.x"), child.get<double>("<xmlattr>.y"),
                           child.get<double>("<xmlattr>.width"), child.get<double>("<xmlattr>.height"),
                           attr(child, "fill-opacity")});
        if (name == "text") texts.push_back(child.get_value<std::string>());
        const auto f = attr(child, "class") == "instrument" ? attr(child, "fill") : fill;
        collect(child, tag, cls, f, out, texts);
    }
}

struct roll
{
    pt::ptree tree;
    std::vector<shape> notes;
    std::vector<std::string> texts;
    double width = 0, height = 0;
};

roll draw(const std::vector<instrument>& instruments, const smf::piano_roll_options& opts = {})
{
    const auto svg = smf::write_piano_roll_svg(instruments, opts);
    BOOST_TEST_REQUIRE(svg.starts_with("<svg"));
    roll r;
    r.tree = parse_svg(svg);
    const auto& root = r.tree.get_child("svg");
    r.width = root.get<double>("<xmlattr>.width");
    r.height = root.get<double>("<xmlattr>.height");
    collect(root, "rect", "note", "", r.notes, r.texts);
    return r;
}

bool has_text(const roll& r, const std::string& t)
{
    for (const auto& s : r.texts)
        if (s == t) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smf_piano_roll)

BOOST_AUTO_TEST_CASE(every_note_is_one_rect_in_its_instrument_colour)
{
    const std::vector<instrument> in{
        {"Acoustic Grand Piano", {{60, 0.0, 0.5, 1.0}, {64, 0.5, 1.0, 0.5}, {67, 1.0, 2.0, 0.8}}},
        {"Drums", {{36, 0.0, 0.1, 1.0}, {38, 0.5, 0.6, 1.0}}},
        {"Electric Bass (finger)", {{40, 0.0, 2.0, 1.0}}},
    };
    const auto r = draw(in);
    BOOST_TEST(r.notes.size() == 6u);
    BOOST_TEST(r.notes[0].group_fill == std::string(smf::piano_roll_colour(0)));
    BOOST_TEST(r.notes[3].group_fill == std::string(smf::piano_roll_colour(1)));
    BOOST_TEST(r.notes[5].group_fill == std::string(smf::piano_roll_colour(2)));
    BOOST_TEST(smf::piano_roll_colour(0) != smf::piano_roll_colour(1));
    // Time runs left to right, pitch bottom to top.
    BOOST_TEST(r.notes[1].x > r.notes[0].x);
    BOOST_TEST(r.notes[1].y < r.notes[0].y);
    BOOST_TEST(r.notes[2].width > r.notes[0].width);
    // The legend names each instrument; octave lines carry note names (C4 = middle C).
    BOOST_TEST(has_text(r, "Acoustic Grand Piano (3 notes)"));
    BOOST_TEST(has_text(r, "Drums (drums, 2 notes)"));
    BOOST_TEST(has_text(r, "Electric Bass (finger) (1 note)"));
    BOOST_TEST(has_text(r, "C4"));
    BOOST_TEST(has_text(r, "C2"));
    BOOST_TEST(has_text(r, "0:00"));
    BOOST_TEST(has_text(r, "drums"));
}

BOOST_AUTO_TEST_CASE(drums_have_their_own_lane_below_the_pitched_notes)
{
    // A drum note's pitch (here higher than the piano's) does not place it among pitched notes.
    const std::vector<instrument> in{
        {"Piano", {{48, 0.0, 1.0, 1.0}, {72, 0.0, 1.0, 1.0}}},
        {"Drum Kit", {{81, 0.0, 0.1, 1.0}, {35, 0.2, 0.3, 1.0}}},
    };
    const auto r = draw(in);
    BOOST_TEST_REQUIRE(r.notes.size() == 4u);
    const double lowest_pitched = std::max(r.notes[0].y + r.notes[0].height, r.notes[1].y + r.notes[1].height);
    BOOST_TEST(r.notes[2].y > lowest_pitched);
    BOOST_TEST(r.notes[3].y > lowest_pitched);
    BOOST_TEST(r.notes[3].y > r.notes[2].y);  // the kick (35) below the higher sound (81)
    BOOST_TEST(r.notes[2].y + r.notes[2].height <= r.height);
}

BOOST_AUTO_TEST_CASE(velocity_is_opacity)
{
    const auto r = draw({{"Piano", {{60, 0, 1, 0.0}, {60, 1, 2, 0.5}, {60, 2, 3, 1.0}}}});
    BOOST_TEST_REQUIRE(r.notes.size() == 3u);
    BOOST_TEST(r.notes[0].opacity == "0.30");
    BOOST_TEST(r.notes[1].opacity == "0.65");
    BOOST_TEST(r.notes[2].opacity == "1.00");
}

BOOST_AUTO_TEST_CASE(instrument_names_and_title_are_escaped)
{
    const std::string evil = "<b>Lead & \"Rhythm\" 'Guitar'</b>\x01]]>";
    smf::piano_roll_options o;
    o.title = "Song <1> & more";
    const auto svg = smf::write_piano_roll_svg(std::vector<instrument>{{evil, {{60, 0, 1, 1}}}}, o);
    BOOST_TEST(svg.find("<b>") == std::string::npos);
    BOOST_TEST(svg.find('\x01') == std::string::npos);
    const auto r = draw({{evil, {{60, 0, 1, 1}}}}, o);
    BOOST_TEST(r.notes.size() == 1u);
    BOOST_TEST(has_text(r, "<b>Lead & \"Rhythm\" 'Guitar'</b>?]]> (1 note)"));
    BOOST_TEST(has_text(r, "Song <1> & more"));
}

BOOST_AUTO_TEST_CASE(no_instrument_or_no_note_gives_a_small_valid_image)
{
    for (const auto& in : {std::vector<instrument>{}, std::vector<instrument>{{"Piano", {}}, {"Drums", {}}}})
    {
        const auto r = draw(in);
        BOOST_TEST(r.notes.empty());
        BOOST_TEST(has_text(r, "no notes"));
        BOOST_TEST(r.width <= 400);
    }
}

BOOST_AUTO_TEST_CASE(one_short_note_is_still_visible)
{
    const auto r = draw({{"Flute", {{72, 0.25, 0.2501, 1}}}});
    BOOST_TEST_REQUIRE(r.notes.size() == 1u);
    BOOST_TEST(r.notes[0].width >= 1.0);
    BOOST_TEST(r.notes[0].height >= 2.0);
    BOOST_TEST(r.width >= 200);  // a one-second clip is not drawn 40 px wide
    BOOST_TEST(has_text(r, "C5"));
}

BOOST_AUTO_TEST_CASE(a_long_song_keeps_a_bounded_width)
{
    // A 3-minute song and a 3-hour one: both within the maximum plot width.
    for (double length : {180.0, 3 * 3600.0})
    {
        std::vector<instrument> in{{"Piano", {}}, {"Drums", {}}};
        for (double t = 0; t < length; t += length / 2000)
        {
            in[0].notes.push_back({60 + static_cast<int>(t) % 24, t, t + 0.4, 0.8});
            in[1].notes.push_back({36 + static_cast<int>(t) % 3, t, t + 0.1, 1.0});
        }
        const auto r = draw(in);
        BOOST_TEST(r.notes.size() == in[0].notes.size() + in[1].notes.size());
        BOOST_TEST(r.width <= 1200 + 56 + 16);
        BOOST_TEST(r.height <= 800);
        double right = 0;
        for (const auto& n : r.notes) right = std::max(right, n.x + n.width);
        BOOST_TEST(right <= r.width);
    }
    smf::piano_roll_options narrow;
    narrow.max_plot_width = 500;
    const auto r = draw({{"Piano", {{60, 0, 600, 1}}}}, narrow);
    BOOST_TEST(r.width <= 500 + 56 + 16);
}

BOOST_AUTO_TEST_CASE(pitches_outside_the_usual_range_are_drawn_at_the_edges)
{
    const std::vector<instrument> in{{"Synth Lead", {{0, 0, 1, 1}, {127, 1, 2, 1}, {-5, 2, 3, 1}, {200, 3, 4, 1}}}};
    const auto r = draw(in);
    BOOST_TEST_REQUIRE(r.notes.size() == 4u);
    BOOST_TEST(r.notes[2].y == r.notes[0].y);  // -5 drawn as 0
    BOOST_TEST(r.notes[3].y == r.notes[1].y);  // 200 drawn as 127
    BOOST_TEST(r.notes[1].y < r.notes[0].y);
    BOOST_TEST(has_text(r, "C-1"));
    BOOST_TEST(has_text(r, "C9"));
    BOOST_TEST(r.height <= 600);
    BOOST_TEST(smf::note_name(61) == "C#4");
    BOOST_TEST(smf::note_name(21) == "A0");
}

BOOST_AUTO_TEST_CASE(odd_times_yield_finite_coordinates)
{
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const auto svg = smf::write_piano_roll_svg(std::vector<instrument>{{"Piano", {{60, -1, 1, 1}, {62, nan, 2, 1}, {64, 1, inf, 1}}}});
    BOOST_TEST(svg.find("nan") == std::string::npos);
    BOOST_TEST(svg.find("inf") == std::string::npos);
    BOOST_TEST(draw({{"Piano", {{60, -1, 1, 1}, {62, nan, 2, 1}, {64, 1, inf, 1}}}}).notes.size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
