"""Source banks: building and loading the gm bank, and how separable each bank's classes are.

    .venv/bin/python benchmarks/bench_sources.py [--train 16] [--validation 4] [--test 4]
        [--seed 0] [--sample-rate 16000] [--duration 4] [--scenes 192]

- cold build: the gm bank rendered into an empty temporary cache (FluidSynth and espeak-ng
  on every CPU), in clips per second;
- warm build: the same bank constructed again on that cache (manifest and sha256 of every
  file checked, nothing rendered);
- load: every clip at ``--sample-rate`` for ``--duration`` seconds from the warm cache
  (resampled, cropped, loudness-normalised), next to the procedural bank synthesising the
  same number of clips;
- class probe: balanced stereo scenes of each bank are rendered (train and test splits,
  disjoint clips), embedded with the reference encoders ``sarl-logmel`` and
  ``sarl-spatial`` (layer ``all``), and a standardised logistic regression trained on the
  train scenes is scored on the test scenes, for ``procedural`` and ``gm`` (chance is one
  over the number of classes). Real timbres are expected to be harder.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from sarl_hf.sources import GMBank, ProceduralBank, SourceBank
from sarl_hf.splits import SPLITS


def scene_embeddings(bank: SourceBank, split: str, n: int, seed: int, encoders) -> tuple:
    """Embeddings (layer ``all``) of ``n`` rendered stereo scenes of a split, and their
    class labels."""
    from sarl_hf import Renderer, design

    renderer = Renderer(bank=bank)
    specs = [s.with_format("stereo") for s in design(n, split, seed, bank=bank)]
    audio = [renderer.render(spec).audio for spec in specs]
    labels = np.array([spec.sources[0].levels["class"] for spec in specs])
    features = {name: np.concatenate([enc.embed(audio[i:i + 32], 16000)["all"]
                                      for i in range(0, len(audio), 32)])
                for name, enc in encoders.items()}
    return features, labels


def class_probe_accuracy(bank: SourceBank, n_train: int, n_test: int, seed: int) -> dict:
    """Test accuracy of a standardised logistic-regression class probe on each reference
    encoder's embeddings of rendered scenes (a stand-in for the SARL probe protocol)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sarl_hf.encoders import load_encoder

    encoders = {name: load_encoder(name) for name in ("sarl-logmel", "sarl-spatial")}
    train, y_train = scene_embeddings(bank, "train", n_train, seed, encoders)
    test, y_test = scene_embeddings(bank, "test", n_test, seed, encoders)
    scores = {}
    for name in encoders:
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        scores[name] = probe.fit(train[name], y_train).score(test[name], y_test)
    return scores


def _load_all(bank: SourceBank, sample_rate: int, duration_s: float) -> tuple[int, float]:
    """(clips loaded, seconds) for every clip of every split and class."""
    ids = [i for s in SPLITS for c in bank.classes for i in bank.clip_ids(s, c)]
    start = time.perf_counter()
    for clip_id in ids:
        bank.load(clip_id, sample_rate, duration_s)
    return len(ids), time.perf_counter() - start


def _row(name: str, clips: int, seconds: float, baseline: float | None = None) -> str:
    text = f"{name:52s} {clips:5d} clips {seconds:8.2f} s {clips / seconds:9.1f} clips/s"
    if baseline is not None:
        text += f"  x{(clips / seconds) / baseline:7.2f}"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=16)
    parser.add_argument("--validation", type=int, default=4)
    parser.add_argument("--test", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--scenes", type=int, default=192,
                        help="train scenes of the class probe (test: half as many)")
    args = parser.parse_args(argv)
    counts = {"train": args.train, "validation": args.validation, "test": args.test}

    with tempfile.TemporaryDirectory(prefix="bench_sources_") as cache_dir:
        start = time.perf_counter()
        gm = GMBank(seed=args.seed, clips_per_split=counts, cache_dir=cache_dir)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        warm = GMBank(seed=args.seed, clips_per_split=counts, cache_dir=cache_dir,
                      progress=False)
        warm_s = time.perf_counter() - start
        assert warm.rendered == 0, "second build rendered clips: cache miss"
        procedural = ProceduralBank(seed=args.seed, clips_per_split=counts)
        n_gm, load_gm_s = _load_all(warm, args.sample_rate, args.duration)
        n_proc, load_proc_s = _load_all(procedural, args.sample_rate, args.duration)
        accuracy = {"procedural": class_probe_accuracy(procedural, args.scenes, args.scenes // 2,
                                                       args.seed),
                    "gm": class_probe_accuracy(warm, args.scenes, args.scenes // 2, args.seed)}

    print(f"gm bank {gm.version}: {len(gm.classes)} classes x {sum(counts.values())} clips "
          f"({gm.clip_s:g} s at 22.05 kHz); loads of {args.duration:g} s at "
          f"{args.sample_rate} Hz")
    cold_rate = gm.rendered / cold_s
    print(_row("gm: cold build (render into an empty cache)", gm.rendered, cold_s))
    print(_row("gm: warm build (checksums only; x vs cold)", n_gm, warm_s, cold_rate))
    print(_row("procedural: load (synthesise)", n_proc, load_proc_s))
    print(_row("gm: load from the cache (x vs procedural)", n_gm, load_gm_s, n_proc / load_proc_s))
    print(f"class probe (standardised logistic regression) on reference-encoder embeddings of "
          f"rendered stereo scenes, {args.scenes} train / {args.scenes // 2} test:")
    for name, bank in (("procedural", procedural), ("gm", warm)):
        chance = 1 / len(bank.classes)
        cells = "  ".join(f"{enc} {acc:6.1%} (x{acc / chance:4.1f} chance)"
                          for enc, acc in accuracy[name].items())
        print(f"  {name:10s} {cells}  [{len(bank.classes)} classes, chance {chance:.1%}]")

if __name__ == "__main__":
    main()
