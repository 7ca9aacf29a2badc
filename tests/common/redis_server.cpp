// Runs redis-server as a child process; readiness is a successful TCP connect.
#include "redis_server.hpp"
#include "server_process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiemidi::test {

std::string redis_server::executable()
{
    if (const char* e = std::getenv("KIEMIDI_REDIS_SERVER"); e && *e)
    {
        struct stat st{};
        return ::stat(e, &st) == 0 && S_ISREG(st.st_mode) && ::access(e, X_OK) == 0 ? e : "";
    }
    return find_executable("redis-server");
}

redis_server::redis_server() : port_(free_loopback_port()) { start(); }

redis_server::~redis_server() { stop(); }

void redis_server::start()
{
    if (pid_ > 0) return;
    const auto exe = executable();
    if (exe.empty()) throw std::runtime_error("redis-server is not installed");
    const auto port = std::to_string(port_);
    // No persistence and no working files: the server lives only as long as the test.
    pid_ = start_tied_process({exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--daemonize", "no", "--protected-mode", "yes", "--dir", "/tmp", "--loglevel", "warning",
                               "--logfile", ""},
                              "");
    if (wait_until_listening(pid_, port_, std::chrono::seconds(10))) return;
    if (pid_ < 0) throw std::runtime_error("redis-server exited at start (port " + port + " taken?)");
    stop();
    throw std::runtime_error("redis-server did not accept connections within 10 s");
}

void redis_server::stop()
{
    kill_and_reap(pid_);
    pid_ = -1;
}

void redis_server::pause()
{
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void redis_server::resume()
{
    if (pid_ > 0) ::kill(pid_, SIGCONT);
}

}  // namespace kiemidi::test
