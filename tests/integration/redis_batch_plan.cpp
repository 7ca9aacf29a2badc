// A shared batch (state in Redis) before paying: the dry run reads the shared state, and rows
// asking for the same work are paid once whichever worker runs them.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"
#include "common/redis_server.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace kiemidi::test;

BOOST_AUTO_TEST_SUITE(redis_batch_plan)

BOOST_AUTO_TEST_CASE(a_shared_batch_plans_from_its_shared_state_and_pays_duplicates_once_across_workers, *boost::unit_test::label("slow"))
{
    redis_server srv;
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto credits = kie.server->snapshot().credits;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-1,track-1,original\n"
                           "music-2,track-2,other\n"
                           "music-1,track-1,remaster\n";  // the first one again, under another name
    const std::vector<std::string> shared{"--redis", "redis://127.0.0.1:" + std::to_string(srv.port()), "--batch-id", "dups"};
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", t.out_dir().string()} + shared;

    BOOST_TEST_REQUIRE(t.run(batch + std::vector<std::string>{"--dry-run"}) == 0, out);
    BOOST_TEST(out.find("(shared batch dups at redis://") != std::string::npos, out);
    BOOST_TEST(out.find("tracks: 2: 2 new") != std::string::npos, out);
    BOOST_TEST(out.find("4 paid submissions (2 separate_vocal, 0 split_stem, 2 midi)") != std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().requests_to("POST /api/v1/vocal-removal/generate") == 0u);
    BOOST_TEST(kie.server->snapshot().credits == credits);

    BOOST_TEST_REQUIRE(t.run(batch + std::vector<std::string>{"--worker-id", "w1"}) == 0, out);
    BOOST_TEST(out.find(":3 (remaster) asks for the same work as line 1 (original)") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
    BOOST_TEST(is_midi_file(t.out_dir() / "remaster.mid"));
    BOOST_TEST(read_file(t.out_dir() / "remaster.mid") == read_file(t.out_dir() / "original.mid"));

    // Another worker on the same list: nothing left to pay, the copy is there.
    BOOST_TEST_REQUIRE(t.run(batch + std::vector<std::string>{"--worker-id", "w2"}) == 0, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
    BOOST_TEST(t.run(batch + std::vector<std::string>{"--dry-run"}) == 0, out);
    BOOST_TEST(out.find("tracks: 2: 0 new, 0 to resume, 2 done") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
