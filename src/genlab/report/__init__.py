"""`genlab compare`: finished runs side by side, as one self-contained HTML page and a Markdown table.

Reads run folders only (config.yaml, metrics.jsonl, samples/, eval.json): no model is loaded and
torch is not imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genlab.core.errors import ConfigError
from genlab.core.output_path import writable_file
from genlab.report.folder import RunFolder, read_run
from genlab.report.html import render_html
from genlab.report.table import METRICS, Metric, Table, build_table, to_markdown

HTML_SUFFIXES = (".html", ".htm")


@dataclass
class Report:
    """A comparison: the runs read, the metrics table, its Markdown and the HTML page, and where the
    page was written (None when it was not)."""

    runs: list[RunFolder]
    table: Table
    markdown: str
    html: str
    path: Path | None = None


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: a reader never
    sees half a page, and an interrupted write leaves any older page intact."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {err.strerror or err}") from None


def compare_runs(runs: Sequence[str | Path], out: str | Path | None = None) -> Report:
    """Compare run folders: sample grids, loss curves and one table of the metrics they share.

    With `out` (an .html file in an existing folder, checked before anything is read) the page is
    written there, atomically. A path that is not a run folder is a one-line `DataError`.

    Example:
        Two run folders holding only a config and an eval.json (a real run has its training
        records and sample grids too):

        >>> import json, tempfile
        >>> from pathlib import Path
        >>> tmp = Path(tempfile.mkdtemp())
        >>> for name, fd in (("a", 12.5), ("b", 9.25)):
        ...     (tmp / name).mkdir()
        ...     _ = (tmp / name / "config.yaml").write_text("model: {name: vae}\\ndata: {name: digits}\\n")
        ...     _ = (tmp / name / "eval.json").write_text(json.dumps({"samples": {
        ...         "n_fake": 100, "n_real": 100, "fd_digits": fd,
        ...         "feature_net": {"id": "digits-cnn128", "sha256": "a2e55eac" * 8}}}))
        >>> report = compare_runs([tmp / "a", tmp / "b"], out=tmp / "report.html")
        >>> print(report.markdown.splitlines()[3])  # b's FD is the best (lowest): bold
        | ... | vae | digits | 100/100 | digits-cnn128 (a2e55eaca2e5) | **9.25** |
        >>> report.path.name, report.html.count('class="run-row"')
        ('report.html', 2)
    """
    if isinstance(runs, (str, Path)):
        runs = [runs]
    if not runs:
        raise ConfigError("compare needs at least one run folder")
    path = writable_file(out, "-o/--output", HTML_SUFFIXES) if out is not None else None
    from genlab import __version__

    folders = [read_run(r) for r in runs]
    table = build_table(folders)
    page = render_html(folders, table, __version__)
    if path is not None:
        write_atomically(path, page)
    return Report(folders, table, to_markdown(table), page, path)


__all__ = ["METRICS", "Metric", "Report", "RunFolder", "Table", "build_table", "compare_runs", "read_run",
           "to_markdown"]
