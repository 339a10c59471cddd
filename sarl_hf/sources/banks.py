"""The source-bank registry: a bank from the name a command line gives (``procedural``,
``gm``, ``auto``, ``folder:PATH``) or rebuilt from the ``to_dict()`` a corpus plan stores.

A new kind of bank joins with :func:`register_bank`; the built-in kinds register
themselves in their modules (:mod:`.procedural`, :mod:`.gm`, :mod:`.stored`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..registry import Registry
from .base import SourceBank

__all__ = ["BankKind", "BANKS", "register_bank", "bank_names", "bank_from_name", "as_bank",
           "bank_from_dict"]


@dataclass(frozen=True)
class BankKind:
    """How one kind of bank is built.

    Attributes
    ----------
    build : callable or None
        ``build(argument, seed) -> SourceBank`` for a name ``kind`` or ``kind:ARGUMENT``
        (``argument`` is None without a colon); None when the kind cannot be named.
    rebuild : callable or None
        ``rebuild(d) -> SourceBank`` from the bank's ``to_dict()``; None when it cannot be
        rebuilt from a dict.
    usage : str
        How a name of this kind is written (``folder:PATH``).
    no_rebuild : str
        Why it cannot be rebuilt from a dict, when ``rebuild`` is None.
    """

    build: Callable[[str | None, int], SourceBank] | None
    rebuild: Callable[[Mapping[str, Any]], SourceBank] | None
    usage: str
    no_rebuild: str = ""


#: Every kind of bank, in registration order.
BANKS = Registry("source bank")


def register_bank(kind: str, build=None, rebuild=None, usage: str | None = None,
                  no_rebuild: str = "", replace: bool = False) -> BankKind:
    """Register a kind of bank (see :class:`BankKind`); ``usage`` defaults to ``kind``."""
    entry = BankKind(build, rebuild, usage or kind, no_rebuild)
    return BANKS.register(kind, entry, replace=replace)


def bank_names() -> tuple[str, ...]:
    """The names :func:`bank_from_name` understands, e.g. ``('procedural', 'gm', 'auto',
    'folder:PATH')``."""
    return tuple(entry.usage for entry in BANKS.values() if entry.build is not None)


def bank_from_name(name: str, seed: int = 0) -> SourceBank:
    """The bank a command line names: ``procedural``, ``gm``, ``auto`` or ``folder:PATH``.

    ``seed`` seeds banks that synthesise their clips. ValueError for an unknown name;
    :class:`~sarl_hf.sources.gm.MissingSystemDependency` (a FileNotFoundError saying what
    to install) for ``gm`` without its Debian packages.
    """
    kind, colon, argument = str(name).partition(":")
    entry = BANKS.get(kind)
    takes_argument = entry is not None and ":" in entry.usage
    if entry is None or entry.build is None or bool(colon) != takes_argument:
        raise ValueError(f"sources must be one of {', '.join(bank_names())}, got {name!r}")
    return entry.build(argument if colon else None, seed)


def as_bank(bank: SourceBank | str | None, seed: int = 0) -> SourceBank:
    """A bank from a bank, a name (see :func:`bank_from_name`) or None (procedural)."""
    if bank is None:
        return bank_from_name("procedural", seed)
    if isinstance(bank, str):
        return bank_from_name(bank, seed)
    if not isinstance(bank, SourceBank):
        raise TypeError(f"bank must be a SourceBank, a bank name or None, got "
                        f"{type(bank).__name__}")
    return bank


def bank_from_dict(d: Mapping[str, Any]) -> SourceBank:
    """Rebuild a bank from its :meth:`SourceBank.to_dict` (its ``kind`` names the kind).

    A dataset bank cannot be rebuilt from a dict (it wraps a live dataset object); a
    ValueError says to pass the :class:`~sarl_hf.sources.DatasetBank` itself.
    """
    kind = d.get("kind", d.get("name"))
    entry = BANKS.get(kind)
    if entry is not None and entry.rebuild is None:
        raise ValueError(entry.no_rebuild.format(name=d.get("name")))
    if entry is None:
        known = [k for k, e in BANKS.items() if e.rebuild is not None]
        choices = ", ".join(repr(k) for k in known[:-1]) + f" or {known[-1]!r}"
        raise ValueError(f"bank dict has unknown kind {kind!r}; expected {choices}")
    return entry.rebuild(d)
