"""Source banks: building and loading the gm bank, and how separable each bank's classes are.

    .venv/bin/python benchmarks/bench_sources.py [--train 16] [--validation 4] [--test 4]
        [--seed 0] [--sample-rate 16000] [--duration 4]

- cold build: the gm bank rendered into an empty temporary cache (FluidSynth and espeak-ng
  on every CPU), in clips per second;
- warm build: the same bank constructed again on that cache (manifest and sha256 of every
  file checked, nothing rendered);
- load: every clip at ``--sample-rate`` for ``--duration`` seconds from the warm cache
  (resampled, cropped, loudness-normalised), next to the procedural bank synthesising the
  same number of clips;
- separability: a nearest-centroid classifier on log-mel statistics, trained on the train
  clips and scored on the held-out test clips, for ``procedural`` and ``gm`` (chance is one
  over the number of classes). It is a stand-in: the reference encoders of a later issue
  replace it with their linear-probe accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from sarl_hf.sources import SPLITS, GMBank, ProceduralBank, SourceBank


def log_mel_features(x: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256,
                     n_mels: int = 64) -> np.ndarray:
    """(3 * n_mels,) mean, std and mean absolute frame change of the log-mel spectrogram.

    Parameters
    ----------
    x : np.ndarray
        (samples,) clip.
    sample_rate : int
        Sample rate in Hz.
    """
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(hz_to_mel(50.0), hz_to_mel(sample_rate / 2),
                                           n_mels + 2) / 2595.0) - 1.0)
    freqs_hz = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    low, centre, high = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    filters = np.maximum(0.0, np.minimum((freqs_hz - low) / (centre - low),
                                         (high - freqs_hz) / (high - centre)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    log_mel = np.log(np.abs(np.fft.rfft(frames, axis=1)) ** 2 @ filters.T + 1e-8)
    return np.concatenate([log_mel.mean(axis=0), log_mel.std(axis=0),
                           np.abs(np.diff(log_mel, axis=0)).mean(axis=0)])


def nearest_centroid_accuracy(bank: SourceBank, sample_rate: int, duration_s: float) -> float:
    """Test accuracy of a nearest-centroid classifier on standardised log-mel statistics."""
    def features(split):
        return {c: np.stack([log_mel_features(bank.load(i, sample_rate, duration_s), sample_rate)
                             for i in bank.clip_ids(split, c)]) for c in bank.classes}

    train, test = features("train"), features("test")
    all_train = np.concatenate(list(train.values()))
    mean, std = all_train.mean(axis=0), all_train.std(axis=0) + 1e-6
    centroids = np.stack([((train[c] - mean) / std).mean(axis=0) for c in bank.classes])
    correct = total = 0
    for label, class_name in enumerate(bank.classes):
        z = (test[class_name] - mean) / std
        predicted = np.argmin(((z[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        correct += int(np.sum(predicted == label))
        total += len(z)
    return correct / total


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
        accuracy = {"procedural": nearest_centroid_accuracy(procedural, args.sample_rate,
                                                            args.duration),
                    "gm": nearest_centroid_accuracy(warm, args.sample_rate, args.duration)}

    print(f"gm bank {gm.version}: {len(gm.classes)} classes x {sum(counts.values())} clips "
          f"({gm.clip_s:g} s at 22.05 kHz); loads of {args.duration:g} s at "
          f"{args.sample_rate} Hz")
    cold_rate = gm.rendered / cold_s
    print(_row("gm: cold build (render into an empty cache)", gm.rendered, cold_s))
    print(_row("gm: warm build (checksums only; x vs cold)", n_gm, warm_s, cold_rate))
    print(_row("procedural: load (synthesise)", n_proc, load_proc_s))
    print(_row("gm: load from the cache (x vs procedural)", n_gm, load_gm_s, n_proc / load_proc_s))
    print("class separability: log-mel nearest-centroid accuracy on held-out test clips "
          "(reference encoders replace it later)")
    for name, bank in (("procedural", procedural), ("gm", warm)):
        chance = 1 / len(bank.classes)
        print(f"  {name:10s} {accuracy[name]:6.1%}  ({len(bank.classes)} classes, chance "
              f"{chance:.1%}, x{accuracy[name] / chance:.1f} chance, "
              f"{args.train} train / {args.test} test clips per class)")


if __name__ == "__main__":
    main()
