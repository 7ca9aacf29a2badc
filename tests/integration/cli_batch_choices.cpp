// `kiemidi batch` with per-row choices: a row's own separation type and stem, a row naming a
// finished separation, and a journal of an older kiemidi.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1, waited for with a deadline and killed by its guard if still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace kiemidi::test;
using namespace std::chrono_literals;

// Per-row choices in a track list: a row's own separation type and stem, and a row naming a
// separation finished earlier (no separation paid for it).
BOOST_AUTO_TEST_SUITE(cli_batch_choices)

/// The audio id of the stem named `name` in separation `sep`, read from KIE's record.
std::string stem_id_of(const external_kie& kie, const std::string& sep, const std::string& name)
{
    asio::io_context ioc;
    kiemidi::client c(ioc.get_executor(), kie.client_options());
    std::string id;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        kiemidi::diagnostics diag;
        auto [ec, rec] = co_await c.async_get_separation(sep, diag, asio::as_tuple(asio::use_awaitable));
        if (!ec)
            if (const auto* s = kiemidi::api::find_stem(rec.origin_data, name)) id = s->id;
        c.close();
    }, asio::detached);
    ioc.run_for(20s);
    return id;
}

/// The string value of `"key":"..."` in a result .json ("" when absent).
std::string json_field(const std::string& json, const std::string& key)
{
    const auto at = json.find("\"" + key + "\":\"");
    if (at == std::string::npos) return {};
    const auto begin = at + key.size() + 4;
    return json.substr(begin, json.find('"', begin) - begin);
}

BOOST_AUTO_TEST_CASE(batch_runs_a_row_s_own_type_and_stem_and_a_separation_row_with_one_paid_post_and_resumes_without_paying)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-s", kiemidi::api::separation_type::separate_vocal, true);
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name,type,stem,separation_task_id\n"
                           "music-1,track-1,plain,,,\n"
                           "music-2,track-2,bass,split_stem,bAsS,\n"
                           ",,,,," << sep << "\n";
    const auto out_dir = dir.path / "out";
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string()} + kie.flags();
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    for (const std::string& name : std::vector<std::string>{"plain", "bass", sep})  // a separation row is named after its separation
        BOOST_TEST(is_midi_file(out_dir / (name + ".mid")), name << "\n" << out);

    auto c = kie.server->snapshot();
    // Two separations paid by the batch (the separation row made none), three MIDI POSTs, each once.
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);  // the one made elsewhere included
    BOOST_TEST(c.separation_submissions.count({"music-1", "track-1"}) == 1u);
    BOOST_TEST(c.separation_submissions.count({"music-2", "track-2"}) == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 3u);
    BOOST_TEST(c.midi_submissions.count({sep, ""}) == 1u);  // all stems of the given separation
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);

    // The split_stem row's MIDI came from its Bass stem: the .json says so, and KIE was asked for that stem's id.
    const auto bass_json = read_file(out_dir / "bass.json");
    BOOST_TEST(json_field(bass_json, "stem") == "Bass", bass_json);
    const auto bass_sep = json_field(bass_json, "separation_task_id");
    BOOST_TEST_REQUIRE(!bass_sep.empty(), bass_json);
    const auto bass_id = stem_id_of(kie, bass_sep, "Bass");  // only a split_stem separation has one
    BOOST_TEST_REQUIRE(!bass_id.empty());
    BOOST_TEST(c.midi_submissions.count({bass_sep, bass_id}) == 1u);
    BOOST_TEST(json_field(read_file(out_dir / "plain.json"), "stem").empty());  // the batch's default: all stems

    // The separation row's .json names its separation and its stems, and the report links them.
    const auto sep_json = read_file(out_dir / (sep + ".json"));
    BOOST_TEST(json_field(sep_json, "separation_task_id") == sep, sep_json);
    BOOST_TEST(sep_json.find("\"name\":\"Vocals\",\"url\":\"http") != std::string::npos, sep_json);
    const auto html = read_file(out_dir / "index.html");
    BOOST_TEST(html.find(">stem: Vocals</a>") != std::string::npos);
    BOOST_TEST(html.find(">stem: Bass</a>") != std::string::npos);

    // A rerun finds every row done and pays nothing.
    BOOST_TEST(run_cli(batch, dir.path, out) == 0, out);
    const auto again = kie.server->snapshot();
    BOOST_TEST(again.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
    BOOST_TEST(again.requests_to("POST /api/v1/midi/generate") == 3u);
}

