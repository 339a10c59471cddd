"""English captions of rendered scenes: what sounds, where, and in what room.

A caption names every source's content and place and then the room, from the values the
rendered scene really has (exact direct-path angles and distance, measured RT60). The
same scene with its sources' places exchanged (:func:`swapped_caption`) is the hard
negative of the content–position test of audio–text retrieval:

>>> caption({"sources": [{"class_name": "bell", "azimuth_deg": 92.0, "elevation_deg": 0.0,
...                       "distance_m": 3.1}], "rt60_s": 0.8, "volume_m3": 480.0,
...          "shape_name": "shoebox"})
'a bell rings far to the left in a very large reverberant hall'
"""

from __future__ import annotations

import json

POSITION_KEYS = ("azimuth_deg", "elevation_deg", "distance_m")

#: Content phrases of known classes (procedural bank and common instrument families).
CLASS_PHRASES = {
    "bell": "a bell rings", "clicks": "something clicks", "crackle": "something crackles",
    "drum": "a drum beats", "harmonic": "a harmonic tone plays", "hum": "a machine hums",
    "noise_burst": "bursts of noise hiss", "pink_noise": "steady noise hisses",
    "siren": "a siren wails", "sweep": "a tone sweeps", "tremolo": "a tone trembles",
    "vowel": "a voice sings a vowel",
}
#: Keywords of class names that a bank may use, checked in order when no exact phrase fits.
KEYWORD_PHRASES = (
    ("speech", "a person speaks"), ("voice", "a person speaks"), ("choir", "a choir sings"),
    ("piano", "a piano plays"), ("guitar", "a guitar plays"), ("pluck", "strings are plucked"),
    ("string", "strings play"), ("violin", "a violin plays"), ("brass", "brass plays"),
    ("trumpet", "a trumpet plays"), ("reed", "a reed instrument plays"),
    ("sax", "a saxophone plays"), ("clarinet", "a clarinet plays"), ("flute", "a flute plays"),
    ("pipe", "a pipe plays"), ("organ", "an organ plays"), ("mallet", "a mallet instrument "
                                                           "plays"),
    ("marimba", "a marimba plays"), ("bell", "bells ring"), ("drum", "drums play"),
    ("bass", "a bass plays"),
)
_DIRECTIONS = ("in front", "to the front left", "to the left", "to the back left", "behind",
               "to the back right", "to the right", "to the front right")


def class_phrase(class_name: str) -> str:
    """Subject and verb for a class, e.g. ``'a bell rings'``."""
    if class_name in CLASS_PHRASES:
        return CLASS_PHRASES[class_name]
    lowered = class_name.lower()
    for keyword, phrase in KEYWORD_PHRASES:
        if keyword in lowered:
            return phrase
    return f"a {class_name.replace('_', ' ')} sound plays"


def place_phrase(azimuth_deg: float, elevation_deg: float, distance_m: float) -> str:
    """Where a source is for the listener, e.g. ``'far to the left and slightly up'``.

    Azimuth is counter-clockwise from the front (90° = left), elevation positive up.
    """
    direction = _DIRECTIONS[int(((azimuth_deg % 360.0) + 22.5) // 45.0) % 8]
    if distance_m < 0.75:
        reach = "close "
    elif distance_m < 1.5:
        reach = "near "
    elif distance_m < 2.5:
        reach = ""
    else:
        reach = "far "
    if elevation_deg >= 30:
        height = " and high up"
    elif elevation_deg >= 10:
        height = " and slightly up"
    elif elevation_deg <= -30:
        height = " and low down"
    elif elevation_deg <= -10:
        height = " and slightly down"
    else:
        height = ""
    return f"{reach}{direction}{height}"


def room_phrase(rt60_s: float, volume_m3: float, shape_name: str) -> str:
    """The room, e.g. ``'a large reverberant L-shaped room'``."""
    size = ("small" if volume_m3 < 50 else "medium-sized" if volume_m3 < 130
            else "large" if volume_m3 < 320 else "very large")
    reverb = ("dry" if rt60_s < 0.35 else "slightly reverberant" if rt60_s < 0.6
              else "reverberant" if rt60_s < 0.9 else "very reverberant")
    shape = {"l_shaped": "L-shaped ", "t_shaped": "T-shaped ",
             "hexagonal": "hexagonal "}.get(shape_name, "")
    noun = "hall" if volume_m3 >= 320 else "room"
    return f"a {size} {reverb} {shape}{noun}"


def caption(labels: dict) -> str:
    """One sentence describing a scene from its labels.

    Parameters
    ----------
    labels : dict
        ``sources`` (each with ``class_name``, ``azimuth_deg``, ``elevation_deg``,
        ``distance_m``), ``rt60_s``, ``volume_m3`` and ``shape_name``, as
        ``rendering.scene_labels`` gives them.

    Returns
    -------
    str
    """
    parts = [f"{class_phrase(s['class_name'])} "
             f"{place_phrase(s['azimuth_deg'], s['elevation_deg'], s['distance_m'])}"
             for s in labels["sources"]]
    if not parts:
        raise ValueError("labels['sources'] is empty: a scene needs at least one source")
    sources = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    separator = " " if len(parts) == 1 else ", "
    room = room_phrase(labels["rt60_s"], labels["volume_m3"], labels["shape_name"])
    return f"{sources}{separator}in {room}"


def swapped_caption(labels: dict, shift: int = 1) -> str:
    """The caption of the scene with every source moved to another source's place: source
    k takes the direction and distance of source k + ``shift`` (mod their number); with
    two sources, they swap. Content and room stay.

    >>> labels = {"sources": [{"class_name": "bell", "azimuth_deg": 90.0, "elevation_deg": 0.0,
    ...                        "distance_m": 3.0}, {"class_name": "speech", "azimuth_deg": 270.0,
    ...                        "elevation_deg": 0.0, "distance_m": 0.6}],
    ...           "rt60_s": 0.3, "volume_m3": 40.0, "shape_name": "shoebox"}
    >>> swapped_caption(labels)
    'a bell rings close to the right and a person speaks far to the left, in a small dry room'

    Raises
    ------
    ValueError
        If the scene has fewer than two sources (nothing to exchange).
    """
    sources = labels["sources"]
    if len(sources) < 2:
        raise ValueError(f"labels['sources'] has {len(sources)} source(s): exchanging places "
                         "needs at least two")
    moved = [{**source, **{key: sources[(k + shift) % len(sources)][key]
                           for key in POSITION_KEYS}} for k, source in enumerate(sources)]
    return caption({**labels, "sources": moved})


def labels_from_row(row: dict) -> dict:
    """The labels :func:`caption` reads, from a corpus row (its ``sources``, ``rt60_s``,
    ``volume_m3``, and the room's shape in ``spec``)."""
    shape = json.loads(row["spec"])["room"]["shape"]
    return {"sources": row["sources"], "rt60_s": row["rt60_s"], "volume_m3": row["volume_m3"],
            "shape_name": shape}
