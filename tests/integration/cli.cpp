// The `kiemidi` executable end to end: run as a child process against the embedded emulator or
// an emulator in this test process (127.0.0.1 only). Every child is waited for with a deadline
// and killed by its guard if it is still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include <kiemidi/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string cli_path = KIEMIDI_CLI_PATH;

/// A child process; the destructor kills (SIGKILL) and reaps it if it is still running.
class child_process
{
public:
    /// Starts `cli_path args...` with KIE_* removed from the environment, stdout+stderr → `log`.
    child_process(const std::vector<std::string>& args, const fs::path& log)
    {
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "KIE_", 4) != 0) env_strings.emplace_back(*e);
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_strings{cli_path};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_strings) argv.push_back(s.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        int rc = posix_spawn(&pid_, cli_path.c_str(), &fa, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        BOOST_TEST_REQUIRE(rc == 0, "posix_spawn failed: " << std::strerror(rc));
        pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process()
    {
        if (!reaped_)
        {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        if (pidfd_ >= 0) ::close(pidfd_);
    }

    /// Waits until the child exits or `limit` passes (then nullopt). Returns the exit code,
    /// or 128 + signal number when a signal ended it.
    std::optional<int> wait_for(std::chrono::milliseconds limit)
    {
        if (reaped_) return code_;
        if (pidfd_ >= 0)
        {
            pollfd p{pidfd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
            reap(0);
        }
        else
        {
            // No pidfd (old kernel): check in short steps until the deadline.
            const auto deadline = std::chrono::steady_clock::now() + limit;
            while (!reap(WNOHANG))
            {
                if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
                std::this_thread::sleep_for(10ms);
            }
        }
        return reaped_ ? std::optional<int>(code_) : std::nullopt;
    }

    /// SIGKILL now, and reap.
    void kill_hard()
    {
        if (reaped_) return;
        ::kill(pid_, SIGKILL);
        reap(0);
    }

private:
    bool reap(int flags)
    {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, flags);
        if (r != pid_) return false;
        reaped_ = true;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
    }

    pid_t pid_ = -1;
    int pidfd_ = -1;
    bool reaped_ = false;
    int code_ = -1;
};

/// A fresh directory under the temp dir, removed at the end.
struct temp_dir
{
    fs::path path;
    temp_dir()
    {
        static int n = 0;
        path = fs::temp_directory_path() / ("kiemidi-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs the CLI to completion (bounded); returns its exit code and fills `output`.
int run_cli(const std::vector<std::string>& args, const fs::path& dir, std::string& output,
            std::chrono::milliseconds limit = 60s)
{
    static int n = 0;
    auto log = dir / ("cli-" + std::to_string(++n) + ".log");
    child_process child(args, log);
    auto code = child.wait_for(limit);
    output = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "kiemidi did not finish in time; output:\n" << output);
    return *code;
}

bool is_midi_file(const fs::path& p)
{
    return read_file(p).starts_with("MThd");
}

/// An emulator in this test process on its own thread, with its CA written to a file.
struct external_kie
{
    boost::asio::io_context ioc;
    std::unique_ptr<kiemidi::emulator::server> server;
    std::thread thread;
    fs::path ca_file;

    external_kie(const fs::path& dir, kiemidi::emulator::emulator_options eo = {})
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
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(every_command_has_help_that_exits_zero)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"--help"}, dir.path, out) == 0);
    BOOST_TEST(out.find("exit codes") != std::string::npos);
    for (std::string cmd : {"run", "batch", "status", "credits", "emulator"})
    {
        BOOST_TEST(run_cli({cmd, "--help"}, dir.path, out) == 0, cmd << " --help:\n" << out);
        BOOST_TEST(out.find("usage: kiemidi " + cmd) != std::string::npos, out);
    }
}

BOOST_AUTO_TEST_CASE(bad_flags_are_usage_errors)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"frobnicate"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run", "only-task-id"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run", "t", "a", "--no-such-flag"}, dir.path, out) == 2);
    BOOST_TEST(out.find("no-such-flag") != std::string::npos, out);
    BOOST_TEST(run_cli({"emulator", "--http-port", "x"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"credits", "--base-url", "https://127.0.0.1:1"}, dir.path, out) == 2);  // a URL but no key
}

BOOST_AUTO_TEST_CASE(run_writes_midi_and_json_with_the_embedded_emulator)
{
    temp_dir dir;
    std::string out;
    int code = run_cli({"run", "music-1", "track-1", "-o", (dir.path / "out").string(), "--name", "song"}, dir.path, out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("embedded KIE emulator") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "song.mid"));
    BOOST_TEST(read_file(dir.path / "out" / "song.json").find("\"instruments\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_polling_only_against_a_separate_emulator)
{
    temp_dir dir;
    external_kie kie(dir.path);
    std::string out;
    int code = run_cli(std::vector<std::string>{"run", "music-2", "track-2", "-o", dir.path.string(), "--poll-only",
                                                "--poll-interval-ms", "20"} + kie.flags(),
                       dir.path, out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "music-2_track-2.mid"));
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
}

BOOST_AUTO_TEST_CASE(run_with_a_rejected_track_exits_one)
{
    temp_dir dir;
    std::string out;
    int code = run_cli({"run", "bad id!", "track-1", "-o", dir.path.string()}, dir.path, out);
    BOOST_TEST(code == 1, out);
    BOOST_TEST(out.find("taskId is invalid") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(credits_prints_the_balance_and_a_refused_key_exits_four)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"credits"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("1000000") != std::string::npos, out);
    external_kie kie(dir.path);
    BOOST_TEST(run_cli(std::vector<std::string>{"credits"} + kie.flags("wrong-key"), dir.path, out) == 4, out);
    BOOST_TEST(out.find("wrong-key") == std::string::npos, "the key must not be printed");
}

BOOST_AUTO_TEST_SUITE_END()

#endif
