// What every kiemidi fuzz target shares: the input as text, and a failed property aborts the
// run (libFuzzer then saves the input) with a line saying which property broke.
#ifndef KIEMIDI_FUZZ_FUZZ_SUPPORT_HPP
#define KIEMIDI_FUZZ_FUZZ_SUPPORT_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size)
{
    return {reinterpret_cast<const char*>(data), size};
}

inline void require(bool ok, const char* property)
{
    if (ok) return;
    std::fprintf(stderr, "kiemidi fuzz: property broken: %s\n", property);
    std::abort();
}

/// The parsers' error contract: our own errors (bad JSON, missing or invalid field) name what
/// was wrong in diag.client_message(); KIE's errors carry the code KIE sent.
inline void require_error_contract(const error_code& ec, const diagnostics& diag)
{
    if (!ec) return;
    if (ec.category() == get_client_category())
        require(!diag.client_message().empty(), "a client_errc parse error names what was wrong");
    if (ec.category() == get_api_category())
        require(diag.kie_code().has_value(), "an api_errc parse error carries KIE's code");
}

/// The note contract of api::note: whatever KIE sent, a parsed note is playable.
inline void require_valid_notes(const api::midi_data& m)
{
    for (const auto& i : m.instruments)
        for (const auto& n : i.notes)
        {
            require(n.pitch >= 0 && n.pitch <= 127, "a parsed note's pitch is 0..127");
            require(n.start >= 0 && n.start <= n.end, "a parsed note starts at 0 or later and ends after it starts");
            require(n.velocity >= 0 && n.velocity <= 1, "a parsed note's velocity is 0..1");
        }
}

/// The properties every callback body has, as the listener routes it (`routed`: the task id
/// lookup without a DOM) and as a pipeline reads it (`parse`): the error contract, and on success
/// a task id both agree on. Returns the parsed callback, for target-specific checks.
template <class Callback, class Parse>
std::optional<Callback> check_callback_body(std::string_view body, const std::optional<std::string>& routed, Parse parse)
{
    Callback cb;
    diagnostics diag;
    const auto ec = parse(body, cb, diag);
    require_error_contract(ec, diag);
    if (ec) return std::nullopt;
    require(!cb.task_id.empty(), "a parsed callback has a task id");
    require(routed == cb.task_id, "the listener routes a parsed callback by the id the parser reads");
    return cb;
}

}  // namespace kiemidi::fuzz

#endif
