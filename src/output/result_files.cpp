// The files of one MIDI result (see result_files.hpp).
#include "result_files.hpp"

#include <kiemidi/smf.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <iterator>
#include <system_error>

namespace kiemidi::detail {

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

std::vector<std::pair<std::string, std::string>> stem_links(const std::vector<api::stem>& stems, const api::stem_urls& u)
{
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : stems)
        if (!s.audio_url.empty()) out.emplace_back(s.stem_type_group_name.empty() ? s.id : s.stem_type_group_name, s.audio_url);
    if (!out.empty()) return out;
    const std::pair<const char*, const std::optional<std::string>*> kinds[] = {
        {"Vocals", &u.vocal},   {"Instrumental", &u.instrumental}, {"Backing vocals", &u.backing_vocals},
        {"Drums", &u.drums},    {"Bass", &u.bass},                 {"Guitar", &u.guitar},
        {"Piano", &u.piano},    {"Keyboard", &u.keyboard},         {"Percussion", &u.percussion},
        {"Strings", &u.strings}, {"Synth", &u.synth},              {"FX", &u.fx},
        {"Brass", &u.brass},    {"Woodwinds", &u.woodwinds},       {"Original", &u.origin}};
    for (const auto& [label, url] : kinds)
        if (*url && !(*url)->empty()) out.emplace_back(label, **url);
    return out;
}

std::string stem_name(const std::vector<api::stem>& stems, const std::string& stem_id)
{
    if (stem_id.empty()) return {};
    for (const auto& s : stems)
        if (s.id == stem_id) return s.stem_type_group_name.empty() ? s.id : s.stem_type_group_name;
    return stem_id;
}

boost::json::object tempo_json(const smf::beat_grid& grid, const smf::file_choices& choices)
{
    boost::json::object t;
    t["choice"] = smf::to_string(choices.tempo);
    t["bpm"] = std::round(grid.bpm * 100) / 100;
    t["time_signature"] = std::to_string(grid.beats_per_bar) + "/4";
    t["first_downbeat"] = grid.first_downbeat < grid.beats.size() ? std::round(grid.beats[grid.first_downbeat] * 1e6) / 1e6 : 0.0;
    t["confidence"] = std::round(grid.confidence * 1000) / 1000;
    t["estimated"] = grid.estimated;
    if (!grid.note.empty()) t["note"] = grid.note;
    boost::json::array beats;
    beats.reserve(grid.beats.size());
    for (double b : grid.beats) beats.push_back(std::round(b * 1e6) / 1e6);
    t["beats"] = std::move(beats);
    return t;
}

boost::json::object quantize_json(const smf::file_choices& choices)
{
    return boost::json::object{{"grid", smf::to_string(choices.quantize)},
                               {"ends", choices.quantize != smf::quantize_grid::off && choices.quantize_ends}};
}

error_code write_result_files(const std::filesystem::path& dir, const std::string& name, bool json,
                              const std::vector<api::instrument>& instruments, const api::result_repairs& repairs,
                              const result_provenance& from, const smf::file_choices& choices, diagnostics& diag,
                              smf::beat_grid* grid_out)
{
    smf::smf_options so;
    so.title = name;
    so.grid = smf::estimate_beat_grid(instruments, choices.tempo);
    so.quantize = choices.quantize;
    so.quantize_ends = choices.quantize_ends;
    if (grid_out) *grid_out = *so.grid;
    if (json)
    {
        auto text = smf::notes_to_json(instruments, so, repairs);
        boost::system::error_code jec;
        auto doc = boost::json::parse(text, jec);
        if (!jec && doc.is_object())
        {
            auto& root = doc.as_object();
            root["tempo"] = tempo_json(*so.grid, choices);
            root["quantize"] = quantize_json(choices);
            if (!from.separation_task_id.empty()) root["separation_task_id"] = from.separation_task_id;
            if (!from.midi_task_id.empty()) root["midi_task_id"] = from.midi_task_id;
            if (!from.music_task_id.empty()) root["music_task_id"] = from.music_task_id;
            if (!from.audio_id.empty()) root["audio_id"] = from.audio_id;
            if (!from.stem.empty()) root["stem"] = from.stem;
            if (!from.stems.empty())
            {
                boost::json::array stems;
                for (const auto& [stem, url] : from.stems) stems.push_back(boost::json::object{{"name", stem}, {"url", url}});
                root["stems"] = std::move(stems);
            }
            text = boost::json::serialize(root);
        }
        if (auto ec = write_file_atomically(dir / (name + ".json"), text, diag)) return ec;
    }
    if (auto ec = smf::write_smf_file(dir / (name + ".mid"), instruments, so, diag)) return ec;
    return error_code{};
}

std::string damaged_result_files(const std::filesystem::path& dir, const std::string& name, bool json)
{
    std::string why;
    auto note = [&why](const std::string& what) { why += (why.empty() ? "" : "; ") + what; };
    const auto mid = dir / (name + ".mid");
    {
        std::ifstream in(mid, std::ios::binary);
        char header[4] = {};
        if (!in) note(mid.filename().string() + " is missing");
        else if (!in.read(header, 4) || std::string_view(header, 4) != "MThd") note(mid.filename().string() + " is damaged");
    }
    if (json)
    {
        const auto path = dir / (name + ".json");
        std::ifstream in(path, std::ios::binary);
        if (!in) note(path.filename().string() + " is missing");
        else
        {
            const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            boost::system::error_code jec;
            const auto doc = boost::json::parse(text, jec);
            if (jec || !doc.is_object()) note(path.filename().string() + " does not parse");
        }
    }
    return why;
}

}  // namespace kiemidi::detail
