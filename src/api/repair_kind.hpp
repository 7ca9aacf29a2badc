// How one repair of KIE's answer counts in api::result_repairs. Its own header because both the
// readers of a DOM (readers.hpp) and the notes read while parsing (note_capture.hpp, which the
// readers reach through json_reader.hpp) record repairs in these terms.
// Private to src/api.
#ifndef KIEMIDI_SRC_API_REPAIR_KIND_HPP
#define KIEMIDI_SRC_API_REPAIR_KIND_HPP

namespace kiemidi::api::detail {

/// How a repair counts in result_repairs.
enum class repair_kind : unsigned char
{
    note_repaired,
    note_dropped,
    item_dropped,
    field_ignored,
    another_reason,  ///< a further reason for a value or item already counted
};

}  // namespace kiemidi::api::detail

#endif
