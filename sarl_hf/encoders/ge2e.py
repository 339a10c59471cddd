"""The GE2E speaker encoder of Resemblyzer as a frozen encoder (weights ship in its wheel).

Resemblyzer's ``VoiceEncoder`` (Wan et al., 2018, GE2E loss; trained by Corentin Jemine) is a
3-layer LSTM (256 units) over 40-band mel power spectrograms (25 ms windows, 10 ms hop at
16 kHz) followed by a linear projection to 256 dimensions, a ReLU and L2 normalisation. An
utterance is cut into partial windows of 160 frames (1.6 s) at 1.3 windows per second; the
utterance embedding is the L2-normalised mean of the partial embeddings.

This wrapper loads ``resemblyzer/pretrained.pt`` without importing ``resemblyzer`` (whose
import needs ``webrtcvad``, a C extension that often fails to build), computes the same mel
spectrogram with torchaudio (librosa-equivalent: Slaney mel scale and norm, periodic Hann
window, centred frames, zero padding) and runs the partial windows of all clips through
the LSTM together. It reproduces ``VoiceEncoder.embed_utterance`` on the same waveform.

Preprocessing: Resemblyzer's ``preprocess_wav`` raises quiet clips to -30 dBFS and trims
long silences with webrtcvad. Volume normalisation is kept by default (the model was
trained on normalised audio); silence trimming is off by default because it changes the
timing of a spatial scene (onsets, reverberant tails) and is only available when
``resemblyzer`` imports (``webrtcvad`` installed).

Layers: ``lstm_mean`` (256; the last LSTM layer's final hidden state, averaged over
partial windows, before the projection) and ``embedding`` (256; the L2-normalised
utterance embedding).
"""

from __future__ import annotations

import numpy as np

from sarl_hf.encoders.base import Encoder
from sarl_hf.encoders.metadata import package_source, parameter_count
from sarl_hf.encoders.packaged import (check_positive_int, distribution_version, file_sha256,
                                       package_file)

SAMPLE_RATE = 16000
N_FFT = 400            # 25 ms
HOP = 160              # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160   # 1.6 s
HIDDEN = 256
TARGET_DBFS = -30.0


