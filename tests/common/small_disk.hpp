// An output directory that refuses writes, for tests of what happens when results cannot be
// written: a small tmpfs mounted on it and filled up (ENOSPC, as a full disk) when this process
// may mount one; otherwise every given result path is blocked by a directory of that name (the
// atomic rename then fails), which needs no privilege. free() makes the writes succeed again.
#ifndef KIEMIDI_TESTS_COMMON_SMALL_DISK_HPP
#define KIEMIDI_TESTS_COMMON_SMALL_DISK_HPP

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

namespace kiemidi::test {

class small_disk
{
public:
    /// Mounts a tmpfs of `bytes` on `dir` (created if missing) when allowed.
    small_disk(std::filesystem::path dir, std::size_t bytes) : dir_(std::move(dir))
    {
        std::filesystem::create_directories(dir_);
        const std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
        mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()) == 0;
    }
    small_disk(const small_disk&) = delete;
    small_disk& operator=(const small_disk&) = delete;
    ~small_disk()
    {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }

    /// True: a full tmpfs (writes fail with ENOSPC). False: the fallback of blocked paths.
    bool mounted() const noexcept { return mounted_; }

    /// Makes writes of `result_files` (names in the directory) fail: fills the tmpfs, or puts a
    /// directory where each file would go.
    void fill(const std::vector<std::string>& result_files)
    {
        if (!mounted_)
        {
            for (const auto& f : result_files) std::filesystem::create_directories(dir_ / f / "blocked");
            blocked_ = result_files;
            return;
        }
        const int fd = ::open((dir_ / ".filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return;
        const std::string block(4096, 'x');
        while (::write(fd, block.data(), block.size()) > 0) {}
        const std::string byte(1, 'x');  // the last partial block too
        while (::write(fd, byte.data(), 1) > 0) {}
        ::close(fd);
    }

    /// Writes succeed again (space freed, blocking directories removed).
    void free()
    {
        std::error_code ec;
        std::filesystem::remove(dir_ / ".filler", ec);
        for (const auto& f : blocked_) std::filesystem::remove_all(dir_ / f, ec);
        blocked_.clear();
    }

private:
    std::filesystem::path dir_;
    bool mounted_ = false;
    std::vector<std::string> blocked_;
};

}  // namespace kiemidi::test

#endif
