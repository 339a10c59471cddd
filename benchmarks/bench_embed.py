"""Embedding speed: SARL's encoders against the plain loop a user would write.

    .venv/bin/python benchmarks/bench_embed.py [--clips 64] [--device cpu]

On the same rendered stereo scenes (4 s at 16 kHz, downmixed), measures clips/s of
- a tiny wav2vec2-style model (random weights, saved and loaded from a folder) through
  ``TransformersEncoder`` against the loop one writes from the transformers docs: per
  clip, the feature extractor, the model with ``output_hidden_states=True``, a mean over
  frames of every layer;
- CREPE tiny through ``CrepeEncoder`` against torchcrepe's own per-clip call
  (``torchcrepe.embed`` on each clip);
- the reference encoders ``sarl-logmel`` and ``sarl-spatial`` (their batched path only).
Prints the ratio to the plain loop; the two give the same embeddings (checked).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def rendered_clips(n: int) -> list[np.ndarray]:
    from sarl_hf import Renderer, design

    renderer = Renderer()
    return [renderer.render(s.with_format("stereo")).audio for s in design(n, "test", seed=0)]


def _rate(fn, clips) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(clips)
    return len(clips) / (time.perf_counter() - start), out


def plain_transformers_loop(folder, device):
    from transformers import AutoFeatureExtractor, AutoModel

    extractor = AutoFeatureExtractor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).to(device).eval()

    def run(clips):
        rows = []
        for clip in clips:
            inputs = extractor(clip.mean(0), sampling_rate=16000, return_tensors="pt")
            with torch.no_grad():
                out = model(inputs.input_values.to(device), output_hidden_states=True)
            rows.append(torch.cat([h.mean(1) for h in out.hidden_states], -1).cpu().numpy())
        return np.concatenate(rows)
    return run


def plain_crepe_loop(device):
    import torchcrepe

    def run(clips):
        rows = []
        for clip in clips:
            audio = torch.from_numpy(clip.mean(0, keepdims=True))
            with torch.no_grad():
                emb = torchcrepe.embed(audio, 16000, hop_length=160, model="tiny",
                                       device=device, batch_size=512)
            rows.append(emb.mean(1).reshape(1, -1).cpu().numpy())
        return np.concatenate(rows)
    return run


def sarl_run(encoder, batch_size=32):
    def run(clips):
        out = [encoder.embed(clips[i:i + batch_size], 16000)
               for i in range(0, len(clips), batch_size)]
        return {k: np.concatenate([o[k] for o in out]) for k in out[0]}
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny_models import save_tiny

    from sarl_hf.encoders import load_encoder

    clips = rendered_clips(args.clips)
    print(f"{len(clips)} stereo scenes, 4 s at 16 kHz, device {args.device}, "
          f"{torch.get_num_threads()} threads")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_tiny("wav2vec2", Path(tmp) / "w2v")
        encoder = load_encoder(str(folder), device=args.device)
        plain = plain_transformers_loop(folder, args.device)
        plain(clips[:2]), encoder.embed(clips[:2], 16000)  # warm up
        base, reference = _rate(plain, clips)
        rate, ours = _rate(sarl_run(encoder), clips)
        ours = np.concatenate([ours[k] for k in encoder.layers], -1)
        rows.append(("tiny wav2vec2 (transformers)", base, rate, np.abs(ours - reference).max()))
        if args.device.startswith("cuda"):  # TF32 and bigger batches, as a GPU user may ask
            fast = load_encoder(str(folder), device=args.device, allow_tf32=True,
                                batch_size=128)
            fast.embed(clips[:2], 16000)
            rate, _ = _rate(sarl_run(fast, batch_size=128), clips)
            rows.append(("tiny wav2vec2, allow_tf32, batch 128", base, rate, None))
    try:
        crepe = load_encoder("crepe-tiny", device=args.device)
        plain = plain_crepe_loop(args.device)
        plain(clips[:1]), crepe.embed(clips[:1], 16000)
        base, reference = _rate(plain, clips)
        rate, _ = _rate(sarl_run(crepe), clips)
        rows.append(("CREPE tiny (torchcrepe)", base, rate, None))
        if args.device.startswith("cuda"):  # TF32, as torchcrepe's loop runs by default
            fast = load_encoder("crepe-tiny", device=args.device, allow_tf32=True)
            fast.embed(clips[:1], 16000)
            rate, _ = _rate(sarl_run(fast), clips)
            rows.append(("CREPE tiny, allow_tf32", base, rate, None))
    except ImportError as err:
        print(f"CREPE skipped: {err}")
    for name in ("sarl-logmel", "sarl-spatial"):
        try:
            encoder = load_encoder(name, device=args.device)
            encoder.embed(clips[:1], 16000)
            rate, _ = _rate(sarl_run(encoder), clips)
            rows.append((name, None, rate, None))
        except (RuntimeError, ValueError) as err:  # report, and go on to the table
            print(f"{name} failed on {args.device}: {err}")
    print(f"{'encoder':32s} {'plain loop':>12s} {'sarl_hf':>12s} {'ratio':>7s}")
    for name, base, rate, diff in rows:
        plain_text = f"{base:8.1f} c/s" if base else "           –"
        ratio = f"{rate / base:6.1f}×" if base else "      –"
        check = f"  (max |Δ| {diff:.1e})" if diff is not None else ""
        print(f"{name:32s} {plain_text} {rate:8.1f} c/s {ratio}{check}")


if __name__ == "__main__":
    main()
