// The output files of a batch track (see track_output.hpp).
#include "track_output.hpp"

#include <kiemidi/smf.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace kiemidi::batch_detail {

error_code write_file_atomically(const std::filesystem::path& path, std::string_view data, diagnostics& diag)
{
    std::string tmp = path.string() + ".tmp-XXXXXX";
    const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    auto sys_fail = [&](const std::string& what) {
        error_code ec(errno, boost::system::system_category());
        diag.set_client_message(what + ": " + ec.message());
        diag.set_stage("output");
        return ec;
    };
    if (fd < 0) return sys_fail("cannot create a temporary file next to " + path.string());
    auto abandon = [&](const std::string& what) {
        auto ec = sys_fail(what);
        ::close(fd);
        ::unlink(tmp.c_str());
        return ec;
    };
    if (::fchmod(fd, 0644) != 0) return abandon("cannot set the mode of " + tmp);
    std::size_t off = 0;
    while (off < data.size())
    {
        auto n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return abandon("cannot write " + tmp);
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return abandon("cannot flush " + tmp);
    if (::close(fd) != 0)
    {
        auto ec = sys_fail("cannot close " + tmp);
        ::unlink(tmp.c_str());
        return ec;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
    {
        auto ec = sys_fail("cannot rename " + tmp + " to " + path.string());
        ::unlink(tmp.c_str());
        return ec;
    }
    const int dfd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
    {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

error_code write_track_files(const std::filesystem::path& dir, const std::string& name, bool json, const api::midi_data& midi,
                             diagnostics& diag)
{
    smf::smf_options so;
    so.title = name;
    if (json)
    {
        if (auto ec = write_file_atomically(dir / (name + ".json"), smf::notes_to_json(midi.instruments, so, midi.repairs), diag))
            return ec;
    }
    if (auto ec = smf::write_smf_file(dir / (name + ".mid"), midi.instruments, so, diag)) return ec;
    return error_code{};
}

error_code make_output_dir(const std::filesystem::path& dir, diagnostics& diag)
{
    std::error_code fec;
    std::filesystem::create_directories(dir, fec);
    if (fec)
    {
        diag.set_client_message("cannot create the output directory " + dir.string() + ": " + fec.message());
        diag.set_stage("output");
        return error_code(fec.value(), boost::system::generic_category());
    }
    return error_code{};
}

}  // namespace kiemidi::batch_detail
