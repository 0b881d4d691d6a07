"""Check a command's output file before any work, so a bad path fails in one line, not after it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from genlab.core.errors import ConfigError


def writable_file(path: str | Path, what: str, suffixes: Sequence[str] | None = None) -> Path:
    """`path` if a file can be written there: not a folder, allowed suffix, existing writable parent.

    The parent folder is not created: a typo in it should fail now rather than scatter new folders.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give a file name")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        got = f"{path.suffix!r}" if path.suffix else "no extension"
        raise ConfigError(f"{what} {path} has {got}; use one of {', '.join(suffixes)}")
    parent = path.parent
    if not parent.exists():
        raise ConfigError(f"{what} {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise ConfigError(f"{what} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{what} {path} is not writable")
    return path
