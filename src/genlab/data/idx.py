"""MNIST-format (IDX) readers for `mnist` and `fashion-mnist`, with clear errors.

The IDX format (LeCun et al.) is a big-endian header -- two zero bytes, a type code, the number of
dimensions, one uint32 per dimension -- followed by the raw array. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from genlab.core.errors import DataError
from genlab.data.dataset import DATASETS, Dataset

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DEBIAN_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}
HOW_TO_GET = {
    "fashion-mnist": "On Debian/Ubuntu run `make data` (apt-get install dataset-fashion-mnist), or "
    "download the four IDX files from the Fashion-MNIST repository (zalandoresearch/fashion-mnist).",
    "mnist": "Download the four IDX files (train/t10k images and labels) from the MNIST page and "
    "put them in one folder.",
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally .gz) into a numpy array; DataError if it is malformed."""
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read {path}: {err} (corrupt or truncated download?)") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} holds {len(raw) - header} data bytes but its header {dims} needs {expected} "
            "(truncated or corrupt file; download it again)"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _candidates(name: str, data_dir: str | None) -> list[Path]:
    dirs: list[Path] = []
    for base in (data_dir, os.environ.get("GENLAB_DATA")):
        if base:
            dirs += [Path(base), Path(base) / name]
    if name in DEBIAN_DIRS:
        dirs.append(Path(DEBIAN_DIRS[name]))
    return dirs


def find_idx_dir(name: str, data_dir: str | None) -> Path:
    """First folder holding all four IDX files (plain or .gz); DataError naming where it looked.

    A folder given explicitly (`data_dir`) must hold the data itself (or in its `name/` subfolder): the
    fallbacks ($GENLAB_DATA, the Debian package) are searched only when none is given, so a typo in
    --data-dir is an error, not a silent switch to another copy.
    """
    if data_dir:
        given = [Path(data_dir).expanduser(), Path(data_dir).expanduser() / name]
        for d in given:
            if all(_find(d, stem) for stem in FILES.values()):
                return d
        if not given[0].is_dir():
            raise DataError(f"data folder {data_dir} does not exist (it should hold the {name} IDX files)")
        missing = [stem for stem in FILES.values() if not any(_find(d, stem) for d in given)]
        raise DataError(f"data folder {data_dir} does not hold {name}: missing "
                        f"{', '.join(missing) or 'a complete set of the four IDX files'} (plain or .gz, "
                        f"in the folder or its {name}/ subfolder)")
    looked = _candidates(name, data_dir)
    for d in looked:
        if all(_find(d, stem) for stem in FILES.values()):
            return d
    where = ", ".join(str(d) for d in looked) or "(nowhere: no folder given)"
    raise DataError(
        f"{name} not found. genlab looks for the four IDX files ({', '.join(FILES.values())}, "
        f"optionally .gz) in --data-dir / data.data_dir, then $GENLAB_DATA (and its {name}/ "
        f"subfolder){', then ' + DEBIAN_DIRS[name] if name in DEBIAN_DIRS else ''}. Looked in: "
        f"{where}. {HOW_TO_GET[name]}"
    )


def _find(d: Path, stem: str) -> Path | None:
    for p in (d / f"{stem}.gz", d / stem):
        if p.is_file():
            return p
    return None


def load_idx_dataset(name: str, data_dir: str | None = None) -> Dataset:
    d = find_idx_dir(name, data_dir)
    arrays = {key: read_idx(_find(d, stem)) for key, stem in FILES.items()}
    for part in ("train", "test"):
        imgs, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise DataError(
                f"{name} {part} files in {d} disagree: images {imgs.shape}, labels {labels.shape}"
            )

    def images(key: str) -> torch.Tensor:
        return torch.from_numpy(arrays[key].astype(np.uint8)).unsqueeze(1)

    return Dataset(
        name, images("train_images"), images("test_images"), levels=256,
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        info={"source": str(d)},
    )


@DATASETS.register("fashion-mnist")
def load_fashion(data_dir: str | None = None, **_) -> Dataset:
    return load_idx_dataset("fashion-mnist", data_dir)


@DATASETS.register("mnist")
def load_mnist(data_dir: str | None = None, **_) -> Dataset:
    return load_idx_dataset("mnist", data_dir)
