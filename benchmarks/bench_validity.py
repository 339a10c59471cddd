"""What physics allows next to what the benchmark gets, on a generated corpus.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_validity.py [--scenes 1000]
        [--duration 1.0] [--seed 1] [--out benchmarks/out/validity] [--rooms 20]
        [--summary-scenes 300] [--agreement all|summary|none]

1. Generates the corpus (``foa``, ``stereo``, ``binaural``, ``mic4``; procedural bank) and
   embeds it with ``sarl-spatial`` (and ``sarl-logmel`` for the agreement).
2. Per format, no fitting: FOA azimuth read off the first-wavefront intensity
   (``direct_intensity``) and off the clip average (``intensity``); the exact lateral angle's
   Bayes classifier (fitted on train) as the bound of a two-channel array without
   spectral cues; the DRR label's and the measured RT60's Bayes classifiers for distance and
   rt60. Then the probe's accuracy on the old and the first-wavefront layers.
3. The torch probe against scikit-learn: chosen strengths and accuracy differences, every
   layer of both reference encoders on foa and stereo (``all``), the ``all`` layers only
   (``summary``), or not at all.
4. Rooms: on ``--rooms`` shoeboxes, the fast renderer against pyroomacoustics' full
   image-source model with the same absorption (RT60 against the target, DRR, C50), and the
   DRR label against the geometric one (1/r² direct energy).
5. Source-level against room-level (mean accuracy ÷ chance per level, with a bootstrap
   interval over test scenes) on the ``gm`` bank with sarl-logmel, sarl-spatial, CREPE tiny
   and GE2E (skipped without the gm bank's system packages).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sarl_hf import embed_corpus, generate, load_embeddings, load_encoder, probe
from sarl_hf.acoustics.directions import unit_vector
from sarl_hf.acoustics.formats import CapsuleArray, make_format
from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S
from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.probing.backends import torch_classify
from sarl_hf.probing.protocol import standardised
from sarl_hf.probing.tasks import ROOM_TASKS, SOURCE_TASKS, TASK_NAMES, TASKS
from sarl_hf.sources import GMBank, ProceduralBank, gm_available
from sarl_hf.splits import SPLITS

COLUMNS = sorted({TASKS[t].label for t in TASK_NAMES}
                 | {TASKS[t].value for t in TASK_NAMES if TASKS[t].value}
                 | {"drr_db", "rt60_s", "elevation_deg", "distance_m"})


def corpus(out: Path, scenes, formats, seed, duration_s, bank):
    """Generate (or resume) a corpus folder without multisource or sensitivity scenes."""
    plan = CorpusPlan(scenes=scenes, formats=tuple(formats), seed=seed, duration_s=duration_s,
                      multisource_scenes=0, sensitivity_anchors=0, bank=bank.to_dict())
    generate(out, plan, bank, resume=(out / ".sarl").exists(), progress=False)
    return out


def embedded(encoder_name, folder, config, cache):
    """{split: (layers, labels dict)} of a config embedded by an encoder."""
    layout = {"channel_format": config} if encoder_name.startswith("sarl-") else {}
    report = embed_corpus(load_encoder(encoder_name, **layout), folder, config, cache,
                          progress=False)
    out = {}
    for split in SPLITS:
        layers, table = load_embeddings(report.folder, config, split)
        names = [c for c in COLUMNS if c in table.column_names]
        out[split] = (layers, {c: table.column(c).to_numpy(zero_copy_only=False)
                               for c in names})
    return out


def bayes(train_value, train_label, test_value, test_label, bins=36, lo=None, hi=None):
    """Test accuracy of the Bayes rule of a label given one scalar (fitted on train)."""
    lo = np.min(train_value) if lo is None else lo
    hi = np.max(train_value) if hi is None else hi
    edges = np.linspace(lo, hi, bins + 1)[1:-1]
    b_train, b_test = np.digitize(train_value, edges), np.digitize(test_value, edges)
    k = int(max(train_label.max(), test_label.max())) + 1
    rule = np.array([np.bincount(train_label[b_train == b], minlength=k).argmax()
                     if (b_train == b).any() else 0 for b in range(bins)])
    return float(np.mean(rule[b_test] == test_label))


def lateral_deg(labels):
    az, el = np.radians(labels["azimuth_deg"]), np.radians(labels["elevation_deg"])
    return np.degrees(np.arcsin(np.sin(az) * np.cos(el)))


def path_difference_ms(config, labels):
    """Exact direct delay of every capsule pair (i < j) of a spaced array, near field
    included: (path to j - path to i) / c, ms, positive = i first; None for other formats."""
    array = make_format(config)
    if not isinstance(array, CapsuleArray) or len(array.capsules_m) < 2:
        return None
    source = labels["distance_m"][:, None] * unit_vector(labels["azimuth_deg"],
                                                         labels["elevation_deg"])
    paths = np.linalg.norm(source[:, None] - array.capsules_m[None], axis=-1)  # (n, C)
    first, second = np.triu_indices(len(array.capsules_m), 1)
    return (paths[:, second] - paths[:, first]) / SPEED_OF_SOUND_M_S * 1e3


def delay_lines(config, data):
    """The delays' errors against the exact path differences, and what the exact delay
    of a lone pair allows."""
    (_, train), (layers, test) = data["train"], data["test"]
    exact = path_difference_ms(config, test)
    if exact is None:
        return []
    cells = []
    for layer in ("direct_delay_ms", "delay_ms"):
        error_us = 1e3 * np.abs(layers[layer] - exact)
        cells.append(f"{layer} median {np.median(error_us):5.1f} µs, 90th percentile "
                     f"{np.percentile(error_us, 90):6.1f} µs, above 50 µs "
                     f"{100 * np.mean(error_us > 50):4.1f}%")
    lines = ["  delay against the exact path difference (test scenes, every pair):",
             *(f"    {c}" for c in cells)]
    if exact.shape[1] == 1:
        bound = bayes(path_difference_ms(config, train)[:, 0], train["azimuth"], exact[:, 0],
                      test["azimuth"], 36)
        lines.append(f"  azimuth: exact direct-delay Bayes rule (36 bins) {100 * bound:5.1f}%"
                     "  (near field: the delay depends on distance too)")
    return lines


def foa_readout(layers, labels, layer):
    """Sector accuracy and median angular error of the azimuth read off a vector layer."""
    v = layers[layer][:, :3]
    estimate = np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360
    error = np.abs((estimate - labels["azimuth_deg"] + 180) % 360 - 180)
    sector = (np.floor((estimate + 22.5) / 45) % 8).astype(int)
    return float(np.mean(sector == labels["azimuth"])), float(np.median(error))


def physics_lines(config, data):
    (_, train), (layers, test) = data["train"], data["test"]
    lines = []
    if config == "foa":
        for layer in ("direct_intensity", "intensity"):
            accuracy, median = foa_readout(layers, test, layer)
            lines.append(f"  azimuth read off {layer:17s} {100 * accuracy:5.1f}%  median "
                         f"error {median:5.2f} deg")
    else:
        for bins in (36,):
            lines.append(f"  azimuth: lateral-angle Bayes bound ({bins} bins) "
                         f"{100 * bayes(lateral_deg(train), train['azimuth'], lateral_deg(test), test['azimuth'], bins, -90, 90):5.1f}%"
                         + ("  (a 4-capsule array resolves the full direction)"
                            if config == "mic4" else ""))
        lines.append("  elevation: lateral-angle Bayes bound "
                     f"{100 * bayes(lateral_deg(train), train['elevation'], lateral_deg(test), test['elevation'], 36, -90, 90):5.1f}%")
    lines.extend(delay_lines(config, data))
    lines.append(f"  distance given the DRR label (Bayes) "
                 f"{100 * bayes(train['drr_db'], train['distance'], test['drr_db'], test['distance']):5.1f}%")
    lines.append(f"  rt60 given the measured T30 (Bayes)   "
                 f"{100 * bayes(train['rt60_s'], train['rt60'], test['rt60_s'], test['rt60']):5.1f}%")
    return lines


def probe_lines(data, tasks=("azimuth", "elevation", "distance", "rt60")):
    lines = []
    for layer in data["train"][0]:
        r = probe({s: data[s][0][layer] for s in SPLITS}, {s: data[s][1] for s in SPLITS},
                  tasks=tasks, n_boot=200)
        cells = "  ".join(f"{t} {100 * r[t]['accuracy']:5.1f}" for t in tasks)
        extra = f"  az err {r['azimuth']['angular_error_deg']:5.1f} deg"
        lines.append(f"  probe {layer:18s} {cells}{extra}")
    return lines


def agreement_lines(data, layers):
    """Chosen strengths and accuracy differences, torch against scikit-learn."""
    lines, worst, mismatched = [], 0.0, 0
    for layer in layers:
        embeddings = {s: data[s][0][layer] for s in SPLITS}
        labels = {s: data[s][1] for s in SPLITS}
        start = time.perf_counter()
        ours = probe(embeddings, labels, n_boot=10)
        middle = time.perf_counter()
        theirs = probe(embeddings, labels, n_boot=10, backend="sklearn")
        end = time.perf_counter()
        differ = [t for t in TASK_NAMES if ours[t]["alpha_classification"]
                  != theirs[t]["alpha_classification"] or ours[t].get("alpha_regression")
                  != theirs[t].get("alpha_regression")]
        gap = max(100 * abs(ours[t]["accuracy"] - theirs[t]["accuracy"]) for t in TASK_NAMES)
        worst, mismatched = max(worst, gap), mismatched + len(differ)
        lines.append(f"  {layer:18s} largest difference {gap:4.1f} points, strengths "
                     f"differ: {','.join(differ) or 'none'} (torch {middle - start:.1f} s, "
                     f"sklearn {end - middle:.1f} s)")
    return lines, worst, mismatched


def room_lines(n_rooms: int, seed: int):
    """Fast renderer against pyroomacoustics' full image-source model, same absorption."""
    from sarl_hf import Renderer, design
    from sarl_hf.acoustics import measure
    from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S
    from sarl_hf.rendering.rir import fast_rir, reference_rir

    renderer = Renderer()
    specs = [s for s in design(20 * n_rooms, split="train", seed=seed)
             if s.room.shape == "shoebox"][:n_rooms]
    rows = []
    for spec in specs:
        fs, omni = spec.sample_rate, renderer.format("mono")
        direct_s = spec.sources[0].distance_m / SPEED_OF_SOUND_M_S
        row, fast = [], fast_rir(spec, omni)[0]
        for response in (fast, reference_rir(spec, omni)[0]):
            row += [measure.rt60_s(response, fs, start_s=direct_s + 0.0025) / spec.room.rt60_s
                    - 1, measure.drr_db(response, fs, direct_s),
                    measure.clarity_db(response, fs, direct_s)]
        start = int(round((direct_s - 0.0025) * fs))
        total = float(np.sum(fast[max(start, 0):] ** 2))
        geometric = (1.0 / spec.sources[0].distance_m) ** 2
        row.append(row[1] - 10 * np.log10(geometric / max(total - geometric, 1e-30)))
        rows.append(row)
    r = np.array(rows)
    return [f"  {len(r)} shoeboxes, omni: RT60 (T30) against the target, median [max]: fast "
            f"{100 * np.median(r[:, 0]):+.1f}% [{100 * r[np.abs(r[:, 0]).argmax(), 0]:+.1f}%], "
            f"pyroomacoustics ISM {100 * np.median(r[:, 3]):+.1f}% "
            f"[{100 * r[np.abs(r[:, 3]).argmax(), 3]:+.1f}%]",
            f"  ISM - fast, median: DRR {np.median(r[:, 4] - r[:, 1]):+.2f} dB, C50 "
            f"{np.median(r[:, 5] - r[:, 2]):+.2f} dB",
            f"  DRR label (±2.5 ms window) - geometric DRR (1/r² direct energy): median "
            f"{np.median(r[:, 6]):+.2f} dB, max {np.max(r[:, 6]):+.2f} dB"]


