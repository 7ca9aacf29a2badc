// kiemidi::journal: the batch state machine in SQLite, persisted across close and reopen.
#include <kiemidi/journal.hpp>

#include "common/temp_dir.hpp"

#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kiemidi;
namespace fs = std::filesystem;

// A named namespace, not a file-local one: Boost.Test's test cases derive from these fixtures, and
// in a unity build g++ (-Wsubobject-linkage) refuses a base of a file-local type in an included file.
namespace batch_journal_fixtures {

/// A fresh directory for one test, removed afterwards.
struct journal_dir : test::temp_dir
{
    journal_dir() : test::temp_dir("kiemidi-journal") {}
};

std::vector<track_spec> three_tracks()
{
    return {{"music1", "audio1", "one"}, {"music2", "audio2", "two"}, {"music3", "audio3", ""}};
}

int pragma_int(const fs::path& p, const char* sql)
{
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(::sqlite3_open(p.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    BOOST_TEST_REQUIRE(::sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    int v = -1;
    if (::sqlite3_step(s) == SQLITE_ROW) v = ::sqlite3_column_int(s, 0);
    ::sqlite3_finalize(s);
    ::sqlite3_close(db);
    return v;
}

/// A journal file in a fresh directory, not created yet.
struct journal_file
{
    journal_dir dir;
    fs::path p = dir.path / "j.db";
};

/// Runs `sql` on the SQLite file `p` directly, the way another kiemidi version would have written it.
void write_with_sqlite(const fs::path& p, const char* sql)
{
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(::sqlite3_open(p.c_str(), &db) == SQLITE_OK);
    const int rc = ::sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    ::sqlite3_close(db);
    BOOST_TEST_REQUIRE(rc == SQLITE_OK);
}

}  // namespace batch_journal_fixtures
using namespace batch_journal_fixtures;

BOOST_AUTO_TEST_SUITE(journal_tests)

BOOST_AUTO_TEST_CASE(track_states_round_trip_through_their_names)
{
    for (std::size_t i = 0; i < track_state_count; ++i)
    {
        auto s = static_cast<track_state>(i);
        BOOST_TEST((track_state_from_string(to_string(s)) == s));
    }
    BOOST_TEST(to_string(track_state::outcome_unknown) == "outcome_unknown");
    BOOST_TEST(!track_state_from_string("bogus").has_value());
}

BOOST_AUTO_TEST_CASE(a_new_journal_uses_wal_and_records_its_schema_version)
{
    journal_dir dir;
    const auto p = dir.path / "batch.journal";
    {
        error_code ec;
        diagnostics diag;
        auto j = journal::open(p, ec, diag);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(j.is_open());
        BOOST_TEST(j.entries().empty());
    }
    BOOST_TEST(pragma_int(p, "PRAGMA user_version") == journal::schema_version);
    BOOST_TEST(fs::exists(p));
    sqlite3* db = nullptr;
    ::sqlite3_open(p.c_str(), &db);
    sqlite3_stmt* s = nullptr;
    ::sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
    BOOST_TEST_REQUIRE(::sqlite3_step(s) == SQLITE_ROW);
    BOOST_TEST(std::string(reinterpret_cast<const char*>(::sqlite3_column_text(s, 0))) == "wal");
    ::sqlite3_finalize(s);
    ::sqlite3_close(db);
}

BOOST_AUTO_TEST_CASE(adding_the_same_tracks_twice_keeps_one_row_each)
{
    journal_dir dir;
    auto j = journal::open(dir.path / "j.db");
    auto tracks = three_tracks();
    j.add_tracks(tracks);
    j.add_tracks(tracks);
    auto all = j.entries();
    BOOST_TEST_REQUIRE(all.size() == 3u);
    BOOST_TEST(all[0].track.name == "one");
    BOOST_TEST(all[2].track.task_id == "music3");
    for (const auto& e : all) BOOST_TEST((e.state == track_state::pending));
    BOOST_TEST(j.counts()[track_state::pending] == 3u);
    BOOST_TEST(j.counts().total == 3u);
}

BOOST_FIXTURE_TEST_CASE(state_transitions_persist_across_close_and_reopen, journal_file)
{
    std::int64_t a = 0, b = 0, c = 0;
    {
        auto j = journal::open(p);
        auto tracks = three_tracks();
        j.add_tracks(tracks);
        auto all = j.entries();
        a = all[0].id;
        b = all[1].id;
        c = all[2].id;
        // a: all the way to done
        j.record_intent(a, journal_stage::separation);
        j.record_task_id(a, journal_stage::separation, "sep-a");
        j.record_intent(a, journal_stage::midi);
        j.record_task_id(a, journal_stage::midi, "midi-a");
        j.mark_done(a);
        // b: separating, then closed (a restart)
        j.record_intent(b, journal_stage::separation);
        j.record_task_id(b, journal_stage::separation, "sep-b");
        // c: intent without answer
        j.record_intent(c, journal_stage::separation);
    }
    auto j = journal::open(p);
    auto ea = j.get(a);
    BOOST_TEST((ea.state == track_state::done));
    BOOST_TEST(ea.separation_task_id == "sep-a");
    BOOST_TEST(ea.midi_task_id == "midi-a");
    BOOST_TEST(ea.attempts == 2u);
    auto eb = j.get(b);
    BOOST_TEST((eb.state == track_state::separating));
    BOOST_TEST(eb.separation_task_id == "sep-b");
    BOOST_TEST(eb.midi_task_id.empty());
    auto ec = j.get(c);
    BOOST_TEST((ec.state == track_state::separation_intent));
    BOOST_TEST(ec.separation_task_id.empty());

    j.mark_outcome_unknown(c, "answer lost");
    j.mark_failed(b, "separation", "KIE: audio too short");
    auto counts = j.counts();
    BOOST_TEST(counts[track_state::done] == 1u);
    BOOST_TEST(counts[track_state::failed] == 1u);
    BOOST_TEST(counts[track_state::outcome_unknown] == 1u);
    j = journal{};  // close

    auto again = journal::open(p);
    auto fb = again.get(b);
    BOOST_TEST((fb.state == track_state::failed));
    BOOST_TEST(fb.error == "KIE: audio too short");
    BOOST_TEST(fb.failed_stage == "separation");
    auto fc = again.get(c);
    BOOST_TEST((fc.state == track_state::outcome_unknown));
    BOOST_TEST(fc.failed_stage == "separation");
    BOOST_TEST(fc.error == "answer lost");
}

BOOST_AUTO_TEST_CASE(a_transition_from_the_wrong_state_is_refused_and_changes_nothing)
{
    journal_dir dir;
    auto j = journal::open(dir.path / "j.db");
    std::vector<track_spec> one{{"m", "a", "n"}};
    j.add_tracks(one);
    const auto id = j.entries().at(0).id;
    diagnostics diag;
    BOOST_TEST((j.record_task_id(id, journal_stage::separation, "t", diag) == journal_errc::invalid_transition));
    BOOST_TEST(diag.client_message().find("pending") != std::string::npos);
    BOOST_TEST((j.mark_done(id, diag) == journal_errc::invalid_transition));
    BOOST_TEST((j.record_intent(id, journal_stage::midi, diag) == journal_errc::invalid_transition));
    BOOST_TEST((j.mark_outcome_unknown(id, "x", diag) == journal_errc::invalid_transition));
    BOOST_TEST((j.get(id).state == track_state::pending));
    BOOST_TEST(j.get(id).attempts == 0u);
    BOOST_TEST((j.record_intent(9999, journal_stage::separation, diag) == journal_errc::unknown_track));
    BOOST_CHECK_THROW(j.mark_done(id), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(requeue_returns_to_the_latest_state_its_task_ids_allow)
{
    journal_dir dir;
    auto j = journal::open(dir.path / "j.db");
    auto tracks = three_tracks();
    j.add_tracks(tracks);
    auto all = j.entries();
    // unknown outcome before any task id → pending
    j.record_intent(all[0].id, journal_stage::separation);
    j.mark_outcome_unknown(all[0].id, "lost");
    BOOST_TEST((j.requeue(all[0].id) == track_state::pending));
    BOOST_TEST(j.get(all[0].id).error.empty());
    // unknown MIDI outcome with a separation task id → separating (wait, not pay again)
    j.record_intent(all[1].id, journal_stage::separation);
    j.record_task_id(all[1].id, journal_stage::separation, "s1");
    j.record_intent(all[1].id, journal_stage::midi);
    j.mark_outcome_unknown(all[1].id, "lost");
    BOOST_TEST(j.get(all[1].id).failed_stage == "midi");
    BOOST_TEST((j.requeue(all[1].id) == track_state::separating));
    // failed while waiting for MIDI → transcribing
    j.record_intent(all[2].id, journal_stage::separation);
    j.record_task_id(all[2].id, journal_stage::separation, "s2");
    j.record_intent(all[2].id, journal_stage::midi);
    j.record_task_id(all[2].id, journal_stage::midi, "m2");
    j.mark_failed(all[2].id, "midi", "timeout");
    BOOST_TEST((j.requeue(all[2].id) == track_state::transcribing));
    diagnostics diag;
    track_state s{};
    BOOST_TEST((j.requeue(all[2].id, s, diag) == journal_errc::invalid_transition));
}

BOOST_FIXTURE_TEST_CASE(opening_a_journal_from_a_newer_kiemidi_fails_with_a_clear_error, journal_file)
{
    {
        auto j = journal::open(p);
    }
    write_with_sqlite(p, "PRAGMA user_version = 99");
    error_code ec;
    diagnostics diag;
    auto j = journal::open(p, ec, diag);
    BOOST_TEST((ec == journal_errc::newer_schema));
    BOOST_TEST(!j.is_open());
    BOOST_TEST(diag.client_message().find("99") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unopenable_path_reports_the_sqlite_error)
{
    error_code ec;
    diagnostics diag;
    auto j = journal::open("/nonexistent-dir-kiemidi/x/j.db", ec, diag);
    BOOST_TEST(ec.failed());
    BOOST_TEST(&ec.category() == &get_sqlite_category());
    BOOST_TEST(!diag.client_message().empty());
    BOOST_TEST(!j.is_open());
    std::vector<journal_entry> out;
    BOOST_TEST((j.entries(out, diag) == journal_errc::not_open));
}

BOOST_FIXTURE_TEST_CASE(an_intent_keeps_its_callback_reference_and_a_version_1_journal_is_upgraded, journal_file)
{
    // A journal as version 1 wrote it: no intent_ref column.
    const char* v1 =
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, audio_id TEXT NOT NULL, name TEXT NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'pending', separation_task_id TEXT NOT NULL DEFAULT '',"
        " midi_task_id TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', failed_stage TEXT NOT NULL DEFAULT '',"
        " attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
        " UNIQUE (task_id, audio_id, name));"
        "INSERT INTO tracks (task_id, audio_id, name, state) VALUES ('m', 'a', 'old', 'separation_intent');"
        "PRAGMA user_version = 1;";
    write_with_sqlite(p, v1);
    {
        auto j = journal::open(p);
        auto e = j.entries();
        BOOST_TEST_REQUIRE(e.size() == 1u);
        BOOST_TEST((e[0].state == track_state::separation_intent));
        BOOST_TEST(e[0].intent_ref.empty());
        std::vector<track_spec> t{{"m2", "a2", "new"}};
        j.add_tracks(t);
        const auto id = j.entries().at(1).id;
        j.record_intent(id, journal_stage::separation, "ref-sep");
        BOOST_TEST(j.get(id).intent_ref == "ref-sep");
        j.record_task_id(id, journal_stage::separation, "sep-task");
        j.record_intent(id, journal_stage::midi, "ref-midi");
    }
    BOOST_TEST(pragma_int(p, "PRAGMA user_version") == journal::schema_version);
    auto j = journal::open(p);
    const auto e = j.entries().at(1);
    BOOST_TEST((e.state == track_state::midi_intent));
    BOOST_TEST(e.intent_ref == "ref-midi");
    BOOST_TEST(e.separation_task_id == "sep-task");
}

BOOST_FIXTURE_TEST_CASE(a_version_2_journal_is_upgraded_and_a_track_s_choices_are_part_of_it, journal_file)
{
    // A journal as version 2 wrote it: no per-track choices, uniqueness by (task_id, audio_id, name).
    const char* v2 =
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, audio_id TEXT NOT NULL, name TEXT NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'pending', separation_task_id TEXT NOT NULL DEFAULT '',"
        " midi_task_id TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', failed_stage TEXT NOT NULL DEFAULT '',"
        " attempts INTEGER NOT NULL DEFAULT 0, intent_ref TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL DEFAULT 0,"
        " updated_ms INTEGER NOT NULL DEFAULT 0, UNIQUE (task_id, audio_id, name));"
        "CREATE INDEX tracks_state ON tracks(state);"
        "INSERT INTO tracks (id, task_id, audio_id, name, state, separation_task_id, attempts, intent_ref)"
        " VALUES (7, 'm', 'a', '', 'midi_intent', 'sep-old', 2, 'ref-old');"
        "PRAGMA user_version = 2;";
    write_with_sqlite(p, v2);
    auto j = journal::open(p);
    BOOST_TEST(pragma_int(p, "PRAGMA user_version") == journal::schema_version);
    auto e = j.entries();
    BOOST_TEST_REQUIRE(e.size() == 1u);
    BOOST_TEST(e[0].id == 7);
    BOOST_TEST((e[0].state == track_state::midi_intent));
    BOOST_TEST(e[0].separation_task_id == "sep-old");
    BOOST_TEST(e[0].intent_ref == "ref-old");
    BOOST_TEST(e[0].attempts == 2u);
    BOOST_TEST(!e[0].track.separation.has_value());
    // The same song again is the same track; with a stem, a type or as a separation it is another.
    std::vector<track_spec> t{
        {.task_id = "m", .audio_id = "a", .name = {}, .separation = {}, .stem = {}, .separation_task_id = {}},
        {.task_id = "m", .audio_id = "a", .name = {}, .separation = {}, .stem = "Bass", .separation_task_id = {}},
        {.task_id = "m", .audio_id = "a", .name = {}, .separation = api::separation_type::split_stem, .stem = {},
         .separation_task_id = {}},
        {.task_id = {}, .audio_id = {}, .name = {}, .separation = {}, .stem = {}, .separation_task_id = "sep-given"}};
    j.add_tracks(t);
    j.add_tracks(t);
    e = j.entries();
    BOOST_TEST_REQUIRE(e.size() == 4u);
    BOOST_TEST(e[1].track.stem == "Bass");
    BOOST_TEST((e[1].state == track_state::pending));
    BOOST_TEST((e[2].track.separation == api::separation_type::split_stem));
    // A track naming a separation starts where a separated one would be, with nothing paid.
    BOOST_TEST(e[3].track.separation_task_id == "sep-given");
    BOOST_TEST((e[3].state == track_state::separating));
    BOOST_TEST(e[3].separation_task_id == "sep-given");
    BOOST_TEST(e[3].attempts == 0u);
    j.record_intent(e[3].id, journal_stage::midi, "ref-midi");
    BOOST_TEST((j.get(e[3].id).state == track_state::midi_intent));
}

BOOST_FIXTURE_TEST_CASE(a_version_3_journal_is_upgraded_and_its_results_failed_at_output_become_not_written, journal_file)
{
    // A journal as version 3 wrote it: no not_written / result_lost states.
    const char* v3 =
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, audio_id TEXT NOT NULL, name TEXT NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','separation_intent','separating',"
        "'midi_intent','transcribing','done','failed','outcome_unknown')),"
        " separation_task_id TEXT NOT NULL DEFAULT '', midi_task_id TEXT NOT NULL DEFAULT '',"
        " error TEXT NOT NULL DEFAULT '', failed_stage TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
        " intent_ref TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
        " separation_type TEXT NOT NULL DEFAULT '', stem TEXT NOT NULL DEFAULT '', source_separation TEXT NOT NULL DEFAULT '',"
        " UNIQUE (task_id, audio_id, name, separation_type, stem, source_separation));"
        "CREATE INDEX tracks_state ON tracks(state);"
        "INSERT INTO tracks (id, task_id, audio_id, name, state, separation_task_id, midi_task_id, error, failed_stage,"
        " attempts, stem) VALUES"
        " (3, 'm1', 'a1', 'disk full', 'failed', 'sep1', 'midi1', 'No space left on device', 'output', 2, 'Bass'),"
        " (4, 'm2', 'a2', 'kie failed', 'failed', 'sep2', 'midi2', 'generation failed', 'midi', 2, ''),"
        " (5, 'm3', 'a3', 'done', 'done', 'sep3', 'midi3', '', '', 2, '');"
        "PRAGMA user_version = 3;";
    write_with_sqlite(p, v3);
    auto j = journal::open(p);
    BOOST_TEST(pragma_int(p, "PRAGMA user_version") == journal::schema_version);
    auto e = j.entries();
    BOOST_TEST_REQUIRE(e.size() == 3u);
    BOOST_TEST(e[0].id == 3);
    BOOST_TEST((e[0].state == track_state::not_written));
    BOOST_TEST(e[0].midi_task_id == "midi1");
    BOOST_TEST(e[0].separation_task_id == "sep1");
    BOOST_TEST(e[0].error == "No space left on device");
    BOOST_TEST(e[0].track.stem == "Bass");
    BOOST_TEST(e[0].attempts == 2u);
    BOOST_TEST((e[1].state == track_state::failed));
    BOOST_TEST((e[2].state == track_state::done));
    // The new states are stored, and the file is still usable for every change.
    j.mark_done(3);
    BOOST_TEST((j.get(3).state == track_state::done));
}

BOOST_FIXTURE_TEST_CASE(a_result_not_written_is_done_only_once_written_and_a_lost_one_starts_again_on_requeue, journal_file)
{
    auto j = journal::open(p);
    std::vector<track_spec> t{{"m", "a", "one"}, {"m2", "a2", "two"}};
    j.add_tracks(t);
    const auto id = j.entries().at(0).id;
    j.record_intent(id, journal_stage::separation, "r1");
    j.record_task_id(id, journal_stage::separation, "sep");
    j.record_intent(id, journal_stage::midi, "r2");
    j.record_task_id(id, journal_stage::midi, "mid");
    j.mark_not_written(id, "No space left on device");
    auto e = j.get(id);
    BOOST_TEST((e.state == track_state::not_written));
    BOOST_TEST(e.failed_stage == "output");
    BOOST_TEST(e.midi_task_id == "mid");
    j.mark_done(id);
    // A done track whose files went missing goes back to not_written, then to result_lost.
    j.mark_not_written(id, "one.mid is missing");
    j.mark_result_lost(id, "KIE no longer has it");
    BOOST_TEST((j.get(id).state == track_state::result_lost));
    diagnostics diag;
    BOOST_TEST((j.mark_done(id, diag) == journal_errc::invalid_transition));
    // A track KIE has not finished cannot be "not written".
    BOOST_TEST((j.mark_not_written(j.entries().at(1).id, "x", diag) == journal_errc::invalid_transition));
    BOOST_TEST((requeue_target(j.get(id)) == track_state::pending));
    BOOST_TEST((j.requeue(id) == track_state::pending));
    e = j.get(id);
    BOOST_TEST(e.midi_task_id.empty());
    BOOST_TEST(e.separation_task_id.empty());
    BOOST_TEST(e.error.empty());
}

BOOST_FIXTURE_TEST_CASE(a_failed_track_whose_midi_kie_failed_is_requeued_to_submit_its_midi_again, journal_file)
{
    auto j = journal::open(p);
    std::vector<track_spec> t{{"m", "a", "one"}};
    j.add_tracks(t);
    const auto id = j.entries().at(0).id;
    j.record_intent(id, journal_stage::separation, "r1");
    j.record_task_id(id, journal_stage::separation, "sep");
    j.record_intent(id, journal_stage::midi, "r2");
    j.record_task_id(id, journal_stage::midi, "mid");
    j.mark_failed(id, "midi", "generation failed");
    BOOST_TEST((requeue_target(j.get(id)) == track_state::transcribing));
    track_state next{};
    diagnostics diag;
    BOOST_TEST(!j.requeue(id, journal_stage::midi, next, diag));
    BOOST_TEST((next == track_state::separating));
    auto e = j.get(id);
    BOOST_TEST((e.state == track_state::separating));
    BOOST_TEST(e.separation_task_id == "sep");
    BOOST_TEST(e.midi_task_id.empty());
    // Only a failed track.
    BOOST_TEST((j.requeue(id, journal_stage::separation, next, diag) == journal_errc::invalid_transition));
}

BOOST_AUTO_TEST_SUITE_END()
