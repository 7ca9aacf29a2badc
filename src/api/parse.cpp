// The {code, msg, data} envelope of KIE's REST answers, and the parse_response entry points.
#include <kiemidi/api/parse.hpp>

#include "envelope.hpp"
#include "readers.hpp"

#include <limits>

namespace kiemidi::api {
namespace detail {

std::string read_task_id(const json_reader& r)
{
    if (r.missing_or_null())
    {
        r.fail_missing();
        return {};
    }
    const auto& v = *r.value();
    if (v.is_string() && v.get_string().empty())
    {
        r.fail_invalid("empty id");
        return {};
    }
    // Integers are accepted because every other KIE number may arrive in the other type too.
    if (v.is_double())
    {
        r.fail_invalid("expected a string id, got a fractional number");
        return {};
    }
    return r.opt_text().value_or(std::string());
}

int read_int(const json_reader& r, int min, int max)
{
    const std::int64_t v = r.as_int64();
    if (!r.ok()) return 0;
    if (v < min || v > max)
    {
        r.fail_invalid("expected " + std::to_string(min) + ".." + std::to_string(max) + ", got " + std::to_string(v));
        return 0;
    }
    return static_cast<int>(v);
}

std::string read_record_callback_url(const json_reader& data, result_repairs& rep)
{
    json_reader r = data.any_of({"callbackUrl", "callBackUrl", "callback_url"});
    return optional_string(r, rep, "callbackUrl").value_or(std::string());
}

void read_record_times(const json_reader& data, std::optional<std::int64_t>& create_ms,
                       std::optional<std::int64_t>& complete_ms, result_repairs& rep)
{
    create_ms = optional_int64(data.any_of({"createTime", "create_time"}), rep, "createTime");
    complete_ms = optional_int64(data.any_of({"completeTime", "complete_time"}), rep, "completeTime");
}

void read_record_error(const json_reader& data, std::optional<std::string>& code, std::optional<std::string>& message,
                       result_repairs& rep)
{
    code = optional_text(data.any_of({"errorCode", "error_code"}), rep, "errorCode");
    message = optional_text(data.any_of({"errorMessage", "error_message"}), rep, "errorMessage");
}

error_code report(const json_status& status, diagnostics& diag)
{
    if (!status.ok()) diag.set_client_message(status.message());
    return status.error();
}

}  // namespace detail

namespace {

using namespace detail;

enum class data_kind
{
    record,  ///< `data: null` means KIE has no such task.
    value,   ///< `data: null` is a missing field.
};

// Checks the envelope, then hands `data` to read(). KIE's body `code` is authoritative even when
// the HTTP status was 200, so a non-200 code is an error whatever `data` holds.
template <class Read>
error_code parse_envelope(std::string_view body, diagnostics& diag, data_kind kind, Read read,
                          note_reading notes = note_reading::dom)
{
    json_document doc(body, notes);
    if (!doc.ok())
    {
        diag.set_client_message(doc.message());
        return doc.error();
    }
    if (!doc.root().is_object())
    {
        diag.set_client_message("body is not a JSON object");
        return client_errc::bad_json;
    }
    json_status status;
    const json_path root_path;
    const json_reader root(&doc.root(), root_path, status, doc.notes());

    const int code = kiemidi::detail::read_envelope_code(root);
    if (!status.ok()) return report(status, diag);
    diag.set_kie_code(code);
    if (code != 200)
    {
        if (auto msg = kiemidi::detail::read_envelope_msg(root); !msg.empty()) diag.set_server_message(std::move(msg));
        return to_api_errc(code, diag.server_message());
    }

    json_reader data = root["data"];
    if (kind == data_kind::record && data.missing_or_null())
    {
        diag.set_client_message("KIE has no record for this task id (data is null)");
        return api_errc::unknown_task;
    }
    read(data);
    return report(status, diag);
}

}  // namespace

error_code parse_response(std::string_view body, task_created& out, diagnostics& diag)
{
    return parse_envelope(body, diag, data_kind::value, [&out](const json_reader& data) {
        out = task_created{};
        if (!data.require_object()) return;
        out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    });
}

error_code parse_response(std::string_view body, separation_record& out, diagnostics& diag)
{
    return parse_envelope(body, diag, data_kind::record,
                          [&out](const json_reader& data) { read_separation_record(data, out); });
}

error_code parse_response(std::string_view body, midi_record& out, diagnostics& diag)
{
    return detail::parse_midi_record(body, out, diag, detail::note_reading::captured);
}

error_code detail::parse_midi_record(std::string_view body, midi_record& out, diagnostics& diag, note_reading how)
{
    return parse_envelope(
        body, diag, data_kind::record, [&out](const json_reader& data) { read_midi_record(data, out); }, how);
}

error_code parse_response(std::string_view body, credits& out, diagnostics& diag)
{
    return parse_envelope(body, diag, data_kind::value,
                          [&out](const json_reader& data) { out.remaining = data.as_int64(); });
}

error_code parse_response(std::string_view body, music_task_record& out, diagnostics& diag)
{
    return parse_envelope(body, diag, data_kind::record,
                          [&out](const json_reader& data) { read_music_task_record(data, out); });
}

}  // namespace kiemidi::api
