// A separation finished earlier, checked before MIDI is paid for from it: the pipeline's
// midi_params::separation_task_id and a batch track naming a separation both take it. Internal.
#ifndef KIEMIDI_SRC_CLIENT_FINISHED_SEPARATION_HPP
#define KIEMIDI_SRC_CLIENT_FINISHED_SEPARATION_HPP

#include "operations.hpp"

#include <string>

namespace kiemidi::detail {

/// Reads the record of separation `id` once (no wait: its callback went to whoever submitted it)
/// into `out`. Returns {} when it finished with stems; KIE's error for an unknown task
/// (api_errc::unknown_task) or a failed one (api_errc::task_failed, KIE's message in `diag`);
/// api_errc::task_not_finished while it runs. Nothing is paid either way.
boost::asio::awaitable<error_code> read_finished_separation(client& c, const std::string& id, diagnostics& diag,
                                                             api::separation_record& out);

}  // namespace kiemidi::detail

#endif
