"""Reference encoders ``sarl-logmel`` and ``sarl-spatial``: AutoModels wrapped as Encoders.

A folder written by ``save_pretrained`` carries its own modelling code, so anywhere
``transformers`` is installed it loads without this package::

    from transformers import AutoFeatureExtractor, AutoModel
    model = AutoModel.from_pretrained("path/to/sarl-spatial", trust_remote_code=True)
    extractor = AutoFeatureExtractor.from_pretrained("path/to/sarl-spatial",
                                                     trust_remote_code=True)
    out = model(**extractor(audio, sampling_rate=16000, return_tensors="pt"))

Importing this module also registers both models (and their feature extractor) with the
Auto classes, so where it is imported the package's own classes load the folder, without
``trust_remote_code``.

They are deterministic signal processing, no learned weights: the floor every learned
encoder should beat on its own ground (see ``model_cards/sarl-logmel`` and
``model_cards/sarl-spatial``).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, PreTrainedConfig
from transformers import PreTrainedModel
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from ..acoustics.formats import make_format
from .base import Encoder
from .metadata import package_source
from .packaged import state_dict_digest
from .reference_configs import LAYOUTS
from .reference_configs import SarlLogMelConfig
from .reference_configs import SarlSpatialConfig
from .reference_extractor import SarlFeatureExtractor
from .reference_models import SarlLogMelModel
from .reference_models import SarlReferenceOutput
from .reference_models import SarlSpatialModel

__all__ = ["SarlLogMelConfig", "SarlLogMelModel", "SarlSpatialConfig", "SarlSpatialModel",
           "SarlReferenceOutput", "SarlFeatureExtractor", "LogMelEncoder", "SpatialEncoder",
           "register_auto_classes", "format_feature_extractor"]

BASE_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(PreTrainedConfig))
MODELS = ((SarlLogMelConfig, SarlLogMelModel), (SarlSpatialConfig, SarlSpatialModel))


def register_auto_classes() -> None:
    """Register both model types with AutoConfig, AutoModel and AutoFeatureExtractor
    (idempotent)."""
    for config_class, model_class in MODELS:
        model_type = config_class.model_type
        if model_type in CONFIG_MAPPING and CONFIG_MAPPING[model_type] is config_class:
            continue
        AutoConfig.register(model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, model_class, exist_ok=True)
        AutoFeatureExtractor.register(config_class, SarlFeatureExtractor, exist_ok=True)


register_auto_classes()


def format_feature_extractor(channel_format: str,
                             sample_rate: int = 16000) -> SarlFeatureExtractor:
    """The feature extractor of a folder meant for one SARL channel format: its channel
    count and names (``binaural``: left, right), refusing any other count.

    Saved with ``model.save_pretrained(folder, feature_extractor=...)``.
    """
    fmt = make_format(channel_format)
    return SarlFeatureExtractor(sampling_rate=sample_rate, channel_format=fmt.name,
                                channel_names=fmt.channel_names)


def load_reference_model(model_or_path,
                         model_class: type[PreTrainedModel]) -> tuple[PreTrainedModel, str]:
    """A reference model and a description of where it came from.

    Parameters
    ----------
    model_or_path : None, config, model, str or path
        None: the default config; a config or model of ``model_class``; a folder (or Hub
        id) for ``AutoModel.from_pretrained``.
    model_class : type
        ``SarlLogMelModel`` or ``SarlSpatialModel``.
    """
    config_class = model_class.config_class
    if model_or_path is None:
        model, source = model_class(config_class()), "default"
    elif isinstance(model_or_path, config_class):
        model, source = model_class(model_or_path), "config"
    elif isinstance(model_or_path, PreTrainedModel):
        model, source = model_or_path, "model"
    elif isinstance(model_or_path, (str, os.PathLike)):
        model, source = AutoModel.from_pretrained(model_or_path), os.fspath(model_or_path)
    else:
        raise ValueError(f"model_or_path must be None, a {config_class.__name__}, a "
                         f"{model_class.__name__} or a folder, got {type(model_or_path)!r}")
    if not isinstance(model, model_class):
        raise ValueError(f"model_or_path {source!r} holds a {type(model).__name__} "
                         f"({model.config.model_type!r}), not {config_class.model_type!r}")
    return model.requires_grad_(False).eval(), source


class _ReferenceEncoder(Encoder):
    """Batches signals (longest first, zero padding + attention mask) through a model."""

    family = "sarl reference"
    paradigm = "handcrafted"
    training_data = "none"

    def __init__(self, model: PreTrainedModel, source: str, channel_policy: str, device: str,
                 batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.model, self.source_name = model, source
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.model.to(self.device)
        self.sample_rate = int(self.model.config.sample_rate)
        self.feature_extractor = SarlFeatureExtractor(sampling_rate=self.sample_rate)
        super().__init__(channel_policy)

    def _forward_kwargs(self) -> dict:
        return {}

    def parameter_count(self) -> int:
        """0: fixed signal processing, nothing learned (the filterbank is computed)."""
        return 0

    def source(self) -> dict:
        where = {} if self.source_name in ("default", "config", "model") else \
            {"folder": self.source_name}
        return {**package_source("sarl_hf"), **where}

    def settings(self) -> dict:
        """The base settings, the model config's own fields, a digest of the state dict
        and the forward options (not where the model was loaded from: the same config and
        tensors give the same embeddings wherever they live)."""
        config = self.model.config
        own = [f.name for f in dataclasses.fields(config)
               if f.name not in BASE_CONFIG_FIELDS]
        return {**super().settings(), "model_type": config.model_type,
                "config": {name: getattr(config, name) for name in own},
                "weights": state_dict_digest(self.model)[:16], **self._forward_kwargs()}

    def _check_counts(self, signals: list[np.ndarray]) -> None:
        counts = sorted({s.shape[0] for s in signals})
        if len(counts) > 1:
            raise ValueError(f"{self.name}: every signal of a batch must have one channel "
                             f"count (the layers depend on it), got {counts}")

    @torch.inference_mode()
    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        self._check_counts(signals)
        order = sorted(range(len(signals)), key=lambda k: -signals[k].shape[1])
        names = self.model.layer_names(signals[0].shape[0], **self._forward_kwargs())
        chunks = {name: [] for name in names}
        for start in range(0, len(order), self.batch_size):
            chunk = [signals[k] for k in order[start:start + self.batch_size]]
            batch = self.feature_extractor(chunk, sampling_rate=self.sample_rate,
                                           return_tensors="pt")
            out = self.model(batch["input_values"].to(self.device),
                             attention_mask=batch["attention_mask"].to(self.device),
                             **self._forward_kwargs())
            for name, hidden in zip(names, out.hidden_states):
                chunks[name].append(hidden.float().cpu().numpy())
        inverse = np.argsort(order)
        return {name: np.concatenate(parts)[inverse] for name, parts in chunks.items()}


class LogMelEncoder(_ReferenceEncoder):
    """``sarl-logmel`` as an Encoder: log-mel statistics, one channel by default.

    Parameters
    ----------
    model_or_path : None, SarlLogMelConfig, SarlLogMelModel, str or path
        None builds the default config; a folder is loaded with ``AutoModel``.
    channel_policy : str
        ``downmix`` (default), ``per_channel_concat``, ``channel:K``; ``native`` only when
        the config's ``channel_mode`` is ``per_channel``.
    device : str
    batch_size : int
        Signals per forward pass.

    Layers and dims (M = n_mels, 64 by default; C = channels the model sees: 1, or the
    scene's channels with ``per_channel_concat`` / native per-channel): ``logmel_mean``,
    ``logmel_std``, ``delta_std`` C·M; ``logmel_meanstd`` 2·C·M; ``all`` 3·C·M.
    """

    name = "sarl-logmel"

    def __init__(self, model_or_path=None, channel_policy: str = "downmix",
                 device: str = "cpu", batch_size: int = 8):
        model, source = load_reference_model(model_or_path, SarlLogMelModel)
        self.num_channels = None if model.config.channel_mode == "per_channel" else 1
        super().__init__(model, source, channel_policy, device, batch_size)

    @property
    def layers(self) -> tuple[str, ...]:
        return self.model.layer_names()


class SpatialEncoder(_ReferenceEncoder):
    """``sarl-spatial`` as an Encoder: GCC-PHAT, ILD/IPD, coherence, FOA intensity, and
    the same cues of the first wavefront.

    Parameters
    ----------
    model_or_path : None, SarlSpatialConfig, SarlSpatialModel, str or path
        None builds the default config; a folder is loaded with ``AutoModel``.
    layout : None or "foa"
        ``foa``: scenes are first-order ambisonics (W, Y, Z, X), 4 channels; needs
        channel_policy ``native``. Default: the model config's layout.
    channel_policy : str
        ``native`` (default: every channel, pair features for 2 or more),
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (energy features only).
    device : str
    batch_size : int

    ``layers`` lists the layers for 2 or more channels (or FOA); a batch of 1-channel
    signals gives ``energy`` and ``all`` only. See ``SarlSpatialModel`` for dims.
    """

    name = "sarl-spatial"
    num_channels = None
    #: 2: the first-wavefront layers (``direct_*``) and the ``all`` that includes them;
    #: 3: the pairs' first-wavefront correlation at full overlap for every lag.
    code_version = 3

    def __init__(self, model_or_path=None, layout: str | None = None,
                 channel_policy: str = "native", device: str = "cpu", batch_size: int = 8):
        model, source = load_reference_model(model_or_path, SarlSpatialModel)
        self.layout = model.config.layout if layout is None else layout
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        self.channel_layout = "foa" if self.layout == "foa" else "any"
        if self.layout == "foa" and channel_policy != "native":
            raise ValueError(f"layout 'foa' needs channel_policy 'native' (all of W, Y, Z, X), "
                             f"got {channel_policy!r}")
        super().__init__(model, source, channel_policy, device, batch_size)

    def _forward_kwargs(self) -> dict:
        return {"layout": self.layout}

    @property
    def layers(self) -> tuple[str, ...]:
        single = self.channel_policy != "native"
        return self.model.layer_names(1 if single else None, self.layout)

    def _check_counts(self, signals: list[np.ndarray]) -> None:
        super()._check_counts(signals)
        if self.layout == "foa" and signals[0].shape[0] != 4:
            raise ValueError(f"layout 'foa' needs 4 channels (W, Y, Z, X), got "
                             f"{signals[0].shape[0]}")
