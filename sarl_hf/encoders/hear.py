"""An adapter for any module with the HEAR API (Holistic Evaluation of Audio Representations).

A HEAR module provides

- ``load_model(model_file_path="")`` → a model with ``sample_rate`` (Hz) and usually
  ``scene_embedding_size`` and ``timestamp_embedding_size``;
- ``get_scene_embeddings(audio, model)`` with ``audio`` a float tensor (n, samples) of
  equal-length mono clips → tensor (n, dim);
- ``get_timestamp_embeddings(audio, model)`` → (embeddings (n, frames, dim),
  timestamps (n, frames) in ms).

Multichannel modules follow GRAM's convention (binaural and ambisonic masked
autoencoders): the model declares its channel count as ``in_channels`` (or
``num_channels``) and takes ``audio`` as (n, channels, samples); with
``channel_policy="native"`` (their default) the scenes' channels reach it as they are, at
the model's rate. A model that declares no count is mono and gets (n, samples).
``load_model`` receives ``model_options`` as keyword arguments (GRAM's ``in_channels``,
``strategy``, ...).

Layers: ``scene`` and, with ``timestamp_mean=True``, ``timestamp_mean`` (the timestamp
embeddings averaged over frames). HEAR modules take equal-length batches, so clips are
grouped by length and never padded: a clip's embedding does not depend on its batch as
long as the module treats clips independently.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import types
from pathlib import Path

import numpy as np

from sarl_hf.encoders.base import Encoder
from sarl_hf.encoders.metadata import parameter_count
from sarl_hf.encoders.packaged import (check_positive_int, distribution_version, file_sha256,
                                       state_dict_digest)
from sarl_hf.files import files_digest

REQUIRED = ("load_model", "get_scene_embeddings")
#: Attributes a multichannel HEAR model declares its channel count with (GRAM's first).
CHANNEL_ATTRIBUTES = ("in_channels", "num_channels")
#: What a HEAR model may declare about itself (:mod:`sarl_hf.encoders.metadata`).
METADATA_ATTRIBUTES = ("family", "channel_layout", "paradigm", "training_data")


def resolve_module(module_name_or_module) -> types.ModuleType:
    """The HEAR module: imported if given by name, checked for the required functions."""
    if isinstance(module_name_or_module, str):
        try:
            module = importlib.import_module(module_name_or_module)
        except ImportError as error:
            raise ImportError(f"module_name_or_module: cannot import "
                              f"{module_name_or_module!r}: {error}") from error
    elif isinstance(module_name_or_module, types.ModuleType):
        module = module_name_or_module
    else:
        raise ValueError(f"module_name_or_module must be a module or its import name, got "
                         f"{type(module_name_or_module).__name__}")
    missing = [f for f in REQUIRED if not callable(getattr(module, f, None))]
    if missing:
        raise ValueError(f"module_name_or_module: {module.__name__!r} lacks the HEAR "
                         f"function(s) {missing}")
    return module


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    """Top-level import names → distributions that install them (scanned once)."""
    return importlib.metadata.packages_distributions()


def module_distribution(module: types.ModuleType) -> tuple[str | None, str | None]:
    """(distribution name, version) that installed ``module``'s top-level package, if any."""
    top = module.__name__.split(".")[0]
    names = _distributions().get(top, [])
    for name in names:
        version = distribution_version(name)
        if version is not None:
            return name, version
    return None, getattr(module, "__version__", None)


def model_channels(model) -> int:
    """The channel count a HEAR model declares (``in_channels`` or ``num_channels``; 1 if
    neither), or ValueError if it is not a positive integer."""
    for attribute in CHANNEL_ATTRIBUTES:
        count = getattr(model, attribute, None)
        if count is None:
            continue
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"the HEAR model's {attribute} must be a positive integer, got "
                             f"{count!r}")
        return int(count)
    return 1


def weights_digest(model_file: Path | None, model) -> str | None:
    """sha256 of the weight file (or of every file in a weight folder), else of the
    model's state dict if it is a torch module, else None."""
    if model_file is not None and model_file.is_file():
        return file_sha256(model_file)
    if model_file is not None and model_file.is_dir():
        files = sorted(p for p in model_file.rglob("*") if p.is_file())
        return files_digest(files, model_file, file_sha256)
    if hasattr(model, "state_dict"):
        return state_dict_digest(model)
    return None


