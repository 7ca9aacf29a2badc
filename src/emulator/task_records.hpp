// Internal: the emulator's records of separation and MIDI tasks, shared by the task lifecycle
// (model.cpp), the music it invents (synthetic_music.cpp) and the bodies it writes (kie_bodies.cpp).
#ifndef KIEMIDI_SRC_EMULATOR_TASK_RECORDS_HPP
#define KIEMIDI_SRC_EMULATOR_TASK_RECORDS_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiemidi::emulator::detail {

/// One stem of a separation: `kind` indexes stem_kinds (synthetic_music.hpp).
struct stem_rec { std::string id; std::size_t kind; std::string url; double duration; };

struct separation_task
{
    std::string id, music_task_id, music_id, callback_url;
    int music_index = 0;
    bool split = false;
    std::string flag = "PENDING";
    std::int64_t create_ms = 0;
    std::optional<std::int64_t> complete_ms;
    std::vector<stem_rec> stems;
    std::optional<std::string> error_message;
    unsigned info_reads = 0;  ///< record-info reads so far (unknown_success_flag_polls)
};

struct midi_task
{
    std::string id, separation_id, callback_url;
    std::optional<std::string> audio_id;
    int flag = 0;
    std::int64_t create_ms = 0;
    std::optional<std::int64_t> complete_ms;
    std::shared_ptr<const std::string> instruments_json;  ///< rendered once at completion, shared with readers
    std::optional<std::string> error_message;
    unsigned info_reads = 0;  ///< record-info reads so far (unknown_success_flag_polls)
};

/// A NaN velocity is left out of the JSON (the odd_notes_rate fault).
struct note_data { int pitch; double start; double end; double velocity; };
struct instrument_data { std::string name; std::vector<note_data> notes; };

}  // namespace kiemidi::emulator::detail

#endif
