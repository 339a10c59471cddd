"""Render a scene spec to multichannel audio with exact labels."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..acoustics import dsp, measure
from ..acoustics.formats import ChannelFormat, make_format
from ..acoustics.hrtf import HRTFSet
from ..acoustics.rooms import SPEED_OF_SOUND_M_S
from ..checks import check_memory
from ..scene.factors import SOURCE_FACTORS
from ..scene.spec import SceneSpec
from ..sources import SourceBank, as_bank
from ..splits import SPLITS
from .rir import DEFAULT_MAX_ORDER, fast_rirs, reference_rir, response_length

MODES = ("fast", "reference")
#: Copies of a scene's samples (float64, one per channel and one for the omni response)
#: rendering holds at its peak, at most: 1.9 to 4.4 measured on foa, binaural and mono.
RENDER_COPIES = 6
#: Below this many bytes a render is not checked against the free memory.
CHECKED_RENDER_BYTES = 256 * 2**20


def render_memory(num_channels: int, num_samples: int, response_taps: int) -> int:
    """Bytes one scene's rendering needs at its peak, at most.

    Parameters
    ----------
    num_channels : int
        Channels of the format.
    num_samples : int
        Samples of the scene.
    response_taps : int
        Taps of its longest response (``rir.response_length``).
    """
    return RENDER_COPIES * 8 * (num_channels + 1) * (num_samples + response_taps)


@dataclass
class RenderedScene:
    """A rendered scene.

    Attributes
    ----------
    audio : ndarray, shape (channels, samples), float32
    sample_rate : int
    channel_names : tuple of str
    labels : dict
        See ``scene_labels``.
    spec : SceneSpec
    """

    audio: np.ndarray
    sample_rate: int
    channel_names: tuple
    labels: dict
    spec: SceneSpec


def direction_of(spec: SceneSpec, source_index: int = 0) -> tuple[float, float, float]:
    """Azimuth (deg, [0, 360)), elevation (deg) and distance (m) of a source's direct
    path in the listener's frame, computed from the world positions."""
    vector = spec.listener.to_listener(spec.source_positions_m()[source_index][None])[0]
    distance = float(np.linalg.norm(vector))
    azimuth = float(np.degrees(np.arctan2(vector[1], vector[0])) % 360.0)
    elevation = float(np.degrees(np.arcsin(vector[2] / distance)))
    return azimuth, elevation, distance


def scene_labels(spec: SceneSpec, omni_response: np.ndarray) -> dict:
    """Nominal levels and measured values of a scene.

    Parameters
    ----------
    spec : SceneSpec
    omni_response : ndarray, shape (taps,)
        Response of the primary source to an omnidirectional capsule at the listener,
        on which RT60 (T30 of the reverberant decay), DRR and C50 are measured, so that
        every format of a scene carries the same labels.

    Returns
    -------
    labels : dict
        Nominal level indices (``azimuth``, ``elevation``, ``distance``, ``class``,
        ``rt60``, ``volume``, ``shape``; -1 where the spec has none), exact values
        (``azimuth_deg``, ``elevation_deg``, ``distance_m``, ``rt60_s`` measured,
        ``rt60_target_s``, ``drr_db``, ``c50_db``, ``volume_m3``, ``absorption``), names
        (``class_name``, ``shape_name``, ``clip_id``) and ``sources``, one dict per source
        (``class_name``, ``clip_id``, exact ``azimuth_deg``, ``elevation_deg``,
        ``distance_m`` and the level indices ``azimuth``, ``elevation``, ``distance``,
        ``class``).
    """
    fs = spec.sample_rate
    azimuth, elevation, distance = direction_of(spec, 0)
    direct_s = distance / SPEED_OF_SOUND_M_S
    primary = spec.sources[0]
    labels = {f: int(primary.levels.get(f, -1)) for f in ("azimuth", "elevation",
                                                           "distance", "class")}
    labels.update({f: int(spec.levels.get(f, -1)) for f in ("rt60", "volume", "shape")})
    labels.update(
        azimuth_deg=azimuth, elevation_deg=elevation, distance_m=distance,
        rt60_s=measure.rt60_s(omni_response, fs, start_s=direct_s + 0.0025),
        rt60_target_s=float(spec.room.rt60_s),
        drr_db=measure.drr_db(omni_response, fs, direct_s),
        c50_db=measure.clarity_db(omni_response, fs, direct_s),
        volume_m3=float(spec.room.volume_m3), absorption=float(spec.room.absorption),
        class_name=primary.class_name, shape_name=spec.room.shape, clip_id=primary.clip_id)
    labels["sources"] = []
    for i, source in enumerate(spec.sources):
        az, el, dist = direction_of(spec, i)
        labels["sources"].append(dict(
            class_name=source.class_name, clip_id=source.clip_id, azimuth_deg=az,
            elevation_deg=el, distance_m=dist,
            **{f: int(source.levels.get(f, -1)) for f in SOURCE_FACTORS}))
    return labels


