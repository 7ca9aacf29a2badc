// Runs tinyproxy in the foreground as a child process; readiness is a successful TCP connect.
#include "tinyproxy_server.hpp"
#include "server_process.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kiemidi::test {

std::string tinyproxy_server::executable() { return find_executable("tinyproxy"); }

tinyproxy_server::tinyproxy_server(const std::filesystem::path& dir, tinyproxy_options opts)
    : config_(dir / "tinyproxy.conf"), log_(dir / "tinyproxy.log"), port_(free_loopback_port())
{
    std::ofstream c(config_);
    c << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 256\nLogLevel Connect\n"
      << "Allow 127.0.0.1\n";
    // Without a ConnectPort line tinyproxy lets CONNECT reach any port: list them to be the strict kind.
    for (auto p : opts.connect_ports) c << "ConnectPort " << p << "\n";
    if (!opts.user.empty()) c << "BasicAuth " << opts.user << " " << opts.password << "\n";
    c.close();
    start();
}

tinyproxy_server::~tinyproxy_server() { stop(); }

std::string tinyproxy_server::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string tinyproxy_server::url_with(const std::string& user, const std::string& password) const
{
    return "http://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port_);
}

void tinyproxy_server::start()
{
    if (pid_ > 0) return;
    const auto exe = executable();
    if (exe.empty()) throw std::runtime_error("tinyproxy is not installed (scripts/install-deps.sh proxy)");
    // -d: stay in the foreground, log to stdout (appended to log_).
    pid_ = start_tied_process({exe, "-d", "-c", config_.string()}, log_.string());
    if (wait_until_listening(pid_, port_, std::chrono::seconds(10))) return;
    if (pid_ < 0) throw std::runtime_error("tinyproxy exited at start; its log:\n" + log());
    stop();
    throw std::runtime_error("tinyproxy did not accept connections within 10 s");
}

void tinyproxy_server::stop()
{
    kill_and_reap(pid_);
    pid_ = -1;
}

std::string tinyproxy_server::log() const
{
    std::ifstream in(log_);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t tinyproxy_server::connects() const
{
    const auto text = log();
    std::size_t n = 0;
    for (auto p = text.find("): CONNECT "); p != std::string::npos; p = text.find("): CONNECT ", p + 1)) ++n;
    return n;
}

}  // namespace kiemidi::test
