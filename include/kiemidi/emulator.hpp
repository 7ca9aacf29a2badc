/// @file
/// kiemidi::emulator: a local, faithful stand-in for KIE.AI's API (emulator/server.hpp), its
/// options and fault knobs (emulator/options.hpp) and its request counters (emulator/counters.hpp).
/// Library target `kiemidi::emulator`.
///
/// Like every part with a folder, `kiemidi/<part>.hpp` includes the whole folder and each
/// `kiemidi/<part>/<name>.hpp` declares into `kiemidi::<part>`.
#ifndef KIEMIDI_EMULATOR_HPP
#define KIEMIDI_EMULATOR_HPP

#include <kiemidi/emulator/counters.hpp>
#include <kiemidi/emulator/options.hpp>
#include <kiemidi/emulator/server.hpp>

#endif
