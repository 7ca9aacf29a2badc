// Runs redis-server as a child process; readiness is a successful TCP connect.
#include "redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kiemidi::test {

namespace {

std::uint16_t free_loopback_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

bool accepts_connections(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

bool executable_file(const std::string& p)
{
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::string redis_server::executable()
{
    if (const char* e = std::getenv("KIEMIDI_REDIS_SERVER"); e && *e) return executable_file(e) ? e : "";
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/sbin:/usr/local/sbin";
    std::size_t start = 0;
    while (start <= dirs.size())
    {
        const auto end = dirs.find(':', start);
        const auto dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!dir.empty() && executable_file(dir + "/redis-server")) return dir + "/redis-server";
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
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
    std::vector<std::string> args{exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--daemonize", "no", "--protected-mode", "yes", "--dir", "/tmp",
                                  "--loglevel", "warning", "--logfile", ""};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: if the test process dies
    // (crash, timeout kill), the server dies with it instead of lingering.
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("cannot start redis-server");
    if (pid == 0)
    {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0)
        {
            ::dup2(devnull, STDOUT_FILENO);
            ::dup2(devnull, STDERR_FILENO);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline)
    {
        if (accepts_connections(port_)) return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_)
        {
            pid_ = -1;
            throw std::runtime_error("redis-server exited at start (port " + port + " taken?)");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    throw std::runtime_error("redis-server did not accept connections within 10 s");
}

void redis_server::stop()
{
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a paused server must still die
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
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
