"""float32 WAV against 24-bit FLAC for the corpus's audio column, on rendered scenes.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_audio_codec.py [--scenes 24]

Renders ``--scenes`` train scenes of the published corpus's design (formats, sample rate,
duration, bank, renderer and seed from ``dataset_scripts/generate_sarl.py``) in every
format, and encodes each scene's audio three ways:

- float32 WAV, what ``sarl generate`` stores (``sarl_hf.files.wav_bytes``);
- float32 WAV compressed with zstd (level 3), what a parquet column compression would give
  (the samples stay exact);
- FLAC, 24-bit integer samples (``soundfile``, libsndfile's default compression level),
  after scaling nothing: FLAC holds [-1, 1), so louder samples clip.

Prints, per format and in total: bytes per scene and the ratio to WAV; encode and decode
time per scene (decode through torchcodec's ``AudioDecoder``, what ``datasets`` 5 hands
out, and through soundfile); exactness against the float32 samples (max absolute error,
SNR in dB, clipped samples); whether encoding twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def published_settings() -> dict:
    """The published corpus's scene settings, read from its generation script's arguments."""
    sys.path.insert(0, str(REPO / "dataset_scripts"))
    try:
        from generate_sarl import PUBLISHED
    finally:
        sys.path.pop(0)
    values = dict(zip(PUBLISHED[::2], PUBLISHED[1::2]))
    return {"formats": tuple(values["--formats"].split(",")), "seed": int(values["--seed"]),
            "sample_rate": int(values["--sample-rate"]),
            "duration_s": float(values["--duration"]), "bank": values["--sources"],
            "mode": values["--mode"]}


def rendered_scenes(settings: dict, scenes: int, fmt: str) -> list[np.ndarray]:
    """(channels, samples) float32 audio of the first ``scenes`` train scenes of a format."""
    from sarl_hf.corpus.plan import config_specs
    from sarl_hf.rendering.renderer import Renderer
    from sarl_hf.sources import as_bank

    bank = as_bank(settings["bank"], settings["seed"])
    specs = config_specs(fmt, "train", scenes, settings["seed"], None, bank,
                         sample_rate=settings["sample_rate"],
                         duration_s=settings["duration_s"])
    renderer = Renderer(bank=bank, mode=settings["mode"])
    return [renderer.render(spec).audio for spec in specs]


def published_rows_per_format() -> int:
    """Rows per format of the published corpus (each config holds every format's rows)."""
    from sarl_hf import cli
    from sarl_hf.corpus.plan import CorpusPlan
    from sarl_hf.scene.factors import FactorConfig
    from sarl_hf.sources import as_bank

    sys.path.insert(0, str(REPO / "dataset_scripts"))
    try:
        from generate_sarl import PUBLISHED
    finally:
        sys.path.pop(0)
    args = cli.build_parser().parse_args(["generate", "--out", "x"] + PUBLISHED)
    plan = CorpusPlan(scenes=args.scenes, multisource_scenes=args.multisource_scenes,
                      sensitivity_anchors=args.sensitivity_anchors)
    variants = sum(FactorConfig().level_counts(as_bank(args.sources, 0).classes).values())
    return plan.scenes + plan.multisource_scenes + plan.sensitivity_anchors * variants


def flac_vendor(sample_rate: int) -> str:
    """The encoder string libFLAC writes into every FLAC file."""
    data = flac_bytes(np.zeros((1, 16), np.float32), sample_rate)
    start = data.find(b"libFLAC")
    start = data.rfind(b"\x00", 0, start) + 1
    return data[start:data.find(b"\x00", start)].decode(errors="replace")


def flac_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.ascontiguousarray(audio.T), sample_rate, format="FLAC",
                    subtype="PCM_24")
    return buffer.getvalue()


def zstd_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    import pyarrow as pa

    from sarl_hf.files import wav_bytes

    return pa.compress(wav_bytes(audio, sample_rate), codec="zstd", asbytes=True)


def decode_torchcodec(data: bytes) -> np.ndarray:
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(data).get_all_samples().data.numpy()


def decode_soundfile(data: bytes) -> np.ndarray:
    import soundfile

    samples, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.T


def timed(function, items, repeats: int = 3) -> tuple[list, float]:
    """Results of ``function`` over ``items`` and the median over items of the fastest of
    ``repeats`` calls (seconds): the fastest call is the least disturbed by other load."""
    results, seconds = [], []
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            result = function(item)
            best = min(best, time.perf_counter() - start)
        results.append(result)
        seconds.append(best)
    return results, float(np.median(seconds))


