/// @file
/// kiemidi's model of KIE's stem-separation → MIDI API: request bodies, typed answers, callbacks.
///
/// Pure data and JSON mapping, no I/O: build a request and serialize() it, then hand the answer's
/// body to parse_response() and a callback's body to parse_*_callback(). Every variant KIE's pages
/// document is accepted (both spellings of keys, numbers sent as strings, empty MIDI results).
/// Thread safety: every function is reentrant and keeps no shared state; distinct objects may be
/// used from any thread.
#ifndef KIEMIDI_API_HPP
#define KIEMIDI_API_HPP

#include <kiemidi/api/callbacks.hpp>
#include <kiemidi/api/credits.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/music_task.hpp>
#include <kiemidi/api/parse.hpp>
#include <kiemidi/api/repairs.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/api/task_created.hpp>

#endif
