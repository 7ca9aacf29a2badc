// What the tests' throwaway servers (redis-server, tinyproxy) share: a free loopback port, a
// check that a port accepts connections, finding an executable, and a child process tied to the
// test process (it dies with it, even on a crash), stopped with SIGKILL like a crash.
#ifndef KIEMIDI_TESTS_COMMON_SERVER_PROCESS_HPP
#define KIEMIDI_TESTS_COMMON_SERVER_PROCESS_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace kiemidi::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (throws std::runtime_error).
std::uint16_t free_loopback_port();

/// True when something accepts a TCP connection on 127.0.0.1:`port`.
bool accepts_connections(std::uint16_t port);

/// The path of `name` in $PATH (and /usr/sbin, /usr/local/sbin), or empty.
std::string find_executable(const std::string& name);

/// Starts argv[0] with `argv`, stdout and stderr appended to `log` (/dev/null when empty), killed
/// when the calling thread ends (PR_SET_PDEATHSIG). Throws std::runtime_error when fork fails.
pid_t start_tied_process(const std::vector<std::string>& argv, const std::string& log);

/// Waits until `port` accepts connections; false when `pid` exited first (then reaped, and set
/// to -1) or `limit` passed.
bool wait_until_listening(pid_t& pid, std::uint16_t port, std::chrono::milliseconds limit);

/// SIGCONT (a paused server must still die), SIGKILL and reap.
void kill_and_reap(pid_t pid);

}  // namespace kiemidi::test

#endif
