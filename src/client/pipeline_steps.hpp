// The steps of the separation → MIDI sequence that the pipeline (client::async_generate_midi)
// and the batch (one track) both take: one stage's wait bounded by the stage timeout, the choice
// of the stem to transcribe, and the two paid requests. The callers add only what is theirs (the
// pipeline its deadline and cancellation rules, the batch its journal or claims), so both paths
// say the same things in the same words. Internal.
#ifndef KIEMIDI_SRC_CLIENT_PIPELINE_STEPS_HPP
#define KIEMIDI_SRC_CLIENT_PIPELINE_STEPS_HPP

#include "../nothrow_awaitable.hpp"

#include <kiemidi/api.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kiemidi::detail {

/// Why a stage's wait ended as client_errc::timeout: "<stage> wait exceeded <n> ms", and, when
/// KIE reported a state kiemidi does not know while it waited, that state.
std::string stage_timeout_message(std::string_view stage, std::chrono::milliseconds timeout,
                                  std::string_view unknown_flag = {});

/// Which stem to transcribe: by audio id (`originData[].id`, which wins), by KIE's name
/// (case-insensitive), or, both empty, all stems.
struct stem_choice
{
    std::string name;
    std::string audio_id;
    bool all_stems() const noexcept { return name.empty() && audio_id.empty(); }
};

/// The stem `want` names in `stems`; null when none matches (or all stems are wanted).
const api::stem* find_chosen_stem(const std::vector<api::stem>& stems, const stem_choice& want) noexcept;

/// The stem chosen for MIDI: the audio id sent with the MIDI request, and its name for files
/// and reports (KIE's name, or its id when it has none).
struct chosen_stem
{
    std::string audio_id;
    std::string name;
};

/// Picks the stem `want` names among the stems of separation `separation_task_id`. Returns {}
/// with `out` set; client_errc::unknown_stem (before anything is paid) with "separation <id> has
/// no stem ...; it has: ..." in `diag` when the list lacks it. A list without originData (an
/// older KIE) cannot contradict an audio id: it is sent as given, and KIE itself judges it.
error_code choose_stem(const std::vector<api::stem>& stems, const stem_choice& want,
                       const std::string& separation_task_id, diagnostics& diag, chosen_stem& out);

/// The paid separation request for one song.
api::separation_request separation_request_for(std::string music_task_id, std::string audio_id,
                                               api::separation_type type, std::string callback_url);

/// The paid MIDI request from separation `separation_task_id`: all its stems, or the one `stem_id`.
api::midi_request midi_request_for(std::string separation_task_id, std::optional<std::string> stem_id,
                                   std::string callback_url);

/// One stage's wait, `start()` (an awaitable of std::tuple<error_code, Record>), bounded by
/// `timeout` on `timer` (the caller's, so that it can end the wait early by cancelling the
/// timer). A cancelled timer gives operation_aborted; a timer that expires, client_errc::timeout
/// with stage_timeout_message in `diag`.
template <class Record, class Start>
boost::asio::awaitable<std::tuple<error_code, Record>> wait_within_stage_timeout(boost::asio::steady_timer& timer,
                                                                                 Start start, const char* stage,
                                                                                 std::chrono::milliseconds timeout,
                                                                                 diagnostics& diag)
{
    using namespace boost::asio::experimental::awaitable_operators;
    timer.expires_after(timeout);
    auto r = co_await (start() || timer.async_wait(use_nothrow_awaitable));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    auto [tec] = std::get<1>(r);
    if (tec) co_return std::tuple<error_code, Record>{boost::asio::error::operation_aborted, Record{}};
    diag.set_stage(stage);
    diag.set_client_message(stage_timeout_message(stage, timeout));
    co_return std::tuple<error_code, Record>{client_errc::timeout, Record{}};
}

}  // namespace kiemidi::detail

#endif
