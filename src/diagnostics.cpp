#include <kiemidi/diagnostics.hpp>

#include <boost/system/system_error.hpp>

namespace kiemidi {

// KIEMIDI_DECL on the definitions: a shared libkiemidi exports these two members, which users call
// (the rest of the class is inline).
KIEMIDI_DECL void diagnostics::clear() noexcept
{
    server_message_.clear();
    client_message_.clear();
    kie_code_.reset();
    http_status_.reset();
    endpoint_.clear();
    stage_.clear();
    task_id_.clear();
    callback_reference_.clear();
}

KIEMIDI_DECL std::string diagnostics::to_string() const
{
    std::string out;
    auto sep = [&out] { if (!out.empty()) out += ' '; };
    if (!stage_.empty()) out += "[" + stage_ + "]";
    if (!endpoint_.empty()) { sep(); out += endpoint_ + ":"; }
    if (http_status_) { sep(); out += "HTTP " + std::to_string(*http_status_); }
    if (kie_code_) { out += http_status_ ? ", " : (out.empty() ? "" : " "); out += "KIE code " + std::to_string(*kie_code_); }
    if (!server_message_.empty()) { out += out.empty() ? "" : ": "; out += server_message_; }
    if (!client_message_.empty()) { sep(); out += "(" + client_message_ + ")"; }
    if (!task_id_.empty()) { sep(); out += "task " + task_id_; }
    if (!callback_reference_.empty()) { sep(); out += "ref=" + callback_reference_; }
    return out;
}

void throw_on_error(const error_code& ec, const diagnostics& diag)
{
    if (ec) throw boost::system::system_error(ec, diag.to_string());
}

}  // namespace kiemidi