def exactness(original: list[np.ndarray], decoded: list[np.ndarray]) -> dict:
    """Max absolute error, SNR (dB, signal power over error power, all scenes pooled) and
    samples outside [-1, 1) of the originals."""
    error = np.concatenate([(d - o).ravel() for o, d in zip(original, decoded)])
    signal = np.concatenate([o.ravel() for o in original])
    power = float(np.mean(error.astype(np.float64) ** 2))
    snr = float("inf") if power == 0 else 10 * np.log10(np.mean(signal.astype(np.float64) ** 2)
                                                        / power)
    worst = min((_snr_db(o, d) for o, d in zip(original, decoded)), default=float("inf"))
    return {"max_error": float(np.abs(error).max()), "snr_db": snr, "worst_snr_db": worst,
            "clipped": int(np.sum((signal >= 1.0) | (signal < -1.0))),
            "peak": float(np.abs(signal).max())}


def _snr_db(original: np.ndarray, decoded: np.ndarray) -> float:
    power = float(np.mean((decoded.astype(np.float64) - original) ** 2))
    if power == 0:
        return float("inf")
    return float(10 * np.log10(np.mean(original.astype(np.float64) ** 2) / power))


def measure(audio: list[np.ndarray], sample_rate: int) -> dict:
    """Every figure for one format's scenes, per codec."""
    from sarl_hf.files import wav_bytes

    codecs = {"wav-f32": (lambda a: wav_bytes(a, sample_rate), decode_torchcodec),
              "wav-f32+zstd": (lambda a: zstd_wav_bytes(a, sample_rate), None),
              "flac-24": (lambda a: flac_bytes(a, sample_rate), decode_torchcodec)}
    found = {}
    for name, (encode, decode) in codecs.items():
        encoded, encode_s = timed(encode, audio)
        again = [encode(a) for a in audio[:4]]
        entry = {"bytes": float(np.mean([len(e) for e in encoded])), "encode_s": encode_s,
                 "deterministic": again == encoded[:4]}
        if decode is not None:
            decoded, entry["decode_s"] = timed(decode, encoded)
            _, entry["decode_sf_s"] = timed(decode_soundfile, encoded)
            entry.update(exactness(audio, decoded))
        else:
            import pyarrow as pa

            raw = [len(wav_bytes(a, sample_rate)) for a in audio]
            decoded, entry["decode_s"] = timed(
                lambda pair: decode_soundfile(pa.decompress(pair[0], pair[1], "zstd",
                                                            asbytes=True)),
                list(zip(encoded, raw)))
            entry["decode_sf_s"] = entry["decode_s"]
            entry.update(exactness(audio, decoded))
        found[name] = entry
    return found


def report(fmt: str, channels: int, figures: dict) -> list[str]:
    wav = figures["wav-f32"]
    lines = [f"{fmt} ({channels} ch; peak {wav['peak']:.2f}, {wav['clipped']} samples at or "
             "beyond full scale, which FLAC clips):"]
    for name, entry in figures.items():
        snr = "exact" if entry["max_error"] == 0 else (
            f"SNR {entry['snr_db']:5.1f} dB (worst scene {entry['worst_snr_db']:5.1f})")
        lines.append(
            f"  {name:13s} {entry['bytes'] / 1e3:8.1f} kB/scene (x{entry['bytes'] / wav['bytes']:.3f})"
            f"  encode {1e3 * entry['encode_s']:6.2f} ms (x{entry['encode_s'] / wav['encode_s']:5.1f})"
            f"  decode {1e3 * entry['decode_s']:6.2f} ms (x{entry['decode_s'] / wav['decode_s']:5.1f};"
            f" soundfile {1e3 * entry['decode_sf_s']:5.2f} ms)"
            f"  max err {entry['max_error']:.2e}  {snr}"
            f"  same bytes twice {entry['deterministic']}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=24, help="scenes per format")
    args = parser.parse_args(argv)
    settings = published_settings()
    rate = settings["sample_rate"]
    print(f"{args.scenes} train scenes per format of the published design "
          f"({settings['bank']} bank, {settings['duration_s']:g} s at {rate} Hz, "
          f"renderer {settings['mode']}); per scene: mean size, median times (fastest of 3)")
    totals = {}
    for fmt in settings["formats"]:
        audio = rendered_scenes(settings, args.scenes, fmt)
        figures = measure(audio, rate)
        print("\n".join(report(fmt, audio[0].shape[0], figures)), flush=True)
        for name, entry in figures.items():
            totals[name] = totals.get(name, 0.0) + entry["bytes"]
    wav = totals["wav-f32"]
    print("all formats, one scene each: " + ", ".join(
        f"{name} {value / 1e6:.2f} MB (x{value / wav:.3f})" for name, value in totals.items()))
    rows = published_rows_per_format()
    print(f"the published corpus ({rows} rows per format: format, multisource and "
          "sensitivity configs): " + ", ".join(
              f"{name} {rows * value / 1e9:.1f} GB" for name, value in totals.items()))
    print(f"FLAC bytes name their encoder build: {flac_vendor(rate)!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
