// The files of one MIDI result (see result_files.hpp).
#include <kiemidi/result_files.hpp>

#include <kiemidi/atomic_file.hpp>
#include <kiemidi/smf/writer.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <system_error>

namespace kiemidi {

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

namespace {

// The .json's account of the tempo map and of quantization (see write_result_files).
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

}  // namespace

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
        const auto state = read_result_json(path).state;
        if (state == result_json::status::missing) note(path.filename().string() + " is missing");
        else if (state == result_json::status::not_json) note(path.filename().string() + " does not parse");
    }
    return why;
}

namespace {

double number(const boost::json::value& v)
{
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return double(v.get_int64());
    if (v.is_uint64()) return double(v.get_uint64());
    return 0;
}

const std::string* text_of(const boost::json::object& o, std::string_view key, std::string& keep)
{
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string()) return nullptr;
    keep = std::string(v->get_string());
    return &keep;
}

api::instrument instrument_of(const boost::json::object& io)
{
    api::instrument ins;
    std::string name;
    if (text_of(io, "name", name)) ins.name = std::move(name);
    if (const auto* notes = io.if_contains("notes"); notes && notes->is_array())
        for (const auto& nv : notes->get_array())
        {
            const auto* no = nv.if_object();
            if (!no) continue;
            api::note n;
            if (const auto* p = no->if_contains("pitch")) n.pitch = static_cast<int>(number(*p));
            if (const auto* st = no->if_contains("start")) n.start = number(*st);
            if (const auto* e = no->if_contains("end")) n.end = number(*e);
            if (const auto* v = no->if_contains("velocity")) n.velocity = number(*v);
            ins.notes.push_back(n);
        }
    return ins;
}

// The tempo map the .mid was written with, from the .json's "tempo" (see tempo_json); nullopt
// when it has no beats or they are not in order.
std::optional<smf::beat_grid> grid_of(const boost::json::object& to)
{
    smf::beat_grid g;
    if (const auto* b = to.if_contains("beats"); b && b->is_array())
        for (const auto& bv : b->get_array()) g.beats.push_back(number(bv));
    if (const auto* v = to.if_contains("bpm")) g.bpm = number(*v);
    if (const auto* v = to.if_contains("time_signature"); v && v->is_string() && v->get_string().starts_with("3/")) g.beats_per_bar = 3;
    if (const auto* v = to.if_contains("first_downbeat"))
    {
        const double at = number(*v);
        for (std::size_t i = 0; i < g.beats.size(); ++i)
            if (std::abs(g.beats[i] - at) < std::abs(g.beats[g.first_downbeat] - at)) g.first_downbeat = i;
    }
    if (g.empty() || !std::is_sorted(g.beats.begin(), g.beats.end())) return std::nullopt;
    return g;
}

}  // namespace

result_json read_result_json(const std::filesystem::path& path)
{
    result_json out;
    std::ifstream in(path, std::ios::binary);
    if (!in) return out;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    const auto doc = boost::json::parse(text, ec);
    const auto* obj = ec ? nullptr : doc.if_object();
    if (!obj)
    {
        out.state = result_json::status::not_json;
        return out;
    }
    const auto* list = obj->contains("instruments") ? obj->at("instruments").if_array() : nullptr;
    if (!list)
    {
        out.state = result_json::status::no_instruments;
        return out;
    }
    out.state = result_json::status::ok;
    text_of(*obj, "warning", out.warning);
    if (const auto* sl = obj->if_contains("stems"); sl && sl->is_array())
        for (const auto& sv : sl->get_array())
        {
            const auto* so = sv.if_object();
            std::string name, url;
            if (so && text_of(*so, "name", name) && text_of(*so, "url", url)) out.stems.emplace_back(std::move(name), std::move(url));
        }
    for (const auto& iv : *list)
        if (const auto* io = iv.if_object()) out.instruments.push_back(instrument_of(*io));
    if (const auto* t = obj->if_contains("tempo"); t && t->is_object()) out.grid = grid_of(t->get_object());
    return out;
}

}  // namespace kiemidi
