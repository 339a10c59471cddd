"""The encoder protocol: multichannel scenes in, one embedding per layer out.

Every encoder takes a batch of scenes, each (channels, samples) at some rate, and returns
``{layer: (n, dim)}`` float32. The base class does what every encoder needs: it checks the
input, resamples to the model's rate, applies the channel policy, checks the output for
NaN and infinities, and gives the encoder a fingerprint for caching. Subclasses implement
``_embed`` on signals already at their rate with the channel count they accept.

Channel policies (how a scene's channels reach a model):

- ``downmix``: the mean of the channels (a single-channel model sees one signal);
- ``per_channel_concat``: every channel embedded alone, the embeddings concatenated in
  channel order (dim × channels);
- ``channel:K``: channel K alone;
- ``native``: all channels as they are, for encoders that accept several.

An encoder also says what it is (:meth:`Encoder.metadata`, see :mod:`.metadata`), and an
audio–text model offers its text tower: ``text_layer`` names the audio layer in the
shared audio–text space and ``embed_text(texts)`` embeds captions into it.
"""

from __future__ import annotations

import abc
import contextlib

import numpy as np

from ..files import json_digest
from ..sources.base import MAX_SAMPLE_RATE, check_sample_rate
from .metadata import describe

POLICIES = ("downmix", "per_channel_concat", "native")  # and "channel:K"


def check_policy(policy: str) -> str:
    """Return ``policy`` if valid, else raise ValueError listing the choices."""
    if policy in POLICIES:
        return policy
    if policy.startswith("channel:") and policy[len("channel:"):].isdigit():
        return policy
    raise ValueError(f"channel_policy must be one of {POLICIES} or 'channel:K', got {policy!r}")


@contextlib.contextmanager
def exact_float32():
    """Run model calls in IEEE float32: TF32 off for cuDNN and CUDA matmuls, then restored.

    On GPUs with TF32 (Ampere and later) cuDNN convolutions and LSTMs use TF32 by default,
    which moved CREPE and GE2E embeddings by up to 2e-3 from the CPU values and made a
    clip's embedding depend on its batch (3e-4, measured on an H200); with TF32 off both
    agree within 3e-6 and batch invariance holds. It costs speed: CREPE tiny's forward
    pass took 1.38 s in float32 and 0.35 s with TF32 for 128 clips of 4 s on an H200.
    No effect on CPU. Not thread-safe (it sets global torch flags).
    """
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def resample(signal: np.ndarray, orig_hz: int, new_hz: int) -> np.ndarray:
    """Resample (channels, samples) float32 from ``orig_hz`` to ``new_hz`` (torchaudio)."""
    if orig_hz == new_hz:
        return signal
    import torch
    import torchaudio.functional

    out = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(signal)),
                                         int(orig_hz), int(new_hz))
    return out.numpy()


#: Shortest clip an encoder takes by default (s): one 10 ms analysis frame.
MIN_CLIP_S = 0.01


def as_scene_list(audio, sample_rate: int = MAX_SAMPLE_RATE,
                  min_clip_s: float = MIN_CLIP_S) -> list[np.ndarray]:
    """A batch as a list of float32 (channels, samples) arrays.

    ``audio`` may be an array (n, channels, samples), an array (n, samples) (mono), or a
    list of (channels, samples) or (samples,) arrays of any lengths, of real numbers, each
    at least ``min_clip_s`` long at ``sample_rate`` (Hz).
    """
    if isinstance(audio, np.ndarray) and audio.ndim in (2, 3):
        audio = list(audio if audio.ndim == 3 else audio[:, None, :])
    if not isinstance(audio, (list, tuple)) or not audio:
        raise ValueError("audio must be a non-empty batch: an array (n, channels, samples) or "
                         "a list of (channels, samples) arrays")
    shortest = int(np.ceil(min_clip_s * sample_rate))
    scenes = []
    for i, item in enumerate(audio):
        raw = np.asarray(item)
        if raw.dtype.kind not in "iuf":
            raise ValueError(f"audio[{i}] must hold real samples, got {raw.dtype} values")
        item = raw.astype(np.float32)
        item = item[None] if item.ndim == 1 else item
        if item.ndim != 2 or item.shape[1] < shortest:
            raise ValueError(f"audio[{i}] must be (channels, samples) with at least {shortest}"
                             f" samples ({min_clip_s:g} s at {sample_rate} Hz), got shape "
                             f"{item.shape}")
        if not np.isfinite(item).all():
            raise ValueError(f"audio[{i}] holds NaN or infinite samples")
        scenes.append(item)
    return scenes


