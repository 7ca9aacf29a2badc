// A child process for tests that run kiemidi's executables: started with posix_spawn, output to
// a log file, waited for with a deadline, and killed (SIGKILL) and reaped by the destructor if
// it is still running. Also stops / continues it (SIGSTOP / SIGCONT) to freeze it at a chosen
// moment.
#ifndef KIEMIDI_TESTS_COMMON_CHILD_PROCESS_HPP
#define KIEMIDI_TESTS_COMMON_CHILD_PROCESS_HPP

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <optional>
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

namespace kiemidi::test {

/// Starts `exe args...` with the environment `envp`, stdin from /dev/null and stdout+stderr to
/// `log`; in a process group of its own when `own_group` (so that the whole group can be
/// killed). Fails the test when it cannot start. Returns the child's pid.
inline pid_t spawn_logged(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& log,
                          char** envp, bool own_group)
{
    std::vector<std::string> argv_strings{exe};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (own_group)
    {
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
    }
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    BOOST_TEST_REQUIRE(rc == 0, "cannot start " << exe << ": " << std::strerror(rc));
    return pid;
}

class child_process
{
public:
    /// Starts `exe args...` with KIE_* removed from the environment, stdout+stderr → `log`.
    child_process(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& log)
    {
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "KIE_", 4) != 0) env_strings.emplace_back(*e);
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        pid_ = spawn_logged(exe, args, log, envp.data(), false);
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

    /// Waits until the child exits or `limit` passes (then nullopt). Returns the exit code, or
    /// 128 + signal number when a signal ended it.
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
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
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

    /// Freezes (SIGSTOP) / thaws (SIGCONT) the child.
    void pause() { ::kill(pid_, SIGSTOP); }
    /// Sends `sig` (SIGINT, SIGTERM: asks the child to stop).
    void signal(int sig)
    {
        if (!reaped_) ::kill(pid_, sig);
    }
    void resume() { ::kill(pid_, SIGCONT); }

    bool running() const noexcept { return !reaped_; }

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

}  // namespace kiemidi::test

#endif
