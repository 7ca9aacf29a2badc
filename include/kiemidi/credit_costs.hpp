/// @file
/// kiemidi::credit_costs: what KIE's paid submissions are estimated to cost, by kind, for the
/// batch plan (batch_plan.hpp) and the batch's credit budget (batch_options::max_credits).
#ifndef KIEMIDI_CREDIT_COSTS_HPP
#define KIEMIDI_CREDIT_COSTS_HPP

#include <kiemidi/config.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiemidi {

/// The kinds of paid submission KIE charges for.
enum class paid_kind
{
    separate_vocal,  ///< A separation into vocals and instrumental.
    split_stem,      ///< A separation into up to 12 stems.
    midi,            ///< A MIDI generation.
};
/// The number of paid_kind values (for arrays indexed by kind).
inline constexpr std::size_t paid_kind_count = 3;

/// "separate_vocal", "split_stem" or "midi".
KIEMIDI_DECL std::string_view to_string(paid_kind k) noexcept;
/// The inverse of to_string; nullopt for anything else.
KIEMIDI_DECL std::optional<paid_kind> paid_kind_from_string(std::string_view s) noexcept;

/// What one paid submission of each kind is estimated to cost, in credits.
///
/// The defaults are KIE's published figures where it publishes one: its separation page says
/// 10 credits for separate_vocal and 50 for split_stem (another version of the page says 1 and
/// 5). It publishes none for a MIDI generation; 10 is assumed. Accounts differ: override them
/// (`kiemidi batch --credit-cost KIND=N`).
struct credit_costs
{
    /// @{
    /// Credits per submission of each paid_kind.
    std::int64_t separate_vocal = 10;
    std::int64_t split_stem = 50;
    std::int64_t midi = 10;
    /// @}

    /// The cost of one submission of kind `k`.
    std::int64_t of(paid_kind k) const noexcept
    {
        switch (k)
        {
        case paid_kind::separate_vocal: return separate_vocal;
        case paid_kind::split_stem: return split_stem;
        case paid_kind::midi: return midi;
        }
        return 0;
    }
    /// The cost of kind `k`, to change it.
    std::int64_t& of(paid_kind k) noexcept
    {
        return k == paid_kind::separate_vocal ? separate_vocal : k == paid_kind::split_stem ? split_stem : midi;
    }
};

/// Paid submissions counted by kind.
struct paid_counts
{
    /// @{
    /// Submissions of each paid_kind.
    std::size_t separate_vocal = 0;
    std::size_t split_stem = 0;
    std::size_t midi = 0;
    /// @}

    /// All submissions, whatever the kind.
    std::size_t total() const noexcept { return separate_vocal + split_stem + midi; }
    /// What they cost at the prices `c`.
    std::int64_t credits(const credit_costs& c) const noexcept
    {
        return static_cast<std::int64_t>(separate_vocal) * c.separate_vocal +
               static_cast<std::int64_t>(split_stem) * c.split_stem + static_cast<std::int64_t>(midi) * c.midi;
    }
    /// Adds `o`'s counts, kind by kind.
    paid_counts& operator+=(const paid_counts& o) noexcept
    {
        separate_vocal += o.separate_vocal;
        split_stem += o.split_stem;
        midi += o.midi;
        return *this;
    }
};

}  // namespace kiemidi

#endif
