// The batch plan (what a run will pay, against the journal's states), the rate limit's time and
// rows asking for the same work.
#include <kiemidi/batch_duplicates.hpp>
#include <kiemidi/batch_plan.hpp>

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace kiemidi;
using namespace std::chrono_literals;

namespace {

track_spec song(const std::string& n, std::optional<api::separation_type> type = std::nullopt, std::string stem = {})
{
    return track_spec{.task_id = "music-" + n, .audio_id = "track-" + n, .name = {}, .separation = type, .stem = std::move(stem),
                      .separation_task_id = {}};
}

journal_entry entry(std::int64_t id, track_spec t, track_state s)
{
    journal_entry e;
    e.id = id;
    e.track = std::move(t);
    e.state = s;
    return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(batch_plan_suite)

BOOST_AUTO_TEST_CASE(a_new_list_pays_a_separation_of_its_type_and_a_midi_per_track)
{
    batch_options opts;
    const std::vector<track_spec> tracks{song("1"), song("2", api::separation_type::split_stem),
                                         track_spec{.task_id = {}, .audio_id = {}, .name = {}, .separation = {}, .stem = {},
                                                    .separation_task_id = "sep-given"}};
    const auto plan = plan_batch(tracks, {}, opts, credit_costs{}, rate_limit_options{});
    BOOST_TEST(plan.fresh == 3u);
    BOOST_TEST(plan.paid.separate_vocal == 1u);
    BOOST_TEST(plan.paid.split_stem == 1u);
    BOOST_TEST(plan.paid.midi == 3u);  // the given separation needs its MIDI only
    BOOST_TEST(plan.estimated_credits == 10 + 50 + 3 * 10);
    BOOST_TEST(plan.rate_limit_time.count() == 0);  // 5 submissions fit in one window
    credit_costs cheap;
    cheap.split_stem = 5;
    BOOST_TEST(plan_batch(tracks, {}, opts, cheap, rate_limit_options{}).estimated_credits == 10 + 5 + 30);
}

BOOST_AUTO_TEST_CASE(resumed_tracks_count_only_the_steps_they_still_need_and_left_ones_nothing)
{
    batch_options opts;
    std::vector<journal_entry> known{entry(1, song("done"), track_state::done),
                                     entry(2, song("sep"), track_state::separating),
                                     entry(3, song("midi"), track_state::transcribing),
                                     entry(4, song("lost"), track_state::outcome_unknown),
                                     entry(5, song("bad"), track_state::failed),
                                     entry(6, song("intent"), track_state::separation_intent)};
    known[1].separation_task_id = "sep-2";
    known[2].midi_task_id = "midi-3";
    std::vector<track_spec> tracks;
    for (const auto& e : known) tracks.push_back(e.track);
    tracks.push_back(song("new"));
    const auto plan = plan_batch(tracks, known, opts, credit_costs{}, rate_limit_options{});
    BOOST_TEST(plan.done == 1u);
    BOOST_TEST(plan.resume == 3u);
    BOOST_TEST(plan.fresh == 1u);
    BOOST_TEST(plan.left_unknown == 1u);
    BOOST_TEST(plan.left_failed == 1u);
    BOOST_TEST(plan.paid.separate_vocal == 1u);  // the new one
    BOOST_TEST(plan.paid.midi == 3u);            // new, separating, separation found from its callback
    BOOST_TEST(plan.tracks[1].next_step == "wait for separation sep-2, then MIDI");
    BOOST_TEST(plan.tracks[2].next_step == "wait for MIDI task midi-3");

    opts.resubmit_unknown = true;  // consent: the unknown one starts over
    BOOST_TEST(plan_batch(tracks, known, opts, credit_costs{}, rate_limit_options{}).paid.separate_vocal == 2u);
}

BOOST_AUTO_TEST_CASE(the_rate_limit_takes_one_window_per_full_budget_after_the_first)
{
    rate_limit_options rl;  // 20 per 10 s
    BOOST_TEST(rate_limit_time(0, rl).count() == 0);
    BOOST_TEST(rate_limit_time(20, rl).count() == 0);
    BOOST_TEST(rate_limit_time(21, rl) == 10000ms);
    BOOST_TEST(rate_limit_time(100, rl) == 40000ms);
    rl.enabled = false;
    BOOST_TEST(rate_limit_time(100, rl).count() == 0);
}

BOOST_AUTO_TEST_CASE(rows_asking_for_the_same_work_point_at_the_first)
{
    midi_params defaults;
    auto renamed = song("1");
    renamed.name = "another name";
    auto other_stem = song("1", std::nullopt, "Vocals");
    auto same_stem_other_case = song("1", std::nullopt, "vOCALS");
    auto explicit_default_type = song("1", api::separation_type::separate_vocal);
    const std::vector<track_spec> tracks{song("1"), renamed, other_stem, same_stem_other_case, explicit_default_type,
                                         song("1", api::separation_type::split_stem)};
    const auto first = first_of_same_work(tracks, defaults);
    BOOST_TEST(first == (std::vector<std::size_t>{0, 0, 2, 2, 0, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(paid_kinds_read_back_from_their_names)
{
    for (auto k : {paid_kind::separate_vocal, paid_kind::split_stem, paid_kind::midi})
        BOOST_TEST((paid_kind_from_string(to_string(k)) == k));
    BOOST_TEST(!paid_kind_from_string("stems"));
}

BOOST_AUTO_TEST_SUITE_END()
