// KIE's callbacks: task id lookup and the separation / MIDI callback parsers.
#include <kiemidi/api/callbacks.hpp>

#include "readers.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <limits>

namespace kiemidi::api {
namespace {

using namespace detail;

std::optional<std::string> id_text(const boost::json::value* v)
{
    if (!v) return std::nullopt;
    if (v->is_string() && !v->get_string().empty()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    return std::nullopt;
}

// The placements KIE's pages show, in the order a receiver should try them.
struct callback_root
{
    json_status status;
    json_path root_path;
    json_reader root;
    json_reader data;

    callback_root(const boost::json::value& v, const note_captures* notes)
        : root(&v, root_path, status, notes), data(root["data"])
    {
    }
    callback_root(const callback_root&) = delete;
    callback_root& operator=(const callback_root&) = delete;

    // The first of data.task_id, data.taskId, task_id, taskId that holds an id (a non-empty
    // string or an integer): find_callback_task_id's rule, by which the listener routed this
    // body, so the parser never rejects (or names another task than) what the listener accepted.
    // When none holds one, the first present placement names the error, else data.task_id.
    std::string task_id() const
    {
        const json_reader placements[] = {data["task_id"], data["taskId"], root["task_id"], root["taskId"]};
        for (const auto& r : placements)
            if (id_text(r.value())) return read_task_id(r);
        for (const auto& r : placements)
            if (!r.missing_or_null()) return read_task_id(r);
        return read_task_id(placements[0]);
    }

    int code() const
    {
        json_reader c = root["code"];
        return read_int(c, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    }

    std::string msg() const { return lenient_text(root.any_of({"msg", "message"})).value_or(std::string()); }
};

template <class Read>
error_code parse_callback(std::string_view body, diagnostics& diag, Read read, note_reading notes = note_reading::dom)
{
    json_document doc(body, notes);
    if (!doc.ok())
    {
        diag.set_client_message(doc.message());
        return doc.error();
    }
    if (!doc.root().is_object())
    {
        diag.set_client_message("callback body is not a JSON object");
        return client_errc::bad_json;
    }
    callback_root cb(doc.root(), doc.notes());
    read(cb);
    return report(cb.status, diag);
}

}  // namespace

std::optional<std::string> find_callback_task_id(const boost::json::value& body)
{
    const auto* root = body.if_object();
    if (!root) return std::nullopt;
    if (const auto* data = root->if_contains("data"); data && data->is_object())
    {
        for (std::string_view key : {"task_id", "taskId"})
            if (auto id = id_text(data->get_object().if_contains(key))) return id;
    }
    for (std::string_view key : {"task_id", "taskId"})
        if (auto id = id_text(root->if_contains(key))) return id;
    return std::nullopt;
}

namespace {

// The listener calls find_callback_task_id for every callback, before the waiting client parses
// the same body into notes: building a DOM here (every note an object in a hash table) cost as
// much as the client's parse. This handler validates the whole body with the same parser and
// options but keeps only the four placements of the id, with the DOM's rules: the last of
// duplicate keys wins, only string (non-empty) and integer ids count, `data` only as an object.
class task_id_finder
{
public:
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&)
    {
        if (depth_ == 0) root_is_object_ = true;
        else if (slot_here() || data_here()) value(std::nullopt);
        if (data_here()) in_data_ = true;  // value(): this `data` replaces earlier ones
        ++depth_;
        return true;
    }
    bool on_object_end(std::size_t, error_code&)
    {
        --depth_;
        if (depth_ == 1) in_data_ = false;
        return true;
    }
    bool on_array_begin(error_code&)
    {
        value(std::nullopt);
        ++depth_;
        return true;
    }
    bool on_array_end(std::size_t, error_code&)
    {
        --depth_;
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, error_code&)
    {
        if (key_level()) key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, error_code&)
    {
        if (key_level())
        {
            key_.append(s.data(), s.size());
            (depth_ == 1 ? key1_ : key2_) = std::move(key_);
            key_.clear();
        }
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, error_code&)
    {
        if (slot_here()) text_.append(s.data(), s.size());
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, error_code&)
    {
        if (slot_here())
        {
            text_.append(s.data(), s.size());
            value(text_.empty() ? std::nullopt : std::optional<std::string>(std::move(text_)));
        }
        else
            value(std::nullopt);
        text_.clear();
        return true;
    }
    bool on_number_part(boost::json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t i, boost::json::string_view, error_code&)
    {
        value(slot_here() ? std::optional<std::string>(std::to_string(i)) : std::nullopt);
        return true;
    }
    bool on_uint64(std::uint64_t u, boost::json::string_view, error_code&)
    {
        value(slot_here() ? std::optional<std::string>(std::to_string(u)) : std::nullopt);
        return true;
    }
    bool on_double(double, boost::json::string_view, error_code&) { value(std::nullopt); return true; }
    bool on_bool(bool, error_code&) { value(std::nullopt); return true; }
    bool on_null(error_code&) { value(std::nullopt); return true; }
    bool on_comment_part(boost::json::string_view, error_code&) { return true; }
    bool on_comment(boost::json::string_view, error_code&) { return true; }

    std::optional<std::string> result()
    {
        if (!root_is_object_) return std::nullopt;
        for (auto* id : {&data_task_id_, &data_taskId_, &task_id_, &taskId_})
            if (*id) return std::move(*id);
        return std::nullopt;
    }

private:
    // Keys matter in the root object and in the `data` object directly inside it.
    bool key_level() const { return depth_ == 1 || (depth_ == 2 && in_data_); }
    // The value about to be read sits at one of the four placements.
    bool slot_here() const { return slot() != nullptr; }
    bool data_here() const { return depth_ == 1 && key1_ == "data"; }
    std::optional<std::string>* slot()
    {
        const std::string* key = depth_ == 1 ? &key1_ : depth_ == 2 && in_data_ ? &key2_ : nullptr;
        if (!key) return nullptr;
        if (*key == "task_id") return depth_ == 1 ? &task_id_ : &data_task_id_;
        if (*key == "taskId") return depth_ == 1 ? &taskId_ : &data_taskId_;
        return nullptr;
    }
    const std::optional<std::string>* slot() const { return const_cast<task_id_finder*>(this)->slot(); }
    // A value at the current position: the last one of duplicate keys wins, like in the DOM.
    void value(std::optional<std::string> v)
    {
        if (data_here())
        {
            data_task_id_.reset();  // a later `data` replaces an earlier one, even when not an object
            data_taskId_.reset();
            return;
        }
        if (auto* s = slot()) *s = std::move(v);
    }

    int depth_ = 0;
    bool root_is_object_ = false;
    bool in_data_ = false;
    std::string key_, key1_, key2_, text_;
    std::optional<std::string> data_task_id_, data_taskId_, task_id_, taskId_;
};

}  // namespace

std::optional<std::string> find_callback_task_id(std::string_view body)
{
    boost::json::parse_options opts;
    opts.allow_invalid_utf8 = true;  // as json_document
    boost::json::basic_parser<task_id_finder> parser(opts);
    error_code ec;
    const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
    if (ec || used < body.size() || !parser.done()) return std::nullopt;
    return parser.handler().result();
}

error_code parse_separation_callback(std::string_view body, separation_callback& out, diagnostics& diag)
{
    out = separation_callback{};
    return parse_callback(body, diag, [&out](const callback_root& cb) {
        out.code = cb.code();
        out.msg = cb.msg();
        cb.data.optional_object();
        out.task_id = cb.task_id();
        // English pages say vocal_separation_info, Chinese pages and real split_stem callbacks
        // vocal_removal_info; some clients also look at `response`.
        json_reader info = cb.data.any_of({"vocal_separation_info", "vocal_removal_info", "response"});
        if (info.is_object())
        {
            out.urls.emplace();
            read_stem_urls(info, *out.urls, out.repairs);
        }
        else if (!info.missing_or_null())
            record_repair(out.repairs, repair_kind::field_ignored, "stem info not an object", info.path());
    });
}

error_code parse_midi_callback(std::string_view body, midi_callback& out, diagnostics& diag)
{
    return detail::parse_midi_callback(body, out, diag, detail::note_reading::captured);
}

error_code detail::parse_midi_callback(std::string_view body, midi_callback& out, diagnostics& diag, note_reading how)
{
    out = midi_callback{};
    auto read = [&out](const callback_root& cb) {
        out.code = cb.code();
        out.msg = cb.msg();
        cb.data.optional_object();
        out.task_id = cb.task_id();
        // KIE's pages put the notes straight in `data`; accept a nested midiData as the record has.
        json_reader nested = cb.data.any_of({"midiData", "midi_data"});
        const json_reader& source = nested.missing() ? cb.data : nested;
        const bool has_notes = !source["instruments"].missing_or_null();
        // A success callback without notes is a valid empty result; a failure has no result.
        if (out.code == 200 || has_notes)
        {
            out.midi.emplace();
            read_midi_data(source, *out.midi);
        }
    };
    return parse_callback(body, diag, read, how);
}

}  // namespace kiemidi::api
