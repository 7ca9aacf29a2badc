/// @file
/// kiemidi::smf: Standard MIDI Files from KIE's notes (smf/writer.hpp), the beat grid and tempo map
/// estimated from the notes (smf/beat_grid.hpp) and the piano-roll picture (smf/piano_roll.hpp).
///
/// Like every part with a folder, `kiemidi/<part>.hpp` includes the whole folder and each
/// `kiemidi/<part>/<name>.hpp` declares into `kiemidi::<part>`.
#ifndef KIEMIDI_SMF_HPP
#define KIEMIDI_SMF_HPP

#include <kiemidi/smf/beat_grid.hpp>
#include <kiemidi/smf/piano_roll.hpp>
#include <kiemidi/smf/writer.hpp>

#endif