class Renderer:
    """Renders scene specs; holds the source bank and the formats' caches.

    Parameters
    ----------
    bank : SourceBank, optional
        Dry clips, or a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``);
        default ``ProceduralBank()``.
    mode : str
        ``fast`` (image sources + diffuse tail) or ``reference`` (pyroomacoustics).
    max_order : int
        Exact reflection order of the fast renderer.
    sofa_path : str, optional
        HRTF for the binaural format (default MIT KEMAR from libmysofa1).
    hrtf : HRTFSet, optional
        An already loaded HRTF set (overrides ``sofa_path``).
    clip_cache_size : int
        Dry clips kept in memory (clips recur across scenes).
    """

    def __init__(self, bank: SourceBank | None = None, mode: str = "fast",
                 max_order: int = DEFAULT_MAX_ORDER, sofa_path=None,
                 hrtf: HRTFSet | None = None, clip_cache_size: int = 256):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.bank = as_bank(bank)
        self.mode, self.max_order = mode, max_order
        self.sofa_path, self.hrtf = sofa_path, hrtf
        self.clip_cache_size = clip_cache_size
        self._formats: dict[str, ChannelFormat] = {}
        self._clips: OrderedDict = OrderedDict()
        self._class_clips: dict = {}  # class → every clip id of it, for the checks

    def format(self, name: str) -> ChannelFormat:
        """The (cached) channel format called ``name``."""
        if name not in self._formats:
            self._formats[name] = make_format(name, sofa_path=self.sofa_path, hrtf=self.hrtf)
        return self._formats[name]

    def responses(self, spec: SceneSpec, source_index: int = 0, formats=None
                  ) -> list[np.ndarray]:
        """Responses (channels, taps) of one source, one per format name (default: the
        spec's format)."""
        fmts = [self.format(name) for name in (formats or [spec.channel_format])]
        if self.mode == "reference":
            return [reference_rir(spec, fmt, source_index) for fmt in fmts]
        return fast_rirs(spec, fmts, source_index, max_order=self.max_order)

    def _check_sources(self, spec: SceneSpec) -> None:
        """Every source names a class of the bank and one of that class's clips."""
        bank = self.bank
        for i, source in enumerate(spec.sources):
            if source.class_name not in bank.classes:
                raise ValueError(f"sources[{i}].class_name: {source.class_name!r} is not a "
                                 f"class of the {bank.name!r} bank; its classes are "
                                 f"{bank.classes}")
            if source.class_name not in self._class_clips:
                self._class_clips[source.class_name] = {
                    clip for split in SPLITS for clip in bank.clip_ids(split, source.class_name)}
            if source.clip_id not in self._class_clips[source.class_name]:
                raise ValueError(f"sources[{i}].clip_id: {source.clip_id!r} is not a clip of "
                                 f"class {source.class_name!r} in the {bank.name!r} bank")

    def check_memory(self, spec: SceneSpec) -> None:
        """Refuse, by arithmetic, a scene whose rendering would not fit in free memory."""
        taps = max(response_length(spec, i) for i in range(len(spec.sources)))
        needed = render_memory(self.format(spec.channel_format).num_channels,
                               int(round(spec.duration_s * spec.sample_rate)), taps)
        if needed > CHECKED_RENDER_BYTES:
            check_memory(f"a scene of {spec.duration_s:g} s at {spec.sample_rate} Hz in "
                         f"{spec.channel_format}", needed,
                         "shorten duration_s or lower sample_rate")

    def dry(self, clip_id: str, sample_rate: int, duration_s: float) -> np.ndarray:
        """A dry clip (samples,) from the bank, through a small LRU cache."""
        key = (clip_id, sample_rate, duration_s)
        if key in self._clips:
            self._clips.move_to_end(key)
        else:
            self._clips[key] = self.bank.load(clip_id, sample_rate, duration_s)
            if len(self._clips) > self.clip_cache_size:
                self._clips.popitem(last=False)
        return self._clips[key]

    def render(self, spec: SceneSpec) -> RenderedScene:
        """Validate and render a scene: dry clips convolved with their responses, summed.

        Returns
        -------
        RenderedScene
            ``audio`` has shape (channels, round(duration_s * sample_rate)), float32.
            Labels are measured on the primary source's omni response.
        """
        spec.validate()
        self._check_sources(spec)
        fs = spec.sample_rate
        num_samples = int(round(spec.duration_s * fs))
        self.check_memory(spec)
        extra = [] if spec.channel_format == "mono" else ["mono"]
        responses, dry, omni = [], [], None
        for i, source in enumerate(spec.sources):
            found = self.responses(spec, i, [spec.channel_format] + (extra if i == 0 else []))
            responses.append(found[0])
            omni = found[-1][0] if i == 0 else omni
            gain = np.float32(10.0 ** (source.gain_db / 20.0))
            dry.append(self.dry(source.clip_id, fs, spec.duration_s) * gain)
        audio = dsp.convolve_sum(dry, responses, num_samples)
        return RenderedScene(audio=audio, sample_rate=fs,
                             channel_names=self.format(spec.channel_format).channel_names,
                             labels=scene_labels(spec, omni), spec=spec)