BOOST_AUTO_TEST_CASE(batch_wide_type_and_stem_apply_to_rows_without_their_own)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto list = dir.path / "tracks.jsonl";
    std::ofstream(list) << "{\"task_id\":\"music-1\",\"audio_id\":\"track-1\",\"name\":\"drums\"}\n"
                           "{\"task_id\":\"music-2\",\"audio_id\":\"track-2\",\"name\":\"voice\",\"type\":\"separate_vocal\",\"stem\":\"Vocals\"}\n";
    const int code = t.run({"batch", list.string(), "-o", dir.path.string(), "--type", "split_stem", "--stem", "Drums"});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(json_field(read_file(dir.path / "drums.json"), "stem") == "Drums");
    BOOST_TEST(json_field(read_file(dir.path / "voice.json"), "stem") == "Vocals");
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
    BOOST_TEST(run_cli({"batch", list.string(), "--type", "three_stems"}, dir.path, out) == 2, out);
}

BOOST_AUTO_TEST_CASE(batch_row_naming_an_unknown_or_unfinished_separation_fails_with_kie_s_message_and_costs_nothing)
{
    with_pending_separation t;
    auto& [dir, kie, out] = static_cast<cli_env&>(t);
    const auto& pending = t.pending;
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "separation_task_id,name\n"
                           "0123456789abcdef0123456789abcdef,unknown\n"
                        << pending << ",pending\n";
    BOOST_TEST(t.run({"batch", list.string(), "-o", dir.path.string()}) == 1, out);
    BOOST_TEST(out.find("KIE has no record for this task id") != std::string::npos, out);
    BOOST_TEST(out.find("has not finished (successFlag PENDING)") != std::string::npos, out);
    t.expect_nothing_more_paid();
    BOOST_TEST(!fs::exists(dir.path / "unknown.mid"));
    // The report says how to try such a row again: MIDI from that separation, not a new separation.
    const auto html = read_file(dir.path / "index.html");
    BOOST_TEST(html.find("kiemidi midi 0123456789abcdef0123456789abcdef --name unknown") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(journal_of_an_older_kiemidi_opens_and_its_tracks_resume)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-o", kiemidi::api::separation_type::separate_vocal, true);
    // A version 2 journal as the previous kiemidi wrote it, with one track left separating.
    const auto journal = dir.path / "old.sqlite";
    {
        sqlite3* db = nullptr;
        BOOST_TEST_REQUIRE(::sqlite3_open(journal.c_str(), &db) == SQLITE_OK);
        const std::string sql =
            "CREATE TABLE tracks ( id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, audio_id TEXT NOT NULL, name TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','separation_intent','separating',"
            "'midi_intent','transcribing','done','failed','outcome_unknown')),"
            " separation_task_id TEXT NOT NULL DEFAULT '', midi_task_id TEXT NOT NULL DEFAULT '',"
            " error TEXT NOT NULL DEFAULT '', failed_stage TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
            " intent_ref TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
            " UNIQUE (task_id, audio_id, name));"
            "CREATE INDEX tracks_state ON tracks(state);"
            "INSERT INTO tracks (task_id, audio_id, name, state, separation_task_id, attempts) VALUES "
            "('music-track-o', 'track-o', 'old', 'separating', '" + sep + "', 1);"
            "PRAGMA user_version = 2;";
        BOOST_TEST_REQUIRE(::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK, ::sqlite3_errmsg(db));
        ::sqlite3_close(db);
    }
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name,stem\n"
                           "music-track-o,track-o,old,\n"
                           "music-track-o,track-o,old,Vocals\n";  // the same song, one stem: a row of its own
    BOOST_TEST_REQUIRE(t.run({"batch", list.string(), "-o", dir.path.string(), "--journal", journal.string()}) == 0,
                       out);
    BOOST_TEST(is_midi_file(dir.path / "old.mid"), out);
    const auto c = kie.server->snapshot();
    // The old track went on from its recorded separation; the new row paid its own.
    BOOST_TEST(c.separation_submissions.at({"music-track-o", "track-o"}) == 2u);
    BOOST_TEST(c.midi_submissions.count({sep, ""}) == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 2u);
    BOOST_TEST(run_cli({"status", journal.string()}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("done: 2") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