def correct_at_choice(data, layer, task, result):
    """Per test scene, whether the probe's choice (layer, strength) classifies it right."""
    x = standardised({s: data[s][0][layer] for s in SPLITS})
    y = {s: np.asarray(data[s][1][TASKS[task].label], np.int64) for s in SPLITS}
    k = [int(max(y[s].max() for s in SPLITS)) + 1]
    predicted = torch_classify(x["train"], y["train"][:, None], [x["test"]],
                               [result["alpha_classification"]], k)[0][0][:, 0]
    return predicted == y["test"]


def summary_lines(folder, cache, encoders, n_boot=1000, seed=0):
    """Source-level against room-level: mean accuracy ÷ chance, bootstrap over test scenes."""
    lines = []
    for name in encoders:
        data = embedded(name, folder, "binaural", cache)
        per_layer = {layer: probe({s: data[s][0][layer] for s in SPLITS},
                                  {s: data[s][1] for s in SPLITS}, n_boot=10)
                     for layer in data["train"][0]}
        rows = len(data["test"][0][next(iter(per_layer))])
        index = np.random.default_rng(seed).integers(0, rows, (n_boot, rows))
        level = {}
        for kind, tasks in (("source", SOURCE_TASKS), ("room", ROOM_TASKS)):
            ratios, point = [], []
            for task in tasks:
                layer = max(per_layer, key=lambda l: per_layer[l][task]["validation_accuracy"])
                result = per_layer[layer][task]
                chance = max(result["chance_accuracy"], 1.0 / result["num_classes"])
                right = correct_at_choice(data, layer, task, result)
                ratios.append(right[index].mean(1) / chance)
                point.append(right.mean() / chance)
            boot = np.mean(ratios, 0)
            level[kind] = (np.mean(point), *np.percentile(boot, [2.5, 97.5]))
            level[kind + "_boot"] = boot
        gap = np.percentile(level["source_boot"] - level["room_boot"], [2.5, 97.5])
        lines.append(f"  {name:12s} source {level['source'][0]:5.2f} [{level['source'][1]:.2f}, "
                     f"{level['source'][2]:.2f}]  room {level['room'][0]:5.2f} "
                     f"[{level['room'][1]:.2f}, {level['room'][2]:.2f}]  source - room "
                     f"[{gap[0]:+.2f}, {gap[1]:+.2f}]  ({rows} test scenes)")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/validity"))
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--summary-scenes", type=int, default=300)
    parser.add_argument("--agreement", choices=("all", "summary", "none"), default="all")
    args = parser.parse_args(argv)
    folder = corpus(args.out / "corpus", args.scenes, ("foa", "stereo", "binaural", "mic4"),
                    args.seed, args.duration, ProceduralBank(seed=args.seed))
    cache = args.out / "embeddings"
    print(f"{args.scenes} scenes, {args.duration:g} s, seed {args.seed}, procedural bank")
    for config in ("foa", "stereo", "binaural", "mic4"):
        data = embedded("sarl-spatial", folder, config, cache)
        print(f"{config}: what physics allows")
        print("\n".join(physics_lines(config, data)))
        print("\n".join(probe_lines(data)), flush=True)
    if args.agreement != "none":
        print("torch probe against scikit-learn (chosen strengths, accuracy points)")
        worst, mismatched = 0.0, 0
        for name in ("sarl-spatial", "sarl-logmel"):
            for config in ("foa", "stereo"):
                data = embedded(name, folder, config, cache)
                layers = list(data["train"][0]) if args.agreement == "all" else ["all"]
                print(f" {name} {config}")
                lines, gap, count = agreement_lines(data, layers)
                print("\n".join(lines), flush=True)
                worst, mismatched = max(worst, gap), mismatched + count
        print(f"  largest accuracy difference {worst:.1f} points; strengths that differ: "
              f"{mismatched}")
    print("rooms")
    print("\n".join(room_lines(args.rooms, args.seed)), flush=True)
    if gm_available():
        gm = corpus(args.out / "gm", args.summary_scenes, ("binaural",), args.seed,
                    args.duration, GMBank(seed=args.seed))
        print(f"source-level against room-level (gm bank, {args.summary_scenes} scenes, "
              "binaural; accuracy ÷ chance, 95% interval)")
        print("\n".join(summary_lines(gm, cache, ("sarl-logmel", "sarl-spatial", "crepe-tiny",
                                                  "ge2e"))))
    else:
        print("source-level against room-level: skipped (the gm bank needs fluidsynth, "
              "fluid-soundfont-gm and espeak-ng)")


if __name__ == "__main__":
    main()
