"""The comparison table: every eval.json metric the runs share, the best in each column marked.

Which keys are metrics, which direction is better and their units are declared once, in `METRICS`;
sample counts and the feature network come from the same eval.json sections as the metrics.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from genlab.report.folder import RunFolder


@dataclass(frozen=True)
class Metric:
    """How to read one eval.json metric: which way is better and its unit."""

    better: Literal["lower", "higher"]
    unit: str

    @property
    def arrow(self) -> str:
        return "↓" if self.better == "lower" else "↑"


# Every number `genlab eval` writes, by eval.json key (glob pattern, first match wins; `*` stands for
# the feature network's short name or a likelihood estimator's name) -> its Metric, or None for
# numbers that describe how a metric was measured (sample counts, seeds, spreads, baselines) rather
# than the model. tests/report/test_table.py checks that a real eval.json holds no undeclared number.
METRICS: dict[str, Metric | None] = {
    **dict.fromkeys(("kid_*_std", "kid_subsets", "kid_subset_size", "n_test", "seed", "importance_samples",
                     "n_real", "n_fake", "mmd_bandwidth", "mmd_n_fake", "w2_n", "n_modes",
                     "mode_threshold_std", "probe_n_train", "probe_n_test", "classifier_max_iter",
                     "probe_raw_pixels_accuracy", "probe_random_init_accuracy")),
    "*_bits_per_dim": Metric("lower", "bits/dim"),
    "*_nats": Metric("higher", "nats/example"),  # log-likelihood estimates (ELBO, IS, exact)
    "fd_*": Metric("lower", "squared feature distance"),  # Fréchet distance (FID in Inception space)
    "kid_*": Metric("lower", "MMD², cubic kernel"),
    "precision_*": Metric("higher", "fraction"),
    "recall_*": Metric("higher", "fraction"),
    "density_*": Metric("higher", "ratio"),  # may exceed 1 (Naeem et al., arXiv:2002.09797)
    "coverage_*": Metric("higher", "fraction"),
    "mmd2_rbf": Metric("lower", "MMD², RBF kernel"),
    "w2": Metric("lower", "data units"),
    "modes": Metric("higher", "modes"),
    "high_quality": Metric("higher", "fraction"),
    "reverse_kl": Metric("lower", "nats"),
    "true_log_likelihood": Metric("higher", "nats/example"),
    "probe_accuracy": Metric("higher", "fraction"),
    "nfe": Metric("lower", "network evaluations"),  # sampling cost, not quality
}

# eval.json sections that hold metrics, as paths into the JSON object.
SECTIONS = ("likelihood", "samples", "samples.inception", "probe")
MISSING = "—"


def metric_for(key: str) -> Metric | None:
    """The declared Metric of an eval.json key (None: not a metric).

    >>> metric_for("fd_digits").better, metric_for("kid_digits_std"), metric_for("elbo_nats").unit
    ('lower', None, 'nats/example')
    """
    for pattern, metric in METRICS.items():
        if fnmatch.fnmatchcase(key, pattern):
            return metric
    return None


def section(result: dict[str, Any] | None, path: str) -> dict[str, Any]:
    """The sub-object at a dotted path of an eval.json object ({} where there is none)."""
    node: Any = result or {}
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def as_number(value: Any) -> float | None:
    """A metric value as a float: numbers, and the 'inf'/'nan' strings eval.json writes for them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "-inf", "nan", "infinity", "-infinity"):
        return float(value)
    return None


def format_value(value: float | None) -> str:
    """Four significant digits; integers as integers; a missing value as an em dash."""
    if value is None:
        return MISSING
    if math.isfinite(value) and value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


@dataclass(frozen=True)
class Column:
    """One metric column: where it is in eval.json and how to read it."""

    section: str
    key: str
    metric: Metric

    @property
    def name(self) -> str:
        """The key, prefixed with its section where the key alone is ambiguous (Inception features)."""
        return self.key if self.section != "samples.inception" else f"inception/{self.key}"

    @property
    def header(self) -> str:
        return f"{self.name} {self.metric.arrow} ({self.metric.unit})"


@dataclass
class Table:
    """Rows are runs. `context` columns (steps, sample counts, feature networks) come first; `best[j]`
    holds the rows marked best in metric column j."""

    runs: list[str]
    context: list[tuple[str, list[str]]]
    columns: list[Column]
    values: list[list[float | None]]
    best: list[set[int]]
    notes: list[str] = field(default_factory=list)
    unshared: dict[int, list[tuple[Column, float]]] = field(default_factory=dict)
    run_notes: dict[int, list[str]] = field(default_factory=dict)  # e.g. "no eval.json"

    def cell(self, row: int, col: int) -> str:
        return format_value(self.values[row][col])


def _feature_net(result: dict[str, Any] | None, path: str) -> str | None:
    net = section(result, path).get("feature_net")
    if not isinstance(net, dict):
        return None
    sha = str(net.get("sha256", ""))[:12]
    return f"{net.get('id', '?')} ({sha})" if sha else str(net.get("id", "?"))


