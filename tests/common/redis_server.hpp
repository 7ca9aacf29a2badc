// A throwaway redis-server for tests: started on 127.0.0.1 on a free port, without persistence,
// stopped (and reaped) by the destructor. Tests can stop, restart, pause and resume it to
// simulate an outage. Start/stop block briefly (at most a few seconds) and are meant to be
// called outside the io_context, or from a test body where a short block is harmless.
#ifndef KIEMIDI_TESTS_COMMON_REDIS_SERVER_HPP
#define KIEMIDI_TESTS_COMMON_REDIS_SERVER_HPP

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace kiemidi::test {

class redis_server
{
public:
    /// Path of redis-server (KIEMIDI_REDIS_SERVER, else the PATH), or empty when not installed.
    static std::string executable();
    /// True when a redis-server executable is available.
    static bool available() { return !executable().empty(); }

    /// Picks a free loopback port and starts the server (throws std::runtime_error on failure).
    redis_server();
    /// Stops the server.
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// "127.0.0.1".
    std::string host() const { return "127.0.0.1"; }
    bool running() const noexcept { return pid_ > 0; }

    /// Terminates the server (SIGKILL: like a crash; every client sees its connection drop).
    void stop();
    /// Starts it again on the same port (empty: its data is gone); waits until it accepts connections.
    /// The server is killed when the calling thread ends (PR_SET_PDEATHSIG), so call it from the test thread.
    void start();
    /// Freezes (SIGSTOP) / thaws (SIGCONT) the process: connections stay open but nothing is answered.
    void pause();
    void resume();

private:
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace kiemidi::test

#endif