class HEAREncoder(Encoder):
    """Any HEAR-API module as a frozen encoder.

    Parameters
    ----------
    module_name_or_module : str or module
        Import name (e.g. ``"hearbaseline"``) or the module itself.
    model_file : str or Path, optional
        Passed to ``load_model``; omitted (the module's default weights) when None.
    channel_policy : str, optional
        Mono modules: ``downmix`` (default), ``per_channel_concat`` or ``channel:K``.
        Multichannel modules (``in_channels`` or ``num_channels`` > 1): ``native`` (the
        default and the only choice: the scene's channel count must match).
    device : str
        Torch device for the audio and, if it is a torch module, the model.
    batch_size : int
        Clips per call (clips of equal length only).
    timestamp_mean : bool
        Also return ``timestamp_mean`` from ``get_timestamp_embeddings``.
    model_options : dict, optional
        Keyword arguments of ``load_model`` (e.g. GRAM's ``{"in_channels": 2}``).
    """

    num_channels = 1
    code_version = 1

    def __init__(self, module_name_or_module, model_file=None,
                 channel_policy: str | None = None, device: str = "cpu", batch_size: int = 16,
                 timestamp_mean: bool = False, allow_tf32: bool = False,
                 model_options: dict | None = None):
        self.module = resolve_module(module_name_or_module)
        self.name = f"hear:{self.module.__name__}"
        if timestamp_mean and not callable(getattr(self.module, "get_timestamp_embeddings",
                                                   None)):
            raise ValueError(f"timestamp_mean=True: {self.module.__name__!r} lacks "
                             "get_timestamp_embeddings")
        self.timestamp_mean = bool(timestamp_mean)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.device = str(device)
        self.model_file = None if model_file is None else Path(model_file)
        if self.model_file is not None and not self.model_file.exists():
            raise FileNotFoundError(f"model_file {str(self.model_file)!r} does not exist")
        self.model_options = dict(model_options or {})
        self.model = self._load()
        self.sample_rate = self._model_rate()
        self.num_channels = model_channels(self.model)
        if channel_policy is None:
            channel_policy = "downmix" if self.num_channels == 1 else "native"
        super().__init__(channel_policy, allow_tf32)
        if self.num_channels > 1 and self.channel_policy != "native":
            raise ValueError(f"{self.name} takes {self.num_channels} channels at once: "
                             f"channel_policy must be 'native', got {self.channel_policy!r}")
        self.family = self.module.__name__
        self.__dict__.update({a: getattr(self.model, a) for a in METADATA_ATTRIBUTES
                              if isinstance(getattr(self.model, a, None), str)})
        self._digest = None

    def _load(self):
        """``load_model`` with the model file (or none) and ``model_options``, moved to
        ``device`` if a torch module."""
        args = () if self.model_file is None else (str(self.model_file),)
        model = self.module.load_model(*args, **self.model_options)
        if hasattr(model, "to") and hasattr(model, "eval"):
            model = model.to(self.device)
            model.eval()
        return model

    def _model_rate(self) -> int:
        rate = getattr(self.model, "sample_rate", None)
        if not isinstance(rate, (int, float, np.integer, np.floating)) or rate <= 0:
            raise ValueError(f"{self.name}: load_model() returned a model without a positive "
                             f"sample_rate attribute (got {rate!r})")
        return int(rate)

    def parameter_count(self) -> int | None:
        return parameter_count(self.model)

    def source(self) -> dict:
        dist, version = module_distribution(self.module)
        return {"hear_module": self.module.__name__, "package": dist,
                "package_version": version}

    @property
    def layers(self) -> tuple[str, ...]:
        return ("scene", "timestamp_mean") if self.timestamp_mean else ("scene",)

    def settings(self) -> dict:
        if self._digest is None:
            self._digest = weights_digest(self.model_file, self.model)
        source = getattr(self.module, "__file__", None)
        dist, version = module_distribution(self.module)
        return {**super().settings(), "module": self.module.__name__,
                "package": dist, "package_version": version,
                "module_sha256": file_sha256(source) if source else None,
                "model_file": None if self.model_file is None else self.model_file.name,
                "weights_sha256": self._digest, "layers": list(self.layers),
                **self._multichannel_settings()}

    def _multichannel_settings(self) -> dict:
        """The channel count and load options where they differ from a mono module's
        (so that a mono module keeps its fingerprint)."""
        out = {"num_channels": self.num_channels} if self.num_channels != 1 else {}
        return {**out, "model_options": self.model_options} if self.model_options else out

    def _call(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """The layers for equal-length clips ``audio``, (n, samples) for a mono module or
        (n, channels, samples) for a multichannel one: ``{layer: (n, dim)}``."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(audio)).to(self.device)
        out = {}
        with torch.inference_mode(), self.precision():
            out["scene"] = self._matrix(self.module.get_scene_embeddings(tensor, self.model),
                                        len(audio), "get_scene_embeddings")
            if self.timestamp_mean:
                frames, _ = self.module.get_timestamp_embeddings(tensor, self.model)
                if frames.ndim != 3:
                    raise RuntimeError(f"{self.name}: get_timestamp_embeddings returned "
                                       f"shape {tuple(frames.shape)}, not (n, frames, dim)")
                out["timestamp_mean"] = self._matrix(frames.float().mean(dim=1), len(audio),
                                                     "get_timestamp_embeddings")
        return out

    def _matrix(self, values, rows: int, function: str) -> np.ndarray:
        """``values`` as float32 (rows, dim), or RuntimeError naming ``function``."""
        values = values.detach().float().cpu().numpy() if hasattr(values, "detach") else \
            np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[0] != rows:
            raise RuntimeError(f"{self.name}: {function} returned shape {values.shape}, "
                               f"expected ({rows}, dim)")
        return values.astype(np.float32, copy=False)

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        lengths = np.array([s.shape[1] for s in signals])
        out: dict[str, np.ndarray] = {}
        for length in np.unique(lengths):
            members = np.flatnonzero(lengths == length)
            for start in range(0, len(members), self.batch_size):
                rows = members[start:start + self.batch_size]
                audio = np.stack([signals[i] if self.num_channels > 1 else signals[i][0]
                                  for i in rows])
                for layer, values in self._call(audio).items():
                    if layer not in out:
                        out[layer] = np.zeros((len(signals), values.shape[1]), np.float32)
                    out[layer][rows] = values
        return out
