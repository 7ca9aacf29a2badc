// Writing a file whole or not at all (see kiemidi/atomic_file.hpp).
#include <kiemidi/atomic_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace kiemidi {

namespace {

error_code last_os_error() { return error_code(errno, boost::system::system_category()); }

error_code fail(diagnostics& diag, error_code ec, const std::string& what)
{
    diag.set_client_message(what + ": " + ec.message());
    diag.set_stage("output");
    return ec;
}

// Writes everything, retrying on EINTR and short writes.
bool write_all(int fd, const char* p, std::size_t n)
{
    while (n > 0)
    {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0)
        {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

error_code write_file_atomically(const std::filesystem::path& path, std::string_view data, diagnostics& diag)
{
    // The temporary file lives next to the target so that rename() stays within one file system.
    std::string tmp = path.string() + ".tmp-XXXXXX";
    const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) return fail(diag, last_os_error(), "cannot create a temporary file for " + path.string());

    auto abandon = [&](const std::string& what) {
        const error_code ec = last_os_error();
        ::close(fd);
        ::unlink(tmp.c_str());
        return fail(diag, ec, what);
    };
    if (::fchmod(fd, 0644) != 0) return abandon("cannot set the mode of " + tmp + " (for " + path.string() + ")");
    if (!write_all(fd, data.data(), data.size())) return abandon("cannot write " + tmp + " (for " + path.string() + ")");
    if (::fsync(fd) != 0) return abandon("cannot flush " + tmp + " (for " + path.string() + ")");
    if (::close(fd) != 0)
    {
        const error_code ec = last_os_error();
        ::unlink(tmp.c_str());
        return fail(diag, ec, "cannot close " + tmp + " (for " + path.string() + ")");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
    {
        const error_code ec = last_os_error();
        ::unlink(tmp.c_str());
        return fail(diag, ec, "cannot rename " + tmp + " to " + path.string());
    }

    // Make the rename itself durable; the file is complete either way, so failures here are ignored.
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
    {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

}  // namespace kiemidi
