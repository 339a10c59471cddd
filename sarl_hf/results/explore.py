"""What the ``sarl_explorer`` Space does, as plain functions: shape one scene from exact
factor values, sweep one factor and measure how far an encoder's embedding moves, and
draw the room. The limits of what a page accepts are here too; uploaded ``results.json``
files are read by :func:`sarl_hf.results.combine.read_results`.

A scene is given by its seven factor values (``{"azimuth": 30.0, "elevation": 0.0,
"distance": 1.5, "class": "harmonic", "rt60": 0.5, "volume": 80.0, "shape": "shoebox"}``;
degrees, metres, seconds, m³) and a seed: the seed picks the dry clip, the room's
proportions and the listener's place, so the same values and seed give the same bytes.
A sweep is the sensitivity design of :mod:`sarl_hf.scene.variants` with levels made from the
sweep's values (the anchor's value always among them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..acoustics.formats import format_names
from ..encoders.registry import packaged_encoders
from ..probing.sensitivity_analysis import METRICS, paired_distances
from ..rendering.renderer import RenderedScene, Renderer
from ..scene.factors import FACTORS, SOURCE_FACTORS, FactorConfig, nominal_levels
from ..scene.placement import place
from ..scene.spec import SceneSpec, SourceSpec
from ..scene.variants import factor_variants
from ..sources import SourceBank, as_bank
from .selection import summary_layer

MAX_DURATION_S = 4.0  # longest scene a page renders
MIN_SWEEP_POINTS, MAX_SWEEP_POINTS = 3, 12  # scenes per sweep
MAX_RESULTS_BYTES = 5 * 2**20  # largest results.json read
MAX_RESULT_ROWS = 40  # (encoder, format) pairs in one report
SPLIT = "test"  # the clips the explorer plays: never seen by a probe's training
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
UNITS = {"azimuth": "deg", "elevation": "deg", "distance": "m", "rt60": "s", "volume": "m³"}


def factor_ranges(config: FactorConfig | None = None) -> dict:
    """Range ``(low, high)`` of every numeric factor: azimuth (0, 360) deg, the others
    from the lowest to the highest level of ``config`` (rooms of these ranges hold any
    source of these ranges)."""
    config = config or FactorConfig()
    out = {"azimuth": (0.0, 360.0)}
    for factor in ("elevation", "distance", "rt60", "volume"):
        levels = config.levels(factor)
        out[factor] = (float(min(levels)), float(max(levels)))
    return out


def check_values(values: dict, classes, config: FactorConfig | None = None) -> dict:
    """The factor values as floats and names, or a ValueError naming the bad one."""
    missing = [f for f in FACTORS if f not in values]
    if missing:
        raise ValueError(f"factor values missing: {missing}")
    config = config or FactorConfig()
    out = {}
    for factor, (low, high) in factor_ranges(config).items():
        try:
            value = float(values[factor])
        except (TypeError, ValueError):
            raise ValueError(f"{factor} must be a number, got {values[factor]!r}") from None
        if not np.isfinite(value) or (factor != "azimuth" and not low <= value <= high):
            raise ValueError(f"{factor} must lie in [{low:g}, {high:g}] {UNITS[factor]}, "
                             f"got {value!r}")
        out[factor] = value % 360.0 if factor == "azimuth" else value
    for factor, known in (("class", tuple(classes)), ("shape", tuple(config.shapes))):
        if values[factor] not in known:
            raise ValueError(f"{factor} must be one of {list(known)}, got {values[factor]!r}")
        out[factor] = values[factor]
    return out


def scene_spec(values: dict, channel_format: str = "binaural", duration_s: float = 2.0,
               seed: int = 0, bank: SourceBank | str | None = None,
               config: FactorConfig | None = None, sample_rate: int = 16000) -> SceneSpec:
    """A legal scene with exactly these factor values.

    Parameters
    ----------
    values : dict
        ``azimuth``, ``elevation`` (deg), ``distance`` (m), ``class`` (a class of the
        bank), ``rt60`` (s, the target), ``volume`` (m³), ``shape`` (one of
        ``config.shapes``); see :func:`factor_ranges`.
    channel_format : str
        A registered channel format.
    duration_s : float
        In (0, ``MAX_DURATION_S``].
    seed : int
        Picks the clip (of the ``test`` split), the room proportions, the listener's
        place and the diffuse tail's noise.
    bank : SourceBank or str, optional
        Default ``procedural``.
    config : FactorConfig, optional
        Margins and height ranges of the design, and the levels the labels name.
    sample_rate : int
        Hz.

    Returns
    -------
    SceneSpec
        Validated; ``levels`` hold the nearest nominal levels of ``config``.
    """
    config, bank = config or FactorConfig(), as_bank(bank)
    v = check_values(values, bank.classes, config)
    if channel_format not in format_names():
        raise ValueError(f"channel format must be one of {format_names()}, got "
                         f"{channel_format!r}")
    if not 0 < float(duration_s) <= MAX_DURATION_S:
        raise ValueError(f"duration must lie in (0, {MAX_DURATION_S:g}] s, got {duration_s!r}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    clips = bank.clip_ids(SPLIT, v["class"])
    levels = {f: int(nominal_levels(f, [v[f]], config)[0]) for f in UNITS}
    source = SourceSpec(round(v["azimuth"], 6), round(v["elevation"], 6),
                        round(v["distance"], 6), v["class"], clips[seed % len(clips)],
                        levels={"azimuth": levels["azimuth"], "elevation": levels["elevation"],
                                "distance": levels["distance"],
                                "class": list(bank.classes).index(v["class"])})
    found = place([source], config, np.random.default_rng([seed, 0x5CE]), shape=v["shape"],
                  volume_m3=v["volume"], rt60_s=v["rt60"])
    if found is None:
        raise ValueError(f"no legal room of {v['volume']:g} m³ ({v['shape']}, RT60 "
                         f"{v['rt60']:g} s) holds a source {v['distance']:g} m away at "
                         f"{v['elevation']:g}° elevation; try another seed or a nearer source")
    room_levels = {"rt60": levels["rt60"], "volume": levels["volume"],
                   "shape": list(config.shapes).index(v["shape"])}
    return SceneSpec(room=found[0], listener=found[1], sources=[source],
                     channel_format=channel_format, sample_rate=int(sample_rate),
                     duration_s=float(duration_s), seed=seed, split=SPLIT,
                     scene_id=f"explore-{seed}", levels=room_levels).validate()


def sweep_values(factor: str, value, n_points: int, classes=(),
                 config: FactorConfig | None = None) -> tuple[list, int]:
    """The values a sweep of ``factor`` visits and the index of the anchor's ``value``.

    Azimuth: ``n_points`` directions evenly round the circle starting at ``value``;
    elevation, distance, RT60: evenly over the range, volume: evenly in log; the grid
    point nearest ``value`` is replaced by ``value``. Class: every class; shape: every
    shape. Returns ``(values, anchor_index)``: numbers ascending (azimuth: in turn from
    the anchor) or names.
    """
    config = config or FactorConfig()
    if factor not in FACTORS:
        raise ValueError(f"factor must be one of {FACTORS}, got {factor!r}")
    if factor in ("class", "shape"):
        names = list(classes if factor == "class" else config.shapes)
        if not MIN_SWEEP_POINTS - 1 <= len(names) <= MAX_SWEEP_POINTS:
            raise ValueError(f"a {factor} sweep takes 2 to {MAX_SWEEP_POINTS} levels, got "
                             f"{len(names)}")
        return names, names.index(value)
    n = int(n_points)
    if not MIN_SWEEP_POINTS <= n <= MAX_SWEEP_POINTS:
        raise ValueError(f"a sweep takes {MIN_SWEEP_POINTS} to {MAX_SWEEP_POINTS} points, "
                         f"got {n_points!r}")
    value = float(value)
    if factor == "azimuth":
        return [round((value + k * 360.0 / n) % 360.0, 6) for k in range(n)], 0
    low, high = factor_ranges(config)[factor]
    grid = np.geomspace(low, high, n) if factor == "volume" else np.linspace(low, high, n)
    scale = np.log(grid / value) if factor == "volume" else grid - value
    grid[int(np.argmin(np.abs(scale)))] = value
    grid = np.round(np.sort(grid), 6)
    return grid.tolist(), int(np.argmin(np.abs(grid - value)))


@dataclass
class Sweep:
    """How far an embedding moves along one factor.

    Attributes
    ----------
    factor : str
    values : list
        The factor's value of each scene (unit ``UNITS[factor]``, or names).
    distances : ndarray, shape (n,), float64
        Distance of each scene's embedding from the anchor's (0 at ``anchor_index``).
    anchor_index : int
    encoder, layer, metric : str
    placement : str
        How the listener was placed for the variants (see :mod:`sarl_hf.scene.variants`).
    specs : list of SceneSpec
    """

    factor: str
    values: list
    distances: np.ndarray
    anchor_index: int
    encoder: str
    layer: str
    metric: str
    placement: str
    specs: list

    def to_dict(self) -> dict:
        """JSON-ready summary (no specs)."""
        return {"factor": self.factor, "unit": UNITS.get(self.factor, ""),
                "values": list(self.values), "distances": self.distances.tolist(),
                "anchor_index": self.anchor_index, "encoder": self.encoder,
                "layer": self.layer, "metric": self.metric, "placement": self.placement}


def _anchor_at(anchor: SceneSpec, factor: str, level: int) -> SceneSpec:
    """The anchor with its level of ``factor`` set to ``level`` (of the sweep's levels)."""
    if factor in SOURCE_FACTORS:
        primary = replace(anchor.sources[0], levels={**anchor.sources[0].levels, factor: level})
        return replace(anchor, sources=[primary] + anchor.sources[1:])
    return replace(anchor, levels={**anchor.levels, factor: level})


def sweep(encoder, renderer: Renderer, values: dict, factor: str, n_points: int = 8,
          channel_format: str = "binaural", duration_s: float = 2.0, seed: int = 0,
          config: FactorConfig | None = None, layer: str | None = None,
          metric: str = "cosine") -> Sweep:
    """Move one factor of the scene ``values`` describes and embed every variant.

    Parameters
    ----------
    encoder : sarl_hf.encoders.Encoder
    renderer : Renderer
        Its bank gives the classes and clips.
    values, channel_format, duration_s, seed, config
        The anchor scene, as in :func:`scene_spec`.
    factor : str
    n_points : int
        Scenes of a numeric sweep (``MIN_SWEEP_POINTS`` … ``MAX_SWEEP_POINTS``).
    layer : str, optional
        Default ``all`` where the encoder has it, else its last layer.
    metric : {"cosine", "euclidean"}

    Returns
    -------
    Sweep
    """
    config, bank = config or FactorConfig(), renderer.bank
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    anchor = scene_spec(values, channel_format, duration_s, seed, bank, config)
    points, index = sweep_values(factor, check_values(values, bank.classes, config)[factor],
                                 n_points, bank.classes, config)
    levels = {"azimuth": {"azimuth_sectors": len(points)}, "elevation":
              {"elevation_levels_deg": points}, "distance": {"distance_levels_m": points},
              "rt60": {"rt60_levels_s": points}, "volume": {"volume_levels_m3": points}}
    sweep_config = replace(config, **levels.get(factor, {}))
    rng = np.random.default_rng([int(seed), FACTORS.index(factor), 0x5EE])
    specs = factor_variants(_anchor_at(anchor, factor, index), factor, len(points),
                            sweep_config, bank, rng)
    audio = np.stack([renderer.render(spec).audio for spec in specs])
    embeddings = encoder.embed(audio, anchor.sample_rate)
    layer = layer or summary_layer(embeddings)
    if layer not in embeddings:
        raise ValueError(f"layer must be one of {list(embeddings)}, got {layer!r}")
    rows = np.arange(len(specs))
    distances = paired_distances(embeddings[layer], np.full(len(specs), index), rows, metric)
    return Sweep(factor, points, distances, index, getattr(encoder, "name", "encoder"), layer,
                 metric, specs[0].variant["placement"], specs)


def room_figure(spec: SceneSpec):
    """The floor plan of a scene: walls, listener (facing arrow) and every source.

    Lines carry gids ``listener`` and ``source0``, ``source1`` … at world x, y (m).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    corners = np.vstack([spec.room.corners, spec.room.corners[:1]])
    ax.fill(corners[:, 0], corners[:, 1], color="#eef2f7", zorder=0)
    ax.plot(corners[:, 0], corners[:, 1], color="black", lw=2, gid="walls")
    x, y, z = spec.listener.position_m
    ax.plot([x], [y], "o", ms=10, color="tab:blue", label=f"listener (ears {z:.2f} m up)",
            gid="listener")
    yaw = np.deg2rad(spec.listener.yaw_deg)
    ax.annotate("", (x + 0.6 * np.cos(yaw), y + 0.6 * np.sin(yaw)), (x, y),
                arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 2})
    for i, (source, position) in enumerate(zip(spec.sources, spec.source_positions_m())):
        ax.plot([x, position[0]], [y, position[1]], ":", color="tab:red", lw=1)
        ax.plot([position[0]], [position[1]], "*", ms=16, color="tab:red", gid=f"source{i}",
                label=f"{source.class_name}: {source.azimuth_deg:.0f}°, "
                      f"{source.elevation_deg:.0f}° up, {source.distance_m:.2f} m")
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{spec.room.shape}: {spec.room.volume_m3:.0f} m³, height "
                 f"{spec.room.height_m:.2f} m, RT60 {spec.room.rt60_s:.2f} s", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    return fig


def sweep_figure(result: Sweep):
    """The sensitivity curve of a sweep: distance from the anchor against the value.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    named = result.factor in ("class", "shape")
    x = np.arange(len(result.values)) if named else np.asarray(result.values, float)
    order = np.argsort(x)
    ax.plot(x[order], result.distances[order], "o-", color="tab:purple", gid="curve")
    ax.plot([x[result.anchor_index]], [0.0], "o", ms=10, color="tab:red", label="anchor")
    if named:
        ax.set_xticks(x, result.values, rotation=45, ha="right", fontsize=8)
    unit = UNITS.get(result.factor)
    ax.set_xlabel(f"{result.factor} ({unit})" if unit else result.factor)
    ax.set_ylabel(f"{result.metric} distance")
    ax.set_title(f"{result.encoder} (layer {result.layer}): {result.factor} sweep",
                 fontsize=10)
    ax.legend(fontsize=8)
    return fig


def write_wav(scene: RenderedScene, path) -> float:
    """Write a rendered scene as 32-bit float WAV, scaled down only if it would clip.

    The same scene gives the same bytes (no time stamp in the header, unlike libsndfile's
    PEAK chunk). Returns the gain applied (1.0 unless the peak exceeded 0.99).
    """
    from ..files import wav_bytes

    peak = float(np.abs(scene.audio).max())
    gain = 1.0 if peak <= 0.99 else 0.99 / peak
    Path(path).write_bytes(wav_bytes(scene.audio * np.float32(gain), scene.sample_rate))
    return gain


def check_encoder_name(name: str) -> str:
    """A packaged encoder's name or a Hub model id; anything else (paths, ``hear:``
    modules, a name that is also a folder on this machine) is a ValueError, so a page
    never imports or reads what a visitor names."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if name in packaged_encoders():
        return name
    if not _HUB_ID.match(name) or ".." in name:
        raise ValueError(f"encoder must be one of {', '.join(packaged_encoders())} or a Hugging "
                         f"Face model id such as facebook/wav2vec2-base, got {name!r}")
    if Path(name).exists():  # transformers would load the folder, relative to the server
        raise ValueError(f"encoder {name!r} names a folder on this server, which this page "
                         f"never loads: it takes the packaged encoders "
                         f"({', '.join(packaged_encoders())}) and Hugging Face Hub model ids")
    return name


def open_encoder(name: str, channel_format: str, **options):
    """Load an encoder for scenes of ``channel_format`` (see :func:`check_encoder_name`);
    a model the Hub cannot provide is a ValueError that says why in one sentence."""
    from huggingface_hub import constants

    from ..encoders.registry import load_encoder

    name = check_encoder_name(name)
    try:
        return load_encoder(name, channel_format=channel_format, **options)
    except (OSError, ValueError, ImportError) as err:
        if name in packaged_encoders():
            raise ValueError(f"encoder {name!r} cannot be loaded here: {err}") from err
        if "trust_remote_code" in str(err):
            raise ValueError(f"{name!r} runs code from its own repository "
                             "(trust_remote_code), which this page never runs; pick a model "
                             f"transformers knows, or one of {', '.join(packaged_encoders())}"
                             ) from err
        if constants.is_offline_mode():
            raise ValueError(f"{name!r} is not in the local model cache and the Hugging Face "
                             f"Hub is unreachable (offline mode, HF_HUB_OFFLINE=1); pick one "
                             f"of {', '.join(packaged_encoders())}") from err
        raise ValueError(f"{name!r} could not be loaded from the Hugging Face Hub (no such "
                         f"audio model, or the Hub is unreachable): "
                         f"{str(err).splitlines()[0][:300]}") from err
