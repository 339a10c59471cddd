"""Speech clips from Debian's ``espeak-ng``: built-in sentences, voices drawn per clip.

Sentences are split between train, validation and test (indices modulo 6: four sixths
train, one validation, one test), so a test clip never says a train sentence. Each clip
draws an English accent, a voice variant, a pitch and a speed, and speaks sentences of
its split until it is long enough.
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf
from scipy import signal

from ..processes import run_tool, tool_error

#: Short English sentences (48); sentence i belongs to split ``SENTENCE_SPLIT[i % 6]``.
SENTENCES = (
    "The kettle began to whistle in the kitchen.",
    "Please close the window before you leave.",
    "Seven small boats drifted across the bay.",
    "She found an old map inside the drawer.",
    "The train to the coast leaves at noon.",
    "Bring a warm coat, the evening will be cold.",
    "A yellow kite was caught in the tall tree.",
    "We walked along the river until sunset.",
    "The library opens early on Saturday mornings.",
    "He painted the fence a bright shade of blue.",
    "Thunder rolled over the hills all night.",
    "Could you pass me the salt, please?",
    "The children counted the stars from the roof.",
    "Our neighbour grows tomatoes in tiny pots.",
    "The old clock in the hall stopped at three.",
    "Fresh bread smells wonderful in the morning.",
    "The museum has a room full of ancient coins.",
    "Turn left at the bakery and keep going.",
    "A gentle rain fell on the quiet street.",
    "My brother plays the drums in a small band.",
    "The cat slept all afternoon on the sofa.",
    "They built a sandcastle near the water.",
    "Remember to water the plants on Friday.",
    "The bus was late again this morning.",
    "An owl called softly from the dark forest.",
    "She wrote a long letter to her grandmother.",
    "The market sells apples, pears and plums.",
    "We need more chairs for the meeting room.",
    "The bridge was closed because of the storm.",
    "He forgot his umbrella at the station.",
    "Snow covered the mountain path by evening.",
    "The teacher read a story about a brave fox.",
    "Lunch will be ready in about ten minutes.",
    "A red car stopped outside the post office.",
    "The garden looks lovely after the rain.",
    "Please speak a little more slowly.",
    "The ship sailed north through the fog.",
    "Our team finally won the last match.",
    "The soup needs a pinch more pepper.",
    "A bright light flashed across the sky.",
    "The baby laughed at the funny dog.",
    "They painted a mural on the school wall.",
    "The lamp on my desk is too dim for reading.",
    "Every morning he runs around the park.",
    "The printer on the second floor is broken.",
    "We watched the fireworks from the beach.",
    "Her bicycle has a basket and a bell.",
    "The road winds slowly up into the hills.",
)
SENTENCE_SPLIT = ("train", "train", "train", "train", "validation", "test")
#: English accents of espeak-ng (no mbrola voices, which need extra packages).
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
#: Voice variants (``voices/!v``): male m1-m7, female f1-f5.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
PITCH_RANGE = (25, 75)        # espeak-ng -p, 0-99
SPEED_RANGE_WPM = (140, 190)  # espeak-ng -s, words per minute


def sentences_of(split: str) -> tuple[str, ...]:
    """The built-in sentences of one split (disjoint across splits)."""
    if split not in SENTENCE_SPLIT:
        raise ValueError(f"split must be one of {sorted(set(SENTENCE_SPLIT))}, got {split!r}")
    return tuple(s for i, s in enumerate(SENTENCES) if SENTENCE_SPLIT[i % 6] == split)


def draw_speech(rng: np.random.Generator, split: str, clip_s: float) -> dict:
    """Draw the voice and text of one speech clip.

    Parameters
    ----------
    rng : np.random.Generator
        The clip's generator.
    split : str
        Split whose sentences are spoken.
    clip_s : float
        Clip length in seconds; enough sentences are drawn to fill it at the drawn speed
        (counting 6 characters per word with its space, plus 30 %).

    Returns
    -------
    dict
        ``{"voice", "variant", "pitch", "speed_wpm", "text"}``.
    """
    pool = sentences_of(split)
    voice = str(ACCENTS[rng.integers(len(ACCENTS))])
    variant = str(VARIANTS[rng.integers(len(VARIANTS))])
    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    speed = int(rng.integers(SPEED_RANGE_WPM[0], SPEED_RANGE_WPM[1] + 1))
    chars_needed = clip_s * speed / 60.0 * 6.0 * 1.3
    order = rng.permutation(len(pool))
    chosen = [pool[i] for i in order]
    count = next((k for k in range(1, len(chosen) + 1)
                  if sum(len(s) + 1 for s in chosen[:k]) >= chars_needed), len(chosen))
    return {"voice": voice, "variant": variant, "pitch": pitch, "speed_wpm": speed,
            "text": " ".join(chosen[:count])}


def render_speech(espeak: str, spec: dict, sample_rate: int) -> np.ndarray:
    """Speak a drawn clip with espeak-ng.

    Parameters
    ----------
    espeak : str
        Path of the ``espeak-ng`` executable.
    spec : dict
        A clip drawn by :func:`draw_speech`.
    sample_rate : int
        Output rate in Hz (espeak-ng speaks at 22.05 kHz; other rates are resampled).

    Returns
    -------
    np.ndarray
        (samples,) float64 speech at ``sample_rate`` Hz, level as espeak-ng made it.
    """
    command = [espeak, "-v", f"{spec['voice']}+{spec['variant']}", "-p", str(spec["pitch"]),
               "-s", str(spec["speed_wpm"]), "--stdout", spec["text"]]
    result = run_tool(command)  # the WAV comes on stdout: no file to leave behind
    if result.returncode != 0 or not result.stdout:
        raise tool_error("espeak-ng", result)
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float64", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        common = math.gcd(int(rate), int(sample_rate))
        mono = signal.resample_poly(mono, sample_rate // common, int(rate) // common)
    return mono