class Encoder(abc.ABC):
    """A frozen audio encoder.

    Attributes
    ----------
    name : str
        Short, human-readable (e.g. the model id).
    sample_rate : int
        Hz the model works at; inputs at other rates are resampled.
    num_channels : int or None
        Channels the model accepts natively (1 for single-channel models, None for any).
    channel_policy : str
        See the module docstring.
    allow_tf32 : bool
        Let GPU convolutions and matmuls use TF32 (about 4× faster for CREPE on an H200,
        but embeddings move by up to 1e-3 and depend on the batch); off by default, so
        GPU and CPU embeddings agree within float32 rounding.
    family, channel_layout, paradigm, training_data : str or None
        What the encoder is (:mod:`sarl_hf.encoders.metadata`); None: the name, the
        layout its channel count implies, unknown, unknown.
    text_layer : str or None
        For an audio–text model: the layer in the shared audio–text space, which
        :meth:`embed_text` matches; None for audio-only encoders.
    """

    name: str = "encoder"
    sample_rate: int = 16000
    num_channels: int | None = 1
    #: Bump in a subclass when its embeddings change for the same settings.
    code_version: int = 1
    family: str | None = None
    channel_layout: str | None = None
    paradigm: str | None = None
    training_data: str | None = None
    text_layer: str | None = None
    #: Shortest clip (s) ``embed`` takes.
    min_clip_s: float = MIN_CLIP_S

    def __init__(self, channel_policy: str = "downmix", allow_tf32: bool = False):
        self.channel_policy = check_policy(channel_policy)
        self.allow_tf32 = bool(allow_tf32)
        if self.channel_policy == "native" and self.num_channels == 1:
            raise ValueError(f"{self.name} takes one channel: channel_policy 'native' cannot "
                             "serve multichannel scenes; use downmix, per_channel_concat or "
                             "channel:K")

    @property
    @abc.abstractmethod
    def layers(self) -> tuple[str, ...]:
        """Names of the layers ``embed`` returns, in order."""

    @abc.abstractmethod
    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Embed signals (channels, samples) at ``sample_rate`` whose channel count the
        model accepts: ``{layer: (len(signals), dim)}``."""

    def settings(self) -> dict:
        """What decides the embeddings besides the weights (for the fingerprint)."""
        return {"class": type(self).__name__, "name": self.name, "code_version":
                self.code_version, "sample_rate": self.sample_rate,
                "channel_policy": self.channel_policy, "allow_tf32": self.allow_tf32}

    def parameter_count(self) -> int | None:
        """Learned parameters of the network that computes the embeddings (None: unknown)."""
        return None

    def source(self) -> dict:
        """Where the encoder comes from: ``package``, ``hub_id``, ``revision``, ``folder``,
        ``hear_module`` (those that apply)."""
        return {}

    def metadata(self) -> dict:
        """What the encoder is (:func:`sarl_hf.encoders.metadata.describe`); not part of
        the fingerprint."""
        return describe(self)

    def embed_text(self, texts) -> np.ndarray:
        """Embed captions into the audio–text space of ``text_layer``.

        Parameters
        ----------
        texts : list of str

        Returns
        -------
        ndarray, shape (len(texts), dim), float32
        """
        raise NotImplementedError(f"{self.name} has no text tower (text_layer is None)")

    def precision(self):
        """The context model calls run in: exact float32 unless ``allow_tf32``."""
        return contextlib.nullcontext() if self.allow_tf32 else exact_float32()

    def fingerprint(self) -> str:
        """A digest of ``settings()``: same fingerprint, same embeddings."""
        return json_digest(self.settings())

    def _route(self, scene: np.ndarray) -> list[np.ndarray]:
        """The signals one scene becomes under the channel policy."""
        policy = self.channel_policy
        if policy == "downmix":
            return [scene.mean(axis=0, keepdims=True)]
        if policy == "per_channel_concat":
            return [scene[c:c + 1] for c in range(scene.shape[0])]
        if policy == "native":
            if self.num_channels not in (None, scene.shape[0]):
                raise ValueError(f"{self.name} takes {self.num_channels} channels, the scene "
                                 f"has {scene.shape[0]}")
            return [scene]
        channel = int(policy[len("channel:"):])
        if channel >= scene.shape[0]:
            raise ValueError(f"channel_policy {policy!r}: the scene has only "
                             f"{scene.shape[0]} channels")
        return [scene[channel:channel + 1]]

    def embed(self, audio, sample_rate: int) -> dict[str, np.ndarray]:
        """Embed a batch of scenes.

        Parameters
        ----------
        audio : array (n, channels, samples) or list of (channels, samples) arrays
            Scenes, float, any lengths (a list) and rates equal to ``sample_rate``.
        sample_rate : int
            Hz of ``audio``.

        Returns
        -------
        dict of str to ndarray, shape (n, dim), float32
            One embedding per scene for every layer in ``layers``.
        """
        sample_rate = check_sample_rate(sample_rate)
        check_sample_rate(self.sample_rate, f"{self.name}: the model's sample_rate")
        scenes = as_scene_list(audio, sample_rate, self.min_clip_s)
        counts = {s.shape[0] for s in scenes}
        if self.channel_policy == "per_channel_concat" and len(counts) > 1:
            raise ValueError(f"per_channel_concat needs one channel count per batch, got "
                             f"{sorted(counts)}")
        routed = [self._route(resample(s, sample_rate, self.sample_rate)) for s in scenes]
        flat = [signal for signals in routed for signal in signals]
        with self.precision():
            out = self._embed(flat)
        per_scene = len(routed[0])
        result = {}
        for layer, values in out.items():
            values = np.asarray(values, dtype=np.float32)
            if values.shape[0] != len(flat):
                raise RuntimeError(f"{self.name} returned {values.shape[0]} rows for "
                                   f"{len(flat)} signals in layer {layer!r}")
            if not np.isfinite(values).all():
                raise FloatingPointError(f"{self.name} produced NaN or infinite values in "
                                         f"layer {layer!r}")
            result[layer] = values.reshape(len(scenes), per_scene * values.shape[1])
        return result
