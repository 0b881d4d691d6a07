"""What a report shows of one run folder, read from its files only (no torch, no model loading)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.errors import ConfigError, DataError
from genlab.core.strict_yaml import load_yaml_file

# Magic numbers of the picture formats a sample grid may have (`genlab sample` writes .png/.jpg).
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass
class RunFolder:
    """One run as files: its config, training records, latest sample grid and eval.json (if any).

    `notes` are the things a reader should know (no eval.json, unreadable lines or files).
    """

    label: str  # how the run was named on the command line (shown, HTML-escaped, in the report)
    path: Path
    config: dict[str, Any]
    config_text: str
    records: list[dict[str, Any]]
    grid: Path | None
    grid_type: str | None
    eval: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return str((self.config.get("model") or {}).get("name", "?"))

    @property
    def dataset(self) -> str:
        return str((self.config.get("data") or {}).get("name", "?"))

    @property
    def last_step(self) -> int | None:
        steps = [r["step"] for r in self.records if isinstance(r.get("step"), int)]
        return max(steps) if steps else None


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON records of a metrics.jsonl, and how many lines could not be read (a killed run may
    leave half a line)."""
    records, bad = [], 0
    if not path.is_file():
        return records, bad
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, bad


def latest_grid(run: Path) -> Path | None:
    """The newest sample grid: samples/step-N.png (highest N, zero-padded names), else samples.png."""
    grids = sorted(p for p in (run / "samples").glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if grids:
        return grids[-1]
    for name in ("samples.png", "samples.jpg"):
        if (run / name).is_file():
            return run / name
    return None


def image_type(path: Path) -> str | None:
    """The MIME type of a PNG or JPEG file from its first bytes (None for anything else)."""
    with open(path, "rb") as f:
        head = f.read(8)
    return next((mime for magic, mime in IMAGE_TYPES.items() if head.startswith(magic)), None)


def read_run(path: str | Path, label: str | None = None) -> RunFolder:
    """Read the run folder `path` (a DataError, one line, when it is not one)."""
    run = Path(path)
    label = label if label is not None else str(path)
    if not run.is_dir():
        what = "does not exist" if not run.exists() else "is a file, not a run folder"
        raise DataError(f"{label} {what}")
    if not (run / "config.yaml").is_file():
        raise DataError(f"{label} is not a genlab run folder (no config.yaml)")
    config_text = (run / "config.yaml").read_bytes().decode("utf-8", errors="replace")
    try:
        config = load_yaml_file(run / "config.yaml") or {}
    except ConfigError as err:  # already one line
        raise DataError(str(err)) from None
    if not isinstance(config, dict):
        raise DataError(f"{label}/config.yaml does not hold a mapping")
    notes = []
    records, bad = read_records(run / "metrics.jsonl")
    if not records:
        notes.append("no training records (metrics.jsonl missing or empty)")
    if bad:
        notes.append(f"{bad} unreadable line(s) in metrics.jsonl skipped")
    grid = latest_grid(run)
    grid_type = image_type(grid) if grid is not None else None
    if grid is None:
        notes.append("no sample grid (samples/*.png)")
    elif grid_type is None:
        notes.append(f"{grid.name} is not a PNG or JPEG file; not shown")
    result = None
    eval_path = run / "eval.json"
    if not eval_path.is_file():
        notes.append(f"no eval.json: run `genlab eval {label}` for its metrics")
    else:
        try:
            result = json.loads(eval_path.read_text())
        except ValueError as err:
            notes.append(f"eval.json cannot be read ({err}); no metrics shown")
        if result is not None and not isinstance(result, dict):
            notes.append("eval.json does not hold an object; no metrics shown")
            result = None
    return RunFolder(label, run, config, config_text, records, grid, grid_type, result, notes)
