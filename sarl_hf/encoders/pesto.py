"""PESTO pitch estimator as a frozen encoder (``pesto-pitch``; weights ship in its wheel).

PESTO (Riou, Lattner, Hadjeres and Peeters, "PESTO: Pitch Estimation with Self-supervised
Transposition-equivariant Objective", ISMIR 2023) turns each frame of a constant-Q
transform (HCQT, 3 bins per semitone from 27.5 Hz) into a distribution over 384 pitch
bins with a small convolutional network trained without labels: the output must shift
when the input is transposed. This wrapper runs the package's own model
(``pesto.load_model("mir-1k_g7")``, the package's default) on whole clips and reads,
for every frame at ``hop_ms``:

- ``voicing``: the frame's CQT energy in dB and PESTO's voicing confidence, which its
  small classifier computes from the CQT energies, before the encoder (2);
- ``conv``: the encoder's features before its last linear layer (3 channels × 219 CQT
  bins = 657), read with a forward hook on ``encoder.conv_layers``;
- ``activations``: the pitch distribution (384 bins, shifted to absolute pitch as PESTO
  does), the model's output.

Each layer is pooled over the clip's frames (``mean``; ``mean+std`` doubles the dims).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from sarl_hf.encoders.base import Encoder
from sarl_hf.encoders.metadata import package_source, parameter_count
from sarl_hf.encoders.packaged import (check_pooling, check_positive_int, distribution_version,
                                       file_sha256, package_file)
from sarl_hf.encoders.pooling import pool_frames

SAMPLE_RATE = 16000
CHECKPOINT = "mir-1k_g7"


class PestoEncoder(Encoder):
    """PESTO (``mir-1k_g7``) from ``pesto-pitch``, pooled over frames.

    Parameters
    ----------
    channel_policy : str
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (PESTO takes one channel).
    device : str
        Torch device.
    hop_ms : float
        Milliseconds between frames (PESTO's ``step_size``; 10 ms by default).
    batch_size : int
        Clips per call (equal lengths only).
    pooling : {"mean", "mean+std"}
        Statistics over each clip's frames.
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.
    """

    name = "pesto"
    sample_rate = SAMPLE_RATE
    num_channels = 1
    code_version = 1
    family = "PESTO"
    paradigm = "self-supervised equivariance"
    training_data = "MIR-1K (sung Chinese pop, 1000 clips), without its pitch labels"

    def __init__(self, channel_policy: str = "downmix", device: str = "cpu",
                 hop_ms: float = 10.0, batch_size: int = 16, pooling: str = "mean",
                 allow_tf32: bool = False):
        super().__init__(channel_policy, allow_tf32)
        self.hop_ms = float(hop_ms)
        if not math.isfinite(self.hop_ms) or self.hop_ms * SAMPLE_RATE / 1000 < 1:
            raise ValueError(f"hop_ms must give at least one sample at 16 kHz, got {hop_ms!r}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.pooling = check_pooling(pooling)
        self.device = str(device)
        self.weights_path = package_file("pesto", f"weights/{CHECKPOINT}.ckpt")
        self._net = None

    @property
    def layers(self) -> tuple[str, ...]:
        return ("voicing", "conv", "activations")

    def settings(self) -> dict:
        return {**super().settings(), "package": "pesto-pitch",
                "package_version": distribution_version("pesto-pitch"),
                "weights_file": f"pesto/weights/{CHECKPOINT}.ckpt",
                "weights_sha256": file_sha256(self.weights_path), "hop_ms": self.hop_ms,
                "pooling": self.pooling}

    def parameter_count(self) -> int:
        """The encoder's and the voicing classifier's (not the CQT kernels')."""
        return parameter_count([self.net.encoder, self.net.confidence])

    def source(self) -> dict:
        return {**package_source("pesto-pitch"), "weights": f"pesto/weights/{CHECKPOINT}.ckpt"}

    @property
    def net(self):
        """PESTO with its packaged weights at 16 kHz, loaded on first use."""
        if self._net is None:
            from pesto.loader import load_model

            self._net = load_model(CHECKPOINT, self.hop_ms, sampling_rate=SAMPLE_RATE)
            self._net = self._net.eval().to(self.device)
        return self._net

    def _frames(self, audio) -> dict:
        """Frame-level layers of equal-length clips (batch, samples):
        ``{layer: (batch, frames, dim)}``."""
        captured = {}
        hook = self.net.encoder.conv_layers.register_forward_hook(
            lambda module, inputs, output: captured.update(conv=output))
        try:
            _, confidence, volume, activations = self.net(audio, sr=SAMPLE_RATE,
                                                           return_activations=True)
        finally:
            hook.remove()
        import torch

        batch, frames = confidence.shape
        decibels = 10 * torch.log10(volume.clamp_min(1e-10))
        return {"voicing": torch.stack([decibels, confidence], dim=-1),
                "conv": captured["conv"].reshape(batch, frames, -1),
                "activations": activations}

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        by_length = defaultdict(list)
        for i, signal in enumerate(signals):
            by_length[signal.shape[1]].append(i)
        out: dict[str, np.ndarray] = {}
        with torch.inference_mode(), self.precision():
            for indices in by_length.values():
                for start in range(0, len(indices), self.batch_size):
                    rows = indices[start:start + self.batch_size]
                    audio = torch.from_numpy(np.stack([signals[i][0] for i in rows]))
                    for layer, frames in self._frames(audio.to(self.device)).items():
                        values = pool_frames(frames, frames.shape[1], self.pooling)
                        values = values.cpu().numpy()
                        if layer not in out:
                            out[layer] = np.zeros((len(signals), values.shape[1]), np.float32)
                        out[layer][rows] = values
        return out
