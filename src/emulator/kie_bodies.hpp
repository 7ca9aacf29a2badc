// Internal: the JSON bodies the emulator answers and calls back with, in KIE's documented shapes
// (and the shape faults it injects), all written with json_writer. No state: the model passes the
// task records and knobs in.
#ifndef KIEMIDI_SRC_EMULATOR_KIE_BODIES_HPP
#define KIEMIDI_SRC_EMULATOR_KIE_BODIES_HPP

#include "task_records.hpp"

#include <kiemidi/emulator/options.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::emulator::detail {

/// {"code":code,"msg":msg,"data":null}
std::string error_body(int code, std::string_view msg);
/// {"code":200,"msg":"success","data":null}: KIE's answer about a task it does not know.
std::string no_data_body();
/// {"code":200,"msg":"success","data":{"taskId":id}}: an accepted paid POST.
std::string submitted_body(std::string_view task_id);
/// GET /api/v1/chat/credit
std::string credit_body(std::int64_t credits);

/// Shape faults of a record-info answer, decided by the model from the current faults.
struct record_shape
{
    bool unknown_success_flag = false;  ///< "WEIRD" / 4 instead of the state, no result
    bool pending_success_flag_null = false;
    bool music_index_negative = false;
    bool origin_data_null_id = false;
};

/// GET /api/v1/vocal-removal/record-info of a known task.
std::string separation_record_body(const separation_task& t, std::string_view file_base, const record_shape& shape);
/// The separation callback; `chinese` picks the vocal_removal_info dialect.
std::string separation_callback_body(const separation_task& t, bool chinese);

/// `[{"name":..,"notes":[..]},..]`; with `task_seed`, some start/end values are written as strings
/// (KIE's MIDI callback mixes both within one body).
std::string instruments_json(const std::vector<instrument_data>& instr, std::optional<std::uint64_t> task_seed);
/// GET /api/v1/midi/record-info of a known task.
std::string midi_record_body(const midi_task& t, const record_shape& shape);
/// The MIDI callback; `chinese` puts the task id in data only. `task_seed` as for instruments_json.
std::string midi_callback_body(const midi_task& t, const std::vector<instrument_data>& instr, bool chinese,
                               std::uint64_t task_seed);

/// GET /api/v1/generate/record-info: a finished music task with two tracks.
std::string music_record_body(std::string_view task_id, std::string_view file_base, std::uint64_t seed);

}  // namespace kiemidi::emulator::detail

#endif
