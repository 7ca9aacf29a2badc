/// @file
/// The answer to a submission (separation or MIDI): the id of the task KIE created.
///
/// Parse it with parse_response (parse.hpp). Use the id for record-info polling and to match callbacks.
#ifndef KIEMIDI_API_TASK_CREATED_HPP
#define KIEMIDI_API_TASK_CREATED_HPP

#include <string>

namespace kiemidi::api {

/// `data` of a successful submit answer: {"taskId": "..."}.
struct task_created
{
    std::string task_id;  ///< The new task's id (never empty after a successful parse).
};

}  // namespace kiemidi::api

#endif
