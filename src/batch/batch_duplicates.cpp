// Rows asking for the same work, and the copies of one result under another name; see
// batch_duplicates.hpp.
#include <kiemidi/batch_duplicates.hpp>

#include <kiemidi/atomic_file.hpp>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

namespace kiemidi {

namespace {

std::string lower(std::string s)
{
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string same_work_key(const track_spec& t, const midi_params& defaults)
{
    const std::string stem = lower(t.stem.empty() ? defaults.stem : t.stem);
    // '\n' cannot occur in a track list's field, so it separates the parts unambiguously.
    if (!t.separation_task_id.empty()) return "separation\n" + t.separation_task_id + "\n" + stem;
    const auto type = t.separation.value_or(defaults.separation);
    return "track\n" + t.task_id + "\n" + t.audio_id + "\n" + std::string(api::to_string(type)) + "\n" + stem;
}

std::vector<std::size_t> first_of_same_work(std::span<const track_spec> tracks, const midi_params& defaults)
{
    std::vector<std::size_t> first(tracks.size());
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < tracks.size(); ++i) first[i] = seen.emplace(same_work_key(tracks[i], defaults), i).first->second;
    return first;
}

bool same_track(const track_spec& a, const track_spec& b) noexcept
{
    return a.task_id == b.task_id && a.audio_id == b.audio_id && a.name == b.name && a.separation == b.separation &&
           a.stem == b.stem && a.separation_task_id == b.separation_task_id;
}

error_code copy_result_files(const std::filesystem::path& dir, const std::string& from, const std::string& to,
                             diagnostics& diag)
{
    // The .mid last, as the batch writes them: a .mid present means its .json is complete.
    for (const char* ext : {".json", ".svg", ".mid"})
    {
        const auto source = dir / (from + ext);
        std::error_code fec;
        if (std::string(ext) != ".mid" && !std::filesystem::exists(source, fec)) continue;
        std::ifstream in(source, std::ios::binary);
        std::ostringstream data;
        data << in.rdbuf();
        if (!in || in.bad())
        {
            diag.set_stage("output");
            diag.set_client_message("cannot read " + source.string());
            return boost::system::errc::make_error_code(boost::system::errc::io_error);
        }
        if (auto ec = write_file_atomically(dir / (to + ext), data.str(), diag)) return ec;
    }
    return {};
}

}  // namespace kiemidi
