"""General MIDI phrases drawn per clip, written with ``mido`` and rendered by FluidSynth.

A melodic clip picks one program of its family, a tempo, and a motif of 2-5 notes
(intervals, rhythm, velocities, rests, and for keyboard-like families chords), then
repeats the motif, transposed per repetition, until the clip is full; pitches stay in the
program's range (folded by octaves). A drum clip picks a kit on MIDI channel 10 and a
one-bar pattern of 16 steps (kick, snare, hi-hat or ride, crash and tom fills) repeated
until the clip is full. Times are in seconds, pitches are MIDI note numbers.
"""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from ..processes import memory_files, run_tool, tool_error

#: Instrument families: (GM program 0-127, name, lowest note, highest note) per class.
INSTRUMENTS = {
    "piano": ((0, "acoustic grand piano", 36, 88), (1, "bright acoustic piano", 36, 88),
              (3, "honky-tonk piano", 40, 84), (4, "electric piano", 40, 84)),
    "mallet": ((8, "celesta", 60, 96), (9, "glockenspiel", 72, 100), (11, "vibraphone", 53, 89),
               (12, "marimba", 45, 84), (13, "xylophone", 65, 96), (14, "tubular bells", 60, 77)),
    "organ": ((16, "drawbar organ", 36, 84), (17, "percussive organ", 36, 84),
              (19, "church organ", 36, 84), (20, "reed organ", 41, 84)),
    "guitar": ((24, "nylon guitar", 40, 76), (25, "steel guitar", 40, 79),
               (26, "jazz guitar", 40, 79), (27, "clean electric guitar", 40, 79),
               (46, "harp", 36, 88), (105, "banjo", 48, 76)),
    "bass": ((32, "acoustic bass", 28, 52), (33, "finger bass", 28, 55), (34, "pick bass", 28, 55),
             (35, "fretless bass", 28, 55), (43, "contrabass", 28, 55)),
    "bowed_strings": ((40, "violin", 55, 91), (41, "viola", 48, 79), (42, "cello", 36, 69),
                      (48, "string ensemble", 40, 84), (49, "slow string ensemble", 40, 84)),
    "brass": ((56, "trumpet", 55, 82), (57, "trombone", 40, 72), (58, "tuba", 29, 55),
              (60, "french horn", 41, 77), (61, "brass section", 48, 79)),
    "reed": ((64, "soprano sax", 56, 87), (65, "alto sax", 49, 80), (66, "tenor sax", 44, 75),
             (68, "oboe", 58, 91), (70, "bassoon", 34, 65), (71, "clarinet", 50, 89)),
    "flute": ((72, "piccolo", 74, 102), (73, "flute", 60, 96), (74, "recorder", 60, 91),
              (75, "pan flute", 60, 91), (79, "ocarina", 60, 84)),
    "choir": ((52, "choir aahs", 48, 79), (53, "voice oohs", 48, 79), (54, "synth voice", 48, 79)),
}
#: Families that sometimes play two-note chords.
CHORDAL = ("piano", "organ", "guitar", "mallet")
#: Drum kits of FluidR3_GM (bank 128): program -> name.
DRUM_KITS = ((0, "standard"), (8, "room"), (16, "power"), (24, "electronic"), (25, "TR-808"),
             (32, "jazz"), (40, "brush"))
DRUM_CHANNEL = 9                      # MIDI channel 10
MOTIF_INTERVALS = (-7, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 7)
REPEAT_SHIFTS = (0, 0, 0, 2, -2, 5, -5, 7, -7)
MIDI_TICKS_PER_S = 1000               # tempo 1 s per beat, 1000 ticks per beat: 1 tick = 1 ms
#: FluidSynth settings that make its output deterministic and dry.
FLUIDSYNTH_OPTIONS = ("-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
                      "-o", "synth.cpu-cores=1", "-o", "synth.dynamic-sample-loading=1",
                      "-g", "0.5")


