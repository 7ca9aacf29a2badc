// Track list parsing; see track_list.hpp.
#include "track_list.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

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
    if (r.task_id.empty()) return "empty task_id";
    if (r.audio_id.empty()) return "empty audio_id";
    if (!r.name.empty()) return check_output_name(r.name);
    return {};
}

void parse_csv(std::string_view text, std::string_view file, track_list& out)
{
    std::size_t pos = 0, line = 1;
    bool first_record = true;
    std::vector<std::string> fields;
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
            if (fields.size() >= 2 && fields[0] == "task_id" && fields[1] == "audio_id")
            {
                if (fields.size() > 3 || (fields.size() == 3 && fields[2] != "name"))
                    out.errors.push_back({std::string(file), start_line, "header must be task_id,audio_id[,name]"});
                continue;
            }
        }
        if (fields.size() < 2 || fields.size() > 3)
        {
            out.errors.push_back({std::string(file), start_line,
                                  "expected 2 or 3 fields (task_id,audio_id[,name]), found " + std::to_string(fields.size())});
            continue;
        }
        track_row r{fields[0], fields[1], fields.size() == 3 ? fields[2] : std::string{}, start_line};
        if (auto why = row_problem(r); !why.empty()) out.errors.push_back({std::string(file), start_line, why});
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
        field("task_id", r.task_id, true);
        field("audio_id", r.audio_id, true);
        field("name", r.name, false);
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
