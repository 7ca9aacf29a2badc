// KIE's {code, msg, data} envelope (see envelope.hpp).
#include "envelope.hpp"

#include "readers.hpp"

#include <limits>

namespace kiemidi::detail {

int read_envelope_code(const json_reader& root)
{
    return api::detail::read_int(root["code"], std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
}

std::string read_envelope_msg(const json_reader& root)
{
    const json_reader msg = root.any_of({"msg", "message"});
    if (msg.value() && msg.value()->is_string()) return std::string(msg.value()->get_string());
    return {};
}

std::optional<kie_envelope> read_kie_envelope(std::string_view body)
{
    if (body.empty()) return std::nullopt;
    const json_document doc(body);
    if (!doc.ok() || !doc.root().is_object()) return std::nullopt;
    json_status status;
    const json_path root_path;
    const json_reader root(&doc.root(), root_path, status);
    kie_envelope out;
    out.code = read_envelope_code(root);
    if (!status.ok()) return std::nullopt;
    out.msg = read_envelope_msg(root);
    return out;
}

bool is_kie_envelope(std::string_view body) { return read_kie_envelope(body).has_value(); }

}  // namespace kiemidi::detail
