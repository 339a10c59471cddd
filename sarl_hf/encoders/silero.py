"""Silero VAD as a frozen encoder (``silero-vad``; weights ship in its wheel).

Silero VAD (Silero Team, 2021–2025; v6 weights) reads 16 kHz audio in chunks of 512
samples (32 ms), each with the 64 samples before it as context: a learned STFT (a
convolution of 256 samples, hop 128, 129 bins of magnitude), four convolutions (129 →
128 → 64 → 64 → 128 channels, two of stride 2) down to one 128-d vector per chunk, an
LSTM cell carried from chunk to chunk, and a sigmoid speech probability.

This wrapper loads the package's TorchScript model (``silero_vad/data/silero_vad.jit``,
what ``silero_vad.load_silero_vad()`` returns) without importing ``silero_vad`` (whose
import sets ``torch.set_num_threads(1)`` for the whole process), runs its STFT and
convolutions on every chunk of every clip at once and steps its LSTM cell through the
chunks of all clips together. The speech probabilities equal the package's model run
chunk by chunk (tested). A clip is zero-padded to a multiple of 512 samples, as
``get_speech_timestamps`` does.

Layers, pooled over a clip's chunks (``mean``, or ``mean+std``: dims double):
``encoder`` (128: the convolutional features, before the LSTM), ``lstm`` (128: the LSTM
cell's hidden state) and ``speech`` (1: the speech probability).
"""

from __future__ import annotations

import numpy as np

from sarl_hf.encoders.base import Encoder
from sarl_hf.encoders.metadata import package_source
from sarl_hf.encoders.packaged import (FramePool, check_pooling,
                                       distribution_version, file_sha256, package_file)

SAMPLE_RATE = 16000
CHUNK = 512
CONTEXT = 64
WEIGHTS = "data/silero_vad.jit"


def chunk_windows(signal: np.ndarray) -> np.ndarray:
    """The model's inputs for one clip: (chunks, 576) = each 512-sample chunk of the clip
    zero-padded to a multiple of 512, after the 64 samples before it (zeros first).

    Parameters
    ----------
    signal : ndarray, shape (samples,)
    """
    chunks = max(1, -(-len(signal) // CHUNK))
    padded = np.zeros(CONTEXT + chunks * CHUNK, np.float32)
    padded[CONTEXT:CONTEXT + len(signal)] = signal
    starts = np.arange(chunks) * CHUNK
    return np.stack([padded[s:s + CONTEXT + CHUNK] for s in starts])


def load_network(path, device: str = "cpu"):
    """The 16 kHz network of the TorchScript file ``path`` (``stft``, ``encoder``,
    ``decoder.rnn``: an LSTM cell, ``decoder.decoder``: ReLU, 1×1 convolution, sigmoid), in
    eval mode on ``device``."""
    import torch

    return torch.jit.load(str(path), map_location=device).eval()._model


def front_end(net, windows):
    """Convolutional features of chunks with their context: (n, 576) → (n, 128)."""
    return net.encoder(net.stft(windows)).squeeze(-1)


class SileroVADEncoder(Encoder):
    """Silero VAD (v6, 16 kHz), its layers pooled over 32-ms chunks.

    Parameters
    ----------
    channel_policy : str
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (the model takes one channel).
    device : str
        Torch device.
    pooling : {"mean", "mean+std"}
        Statistics over each clip's chunks.
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.
    """

    name = "silero-vad"
    sample_rate = SAMPLE_RATE
    num_channels = 1
    code_version = 1
    family = "Silero VAD"
    paradigm = "supervised"
    training_data = ("speech and non-speech audio in over 6000 languages (the authors' "
                     "description; the corpora are not published)")

    def __init__(self, channel_policy: str = "downmix", device: str = "cpu",
                 pooling: str = "mean", allow_tf32: bool = False):
        super().__init__(channel_policy, allow_tf32)
        self.pooling = check_pooling(pooling)
        self.device = str(device)
        self.weights_path = package_file("silero_vad", WEIGHTS)
        self._net = None

    @property
    def layers(self) -> tuple[str, ...]:
        return ("encoder", "lstm", "speech")

    def settings(self) -> dict:
        return {**super().settings(), "package": "silero-vad",
                "package_version": distribution_version("silero-vad"),
                "weights_file": f"silero_vad/{WEIGHTS}",
                "weights_sha256": file_sha256(self.weights_path), "pooling": self.pooling,
                "chunks": f"{CHUNK} samples after {CONTEXT} of context, zero-padded clip"}

    def parameter_count(self) -> int:
        return int(sum(p.numel() for p in self.net.parameters()))

    def source(self) -> dict:
        return {**package_source("silero-vad"), "weights": f"silero_vad/{WEIGHTS}"}

    @property
    def net(self):
        """The packaged 16 kHz network, loaded on first use."""
        if self._net is None:
            self._net = load_network(self.weights_path, self.device)
        return self._net

    def _run(self, windows):
        """Layers of clips with equal chunk counts: windows (clips, chunks, 576) →
        {layer: (clips · chunks, dim)}, clip-major."""
        import torch

        clips, chunks = windows.shape[:2]
        features = front_end(self.net, windows.reshape(clips * chunks, -1))
        features = features.reshape(clips, chunks, -1)
        state, hidden = None, []
        for k in range(chunks):
            state = self.net.decoder.rnn(features[:, k], state)
            hidden.append(state[0])
        hidden = torch.stack(hidden, dim=1)  # (clips, chunks, 128)
        speech = self.net.decoder.decoder(hidden.reshape(clips * chunks, -1, 1))
        return {"encoder": features.reshape(clips * chunks, -1),
                "lstm": hidden.reshape(clips * chunks, -1), "speech": speech[:, :, 0]}

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        windows = [chunk_windows(signal[0]) for signal in signals]
        counts = np.array([len(w) for w in windows])
        pool = FramePool(len(signals), self.pooling)
        with torch.inference_mode(), self.precision():
            for count in np.unique(counts):
                members = np.flatnonzero(counts == count)
                batch = torch.from_numpy(np.stack([windows[i] for i in members]))
                clips = torch.from_numpy(np.repeat(members, count)).to(self.device)
                pool.count(clips)
                for layer, values in self._run(batch.to(self.device)).items():
                    pool.add(layer, values, clips)
        out = pool.result()
        return {layer: out[layer] for layer in self.layers}
