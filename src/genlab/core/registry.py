"""Name -> class registries, so configs can say `model: vae` or `data: digits`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from genlab.core.checks import choice

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named entries that fails with the list of valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
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
        return self._entries[choice(name, sorted(self._entries), self.kind)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
