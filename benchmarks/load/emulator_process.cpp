#include "emulator_process.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

extern char** environ;

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace kiemidi::bench {

using steady = std::chrono::steady_clock;

std::uint16_t free_port()
{
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

emulator_process::emulator_process(const std::string& exe, int delay_ms, const std::filesystem::path& ca_out,
                                   std::vector<std::string> extra)
{
    http_port_ = free_port();
    https_port_ = free_port();
    std::vector<std::string> args{exe,
                                  "--address", "127.0.0.1",
                                  "--http-port", std::to_string(http_port_),
                                  "--https-port", std::to_string(https_port_),
                                  "--ca-out", ca_out.string(),
                                  "--separation-delay-ms", std::to_string(delay_ms),
                                  "--midi-delay-ms", std::to_string(delay_ms)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0)
    {
        close(out[0]);
        throw std::runtime_error("cannot start " + exe);
    }
    // Ready when it has printed its API key line (ports bound, CA written); at most 15 s.
    std::string text;
    const auto until = steady::now() + 15s;
    while (text.find("api key:") == std::string::npos)
    {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
        pollfd p{out[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) break;
        char buf[512];
        auto n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    // Keep the pipe's read end open but unread: the emulator prints only a line at exit.
    out_fd_ = out[0];
    if (text.find("api key:") == std::string::npos)
    {
        stop();
        throw std::runtime_error("kiemidi-emulator did not start: " + text);
    }
}

emulator_process::~emulator_process() { stop(); }

std::string emulator_process::base_url(bool https) const
{
    return std::string(https ? "https" : "http") + "://127.0.0.1:" + std::to_string(https ? https_port_ : http_port_);
}

void emulator_process::stop()
{
    if (pid_ > 0)
    {
        kill(pid_, SIGTERM);
        const auto until = steady::now() + 5s;
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0)
        {
            if (steady::now() > until)
            {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                break;
            }
            usleep(10000);
        }
        pid_ = -1;
    }
    if (out_fd_ >= 0) close(out_fd_), out_fd_ = -1;
}

}  // namespace kiemidi::bench
