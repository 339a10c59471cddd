"""Any PyTorch module or callable as an encoder (:class:`ModuleEncoder`).

A spatial encoder from its authors' repository (BAT's Spatial-AST, a binaural or
ambisonic network) is usually a plain ``nn.Module``. Wrapped, it gets what every encoder
has: input checks, resampling to its rate, the channel policy, equal-length batches (so a
clip's embedding never depends on its batch), NaN checks and a fingerprint (its state
dict, its code where Python can read it, and every setting).

The function takes a float32 tensor (batch, channels, samples) at ``sample_rate`` on
``device`` and returns ``{layer: tensor}`` (or one tensor, the layer ``output``), each
(batch, dim) or (batch, frames, dim); frames are pooled (``mean`` or ``mean+std``), a
(batch, dim) layer is kept as it is.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import defaultdict

import numpy as np

from .base import Encoder
from .metadata import check_layout, check_paradigm, parameter_count
from .packaged import check_positive_int, state_dict_digest
from .pooling import check_frame_pooling, pool_frames

__all__ = ["ModuleEncoder"]


def code_digest(function) -> str | None:
    """sha256 of the source of ``function``'s class (a module) or of the function, when
    Python can read it (not for code typed at a prompt or built with ``exec``)."""
    target = function if inspect.isfunction(function) or inspect.isclass(function) \
        else type(function)
    try:
        return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()
    except (OSError, TypeError):
        return None


class ModuleEncoder(Encoder):
    """A PyTorch module or any callable as a frozen encoder.

    Parameters
    ----------
    function : torch.nn.Module or callable
        ``function(audio)`` with ``audio`` a float32 tensor (batch, channels, samples) →
        ``{layer: (batch, dim) or (batch, frames, dim)}`` or one such tensor.
    sample_rate : int
        Hz the function works at; scenes at other rates are resampled.
    num_channels : int or None
        Channels it takes (None: any count).
    name : str, optional
        Default: the function's class or function name.
    channel_policy : str, optional
        Default ``native`` when ``num_channels`` is not 1, else ``downmix``.
    pooling : {"mean", "mean+std"}
        Over the frames of a (batch, frames, dim) output.
    batch_size : int
        Clips per call (equal lengths only).
    device : str
        Where the module and the audio go.
    version : str or dict, optional
        Anything else that decides the outputs (a code version, settings of the model):
        part of the fingerprint.
    family, channel_layout, paradigm, training_data : str, optional
        Its metadata (:mod:`sarl_hf.encoders.metadata`).
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.
    """

    def __init__(self, function, sample_rate: int, num_channels: int | None = 1,
                 name: str | None = None, channel_policy: str | None = None,
                 pooling: str = "mean", batch_size: int = 16, device: str = "cpu",
                 version=None, family: str | None = None, channel_layout: str | None = None,
                 paradigm: str | None = None, training_data: str | None = None,
                 allow_tf32: bool = False):
        if not callable(function):
            raise ValueError(f"function must be a torch module or a callable, got "
                             f"{type(function).__name__}")
        self.function, self.device = function, str(device)
        self.sample_rate = check_positive_int(sample_rate, "sample_rate")
        self.num_channels = None if num_channels is None else \
            check_positive_int(num_channels, "num_channels")
        self.name = name or getattr(function, "__name__", type(function).__name__)
        self.pooling = check_frame_pooling(pooling, ("mean", "mean+std"))
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.version = version
        self.family, self.channel_layout = family, check_layout(channel_layout)
        self.paradigm, self.training_data = check_paradigm(paradigm), training_data
        if hasattr(function, "to") and hasattr(function, "eval"):
            function.to(self.device).eval()
        if channel_policy is None:
            channel_policy = "downmix" if self.num_channels == 1 else "native"
        super().__init__(channel_policy, allow_tf32)
        self._layers = None

    @property
    def layers(self) -> tuple[str, ...]:
        if self._layers is None:
            probe = np.zeros((self.num_channels or 1, self.sample_rate), np.float32)
            self._layers = tuple(self._embed([probe]))
        return self._layers

    def settings(self) -> dict:
        function = self.function
        weights = state_dict_digest(function) if hasattr(function, "state_dict") else None
        kind = function if inspect.isfunction(function) else type(function)
        return {**super().settings(), "function": f"{kind.__module__}.{kind.__qualname__}",
                "code_sha256": code_digest(function), "weights_sha256": weights,
                "num_channels": self.num_channels, "pooling": self.pooling,
                "version": self.version}

    def parameter_count(self) -> int | None:
        return parameter_count(self.function)

    def _call(self, audio: np.ndarray) -> dict:
        """``{layer: (batch, dim) tensor}`` for equal-length clips (batch, channels, samples)."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(audio)).to(self.device)
        with torch.inference_mode(), self.precision():
            output = self.function(tensor)
        named = output if isinstance(output, dict) else {"output": output}
        layers = {}
        for layer, values in named.items():
            values = torch.as_tensor(values)
            if values.dim() not in (2, 3) or values.shape[0] != len(audio):
                raise RuntimeError(f"{self.name}: layer {layer!r} has shape "
                                   f"{tuple(values.shape)}, expected ({len(audio)}, dim) or "
                                   f"({len(audio)}, frames, dim)")
            layers[layer] = values.float() if values.dim() == 2 else \
                pool_frames(values, values.shape[1], self.pooling)
        return layers

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        by_shape = defaultdict(list)  # (channels, samples): batches never pad or mix counts
        for i, signal in enumerate(signals):
            by_shape[signal.shape].append(i)
        out: dict[str, np.ndarray] = {}
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                rows = indices[start:start + self.batch_size]
                for layer, values in self._call(np.stack([signals[i] for i in rows])).items():
                    if layer not in out:
                        out[layer] = np.zeros((len(signals), values.shape[-1]), np.float32)
                    out[layer][rows] = values.cpu().numpy()
        return out
