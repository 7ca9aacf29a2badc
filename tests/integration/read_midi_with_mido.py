#!/usr/bin/python3
# Reads a .mid kiemidi wrote with Debian's python3-mido (an independent MIDI library) and checks it
# against the .json written next to it: the tempo map puts every beat of the .json's grid on a
# quarter note, the time signature puts the first downbeat on a bar line, every note sounds at
# KIE's seconds (within 1 ms) as mido plays the file, and drums are on MIDI channel 10.
# Usage: read_midi_with_mido.py FILE.mid FILE.json [--quantized STEPS_PER_BEAT]; exit 0 when all hold.
import json
import sys

import mido

mid = mido.MidiFile(sys.argv[1])
doc = json.load(open(sys.argv[2]))
quantized = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--quantized" else 0
ppq = mid.ticks_per_beat
failures = []

# The conductor track: tempo changes and time signatures at absolute ticks.
tempos, signatures, tick = [], [], 0
for msg in mid.tracks[0]:
    tick += msg.time
    if msg.type == "set_tempo":
        tempos.append((tick, msg.tempo))
    elif msg.type == "time_signature":
        signatures.append((tick, msg.numerator, msg.denominator))


def seconds_at(target):
    """Seconds at a tick through the tempo map, with mido's own tick2second."""
    total, last, tempo = 0.0, 0, 500000
    for at, value in tempos:
        if at > target:
            break
        total += mido.tick2second(at - last, ppq, tempo)
        last, tempo = at, value
    return total + mido.tick2second(target - last, ppq, tempo)


grid = doc["tempo"]
beats = grid["beats"]
lead = 1 if beats[0] > 0 else 0
worst_beat = max(abs(seconds_at((k + lead) * ppq) - b) for k, b in enumerate(beats))
if worst_beat > 0.001:
    failures.append(f"beats off their quarter notes by up to {worst_beat * 1000:.3f} ms")

numerator = int(grid["time_signature"].split("/")[0])
if not signatures or signatures[-1][1] != numerator or signatures[-1][2] != 4:
    failures.append(f"time signature {signatures} is not {grid['time_signature']}")
else:
    downbeat_tick = (beats.index(min(beats, key=lambda b: abs(b - grid["first_downbeat"]))) + lead) * ppq
    meter_tick = signatures[-1][0]
    if downbeat_tick < meter_tick or (downbeat_tick - meter_tick) % (numerator * ppq) != 0:
        failures.append(f"first downbeat (tick {downbeat_tick}) is not on a bar line of {signatures}")

# mido plays the file (all tracks merged, tempo changes applied): note-on times in seconds.
played, now, onset_ticks = {}, 0.0, []
for msg in mid:
    now += msg.time
    if msg.type == "note_on" and msg.velocity > 0:
        played.setdefault((msg.channel, msg.note), []).append(now)
for track in mid.tracks[1:]:
    tick = 0
    for msg in track:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onset_ticks.append(tick)

expected, drums_channels = {}, set()
for inst in doc["instruments"]:
    for n in inst["notes"]:
        expected.setdefault((inst["channel"], n["pitch"]), []).append(n["start"])
    if inst["drums"]:
        drums_channels.add(inst["channel"])
if drums_channels and drums_channels != {9}:
    failures.append(f"drums on channels {drums_channels}, not 9 (MIDI channel 10)")
drum_notes = sum(len(v) for (ch, _), v in played.items() if ch == 9)
if drums_channels and drum_notes == 0:
    failures.append("no drum notes on MIDI channel 10")

worst, matched, total = 0.0, 0, 0
tolerance = 60.0 / 40 / max(quantized, 1) / 2 + 0.001 if quantized else 0.001
for key, times in played.items():
    wanted = sorted(expected.get(key, []))
    for t in times:
        total += 1
        best = min((abs(t - w) for w in wanted), default=float("inf"))
        worst = max(worst, best if best != float("inf") else 0)
        if best <= tolerance:
            matched += 1
expected_count = sum(len(v) for v in expected.values())
if total == 0 or matched != total:
    failures.append(f"{total - matched} of {total} notes played away from KIE's seconds (worst {worst * 1000:.3f} ms)")
# Same-pitch notes overlapping on one channel are merged (the writer's documented rule).
if total < 0.8 * expected_count:
    failures.append(f"only {total} of {expected_count} notes in the file")
if quantized and any(t % (ppq // quantized) for t in onset_ticks):
    failures.append(f"onsets off the 1/{4 * quantized} grid")

print(f"mido {mido.__version__}: {len(tempos)} tempo events, time signatures {[(t, f'{n}/{d}') for t, n, d in signatures]}, "
      f"{grid['bpm']} BPM; {len(beats)} beats on quarters within {worst_beat * 1e6:.1f} us; "
      f"{total} notes played, worst {worst * 1000:.3f} ms from KIE's seconds; {drum_notes} drum notes on channel 10")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
