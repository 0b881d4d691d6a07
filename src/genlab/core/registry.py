"""Name -> class registries, so configs can say `model: vae` or `data: digits`.

A registry may also hold a static table of *lazy* names, `name -> module that registers it`: those
names are listed without importing anything (so `genlab list` loads neither torch nor scikit-learn),
and `get(name)` imports the module the first time the name is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypeVar

from genlab.core.choices import choice

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named entries that fails with the list of valid names.

    `lazy` maps names to the modules that register them on import (a test checks the table against
    what those modules register, so it cannot go stale).
    """

    def __init__(self, kind: str, lazy: Mapping[str, str] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = dict(lazy or {})

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            owner = self._lazy.get(name)
            if owner is not None and getattr(entry, "__module__", owner) != owner:
                raise ValueError(f"{self.kind} {name!r} belongs to {owner}; register another name")
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def unregister(self, name: str) -> T:
        """Remove and return `name`'s entry (for entries that must not outlive a test or a plugin)."""
        try:
            return self._entries.pop(name)
        except KeyError:
            raise ValueError(f"{self.kind} {name!r} is not registered") from None

    @contextmanager
    def temporary(self, name: str, entry: T) -> Iterator[T]:
        """Register `entry` as `name` inside the block only, so test models do not leak globally."""
        self.register(name)(entry)
        try:
            yield entry
        finally:
            self.unregister(name)

    def get(self, name: str) -> T:
        if name not in self._entries and name in self._lazy:
            module = self._lazy[name]
            importlib.import_module(module)
            if name not in self._entries:  # the static table names the wrong module
                raise RuntimeError(f"importing {module} did not register {self.kind} {name!r}")
        return self._entries[choice(name, self.names(), self.kind)]

    def names(self) -> list[str]:
        """Every name, registered or lazy (listing imports nothing)."""
        return sorted(self._entries.keys() | self._lazy.keys())

    def lazy_modules(self) -> dict[str, str]:
        """The static table: name -> the module that registers it when imported."""
        return dict(self._lazy)

    def loaded(self) -> dict[str, T]:
        """The entries registered so far (lazy names appear once their module is imported)."""
        return dict(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
