"""Name → factory tables that new kinds join by registering (channel formats, source banks,
encoders), as lhotse's audio backends do.

>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(side):
...     return side * side
>>> shapes.names()
('square',)
>>> shapes["square"](3)
9
>>> shapes["circle"]
Traceback (most recent call last):
...
KeyError: "unknown shape 'circle'; choose from ('square',)"
"""

from __future__ import annotations

from collections.abc import Mapping


class Registry(Mapping):
    """An ordered table of named entries (factories, classes, descriptions).

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"channel format"``).

    A registry is a ``Mapping`` of name to entry in the order the entries were registered;
    :meth:`register` is the way in, :meth:`unregister` the way out.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict = {}

    def register(self, name: str, entry=None, *, replace: bool = False):
        """Register ``entry`` under ``name``; without ``entry``, a decorator that does.

        A taken name is a ValueError unless ``replace``.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def add(value):
            if name in self._entries and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered; pass "
                                 "replace=True to replace it")
            self._entries[name] = value
            return value

        return add if entry is None else add(entry)

    def unregister(self, name: str):
        """Remove and return the entry ``name`` (KeyError if there is none)."""
        entry = self[name]
        del self._entries[name]
        return entry

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._entries)

    def __getitem__(self, name: str):
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; choose from {self.names()}")
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