def _fold(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by octaves into [low, high] (clipped if the range is narrower)."""
    while pitch > high and pitch - 12 >= low:
        pitch -= 12
    while pitch < low and pitch + 12 <= high:
        pitch += 12
    return int(min(max(pitch, low), high))


def draw_phrase(rng: np.random.Generator, class_name: str, clip_s: float) -> dict:
    """Draw the program and notes of one melodic clip.

    Parameters
    ----------
    rng : np.random.Generator
        The clip's generator.
    class_name : str
        A key of :data:`INSTRUMENTS`.
    clip_s : float
        Clip length in seconds; notes start before ``clip_s - 0.2``.

    Returns
    -------
    dict
        ``{"program", "instrument", "channel", "notes"}``; ``notes`` lists
        ``(start_s, end_s, pitch, velocity)``.
    """
    program, instrument, low, high = INSTRUMENTS[class_name][rng.integers(
        len(INSTRUMENTS[class_name]))]
    beat_s = rng.uniform(0.25, 0.55)
    size = int(rng.integers(2, 6))
    beats = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0], size=size)
    pitches = int(rng.integers(low, high + 1)) + np.cumsum(rng.choice(MOTIF_INTERVALS, size=size))
    velocities = np.clip(rng.integers(55, 111) + rng.integers(-12, 13, size=size), 1, 127)
    sounding = rng.uniform(0.55, 1.0)          # fraction of each note's slot that sounds
    rests = (rng.random(size) < 0.12) & (np.arange(size) > 0)
    chords = np.where(rng.random(size) < (0.3 if class_name in CHORDAL else 0.0),
                      rng.choice([3, 4, 7, 12], size=size), 0)
    notes, time_s, shift = [], 0.0, 0
    while time_s < clip_s - 0.2:
        for i in range(size):
            length_s = float(beats[i]) * beat_s
            if not rests[i] and time_s < clip_s - 0.2:
                pitch = _fold(int(pitches[i]) + shift, low, high)
                end_s = time_s + sounding * length_s
                notes.append((time_s, end_s, pitch, int(velocities[i])))
                if chords[i]:
                    upper = _fold(pitch + int(chords[i]), low, high)
                    if upper != pitch:
                        notes.append((time_s, end_s, upper, int(velocities[i])))
            time_s += length_s
        shift = int(rng.choice(REPEAT_SHIFTS))
    return {"program": int(program), "instrument": instrument, "channel": 0, "notes": notes}


def _drum_bar(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """One bar of 16 steps as ``(step, drum note, velocity)`` hits."""
    kick, snare = int(rng.choice([35, 36])), int(rng.choice([38, 40, 37]))
    cymbal, cymbal_every = int(rng.choice([42, 42, 44, 46, 51])), int(rng.choice([1, 2, 2, 4]))
    extra = rng.random((2, 16))
    hits = [(s, kick, int(rng.integers(90, 121))) for s in range(16)
            if s in (0, 8) or extra[0, s] < 0.12]
    hits += [(s, snare, int(rng.integers(80, 121)) if s in (4, 12) else int(rng.integers(30, 60)))
             for s in range(16) if s in (4, 12) or extra[1, s] < 0.08]
    hits += [(s, cymbal, int(rng.integers(70, 96)) if s % 4 == 0 else int(rng.integers(45, 75)))
             for s in range(0, 16, cymbal_every)]
    return hits


def draw_drums(rng: np.random.Generator, clip_s: float) -> dict:
    """Draw the kit and hits of one drum clip (GM percussion, channel 10).

    Parameters
    ----------
    rng : np.random.Generator
        The clip's generator.
    clip_s : float
        Clip length in seconds.

    Returns
    -------
    dict
        ``{"program", "instrument", "channel", "notes"}`` as :func:`draw_phrase`;
        ``program`` is the kit, ``notes`` pitches are GM drum keys.
    """
    kit, kit_name = DRUM_KITS[rng.integers(len(DRUM_KITS))]
    step_s = rng.uniform(0.105, 0.18)          # sixteenth notes at 83-143 beats per minute
    bar = _drum_bar(rng)
    fill_toms = sorted(rng.choice([41, 43, 45, 47, 48, 50], size=4, replace=False))[::-1]
    notes, bar_index = [], 0
    while bar_index * 16 * step_s < clip_s - 0.2:
        hits = list(bar)
        if bar_index == 0 and rng.random() < 0.5:
            hits.append((0, int(rng.choice([49, 57])), int(rng.integers(80, 111))))
        if rng.random() < 0.3:                 # a tom fill over the last beat
            hits = [h for h in hits if h[0] < 12] + [(12 + k, int(t), int(rng.integers(80, 116)))
                                                       for k, t in enumerate(fill_toms)]
        start_s = bar_index * 16 * step_s
        notes += [(start_s + s * step_s, start_s + (s + 0.9) * step_s, n, v) for s, n, v in hits
                  if start_s + s * step_s < clip_s - 0.2]
        bar_index += 1
    notes.sort()
    return {"program": int(kit), "instrument": f"{kit_name} drum kit", "channel": DRUM_CHANNEL,
            "notes": notes}


def write_midi(phrase: dict, clip_s: float, path: str | Path) -> None:
    """Write a drawn phrase as a one-track MIDI file of ``clip_s`` seconds (1 tick = 1 ms)."""
    Path(path).write_bytes(midi_bytes(phrase, clip_s))


def midi_bytes(phrase: dict, clip_s: float) -> bytes:
    """A drawn phrase as the bytes of a one-track MIDI file of ``clip_s`` seconds."""
    channel = phrase["channel"]
    events = []                                # (tick, note-off before note-on, message)
    for start_s, end_s, pitch, velocity in phrase["notes"]:
        on, off = round(start_s * MIDI_TICKS_PER_S), round(end_s * MIDI_TICKS_PER_S)
        events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch,
                                           velocity=velocity)))
        events.append((max(off, on + 1), 0, mido.Message("note_off", channel=channel,
                                                         note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=1_000_000, time=0),
                            mido.Message("program_change", channel=channel,
                                         program=phrase["program"], time=0)])
    tick = 0
    for event_tick, _, message in events:
        track.append(message.copy(time=event_tick - tick))
        tick = event_tick
    end_tick = max(tick, round(clip_s * MIDI_TICKS_PER_S))
    track.append(mido.MetaMessage("end_of_track", time=end_tick - tick))
    midi = mido.MidiFile(ticks_per_beat=MIDI_TICKS_PER_S)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def render_phrase(fluidsynth: str, soundfont: str | Path, phrase: dict, clip_s: float,
                  sample_rate: int) -> np.ndarray:
    """Render a drawn phrase with the FluidSynth command line (dry, deterministic).

    Parameters
    ----------
    fluidsynth : str
        Path of the ``fluidsynth`` executable.
    soundfont : str or Path
        General MIDI SoundFont (.sf2).
    phrase : dict
        From :func:`draw_phrase` or :func:`draw_drums`.
    clip_s : float
        Length of the MIDI file in seconds (FluidSynth may render a release tail beyond).
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    np.ndarray
        (samples,) float64 mono downmix of FluidSynth's stereo output.
    """
    with memory_files("phrase.mid", "phrase.wav") as ((midi_path, wav_path), fds):
        Path(midi_path).write_bytes(midi_bytes(phrase, clip_s))
        command = [fluidsynth, "-ni", "-q", *FLUIDSYNTH_OPTIONS, "-r", str(int(sample_rate)),
                   "-O", "float", "-T", "wav", "-F", wav_path, str(soundfont), midi_path]
        result = run_tool(command, fds)
        data = Path(wav_path).read_bytes() if result.returncode == 0 else b""
        if not data:
            raise tool_error("fluidsynth", result)
    audio, _ = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return audio.mean(axis=1)
