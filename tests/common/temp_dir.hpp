// A fresh, empty directory under the system's temp directory, removed with everything in it
// when the guard goes. Its name carries the process id, so parallel test runs do not collide.
#ifndef KIEMIDI_TESTS_COMMON_TEMP_DIR_HPP
#define KIEMIDI_TESTS_COMMON_TEMP_DIR_HPP

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace kiemidi::test {

struct temp_dir
{
    std::filesystem::path path;

    /// `prefix` names the suite, for whoever finds a directory left by a killed run.
    explicit temp_dir(const std::string& prefix = "kiemidi-test")
    {
        static std::atomic<int> n{0};
        path = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace kiemidi::test

#endif
