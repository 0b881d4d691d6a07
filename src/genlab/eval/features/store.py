"""Where feature networks live, and loading them offline with a SHA-256 check.

Two folders hold `<key>.safetensors` weights plus a `manifest.json` (SHA-256, test accuracy, recipe,
architecture, parameter count): the weights shipped inside the package (`genlab/eval/features/weights`)
and the user's own, trained by `genlab features train` into `$GENLAB_CACHE/features` (default
`~/.cache/genlab/features`). Shipped weights win, so reference numbers stay reference numbers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from genlab.core.errors import DataError
from genlab.core.file_hash import sha256_file
from genlab.nets.feature_cnn import FeatureCNN, NetSpec

SHIPPED_DIR = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
SHORT_NAMES = {"fashion-mnist": "fashion"}


def cache_dir() -> Path:
    """genlab's cache folder: $GENLAB_CACHE, else ~/.cache/genlab."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab")


def user_dir() -> Path:
    return cache_dir() / "features"


def net_key(dataset_name: str, source: str | None = None) -> str:
    """Weights key of a dataset; image folders are keyed by their folder name too."""
    if dataset_name == "image-folder" and source:
        return f"folder-{Path(source).resolve().name}"
    return dataset_name


def short_name(key: str) -> str:
    """The suffix of metric names in this feature space, e.g. `fd_fashion`."""
    return SHORT_NAMES.get(key, key).replace("-", "_")


@dataclass
class FeatureNet:
    """A loaded feature network and its manifest entry."""

    key: str
    net: FeatureCNN | nn.Module  # anything with check_input(x), features(x) and num_features
    sha256: str
    entry: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return short_name(self.key)

    def describe(self) -> dict[str, Any]:
        """What an evaluation records about the feature space."""
        return {"id": self.entry.get("id", self.key), "sha256": self.sha256,
                "test_accuracy": self.entry.get("test_accuracy"), "features": int(self.net.num_features),
                "shipped": self.path.parent == SHIPPED_DIR}


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}") from None


def save_feature_net(net: FeatureCNN, key: str, record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write `<key>.safetensors` and add its entry (with the SHA-256) to the folder's manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"spec": json.dumps(net.spec.to_dict())})
    entry = {"id": f"{SHORT_NAMES.get(key, key)}-cnn{net.spec.features}", "file": path.name,
             "sha256": sha256_file(path), "bytes": path.stat().st_size, **record}
    manifest = read_manifest(folder)
    manifest[key] = entry
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def load_from(folder: Path, key: str, device: str | torch.device = "cpu") -> FeatureNet:
    """Load one network, refusing weights whose SHA-256 differs from the manifest's."""
    entry = read_manifest(folder).get(key)
    if entry is None:
        raise DataError(f"no feature network {key!r} in {folder / MANIFEST}")
    path = folder / entry["file"]
    if not path.is_file():
        raise DataError(f"feature network weights {path} are missing (listed in {folder / MANIFEST})")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise DataError(f"feature network weights {path} have SHA-256 {digest[:16]}..., the manifest "
                        f"says {entry['sha256'][:16]}...: the file is corrupt or was replaced; "
                        f"reinstall genlab or run `genlab features train --data {key}`")
    net = FeatureCNN(NetSpec(**entry["arch"]))
    try:
        net.load_state_dict(load_file(str(path)))
    except (RuntimeError, KeyError) as err:
        raise DataError(f"feature network weights {path} do not fit their architecture: {err}") from None
    net.eval().requires_grad_(False)
    return FeatureNet(key, net.to(device), digest, entry, path)


def find_feature_net(key: str, device: str | torch.device = "cpu") -> FeatureNet | None:
    """The shipped network for `key`, else the user's trained one, else None."""
    for folder in (SHIPPED_DIR, user_dir()):
        if key in read_manifest(folder):
            return load_from(folder, key, device)
    return None


def require_feature_net(key: str, device: str | torch.device = "cpu") -> FeatureNet:
    net = find_feature_net(key, device)
    if net is None:
        raise DataError(f"no feature network for {key!r} (shipped: "
                        f"{', '.join(sorted(read_manifest(SHIPPED_DIR))) or 'none'}); train one with "
                        f"`genlab features train --data {key}`")
    return net
