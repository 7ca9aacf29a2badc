// The KIE emulator as a child process of the load driver: the built kiemidi-emulator, started on
// 127.0.0.1 with free ports, so the CPU and memory the driver measures are the client's alone.
#ifndef KIEMIDI_BENCHMARKS_LOAD_EMULATOR_PROCESS_HPP
#define KIEMIDI_BENCHMARKS_LOAD_EMULATOR_PROCESS_HPP

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kiemidi::bench {

/// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

/// A kiemidi-emulator process on 127.0.0.1; stopped (SIGTERM, then SIGKILL) on destruction.
class emulator_process
{
public:
    /// Starts `exe` with `delay_ms` per task and `extra` flags, writing its CA to `ca_out`;
    /// returns when it is ready (at most 15 s), else throws std::runtime_error.
    emulator_process(const std::string& exe, int delay_ms, const std::filesystem::path& ca_out,
                     std::vector<std::string> extra = {});
    ~emulator_process();
    emulator_process(const emulator_process&) = delete;
    emulator_process& operator=(const emulator_process&) = delete;

    /// Its http or https base URL.
    std::string base_url(bool https) const;

    /// Stops it and waits for it; idempotent.
    void stop();

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::uint16_t http_port_ = 0, https_port_ = 0;
};

}  // namespace kiemidi::bench

#endif
