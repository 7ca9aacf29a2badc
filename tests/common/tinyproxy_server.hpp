// A throwaway tinyproxy for tests: an HTTP proxy on a free 127.0.0.1 port with a generated
// configuration (clients from 127.0.0.1 only, CONNECT allowed to the given ports, optionally
// Basic authentication), its log in a file the test can read, stopped (SIGKILL, like a crash)
// and reaped by the destructor. Start/stop block briefly; call them outside the io_context.
#ifndef KIEMIDI_TESTS_COMMON_TINYPROXY_SERVER_HPP
#define KIEMIDI_TESTS_COMMON_TINYPROXY_SERVER_HPP

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace kiemidi::test {

struct tinyproxy_options
{
    std::vector<std::uint16_t> connect_ports;  ///< Ports CONNECT may reach (the emulator's).
    std::string user;                          ///< With a password: Basic authentication required.
    std::string password;
};

class tinyproxy_server
{
public:
    /// Path of tinyproxy (the PATH, /usr/sbin, /usr/bin), or empty when not installed.
    static std::string executable();
    static bool available() { return !executable().empty(); }

    /// Writes the configuration under `dir` and starts the proxy (throws std::runtime_error).
    tinyproxy_server(const std::filesystem::path& dir, tinyproxy_options opts);
    ~tinyproxy_server();
    tinyproxy_server(const tinyproxy_server&) = delete;
    tinyproxy_server& operator=(const tinyproxy_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// "http://127.0.0.1:PORT", without credentials.
    std::string url() const;
    /// "http://USER:PASSWORD@127.0.0.1:PORT" (the given credentials, whatever the proxy expects).
    std::string url_with(const std::string& user, const std::string& password) const;

    /// Kills the proxy (every tunnel through it drops at once).
    void stop();
    /// Starts it again on the same port; waits until it accepts connections.
    void start();
    bool running() const noexcept { return pid_ > 0; }

    /// The proxy's log so far.
    std::string log() const;
    /// How many CONNECT requests the proxy has logged.
    std::size_t connects() const;

private:
    std::filesystem::path config_, log_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace kiemidi::test

#endif
