// What the tests of the `kiemidi` executable share: the executable as a child process (bounded,
// killed by its guard if still running), an emulator in the test process for it to talk to
// (127.0.0.1 only), and checks of what KIE was paid. Only for builds with the executable
// (KIEMIDI_CLI_PATH, set by tests/CMakeLists.txt).
#ifndef KIEMIDI_TESTS_COMMON_CLI_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_CLI_FIXTURE_HPP

#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>

#include "common/child_process.hpp"
#include "common/temp_dir.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kiemidi::test {

inline const std::string cli_path = KIEMIDI_CLI_PATH;

/// The kiemidi executable as a child process (tests/common/child_process.hpp: KIE_* removed from
/// the environment, output to `log`, killed and reaped by the destructor if still running).
struct cli_process : child_process
{
    cli_process(const std::vector<std::string>& args, const std::filesystem::path& log)
        : child_process(cli_path, args, log)
    {
    }
};

/// A fresh directory under the temp dir, removed at the end.
struct cli_temp_dir : temp_dir
{
    cli_temp_dir() : temp_dir("kiemidi-cli-test") {}
};

inline std::string read_file(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs the CLI to completion (bounded); returns its exit code and fills `output`.
inline int run_cli(const std::vector<std::string>& args, const std::filesystem::path& dir, std::string& output,
                   std::chrono::milliseconds limit = std::chrono::seconds(60))
{
    static int n = 0;
    auto log = dir / ("cli-" + std::to_string(++n) + ".log");
    cli_process child(args, log);
    auto code = child.wait_for(limit);
    output = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "kiemidi did not finish in time; output:\n" << output);
    return *code;
}

inline bool is_midi_file(const std::filesystem::path& p)
{
    return read_file(p).starts_with("MThd");
}

/// An emulator in this test process on its own thread, with its CA written to a file.
struct external_kie
{
    boost::asio::io_context ioc;
    std::unique_ptr<kiemidi::emulator::server> server;
    std::thread thread;
    std::filesystem::path ca_file;

    external_kie(const std::filesystem::path& dir, kiemidi::emulator::emulator_options eo = {})
    {
        server = std::make_unique<kiemidi::emulator::server>(ioc.get_executor(), eo);
        server->start();
        ca_file = dir / "kie-ca.pem";
        std::ofstream(ca_file) << server->ca_certificate_pem();
        thread = std::thread([this] { ioc.run(); });
    }
    ~external_kie()
    {
        boost::asio::post(ioc, [this] { server->stop(); });
        thread.join();
    }
    std::vector<std::string> flags(const std::string& key = "kie-emulator-key") const
    {
        return {"--base-url", server->https_base_url(), "--api-key", key, "--ca-file", ca_file.string()};
    }
    /// Options for a library client of this KIE (over HTTP).
    kiemidi::client_options client_options() const
    {
        kiemidi::client_options co;
        co.base_url = server->http_base_url();
        co.api_key = server->api_key();
        return co;
    }
};

/// `dir`/tracks.csv with `n` rows "music-I,track-I,song-I"; the output of row I is "song-I".
inline std::filesystem::path write_track_list(const std::filesystem::path& dir, int n)
{
    auto list = dir / "tracks.csv";
    std::ofstream l(list);
    for (int i = 0; i < n; ++i) l << "music-" << i << ",track-" << i << ",song-" << i << "\n";
    return list;
}

inline std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// A test's directory and an emulator in this process, and the output of the last CLI run
/// against it. Tests name the parts: `auto& [dir, kie, out] = t;`.
struct cli_env
{
    cli_temp_dir dir;
    external_kie kie;
    std::string out;

    explicit cli_env(kiemidi::emulator::emulator_options eo = {}) : kie(dir.path, std::move(eo)) {}

    /// Runs the CLI with `args` and the flags that point it at `kie`; returns its exit code.
    int run(const std::vector<std::string>& args, std::chrono::milliseconds limit = std::chrono::seconds(60))
    {
        return run_cli(args + kie.flags(), dir.path, out, limit);
    }

