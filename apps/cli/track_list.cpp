// Track list parsing; see track_list.hpp.
#include "track_list.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kiemidi::cli {

namespace {

bool is_blank(std::string_view s)
{
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string_view trim(std::string_view s)
{
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

/// Splits one CSV record that may span several physical lines (a quoted field with a newline).
/// `pos` is advanced past the record; `lines` counts the physical lines it used.
bool split_csv_record(std::string_view text, std::size_t& pos, std::vector<std::string>& fields, std::size_t& lines,
                      std::string& error)
{
    fields.assign(1, std::string{});
    lines = 1;
    bool quoted = false;      // inside a quoted field
    bool was_quoted = false;  // the current field was quoted (only spaces may follow the closing quote)
    while (pos < text.size())
    {
        char c = text[pos++];
        if (quoted)
        {
            if (c == '"')
            {
                if (pos < text.size() && text[pos] == '"') { fields.back() += '"'; ++pos; }
                else quoted = false;
            }
            else
            {
                if (c == '\n') ++lines;
                fields.back() += c;
            }
            continue;
        }
        if (c == '\n') return true;
        if (c == ',') { fields.emplace_back(); was_quoted = false; continue; }
        if (c == '"')
        {
            if (was_quoted || !is_blank(fields.back()))
            {
                error = "unexpected '\"' inside an unquoted field";
                while (pos < text.size() && text[pos] != '\n') ++pos;
                if (pos < text.size()) ++pos;
                return false;
            }
            fields.back().clear();
            quoted = was_quoted = true;
            continue;
        }
        if (was_quoted && c != ' ' && c != '\t' && c != '\r')
        {
            error = "text after a closing quote";
            while (pos < text.size() && text[pos] != '\n') ++pos;
            if (pos < text.size()) ++pos;
            return false;
        }
        if (!was_quoted) fields.back() += c;
    }
    if (quoted)
    {
        error = "unterminated quoted field";
        return false;
    }
    return true;
}

std::string row_problem(const track_row& r)
{
    if (!r.separation_task_id.empty())
    {
        // A separation made already: there is no music track to separate, nor a type to choose.
        if (!r.task_id.empty() || !r.audio_id.empty())
            return "a row names a music track (task_id,audio_id) or a separation (separation_task_id), not both";
        if (r.type) return "type does not apply to a separation made already (separation_task_id)";
    }
    else
    {
        if (r.task_id.empty()) return "empty task_id";
        if (r.audio_id.empty()) return "empty audio_id";
    }
    if (!r.name.empty()) return check_output_name(r.name);
    return {};
}

constexpr std::string_view known_columns[] = {"task_id", "audio_id", "name", "type", "stem", "separation_task_id", "tempo", "quantize"};

bool is_column(std::string_view name)
{
    for (auto c : known_columns)
        if (c == name) return true;
    return false;
}

/// Sets the field `column` of `r` to `value`; false with `why` for a type KIE does not know.
bool set_field(track_row& r, std::string_view column, std::string value, std::string& why)
{
    if (column == "task_id") r.task_id = std::move(value);
    else if (column == "audio_id") r.audio_id = std::move(value);
    else if (column == "name") r.name = std::move(value);
    else if (column == "stem") r.stem = std::move(value);
    else if (column == "separation_task_id") r.separation_task_id = std::move(value);
    else if (column == "tempo" && !value.empty())
    {
        r.tempo = smf::parse_tempo_choice(value);
        if (!r.tempo)
        {
            why = "tempo must be auto, off or a BPM from 40 to 240, not '" + value + "'";
            return false;
        }
    }
    else if (column == "quantize" && !value.empty())
    {
        r.quantize = smf::parse_quantize(value);
        if (!r.quantize)
        {
            why = "quantize must be off, 1/8, 1/16, 1/32, 1/8t or 1/16t, not '" + value + "'";
            return false;
        }
    }
    else if (column == "type" && !value.empty())
    {
        r.type = api::separation_type_from_string(value);
        if (!r.type)
        {
            why = "type must be separate_vocal or split_stem, not '" + value + "'";
            return false;
        }
    }
    return true;
}

/// Why a CSV header (whose first two fields are column names) cannot be used; empty if it can.
std::string header_problem(const std::vector<std::string>& columns)
{
    for (std::size_t i = 0; i < columns.size(); ++i)
    {
        if (!is_column(columns[i]))
            return "unknown column '" + columns[i] + "' (columns: task_id, audio_id, name, type, stem, separation_task_id, tempo, quantize)";
        for (std::size_t j = 0; j < i; ++j)
            if (columns[j] == columns[i]) return "column '" + columns[i] + "' twice";
    }
    auto has = [&](std::string_view c) { return std::find(columns.begin(), columns.end(), c) != columns.end(); };
    if (!(has("task_id") && has("audio_id")) && !has("separation_task_id"))
        return "the header needs task_id and audio_id, or separation_task_id";
    return {};
}

void parse_csv(std::string_view text, std::string_view file, track_list& out)
{
    std::size_t pos = 0, line = 1;
    bool first_record = true;
    std::vector<std::string> fields;
    std::vector<std::string> columns;  // from a header beyond task_id,audio_id[,name]; empty: positional
    while (pos < text.size())
    {
        const std::size_t start_line = line;
        const std::size_t line_end = text.find('\n', pos);
        std::string_view physical = text.substr(pos, line_end == std::string_view::npos ? std::string_view::npos : line_end - pos);
        if (is_blank(physical) || trim(physical).starts_with('#'))
        {
            pos = line_end == std::string_view::npos ? text.size() : line_end + 1;
            ++line;
            continue;
        }
        std::size_t used = 1;
        std::string error;
        bool ok = split_csv_record(text, pos, fields, used, error);
        line += used;
        if (!ok)
        {
            out.errors.push_back({std::string(file), start_line, error});
            first_record = false;
            continue;
        }
        for (auto& f : fields) f = std::string(trim(f));
        if (first_record)
        {
            first_record = false;
            if (fields.size() >= 2 && is_column(fields[0]) && is_column(fields[1]))
            {
                if (auto why = header_problem(fields); !why.empty())
                    out.errors.push_back({std::string(file), start_line, why});  // rows are then read as task_id,audio_id[,name]
                else if (!(fields[0] == "task_id" && fields[1] == "audio_id" && (fields.size() == 2 || (fields.size() == 3 && fields[2] == "name"))))
                    columns = fields;
                continue;
            }
        }
        track_row r;
        r.line = start_line;
        std::string why;
        if (!columns.empty())
        {
            if (fields.size() > columns.size())
            {
                out.errors.push_back({std::string(file), start_line,
                                      "expected at most " + std::to_string(columns.size()) + " fields (as in the header), found " +
                                          std::to_string(fields.size())});
                continue;
            }
            for (std::size_t i = 0; i < fields.size() && why.empty(); ++i) set_field(r, columns[i], std::move(fields[i]), why);
        }
        else
        {
            if (fields.size() < 2 || fields.size() > 3)
            {
                out.errors.push_back({std::string(file), start_line,
                                      "expected 2 or 3 fields (task_id,audio_id[,name]), found " + std::to_string(fields.size())});
                continue;
            }
            r.task_id = fields[0];
            r.audio_id = fields[1];
            if (fields.size() == 3) r.name = fields[2];
        }
        if (why.empty()) why = row_problem(r);
        if (!why.empty()) out.errors.push_back({std::string(file), start_line, why});
        else out.rows.push_back(std::move(r));
    }
}

void parse_json_lines(std::string_view text, std::string_view file, track_list& out)
{
    std::size_t pos = 0, line = 0;
    while (pos <= text.size())
    {
        ++line;
        const std::size_t end = text.find('\n', pos);
        std::string_view physical = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? text.size() + 1 : end + 1;
        if (is_blank(physical)) continue;
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(physical, ec);
        if (ec)
        {
            out.errors.push_back({std::string(file), line, "invalid JSON: " + ec.message()});
            continue;
        }
        if (!v.is_object())
        {
            out.errors.push_back({std::string(file), line, "expected a JSON object"});
            continue;
        }
        const auto& o = v.as_object();
        track_row r;
        r.line = line;
        std::string why;
        auto field = [&](std::string_view key, std::string& dst, bool required) {
            auto* p = o.if_contains(key);
            if (!p || p->is_null())
            {
                if (required && why.empty()) why = "missing \"" + std::string(key) + "\"";
                return;
            }
            if (p->is_string()) dst.assign(p->get_string().data(), p->get_string().size());
            else if (p->is_int64()) dst = std::to_string(p->get_int64());
            else if (p->is_uint64()) dst = std::to_string(p->get_uint64());
            else if (why.empty()) why = "\"" + std::string(key) + "\" must be a string";
        };
        field("separation_task_id", r.separation_task_id, false);
        const bool music_track = r.separation_task_id.empty();  // else task_id and audio_id must be absent
        field("task_id", r.task_id, music_track);
        field("audio_id", r.audio_id, music_track);
        field("name", r.name, false);
        field("stem", r.stem, false);
        std::string type, tempo, quantize;
        field("type", type, false);
        field("tempo", tempo, false);
        field("quantize", quantize, false);
        if (why.empty()) set_field(r, "type", std::move(type), why);
        if (why.empty()) set_field(r, "tempo", std::move(tempo), why);
        if (why.empty()) set_field(r, "quantize", std::move(quantize), why);
        if (why.empty()) why = row_problem(r);
        if (!why.empty()) out.errors.push_back({std::string(file), line, why});
        else out.rows.push_back(std::move(r));
    }
}

}  // namespace

std::string track_list_error::to_string() const
{
    return file + ":" + std::to_string(line) + ": " + message;
}

track_list parse_track_list(std::string_view text, std::string_view file_name, track_list_format format)
{
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
    if (format == track_list_format::automatic)
    {
        auto first = text.find_first_not_of(" \t\r\n");
        format = first != std::string_view::npos && text[first] == '{' ? track_list_format::json_lines
                                                                        : track_list_format::csv;
    }
    track_list out;
    if (format == track_list_format::json_lines) parse_json_lines(text, file_name, out);
    else parse_csv(text, file_name, out);
    return out;
}

std::optional<track_list> read_track_list(const std::filesystem::path& file, std::string& why)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
    {
        why = "cannot open " + file.string();
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad())
    {
        why = "cannot read " + file.string();
        return std::nullopt;
    }
    auto ext = file.extension().string();
    auto format = track_list_format::automatic;
    if (ext == ".jsonl" || ext == ".ndjson") format = track_list_format::json_lines;
    else if (ext == ".csv") format = track_list_format::csv;
    return parse_track_list(ss.str(), file.string(), format);
}

std::string default_output_name(std::string_view task_id, std::string_view audio_id)
{
    std::string s = std::string(task_id) + "_" + std::string(audio_id);
    for (auto& c : s)
    {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) c = '_';
    }
    if (s.starts_with('.')) s[0] = '_';
    return s;
}

std::string check_output_name(std::string_view name)
{
    if (name == "." || name == "..") return "name must not be '.' or '..'";
    if (name.find_first_of("/\\") != std::string_view::npos) return "name must not contain '/' or '\\'";
    for (unsigned char c : name)
        if (c < 0x20) return "name must not contain control characters";
    if (name.size() > 200) return "name longer than 200 characters";
    return {};
}

}  // namespace kiemidi::cli
