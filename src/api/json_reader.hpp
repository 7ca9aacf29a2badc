// Reading KIE's JSON leniently but precisely: a reader knows the path of the value it looks at,
// so a failure names the field ("data.midiData.instruments[1].notes[3].pitch").
//
// Paths are chains of stack nodes and are rendered to text only when something fails, so walking
// a 20,000-note answer allocates nothing for paths. The first failure is kept in a json_status;
// later reads return defaults, which keeps the mapping code straight-line.
// Internal to kiemidi (src/api); the tests reach it through their private include path.
#ifndef KIEMIDI_SRC_API_JSON_READER_HPP
#define KIEMIDI_SRC_API_JSON_READER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include "note_capture.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// One step of a JSON path. A node points to its parent, so the parent must outlive it
/// (readers are used as locals of nested scopes, which guarantees that).
class json_path
{
public:
    /// The root (the whole body).
    json_path() noexcept = default;
    /// parent.key
    json_path(const json_path& parent, std::string_view key) noexcept : parent_(&parent), key_(key), kind_(kind::key) {}
    /// parent[index]
    json_path(const json_path& parent, std::size_t index) noexcept : parent_(&parent), index_(index), kind_(kind::index) {}

    /// "data.midiData.instruments[1].notes[3].pitch"; "(body)" for the root.
    KIEMIDI_DECL std::string to_string() const;

private:
    enum class kind : unsigned char { root, key, index };
    KIEMIDI_DECL void append_to(std::string& out) const;

    const json_path* parent_ = nullptr;
    std::string_view key_;
    std::size_t index_ = 0;
    kind kind_ = kind::root;
};

/// The first failure met while reading a document.
class json_status
{
public:
    bool ok() const noexcept { return !error_; }
    const error_code& error() const noexcept { return error_; }
    /// e.g. "missing field data.taskId", "invalid field data.musicIndex: expected a number, got \"x\"".
    const std::string& message() const noexcept { return message_; }

    /// Records a failure unless one is already recorded.
    KIEMIDI_DECL void fail(client_errc e, const json_path& at, std::string_view detail = {});

private:
    error_code error_;
    std::string message_;
};

/// A parsed body whose values live in a monotonic arena (one cheap allocation pattern for
/// large note lists, all freed at once). Not copyable or movable: values point into it.
class json_document
{
public:
    /// Parses `body`; on failure error() is client_errc::bad_json and message() says why.
    /// With note_reading::captured, the arrays under `notes` keys are read while parsing (notes()).
    KIEMIDI_DECL explicit json_document(std::string_view body,
                                        api::detail::note_reading notes = api::detail::note_reading::dom);
    json_document(const json_document&) = delete;
    json_document& operator=(const json_document&) = delete;

    bool ok() const noexcept { return !error_; }
    const error_code& error() const noexcept { return error_; }
    const std::string& message() const noexcept { return message_; }
    const boost::json::value& root() const noexcept { return root_; }
    /// The notes read while parsing; nullptr unless parsed with note_reading::captured.
    const api::detail::note_captures* notes() const noexcept { return capturing_ ? &notes_ : nullptr; }

private:
    api::detail::note_captures notes_;
    bool capturing_ = false;
    unsigned char initial_buffer_[4096];
    boost::json::monotonic_resource arena_;
    boost::json::value root_;
    error_code error_;
    std::string message_;
};

/// A possibly-absent JSON value at a known path.
///
/// Required getters (as_*) record missing_field when the value is absent or null and
/// invalid_field when it has the wrong type; optional getters (opt_*) return nullopt for absent
/// or null. Numbers are accepted as JSON numbers or as numeric strings ("73", " 0.5 ").
class json_reader
{
public:
    /// `notes`: the captures of the document `v` belongs to, when it was parsed with them.
    json_reader(const boost::json::value* v, const json_path& path, json_status& status,
                const api::detail::note_captures* notes = nullptr) noexcept
        : value_(v), path_(path), status_(&status), notes_(notes) {}

    const boost::json::value* value() const noexcept { return value_; }
    const json_path& path() const noexcept { return path_; }
    json_status& status() const noexcept { return *status_; }
    bool ok() const noexcept { return status_->ok(); }
    /// The notes captured while the document was parsed; nullptr when it was not parsed so.
    const api::detail::note_captures* notes() const noexcept { return notes_; }

    bool missing() const noexcept { return value_ == nullptr; }
    bool missing_or_null() const noexcept { return value_ == nullptr || value_->is_null(); }
    bool is_object() const noexcept { return value_ && value_->is_object(); }
    bool is_array() const noexcept { return value_ && value_->is_array(); }

    /// Member `key` (missing when this is not an object or has no such member).
    /// The returned reader's path refers to this reader: keep this reader alive while using it.
    KIEMIDI_DECL json_reader operator[](std::string_view key) const noexcept;
    /// The first spelling that is present and not null; when none is, the first spelling,
    /// so errors name it. Use for KIE's aliases (task_id/taskId, callbackUrl/callBackUrl).
    KIEMIDI_DECL json_reader any_of(std::initializer_list<std::string_view> keys) const noexcept;

    /// Element count of an array; 0 otherwise.
    std::size_t size() const noexcept { return is_array() ? value_->get_array().size() : 0; }
    /// Element `i` of an array (missing when out of range). Same lifetime rule as operator[].
    KIEMIDI_DECL json_reader operator[](std::size_t i) const noexcept;

    /// Records missing_field unless this is an object; records invalid_field for other types.
    KIEMIDI_DECL bool require_object() const;
    /// True for an object; nothing for absent or null; invalid_field for other types.
    KIEMIDI_DECL bool optional_object() const;
    /// True for an array; nothing for absent or null; invalid_field for other types.
    KIEMIDI_DECL bool optional_array() const;

    KIEMIDI_DECL std::string as_string() const;
    KIEMIDI_DECL std::int64_t as_int64() const;
    KIEMIDI_DECL double as_double() const;

    /// String only (null and absent: nullopt).
    KIEMIDI_DECL std::optional<std::string> opt_string() const;
    /// String, or a number rendered as decimal text (for KIE's errorCode of unconfirmed type).
    KIEMIDI_DECL std::optional<std::string> opt_text() const;
    KIEMIDI_DECL std::optional<std::int64_t> opt_int64() const;
    KIEMIDI_DECL std::optional<double> opt_double() const;

    /// Records invalid_field at this path with `detail` (used for range checks).
    void fail_invalid(std::string_view detail) const { status_->fail(client_errc::invalid_field, path_, detail); }
    void fail_missing() const { status_->fail(client_errc::missing_field, path_); }

private:
    const boost::json::value* value_;
    json_path path_;
    json_status* status_;
    const api::detail::note_captures* notes_;
};

/// Parses numeric text the way KIE's string-typed numbers need: surrounding blanks allowed,
/// the rest must be a finite decimal number. Exposed for tests.
KIEMIDI_DECL std::optional<double> parse_double_text(std::string_view text) noexcept;
/// Like parse_double_text, for integers ("12", "12.0"; not "12.5" or out-of-range values).
KIEMIDI_DECL std::optional<std::int64_t> parse_int64_text(std::string_view text) noexcept;

}  // namespace kiemidi::detail

#endif
