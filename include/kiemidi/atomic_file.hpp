// Writing a file whole or not at all: what every file kiemidi produces (.mid, .json, the CLI's
// reports and piano rolls) is written through here.
#ifndef KIEMIDI_ATOMIC_FILE_HPP
#define KIEMIDI_ATOMIC_FILE_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <filesystem>
#include <string_view>

namespace kiemidi {

/// Writes `data` to `path` atomically: a uniquely named temporary file in the same directory
/// (several processes may write the same file; rename stays within one file system), fsync,
/// rename over `path`, then fsync of the directory so that the rename itself survives a power
/// loss. A crash leaves either the old file or the complete new one, never half a file; only a
/// crash between creating and renaming the temporary file can leave a stray
/// `<path>.tmp-XXXXXX` behind. The new file has mode 0644; a symbolic link at `path` is
/// replaced, not followed. On failure the temporary file is removed, the OS error is returned
/// and `diag` gets stage "output" and a client message naming the path. POSIX only.
KIEMIDI_DECL error_code write_file_atomically(const std::filesystem::path& path, std::string_view data, diagnostics& diag);

}  // namespace kiemidi

#endif
