// Variable-length quantities of Standard MIDI Files (delta times, meta event lengths).
// Machinery of the SMF writer; internal (the tests reach it through their private include path).
#ifndef KIEMIDI_SRC_SMF_SMF_VLQ_HPP
#define KIEMIDI_SRC_SMF_SMF_VLQ_HPP

#include <kiemidi/config.hpp>

#include <cstdint>
#include <vector>

namespace kiemidi::smf::detail {

/// The largest value a variable-length quantity may hold (4 bytes of 7 bits).
inline constexpr std::uint32_t max_vlq = 0x0FFFFFFF;

/// Appends `value` (capped at max_vlq) as 1..4 bytes, 7 bits each, most significant first,
/// with the top bit set on every byte but the last.
KIEMIDI_DECL void append_vlq(std::vector<std::uint8_t>& out, std::uint32_t value);

}  // namespace kiemidi::smf::detail

#endif