    std::filesystem::path journal() const { return dir.path / "journal.sqlite"; }
    std::filesystem::path out_dir() const { return dir.path / "out"; }

    /// `kiemidi batch` of `dir`/tracks.csv with `tracks` rows (write_track_list) into out_dir(),
    /// journaled in journal(), with the flags `extra` and those that point it at `kie`.
    std::vector<std::string> journaled_batch(int tracks, const std::vector<std::string>& extra) const
    {
        const auto list = write_track_list(dir.path, tracks);
        return std::vector<std::string>{"batch", list.string(), "-o", out_dir().string(), "--journal", journal().string()} +
               extra + kie.flags();
    }
};

/// KIE was paid `separations` separation POSTs and `midis` MIDI POSTs, none of them twice.
inline void check_paid(const kiemidi::emulator::counters& c, std::size_t separations, std::size_t midis)
{
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == separations);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == midis);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
}

/// A separation made outside the CLI (as in KIE's web app or another tool): submitted straight
/// to `kie` through the library; with `finished`, polled until KIE says it succeeded. Returns its task id.
inline std::string separate_elsewhere(const external_kie& kie, const std::string& audio,
                                      kiemidi::api::separation_type type, bool finished)
{
    using namespace std::chrono_literals;
    boost::asio::io_context ioc;
    kiemidi::client c(ioc.get_executor(), kie.client_options());
    std::string id;
    std::string failure;
    boost::asio::co_spawn(ioc, [&]() -> boost::asio::awaitable<void> {
        kiemidi::diagnostics diag;
        kiemidi::api::separation_request req{.task_id = "music-" + audio, .audio_id = audio, .type = type, .callback_url = {}};
        auto [ec, created] = co_await c.async_submit_separation(req, diag, kiemidi::use_nothrow_awaitable);
        if (ec) failure = "separation POST: " + diag.to_string();
        id = created.task_id;
        if (!ec && finished)
        {
            kiemidi::wait_options w;
            w.strategy = kiemidi::wait_strategy::polling;
            w.poll_interval = 20ms;
            w.max_poll_interval = 50ms;
            auto [wec, rec] = co_await c.async_wait_separation(id, w, diag, kiemidi::use_nothrow_awaitable);
            if (wec) failure = "separation wait: " + diag.to_string();
        }
        c.close();
    }, boost::asio::detached);
    ioc.run_for(20s);
    BOOST_TEST_REQUIRE(failure.empty(), failure);
    BOOST_TEST_REQUIRE(!id.empty());
    return id;
}

/// A KIE whose separations stay PENDING for the whole test, holding one made elsewhere
/// (`pending`); `credits` is what was left after it.
struct with_pending_separation : cli_env
{
    std::string pending;
    std::int64_t credits = 0;

    static kiemidi::emulator::emulator_options pending_forever()
    {
        kiemidi::emulator::emulator_options eo;
        eo.separation_delay = std::chrono::seconds(60);
        return eo;
    }

    with_pending_separation() : cli_env(pending_forever())
    {
        pending = separate_elsewhere(kie, "track-p", kiemidi::api::separation_type::separate_vocal, false);
        credits = kie.server->snapshot().credits;
    }

    /// Nothing was paid after the separation made elsewhere.
    void expect_nothing_more_paid() const
    {
        const auto c = kie.server->snapshot();
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 0u);
        BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);  // only the one made elsewhere
        BOOST_TEST(c.credits == credits);
    }
};

/// The note count `kiemidi run` printed ("<file>: 3 instruments, 412 notes (...)"); -1 when absent.
inline long printed_notes(const std::string& out)
{
    const auto at = out.find(" notes (separation ");
    if (at == std::string::npos) return -1;
    auto begin = out.rfind(' ', at - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return std::stol(out.substr(begin, at - begin));
}

/// A TCP port that was free a moment ago (the listener of both runs binds it).
inline std::uint16_t free_port()
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

}  // namespace kiemidi::test

#endif
