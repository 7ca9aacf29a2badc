// KIE's callbacks: task id lookup and the separation / MIDI callback parsers.
#include <kiemidi/api/callbacks.hpp>

#include "readers.hpp"

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

    explicit callback_root(const boost::json::value& v)
        : root(&v, root_path, status), data(root["data"])
    {
    }
    callback_root(const callback_root&) = delete;
    callback_root& operator=(const callback_root&) = delete;

    // data.task_id, data.taskId, task_id, taskId; errors name data.task_id when all are absent.
    std::string task_id() const
    {
        json_reader in_data = data.any_of({"task_id", "taskId"});
        if (!in_data.missing_or_null()) return read_task_id(in_data);
        json_reader top = root.any_of({"task_id", "taskId"});
        if (!top.missing_or_null()) return read_task_id(top);
        return read_task_id(in_data);
    }

    int code() const
    {
        json_reader c = root["code"];
        return read_int(c, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    }

    std::string msg() const { return root.any_of({"msg", "message"}).opt_text().value_or(std::string()); }
};

template <class Read>
error_code parse_callback(std::string_view body, diagnostics& diag, Read read)
{
    json_document doc(body);
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
    callback_root cb(doc.root());
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

std::optional<std::string> find_callback_task_id(std::string_view body)
{
    json_document doc(body);
    if (!doc.ok()) return std::nullopt;
    return find_callback_task_id(doc.root());
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
        if (info.optional_object())
        {
            out.urls.emplace();
            read_stem_urls(info, *out.urls);
        }
    });
}

error_code parse_midi_callback(std::string_view body, midi_callback& out, diagnostics& diag)
{
    out = midi_callback{};
    return parse_callback(body, diag, [&out](const callback_root& cb) {
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
    });
}

}  // namespace kiemidi::api
