// The local record of a shared batch's paid tasks; see local_track_record.hpp.
#include "local_track_record.hpp"

#include <kiemidi/batch.hpp>

#include <boost/json/parse.hpp>

#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace kiemidi::detail {

namespace {

/// Tabs and line ends would break the line format; no identity of a track needs them.
std::string field(const std::string& s)
{
    std::string out = s;
    for (auto& ch : out)
        if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
    return out;
}

/// The track's identity as the record keys it: its output name and what it is made from.
std::string key_of(const track_spec& t, const std::string& out_name)
{
    return field(out_name) + '\x1f' + field(t.task_id) + '\x1f' + field(t.audio_id) + '\x1f' + field(t.separation_task_id) + '\x1f' +
           field(t.stem);
}

std::string read_all(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

local_track_record::local_track_record(std::filesystem::path dir) : dir_(std::move(dir)), path_(dir_ / file_name) {}

void local_track_record::load()
{
    known_.clear();
    std::istringstream in(read_all(path_));
    std::string line;
    while (std::getline(in, line))
    {
        // kind \t key \t value; a torn last line (a crash while appending) has no value and is skipped.
        const auto a = line.find('\t');
        const auto b = line.rfind('\t');
        if (a == std::string::npos || b == a) continue;
        const std::string kind = line.substr(0, a), key = line.substr(a + 1, b - a - 1), value = line.substr(b + 1);
        if (value.empty()) continue;
        apply(known_[key], kind, value);
    }
}

void local_track_record::apply(local_evidence& ev, const std::string& kind, const std::string& value)
{
    if (kind == "separation") ev.separation_task_id = value;
    else if (kind == "midi") ev.midi_task_id = value;
    else if (kind == "done") ev.written = true;
    else if (kind == "lost") ev = local_evidence{};  // those tasks are gone from KIE: nothing to resume from
}

error_code local_track_record::note(const track_spec& t, const std::string& out_name, const std::string& kind,
                                    const std::string& value, diagnostics& diag)
{
    const auto key = key_of(t, out_name);
    const std::string line = field(kind) + '\t' + key + '\t' + field(value) + '\n';
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    if (ok) ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!ok)
    {
        diag.set_stage("output");
        diag.set_client_message("cannot append to " + path_.string() + ": " + std::generic_category().message(err));
        return error_code(err ? err : EIO, boost::system::generic_category());
    }
    apply(known_[key], kind, value);
    return error_code{};
}

local_evidence local_track_record::find(const track_spec& t, const std::string& out_name) const
{
    local_evidence ev;
    if (auto it = known_.find(key_of(t, out_name)); it != known_.end())
    {
        ev = it->second;
        ev.source = path_.string();
    }
    // The result files: the .mid is written last, so with it the .json's task ids are the
    // result's. A .json without a MIDI task id (written before they were recorded) proves nothing.
    std::error_code fec;
    const auto mid = dir_ / (out_name + ".mid");
    const bool has_mid = std::filesystem::is_regular_file(mid, fec) && std::filesystem::file_size(mid, fec) > 0 && !fec;
    // Recorded done but the files are gone since: the MIDI task id still spares paying again.
    if (!has_mid) ev.written = false;
    if (!ev.written && has_mid)
    {
        const auto json_path = dir_ / (out_name + ".json");
        boost::system::error_code jec;
        auto doc = boost::json::parse(read_all(json_path), jec);
        if (!jec && doc.is_object())
        {
            const auto& o = doc.as_object();
            auto text = [&](const char* k) -> std::string {
                auto* v = o.if_contains(k);
                return v && v->is_string() ? std::string(v->as_string()) : std::string();
            };
            const auto midi = text("midi_task_id");
            const auto sep = text("separation_task_id");
            // The file must be this track's: a file of another track with the same name names
            // another source (or another separation).
            const bool same_source = text("music_task_id") == t.task_id && text("audio_id") == t.audio_id &&
                                     (t.separation_task_id.empty() || sep == t.separation_task_id);
            if (!midi.empty() && same_source && (ev.midi_task_id.empty() || ev.midi_task_id == midi))
            {
                ev.written = true;
                ev.midi_task_id = midi;
                if (ev.separation_task_id.empty()) ev.separation_task_id = sep;
                ev.source = json_path.string();
            }
        }
    }
    return ev;
}

}  // namespace kiemidi::detail
