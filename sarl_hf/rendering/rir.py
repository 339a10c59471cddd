"""Room impulse responses: the fast renderer and the pyroomacoustics reference.

Fast renderer
    Exact image sources up to ``max_order`` reflections (``ism``) rendered through the
    channel format until the mixing time, then a diffuse late tail: Gaussian noise whose
    channels have the format's diffuse-field cross-spectral matrix, whose energy decays
    at exactly the target RT60, and whose level is the image-source energy density of
    the room, 4πc/V per second for a source of unit amplitude at 1 m. A 4 ms
    raised-cosine crossfade joins the two.

Reference renderer
    The same scene through pyroomacoustics (same walls, same absorption): the full
    image-source model for a shoebox, the hybrid ray tracer (or a given image order) for
    the other shapes. Capsule formats use pyroomacoustics' own RIR synthesis; ambisonic
    and binaural formats render its image sources through the format.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import fft as sp_fft

from ..acoustics.formats import CapsuleArray, ChannelFormat
from ..acoustics.ism import image_sources
from ..acoustics.rooms import SPEED_OF_SOUND_M_S
from ..scene.spec import SceneSpec

DEFAULT_MAX_ORDER = 3
MIN_EARLY_S = 0.005  # exact sound after the direct path, at least
CROSSFADE_S = 0.004  # length of the early-to-tail crossfade


def response_length(spec: SceneSpec, source_index: int = 0) -> int:
    """Taps of a response: the direct path, then a full 60 dB decay, then a margin."""
    delay_s = spec.sources[source_index].distance_m / SPEED_OF_SOUND_M_S
    return int(np.ceil((delay_s + spec.room.rt60_s) * spec.sample_rate)) + 256


def mixing_time_s(spec: SceneSpec, max_order: int, direct_s: float) -> float:
    """When the exact early part hands over to the diffuse tail.

    The time by which a path has, on average, ``max_order`` reflections (mean free path
    4V/S), but no later than a tenth of the RT60 after the direct sound: the exact part
    holds the direct sound and the first reflections, the decay belongs to the tail
    (the image model's decay depends on the room's proportions; the target's does not).
    Never before the direct sound plus ``MIN_EARLY_S``.
    """
    mean_free_path_m = 4 * spec.room.volume_m3 / spec.room.surface_m2
    handover_s = min(max_order * mean_free_path_m / SPEED_OF_SOUND_M_S,
                     direct_s + spec.room.rt60_s / 10)
    return max(handover_s, direct_s + MIN_EARLY_S)


def early_weight(t_s: np.ndarray, mixing_s: float) -> np.ndarray:
    """Amplitude weight of the exact part: 1 before ``mixing_s``, a raised-cosine fade to 0."""
    x = np.clip((np.asarray(t_s) - mixing_s) / CROSSFADE_S, 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * x)


def tail_envelope(spec: SceneSpec, num_taps: int, direct_s: float, mixing_s: float
                  ) -> np.ndarray:
    """Standard deviation per tap (num_taps,) of the diffuse tail of an omni capsule.

    Zero until the mixing time, then rising through the crossfade (``early_weight``) to
    the full image-source energy density 4πc/V, decaying by 60 dB in exactly
    ``rt60_s``; nothing arrives before ``direct_s``.
    """
    fs, room = spec.sample_rate, spec.room
    t = np.arange(num_taps) / fs
    late_fraction = 1.0 - early_weight(t, mixing_s) ** 2
    density = 4 * np.pi * SPEED_OF_SOUND_M_S / (room.volume_m3 * fs)
    envelope = np.sqrt(density * late_fraction) * np.exp(-3.0 * np.log(10) / room.rt60_s * t)
    envelope[t < direct_s] = 0.0
    return envelope


def diffuse_noise(fmt: ChannelFormat, sample_rate: int, num_taps: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Stationary unit-level noise with the format's diffuse-field cross-spectra.

    Returns
    -------
    noise : ndarray, shape (channels, num_taps), float32
    """
    if fmt.num_channels == 1:
        return rng.standard_normal((1, num_taps), dtype=np.float32)
    n_fft = 1 << int(np.ceil(np.log2(num_taps)))
    parts = rng.standard_normal((2, fmt.num_channels, n_fft // 2 + 1), dtype=np.float32)
    spectrum = (parts[0] + 1j * parts[1]) * np.float32(np.sqrt(n_fft / 2))
    mixing = fmt.diffuse_mixing(sample_rate, n_fft)
    spectrum = np.einsum("fij,jf->if", mixing, spectrum)
    return sp_fft.irfft(spectrum, n=n_fft, axis=-1)[:, :num_taps]


def _tail_rng(spec: SceneSpec, source_index: int, fmt: ChannelFormat):
    # seeded per format, so a format's tail never depends on what else is rendered
    return np.random.default_rng([spec.seed, source_index, zlib.crc32(fmt.name.encode())])


def fast_rirs(spec: SceneSpec, fmts, source_index: int = 0,
              max_order: int = DEFAULT_MAX_ORDER) -> list[np.ndarray]:
    """Responses from one source of the scene to several formats (fast renderer).

    The image sources and the tail envelope are computed once and shared.

    Parameters
    ----------
    spec : SceneSpec
    fmts : sequence of ChannelFormat
        Any formats (``acoustics.make_format``), whatever ``spec.channel_format`` says.
    source_index : int
    max_order : int
        Reflections rendered exactly (until the mixing time); later sound is the tail.

    Returns
    -------
    responses : list of ndarray, each shape (channels, taps), float32
        The tail of each format is drawn from ``spec.seed``, the source and the format.
    """
    room, listener = spec.room, spec.listener
    source = spec.sources[source_index].position_m(listener)
    images = image_sources(room.corners, room.height_m, source,
                           np.asarray(listener.position_m, float), max_order)
    relative = listener.to_listener(images.positions_m)
    arrival_s = np.linalg.norm(relative, axis=1) / SPEED_OF_SOUND_M_S
    mixing_s = mixing_time_s(spec, max_order, arrival_s[0])
    weight = early_weight(arrival_s, mixing_s)
    audible = weight > 0
    gains = (images.gains(room.absorption) * weight)[audible]
    num_taps = response_length(spec, source_index)
    envelope = tail_envelope(spec, num_taps, arrival_s[0], mixing_s).astype(np.float32)
    out = []
    for fmt in fmts:
        early = fmt.early_response(relative[audible], gains, spec.sample_rate, num_taps)
        noise = diffuse_noise(fmt, spec.sample_rate, num_taps,
                              _tail_rng(spec, source_index, fmt))
        out.append((early + noise * envelope).astype(np.float32))
    return out


def fast_rir(spec: SceneSpec, fmt: ChannelFormat, source_index: int = 0,
             max_order: int = DEFAULT_MAX_ORDER) -> np.ndarray:
    """Response (channels, taps) from one source to one format; see ``fast_rirs``."""
    return fast_rirs(spec, [fmt], source_index, max_order)[0]


def reference_max_order(spec: SceneSpec) -> int:
    """Image order that covers the target RT60 (pyroomacoustics' rule, bounding box)."""
    import pyroomacoustics as pra

    extent = np.ptp(spec.room.corners, axis=0)
    dims = [extent[0], extent[1], spec.room.height_m]
    rt60 = spec.room.rt60_s
    # inverse_sabine's order rule does not depend on the absorption it also returns
    r = min(a * b / np.hypot(a, b) for i, a in enumerate(dims) for b in dims[i + 1:])
    return int(np.ceil(pra.constants.get("c") * rt60 / r - 1))


def pra_room(spec: SceneSpec, max_order: int, ray_tracing: bool = False):
    """The scene's room in pyroomacoustics, with the same walls and absorption.

    A shoebox becomes ``pyroomacoustics.ShoeBox`` (whose image-source model is
    polynomial in the order); other shapes become an extruded floor polygon.
    """
    import pyroomacoustics as pra

    material = pra.Material(spec.room.absorption)
    options = dict(fs=spec.sample_rate, max_order=max_order, air_absorption=False,
                   ray_tracing=ray_tracing)
    if spec.room.shape == "shoebox":
        extent = np.ptp(spec.room.corners, axis=0)
        room = pra.ShoeBox([extent[0], extent[1], spec.room.height_m], materials=material,
                           **options)
    else:
        room = pra.Room.from_corners(spec.room.corners.T, materials=material, **options)
        room.extrude(spec.room.height_m, materials=material)
    room.set_sound_speed(SPEED_OF_SOUND_M_S)
    return room


def _world_offset(spec: SceneSpec) -> np.ndarray:
    """Shift from scene coordinates to the ShoeBox's (corner at the origin)."""
    if spec.room.shape == "shoebox":
        return np.append(-spec.room.corners.min(axis=0), 0.0)
    return np.zeros(3)


def _compute_rir_unfiltered(room) -> None:
    """``room.compute_rir()`` without pyroomacoustics' default 10 Hz high-pass, which
    would add a slow offset after every arrival that the fast renderer does not have."""
    import pyroomacoustics as pra

    enabled = pra.constants.get("rir_hpf_enable")
    pra.constants.set("rir_hpf_enable", False)
    try:
        room.compute_rir()
    finally:
        pra.constants.set("rir_hpf_enable", enabled)


def reference_rir(spec: SceneSpec, fmt: ChannelFormat, source_index: int = 0,
                  max_order: int | None = None) -> np.ndarray:
    """Response through pyroomacoustics, aligned sample for sample with ``fast_rir``.

    Parameters
    ----------
    spec, fmt, source_index
        As for ``fast_rir``.
    max_order : int, optional
        Image-source order. Default: the full model (``reference_max_order``) for a
        shoebox; for the other shapes, whose exact model grows exponentially with the
        order, pyroomacoustics' hybrid model (image sources to order 3, then ray
        tracing), which only capsule formats support.

    Returns
    -------
    response : ndarray, shape (channels, taps), float64
    """
    import pyroomacoustics as pra

    hybrid = max_order is None and spec.room.shape != "shoebox"
    if hybrid and not isinstance(fmt, CapsuleArray):
        raise ValueError(f"max_order: the {fmt.name} reference in a {spec.room.shape} room "
                         "needs an explicit image-source order (pyroomacoustics' ray tracer "
                         "has no ambisonic or HRTF receiver; its image model of a polygon "
                         "room grows exponentially with the order)")
    if max_order is None:
        max_order = DEFAULT_MAX_ORDER if hybrid else reference_max_order(spec)
    room = pra_room(spec, max_order, ray_tracing=hybrid)
    offset = _world_offset(spec)
    room.add_source(spec.sources[source_index].position_m(spec.listener) + offset)
    centre = np.asarray(spec.listener.position_m, float) + offset
    if isinstance(fmt, CapsuleArray):
        room.add_microphone_array((centre + spec.listener.to_world(fmt.capsules_m)).T)
        _compute_rir_unfiltered(room)
        lead = pra.constants.get("frac_delay_length") // 2
        responses = [np.asarray(r[0], float)[lead:] for r in room.rir]
        out = np.zeros((len(responses), max(len(r) for r in responses)))
        for c, r in enumerate(responses):
            out[c, :len(r)] = r
        return out
    room.add_microphone(centre)
    room.image_source_model()
    visible = room.visibility[0][0].astype(bool)
    positions = room.sources[0].images.T[visible] - offset
    gains = room.sources[0].damping[0][visible]
    relative = spec.listener.to_listener(positions)
    distance = np.linalg.norm(relative, axis=1).max()
    num_taps = int(np.ceil(distance / SPEED_OF_SOUND_M_S * spec.sample_rate)) + 1024
    return fmt.early_response(relative, gains, spec.sample_rate, num_taps)
