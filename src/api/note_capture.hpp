// Notes read while the body is parsed: every array under a `notes` key becomes api::note values
// and the repairs the note rules decide, instead of one DOM object per note (a MIDI body is
// almost all notes, and building then reading their objects was most of the client's CPU).
//
// The DOM keeps a placeholder where such an array was: an array holding the capture's index.
// Only a document parsed with note_reading::captured has placeholders, and there every array
// under a `notes` key is one (arrays nested in a captured list are not in the DOM at all), so a
// reader that has the document's captures knows what it looks at. The last of duplicate keys
// wins in the DOM, and it is the last capture a placeholder names, so both agree.
// Private to src/api.
#ifndef KIEMIDI_SRC_API_NOTE_CAPTURE_HPP
#define KIEMIDI_SRC_API_NOTE_CAPTURE_HPP

#include <kiemidi/api/callbacks.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include "repair_kind.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::api::detail {

/// How a body's notes are read.
enum class note_reading
{
    captured,  ///< while parsing (what the parsers do)
    dom,       ///< from a DOM of the whole body, note by note (the reference the tests compare with)
};

/// One repair of a captured list, in the order the note rules met it.
struct captured_repair
{
    std::size_t index;    ///< of the element in the list
    repair_kind what;     ///< note_dropped, note_repaired or another_reason
    std::string_view why; ///< a string literal of the note rules
};

/// The notes of one `notes` array: those kept, and what was repaired or dropped.
struct captured_notes
{
    std::vector<note> notes;
    std::vector<captured_repair> repairs;
};

/// The captures of one document, and the parse-time state that fills them. The parser's handler
/// gives it the events: the ones outside a capture only so that it sees `notes` keys, the ones
/// inside (capturing() is true) instead of building DOM values.
class note_captures
{
public:
    /// The capture a placeholder names; nullptr when `v` is not a placeholder of this document.
    const captured_notes* find(const boost::json::value& v) const noexcept;

    // ---- events outside a capture ----
    void outer_key_part(std::string_view s) { key_.append(s); }
    /// Notes whether the value that follows is a `notes` member.
    void outer_key(std::string_view s);
    /// Any other event outside a capture: the value after a key has begun.
    void outer_value() noexcept { notes_key_ = false; }
    /// An array begins outside a capture: true when it is a `notes` member, which starts one.
    bool begin_array();

    // ---- events inside a capture ----
    bool capturing() const noexcept { return depth_ >= 0; }
    void begin(bool object);
    /// True when this ends the captured array; its placeholder then holds last_index().
    bool end();
    std::size_t last_index() const noexcept { return lists_.size() - 1; }
    void key_part(std::string_view s);
    void key(std::string_view s);
    void string_part(std::string_view s);
    void string(std::string_view s);
    /// A number, null or boolean, of the kind the DOM would hold it as.
    void scalar(std::int64_t i);
    void scalar(std::uint64_t u);
    void scalar(double d);
    void scalar(bool b);
    void null();

    /// What is known of one field of the note being read (the last of duplicate keys wins).
    struct field
    {
        // The number kinds mirror boost::json's, whose conversions the readers apply.
        enum class kind : unsigned char { absent, null, int64, uint64, double_, string, other };
        kind k = kind::absent;
        std::int64_t i = 0;
        std::uint64_t u = 0;
        double d = 0;
        std::string text;  ///< kind::string

        bool missing_or_null() const noexcept { return k == kind::absent || k == kind::null; }
        std::optional<std::int64_t> lenient_int64() const;
        std::optional<double> lenient_double() const;
        std::optional<double> infinite() const noexcept;
    };

private:
    void element_not_an_object();
    void end_note();
    field* current_field() noexcept;
    field* scalar_field();

    std::vector<captured_notes> lists_;
    std::string key_;
    bool notes_key_ = false;
    // -1: not capturing; 0: between the list's elements; 1: in an element; more: nested deeper.
    int depth_ = -1;
    bool in_note_ = false;     // the element at depth 1 is an object (a note)
    bool in_string_ = false;   // string parts of the current field are being gathered
    std::size_t element_ = 0;  // index of the current element
    std::size_t count_ = 0;    // elements seen in the current list
    enum class slot : unsigned char { none, pitch, start, end, velocity } slot_ = slot::none;
    field pitch_, start_, end_, velocity_;
};

/// parse_response(body, midi_record&, diag) reading the notes as `how` says.
KIEMIDI_DECL error_code parse_midi_record(std::string_view body, midi_record& out, diagnostics& diag, note_reading how);
/// parse_midi_callback(body, out, diag) reading the notes as `how` says.
KIEMIDI_DECL error_code parse_midi_callback(std::string_view body, midi_callback& out, diagnostics& diag,
                                            note_reading how);

}  // namespace kiemidi::api::detail

#endif