def partial_starts(num_samples: int, rate: float = 1.3, min_coverage: float = 0.75):
    """First mel frame of every partial window of an utterance (Resemblyzer's slicing).

    Parameters
    ----------
    num_samples : int
        Samples of the utterance at 16 kHz.
    rate : float
        Partial windows per second (≥ 0.625, so that windows of 1.6 s cover the utterance).
    min_coverage : float
        In (0, 1]: the last window is kept only if the utterance covers at least this
        fraction of it (a single window is always kept).

    Returns
    -------
    list of int
        Start frames; window ``k`` spans frames ``[s_k, s_k + 160)``.
    """
    num_frames = int(np.ceil((num_samples + 1) / HOP))
    step = int(np.round(SAMPLE_RATE / rate / HOP))
    steps = max(1, num_frames - PARTIAL_FRAMES + step + 1)
    starts = list(range(0, steps, step))
    coverage = (num_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise ``wav`` (samples,) to ``target_dbfs`` RMS if it is quieter; never lower it.

    A silent clip is returned unchanged.
    """
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if rms == 0.0:
        return wav
    change = target_dbfs - 20.0 * np.log10(rms)
    return wav if change <= 0 else (wav * 10.0 ** (change / 20.0)).astype(np.float32)


def load_network(path, device: str = "cpu"):
    """The LSTM and projection of ``VoiceEncoder`` with the weights in ``path``.

    Returns a ``torch.nn.Module`` with ``lstm`` (40 → 256, 3 layers, batch first) and
    ``linear`` (256 → 256), in eval mode on ``device``.
    """
    import torch

    net = torch.nn.Module()
    net.lstm = torch.nn.LSTM(N_MELS, HIDDEN, 3, batch_first=True)
    net.linear = torch.nn.Linear(HIDDEN, 256)
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    net.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in
                         ("lstm", "linear")})
    return net.eval().to(device)


class GE2EEncoder(Encoder):
    """Resemblyzer's GE2E speaker encoder.

    Parameters
    ----------
    channel_policy : str
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (the model takes one channel).
    device : str
        Torch device.
    batch_size : int
        Partial windows (1.6 s each) per LSTM call, shared across clips.
    rate, min_coverage : float
        Partial windows per second, and the coverage below which a last, incomplete
        window is dropped (Resemblyzer's defaults: 1.3 and 0.75).
    normalize_volume : bool
        Raise clips quieter than -30 dBFS to -30 dBFS, as ``preprocess_wav`` does.
    trim_silence : bool
        Trim long silences with ``resemblyzer.trim_long_silences`` (needs ``webrtcvad``);
        off by default: it changes a scene's timing.
    """

    name = "ge2e"
    sample_rate = SAMPLE_RATE
    num_channels = 1
    code_version = 1
    family = "GE2E"
    paradigm = "supervised"
    training_data = ("public English speech corpora (LibriSpeech, VoxCeleb, as the "
                     "Real-Time Voice Cloning project reports; the wheel does not say)")

    def __init__(self, channel_policy: str = "downmix", device: str = "cpu",
                 batch_size: int = 64, rate: float = 1.3, min_coverage: float = 0.75,
                 normalize_volume: bool = True, trim_silence: bool = False,
                 allow_tf32: bool = False):
        super().__init__(channel_policy, allow_tf32)
        if not 0.625 <= rate <= 100:
            raise ValueError(f"rate must be in [0.625, 100] windows per second, got {rate!r}")
        if not 0 < min_coverage <= 1:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage!r}")
        self.rate, self.min_coverage = float(rate), float(min_coverage)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.normalize_volume = bool(normalize_volume)
        self.trim_silence = bool(trim_silence)
        self.device = str(device)
        self.weights_path = package_file("resemblyzer", "pretrained.pt", extra="encoders")
        self._trim = self._trimmer() if self.trim_silence else None
        self._net = None
        self._mel = None

    @property
    def layers(self) -> tuple[str, ...]:
        return ("lstm_mean", "embedding")

    def dims(self) -> dict[str, int]:
        """Output dimension of every layer."""
        return {"lstm_mean": HIDDEN, "embedding": 256}

    def parameter_count(self) -> int:
        return parameter_count(self.net)

    def source(self) -> dict:
        return {**package_source("resemblyzer"), "weights": "resemblyzer/pretrained.pt"}

    def settings(self) -> dict:
        return {**super().settings(), "package": "resemblyzer",
                "package_version": distribution_version("resemblyzer"),
                "weights_file": "resemblyzer/pretrained.pt",
                "weights_sha256": file_sha256(self.weights_path), "rate": self.rate,
                "min_coverage": self.min_coverage, "normalize_volume": self.normalize_volume,
                "trim_silence": self.trim_silence,
                "mel": f"{N_MELS} slaney bands, n_fft {N_FFT}, hop {HOP}, power"}

    @staticmethod
    def _trimmer():
        """``resemblyzer.trim_long_silences``, or ImportError naming what is missing."""
        try:
            from resemblyzer.audio import trim_long_silences
        except ImportError as error:
            raise ImportError("trim_silence=True needs resemblyzer to import, which needs "
                              f"webrtcvad (pip install webrtcvad): {error}") from error
        return trim_long_silences

    @property
    def net(self):
        """The LSTM and projection with the packaged weights, loaded on first use."""
        if self._net is None:
            self._net = load_network(self.weights_path, self.device)
        return self._net

    def mel(self, wav: np.ndarray) -> np.ndarray:
        """Mel power spectrogram of ``wav`` (samples,): (1 + samples // 160, 40) float32,
        equal to ``resemblyzer.wav_to_mel_spectrogram``."""
        import torch
        import torchaudio

        if self._mel is None:
            self._mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, f_min=0.0,
                n_mels=N_MELS, power=2.0, center=True, pad_mode="constant", norm="slaney",
                mel_scale="slaney")
        with torch.inference_mode():
            return self._mel(torch.from_numpy(np.ascontiguousarray(wav))).T.numpy()

    def partials(self, wav: np.ndarray) -> np.ndarray:
        """Partial windows of one clip (samples,): (windows, 160, 40) mel frames."""
        if self._trim is not None:
            wav = self._trim(wav)
        if self.normalize_volume:
            wav = normalize_volume(wav)
        starts = partial_starts(len(wav), self.rate, self.min_coverage)
        stop = (starts[-1] + PARTIAL_FRAMES) * HOP
        mel = self.mel(np.pad(wav, (0, max(0, stop - len(wav)))))
        return np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])

    def _forward(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden states (windows, 256) and unit-norm partial embeddings (windows, 256)."""
        import torch

        net = self.net
        with torch.inference_mode(), self.precision():
            _, (hidden, _) = net.lstm(torch.from_numpy(windows).to(self.device))
            last = hidden[-1]
            partial = torch.relu(net.linear(last))
            partial = partial / partial.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return last.cpu().numpy(), partial.cpu().numpy()

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        windows = [self.partials(signal[0]) for signal in signals]
        owners = np.repeat(np.arange(len(signals)), [len(w) for w in windows])
        stacked = np.concatenate(windows).astype(np.float32)
        hidden, partial = [], []
        for start in range(0, len(stacked), self.batch_size):
            h, p = self._forward(stacked[start:start + self.batch_size])
            hidden.append(h)
            partial.append(p)
        hidden, partial = np.concatenate(hidden), np.concatenate(partial)
        lstm_mean = np.stack([hidden[owners == i].mean(0) for i in range(len(signals))])
        mean = np.stack([partial[owners == i].mean(0) for i in range(len(signals))])
        norm = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return {"lstm_mean": lstm_mean, "embedding": mean / norm}
