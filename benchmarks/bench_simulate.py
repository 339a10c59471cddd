"""Fast renderer against pyroomacoustics on the same scenes: speed and RT60 truth.

    .venv/bin/python benchmarks/bench_simulate.py [--scenes 40] [--format mic4]

Draws scene specs from the default balanced design and renders each one
- with the fast renderer (exact image sources to order 3 + diffuse tail),
- with pyroomacoustics as a user would write it: ``inverse_sabine`` for absorption and
  image order, the full image-source model (``ShoeBox``; shoebox scenes only, since its
  model of a polygon room grows exponentially with the order) and the hybrid ray tracer
  (every shape),
and convolves every response with the same 4 s dry clip. Prints milliseconds per scene,
the speed ratios, and each renderer's RT60 error against its target (T30 measured on
the reverberant decay of channel 0).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyroomacoustics as pra

from sarl_hf.acoustics import dsp, measure
from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S
from sarl_hf.rendering.renderer import Renderer
from sarl_hf.scene.balanced import design


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _rt60_error(response, spec):
    start_s = spec.sources[0].distance_m / SPEED_OF_SOUND_M_S + 0.0025
    try:
        return measure.rt60_s(response, spec.sample_rate, start_s=start_s) / spec.room.rt60_s - 1
    except ValueError:
        return np.nan


def pyroomacoustics_response(spec, capsules_m, ray_tracing):
    """A user's pyroomacoustics setup for this scene: Sabine absorption and order."""
    corners = spec.room.corners
    extent = np.ptp(corners, axis=0)
    dims = [extent[0], extent[1], spec.room.height_m]
    absorption, max_order = pra.inverse_sabine(spec.room.rt60_s, dims)
    material = pra.Material(absorption)
    if ray_tracing:
        room = pra.Room.from_corners(corners.T, fs=spec.sample_rate, max_order=3,
                                     materials=material, ray_tracing=True)
        room.extrude(spec.room.height_m, materials=material)
        room.set_ray_tracing()
        offset = np.zeros(3)
    else:
        room = pra.ShoeBox(dims, fs=spec.sample_rate, max_order=max_order, materials=material)
        offset = np.append(-corners.min(axis=0), 0.0)
    room.add_source(spec.source_positions_m()[0] + offset)
    centre = np.asarray(spec.listener.position_m) + offset
    room.add_microphone_array((centre + spec.listener.to_world(capsules_m)).T)
    room.compute_rir()
    lead = pra.constants.get("frac_delay_length") // 2
    taps = min(len(r[0]) for r in room.rir) - lead
    return np.stack([r[0][lead:lead + taps] for r in room.rir])


def _row(name, seconds, errors=None, baseline=None):
    ms = 1e3 * np.asarray(seconds)
    text = f"{name:44s} median {np.median(ms):8.2f} ms  p90 {np.percentile(ms, 90):8.2f} ms"
    if baseline is not None:
        text += f"  x{np.median(baseline) / np.median(seconds):7.1f}"
    if errors is not None and len(errors):
        err = 100 * np.abs(np.asarray(errors))
        text += f"  |RT60 err| median {np.nanmedian(err):5.1f}% max {np.nanmax(err):5.1f}%"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--format", default="mic4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-hybrid", action="store_true")
    args = parser.parse_args(argv)

    specs = [s.with_format(args.format) for s in design(args.scenes, "test", seed=args.seed)]
    renderer = Renderer()
    fmt = renderer.format(args.format)
    dry = renderer.dry(specs[0].sources[0].clip_id, specs[0].sample_rate, specs[0].duration_s)
    num_samples = len(dry)
    renderer.render(specs[0])  # warm caches (mixing matrices, clips)

    rows = {k: [] for k in ("response", "scene", "conv", "render", "ism", "hybrid")}
    errors = {k: [] for k in ("fast", "ism", "hybrid")}
    for spec in specs:
        response, t = _timed(lambda: renderer.responses(spec)[0])
        rows["response"].append(t)
        _, t_conv = _timed(dsp.convolve_sum, [dry], [response], num_samples)
        rows["conv"].append(t_conv)
        rows["scene"].append(t + t_conv)
        rows["render"].append(_timed(renderer.render, spec)[1])
        errors["fast"].append(_rt60_error(response[0], spec))
        if spec.room.shape == "shoebox":
            ref, t = _timed(pyroomacoustics_response, spec, fmt.capsules_m, False)
            rows["ism"].append(t + _timed(dsp.convolve_sum, [dry], [ref], num_samples)[1])
            errors["ism"].append(_rt60_error(ref[0], spec))
        if not args.skip_hybrid:
            ref, t = _timed(pyroomacoustics_response, spec, fmt.capsules_m, True)
            rows["hybrid"].append(t + _timed(dsp.convolve_sum, [dry], [ref], num_samples)[1])
            errors["hybrid"].append(_rt60_error(ref[0], spec))

    shoebox = [i for i, s in enumerate(specs) if s.room.shape == "shoebox"]
    print(f"{len(specs)} scenes of the default design ({len(shoebox)} shoebox), format "
          f"{args.format} ({fmt.num_channels} channels), {specs[0].duration_s:g} s at "
          f"{specs[0].sample_rate} Hz")
    print(_row("convolution alone (the floor)", rows["conv"]))
    print(_row("fast: response", rows["response"], errors["fast"]))
    print(_row("fast: response + convolution", rows["scene"]))
    print(_row("fast: Renderer.render (+ omni labels)", rows["render"]))
    if rows["ism"]:
        fast_shoebox = [rows["scene"][i] for i in shoebox]
        print(_row("pyroomacoustics full ISM (shoebox) + conv", rows["ism"], errors["ism"]))
        print(_row("fast on the same shoebox scenes", fast_shoebox,
                   [errors["fast"][i] for i in shoebox], baseline=rows["ism"]))
    if rows["hybrid"]:
        print(_row("pyroomacoustics hybrid ray tracer + conv", rows["hybrid"],
                   errors["hybrid"]))
        print(_row("fast on the same scenes", rows["scene"], errors["fast"],
                   baseline=rows["hybrid"]))
    ratio = np.median(rows["scene"]) / np.median(rows["conv"])
    print(f"fast scene / convolution alone: x{ratio:.2f}")


if __name__ == "__main__":
    main()
