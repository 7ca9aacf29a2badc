/// @file
/// kiemidi diagnostics: the human-readable side of an error_code.
///
/// Every async operation takes a `diagnostics&` and fills it on failure with what kiemidi knows:
/// KIE's own `msg` verbatim (server_message), KIE's numeric `code`, the HTTP status, the endpoint
/// and the pipeline stage, plus kiemidi's own explanation (client_message).
/// It never contains the API key: the transport redacts credentials before anything reaches it.
#ifndef KIEMIDI_DIAGNOSTICS_HPP
#define KIEMIDI_DIAGNOSTICS_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi {

/// What went wrong, in words, next to an operation's error_code: KIE's own message, its code,
/// the HTTP status, the endpoint, the pipeline stage, the task and kiemidi's explanation.
///
/// Operations clear it when they start and fill it on failure; on success it stays empty. It
/// never holds the API key.
///
/// @par Thread safety
/// A plain value: one operation fills it, so give each concurrent operation its own.
class diagnostics
{
public:
    /// Empty diagnostics.
    diagnostics() = default;

    /// KIE's own words (`msg`), verbatim; empty when the failure did not come from KIE.
    const std::string& server_message() const noexcept { return server_message_; }
    /// kiemidi's explanation (e.g. "read timed out after 30s", "missing field data.taskId").
    const std::string& client_message() const noexcept { return client_message_; }
    /// KIE's body `code`, when a body was read.
    std::optional<int> kie_code() const noexcept { return kie_code_; }
    /// The HTTP status of the last answer, when one was read.
    std::optional<unsigned> http_status() const noexcept { return http_status_; }
    /// The request, e.g. "POST /api/v1/vocal-removal/generate"; empty when not applicable.
    const std::string& endpoint() const noexcept { return endpoint_; }
    /// The pipeline stage, e.g. "separation", "midi"; empty outside a pipeline.
    const std::string& stage() const noexcept { return stage_; }
    /// The KIE task the failed operation was working on, when one is known (a pipeline: its MIDI
    /// task, else its separation task). Kept here as well as in the operation's result, because
    /// some compositions discard the result of an operation they cancel (`||`).
    const std::string& task_id() const noexcept { return task_id_; }
    /// The callback reference of a paid submission whose outcome is unknown
    /// (client_errc::outcome_unknown): client::async_find_task(kind, reference, ...) finds its
    /// task once its callback comes. Empty when none (or when no callback hub was attached).
    const std::string& callback_reference() const noexcept { return callback_reference_; }

    /// @name Setters
    /// Used by kiemidi's operations (and by user code implementing callback_hub or batch_claims)
    /// to fill the fields above.
    /// @{

    /// Sets server_message().
    void set_server_message(std::string m) { server_message_ = std::move(m); }
    /// Sets client_message().
    void set_client_message(std::string m) { client_message_ = std::move(m); }
    /// Sets kie_code().
    void set_kie_code(int c) noexcept { kie_code_ = c; }
    /// Sets http_status().
    void set_http_status(unsigned s) noexcept { http_status_ = s; }
    /// Sets endpoint().
    void set_endpoint(std::string e) { endpoint_ = std::move(e); }
    /// Sets stage().
    void set_stage(std::string s) { stage_ = std::move(s); }
    /// Sets task_id().
    void set_task_id(std::string id) { task_id_ = std::move(id); }
    /// Sets callback_reference().
    void set_callback_reference(std::string ref) { callback_reference_ = std::move(ref); }
    /// @}

    /// Resets every field (operations call this when they start).
    void clear() noexcept;

    /// One line for logs: `[stage] endpoint: HTTP 200, KIE code 402: <msg> (<client message>)`,
    /// then ` task <id>` and ` ref=<reference>` when known.
    std::string to_string() const;

    /// Equal when every field is equal.
    friend bool operator==(const diagnostics&, const diagnostics&) = default;

private:
    std::string server_message_;
    std::string client_message_;
    std::optional<int> kie_code_;
    std::optional<unsigned> http_status_;
    std::string endpoint_;
    std::string stage_;
    std::string task_id_;
    std::string callback_reference_;
};

/// Throws boost::system::system_error(ec, diag.to_string()) when ec is set.
/// Used by the awaitable conveniences, so a thrown error's what() keeps KIE's message.
KIEMIDI_DECL void throw_on_error(const error_code& ec, const diagnostics& diag);

}  // namespace kiemidi

#endif