def _context(runs: list[RunFolder]) -> list[tuple[str, list[str]]]:
    """Steps, sample counts and feature networks of each run; a column only where some run has it."""
    def counts(result, path, a, b):
        s = section(result, path)
        return f"{s[a]}/{s[b]}" if a in s and b in s else MISSING

    def test_examples(result):
        s = section(result, "likelihood")
        if "n_test" not in s:
            return MISSING
        return f"{s['n_test']}" + (f" (K={s['importance_samples']})" if "importance_samples" in s else "")

    def nets(result):
        found = [_feature_net(result, p) for p in ("samples", "samples.inception")]
        return "; ".join(n for n in found if n) or MISSING

    columns = [
        ("model", [r.model for r in runs]),
        ("data", [r.dataset for r in runs]),
        ("steps", [format_value(r.last_step) if r.last_step is not None else MISSING for r in runs]),
        ("samples (fake/real)", [counts(r.eval, "samples", "n_fake", "n_real") for r in runs]),
        ("feature net (sha256)", [nets(r.eval) for r in runs]),
        ("test examples", [test_examples(r.eval) for r in runs]),
        ("probe (train/test)", [counts(r.eval, "probe", "probe_n_train", "probe_n_test") for r in runs]),
    ]
    return [(title, cells) for title, cells in columns if any(c != MISSING for c in cells)]


def _compare(column: Column, runs: list[RunFolder], rows: list[int]) -> str | None:
    """Why the values in `rows` cannot be ranked (different feature networks), else None."""
    if column.section.startswith("samples"):
        nets = {_feature_net(runs[i].eval, column.section) for i in rows}
        if len(nets) > 1:
            return (f"{column.name}: not ranked, the runs used different feature networks "
                    f"({', '.join(sorted(str(n) for n in nets))})")
    return None


def build_table(runs: list[RunFolder]) -> Table:
    """The comparison table of `runs` (at least one).

    A metric becomes a column when at least two runs have it (or when there is one run); a run's
    metrics no other run has are kept in `unshared`. In each column the best finite value (ties
    included) is marked, when at least two runs have one and they were measured alike.
    """
    found: dict[Column, dict[int, float]] = {}
    notes: list[str] = []
    for i, run in enumerate(runs):
        for path in SECTIONS:
            s = section(run.eval, path)
            if isinstance(s.get("skipped"), str):
                notes.append(f"{run.label}: {path} metrics skipped: {s['skipped']}")
            for key, raw in s.items():
                metric, value = metric_for(key), as_number(raw)
                if metric is not None and value is not None:
                    found.setdefault(Column(path, key, metric), {})[i] = value
    need = 1 if len(runs) == 1 else 2
    columns = [c for c, vals in found.items() if len(vals) >= need]
    unshared: dict[int, list[tuple[Column, float]]] = {}
    for c, vals in found.items():
        if len(vals) < need:
            for i, v in vals.items():
                unshared.setdefault(i, []).append((c, v))
    values = [[found[c].get(i) for c in columns] for i in range(len(runs))]
    best: list[set[int]] = []
    for c in columns:
        finite = {i: v for i, v in found[c].items() if math.isfinite(v)}
        why_not = _compare(c, runs, list(finite))
        if why_not:
            notes.append(why_not)
        if len(finite) < 2 or why_not:
            best.append(set())
            continue
        top = (min if c.metric.better == "lower" else max)(finite.values())
        best.append({i for i, v in finite.items() if v == top})
    for path, a, b in (("samples", "n_fake", "n_real"), ("likelihood", "n_test", "n_test")):
        sizes = {(section(r.eval, path).get(a), section(r.eval, path).get(b)) for r in runs
                 if a in section(r.eval, path)}
        if len(sizes) > 1:
            notes.append(f"{path} metrics were measured on different sample counts; FD, KID and coverage "
                         "depend on them" if path == "samples" else
                         f"{path} metrics were measured on different numbers of test examples")
    return Table([r.label for r in runs], _context(runs), columns, values, best, notes, unshared,
                 {i: list(r.notes) for i, r in enumerate(runs) if r.notes})


def _md(text: str) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def to_markdown(table: Table) -> str:
    """The table as GitHub Markdown; the best value of each column in bold.

    >>> from genlab.report.table import Column, Table, METRICS
    >>> fd = Column("samples", "fd_digits", METRICS["fd_*"])
    >>> print(to_markdown(Table(["a", "b|c"], [], [fd], [[2.0], [1.5]], [{1}])))
    | run | fd_digits ↓ (squared feature distance) |
    |---|---|
    | a | 2 |
    | b\\|c | **1.5** |
    <BLANKLINE>
    **bold**: best in its column (↓ lower is better, ↑ higher is better); — : the run has no such metric.
    """
    headers = ["run", *(title for title, _ in table.context), *(c.header for c in table.columns)]
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for i, run in enumerate(table.runs):
        cells = [run, *(cells[i] for _, cells in table.context)]
        for j in range(len(table.columns)):
            text = table.cell(i, j)
            cells.append(f"**{text}**" if i in table.best[j] else text)
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += ["", "**bold**: best in its column (↓ lower is better, ↑ higher is better); "
                  f"{MISSING} : the run has no such metric."]
    for i, extra in sorted(table.unshared.items()):
        lines.append(f"- only {_md(table.runs[i])}: " + ", ".join(
            f"{c.name} {c.metric.arrow} = {format_value(v)} ({c.metric.unit})" for c, v in extra))
    lines += [f"- {_md(table.runs[i])}: {_md(note)}" for i, notes in sorted(table.run_notes.items())
              for note in notes]
    lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"
