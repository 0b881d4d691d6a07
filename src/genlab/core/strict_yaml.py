"""YAML reading that refuses what `yaml.safe_load` lets through silently: duplicate keys, non-UTF-8 bytes.

PyYAML keeps the last of two equal keys, so `model:` written twice silently drops a whole section.
The loader stays a SafeLoader: tags that would build Python objects are still refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from genlab.core.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse a key they already hold."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # Only the mapping's own keys are compared: keys merged in with `<<` may be overridden.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            dup = key in seen
        except TypeError:
            dup = False  # unhashable keys: the base constructor reports them
        if dup:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                key_node.start_mark)
        if not isinstance(key, (list, dict)):
            seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_DEPTH = 64  # nesting of mappings/lists: far beyond any config, far below Python's recursion limit


def load_yaml_text(text: str) -> Any:
    """Parse YAML safely, refusing duplicate mapping keys and nesting deeper than MAX_DEPTH
    (yaml.YAMLError otherwise)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except RecursionError:
        raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep") from None
    stack = [(data, 1)]
    while stack:  # iterative, so a deep value cannot overflow the check itself
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep")
                stack.append((child, depth + 1))
    return data


def load_yaml_file(path: Path) -> Any:
    """Parse a UTF-8 YAML file; ConfigError with one line for bad bytes, bad syntax or duplicate keys."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"cannot read {path}: not UTF-8 text (byte {err.start}); save it as UTF-8"
        raise ConfigError(msg) from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return load_yaml_text(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"cannot parse {path}: {' '.join(str(err).split())}") from None
