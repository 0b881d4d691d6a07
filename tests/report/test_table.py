"""The comparison table: directions, best marking, missing values, escaping; and the declared metric
table against what `genlab eval` really writes."""

from __future__ import annotations

import fnmatch
import math

import pytest
import torch

from genlab import MODELS, build_model, load_config, load_dataset
from genlab.core.errors import ConfigError, DataError
from genlab.data import pixels_for
from genlab.eval.evaluate import evaluate
from genlab.report import compare_runs
from genlab.report.folder import read_run
from genlab.report.table import METRICS, MISSING, build_table, metric_for, to_markdown
from tests.report.runs import NET, make_run, samples_section


def folder(tmp_path, name, result=None):
    """A hand-written run folder, read back under the label `name`."""
    return read_run(make_run(tmp_path, name, result), name)


def column(table, name):
    return next(j for j, c in enumerate(table.columns) if c.name == name)


def test_best_follows_each_metrics_direction(tmp_path):
    # a: lower FD (better), b: higher precision (better)
    runs = [folder(tmp_path, "a", {"samples": samples_section(10.0, 0.2)}),
            folder(tmp_path, "b", {"samples": samples_section(20.0, 0.7)})]
    table = build_table(runs)
    assert table.best[column(table, "fd_digits")] == {0}
    assert table.best[column(table, "precision_digits")] == {1}
    assert table.best[column(table, "kid_digits")] == {0}
    names = {c.name for c in table.columns}
    assert "kid_digits_std" not in names and "n_fake" not in names and "kid_subsets" not in names
    md = to_markdown(table)
    assert "| **10** |" in md and "| **0.7** |" in md and "| 20 |" in md and "| 0.2 |" in md
    assert "fd_digits ↓ (squared feature distance)" in md and "precision_digits ↑ (fraction)" in md
    assert "digits-cnn128 (a2e55eaca2e5)" in md and "200/200" in md  # feature net and sample counts


def test_ties_are_all_marked_and_non_finite_never_best(tmp_path):
    results = [{"likelihood": {"n_test": 50, "elbo_nats": v}} for v in (-3.0, -3.0, "inf", "nan")]
    runs = [folder(tmp_path, f"r{i}", r) for i, r in enumerate(results)]
    table = build_table(runs)
    j = column(table, "elbo_nats")
    assert table.best[j] == {0, 1}  # "inf" is a failed estimate (json_safe writes it as a string)
    assert [table.cell(i, j) for i in range(4)] == ["-3", "-3", "inf", "nan"]


def test_missing_values_and_metrics_only_one_run_has(tmp_path):
    runs = [folder(tmp_path, "a", {"samples": samples_section(10.0, 0.2),
                                              "probe": {"probe_accuracy": 0.9}}),
            folder(tmp_path, "b", {"samples": samples_section(5.0, 0.3)}),
            folder(tmp_path, "c")]  # no eval.json: grid and curves only, and a note
    table = build_table(runs)
    assert "probe_accuracy" not in {c.name for c in table.columns}  # not shared: not a column
    assert [(c.name, v) for c, v in table.unshared[0]] == [("probe_accuracy", 0.9)]
    j = column(table, "fd_digits")
    assert table.cell(2, j) == MISSING and table.best[j] == {1}
    assert any("no eval.json" in n for n in table.run_notes[2])
    md = to_markdown(table)
    assert f"| {MISSING} |" in md and "only a: probe_accuracy ↑ = 0.9 (fraction)" in md
    assert "c: no eval.json: run `genlab eval" in md


def test_one_run_with_one_value_is_not_marked(tmp_path):
    table = build_table([folder(tmp_path, "a", {"samples": samples_section(10.0, 0.2)})])
    assert table.columns and not any(table.best)


def test_different_feature_nets_are_not_ranked(tmp_path):
    other = {**NET, "sha256": "b" * 64}
    runs = [folder(tmp_path, "a", {"samples": samples_section(10.0, 0.2)}),
            folder(tmp_path, "b", {"samples": samples_section(20.0, 0.7, n=100, net=other)})]
    table = build_table(runs)
    assert not table.best[column(table, "fd_digits")]
    assert any("different feature networks" in n for n in table.notes)
    assert any("different sample counts" in n for n in table.notes)


def test_markdown_and_html_escape_what_run_folders_hold(tmp_path):
    name = "<script>alert(1)</script>|x"
    run = make_run(tmp_path, name, {"samples": samples_section(10.0, 0.2)})
    (run / "config.yaml").write_text("model: {name: '<img src=x onerror=alert(2)>'}\ndata: {name: digits}\n")
    other = make_run(tmp_path, "plain", {"samples": samples_section(12.0, 0.1)})
    report = compare_runs([str(run), str(other)])
    assert "<script>" not in report.html and "<img src=x" not in report.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|x" in report.html
    assert "&lt;img src=x onerror=alert(2)&gt;" in report.html
    assert "alert(1)</script>\\|x |" in report.markdown  # a pipe cannot break the Markdown row


@pytest.mark.filterwarnings("ignore:Fréchet distance with N=")  # small N on purpose (speed)
def test_every_number_genlab_eval_writes_is_declared():
    """A new metric key must be declared in METRICS (as a Metric or as a measurement detail)."""
    cfg = load_config("vae-digits", ["data.n_samples=300", "eval.n_test=40", "eval.importance_samples=4",
                                     "eval.probe_n_train=60", "eval.probe_n_test=60"])
    data = load_dataset(cfg.data)
    torch.manual_seed(0)
    vae = build_model("vae", MODELS.get("vae").Config(latent_dim=4, hidden=32), data.spec)
    result = evaluate(vae, data, pixels_for(data, cfg.data), cfg.eval, "cpu", n_samples=50, n_real=50)
    toy_cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=300", "eval.n_test=40",
                                         "eval.importance_samples=4"])
    toy = load_dataset(toy_cfg.data)
    toy_vae = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=16), toy.spec)
    toy_result = evaluate(toy_vae, toy, None, toy_cfg.eval, "cpu", n_samples=100)
    numbers = set()
    for res in (result, toy_result):
        for path in ("likelihood", "samples", "probe"):
            for key, value in res.get(path, {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    numbers.add(key)
    undeclared = [k for k in sorted(numbers) if not any(fnmatch.fnmatchcase(k, p) for p in METRICS)]
    assert not undeclared, f"declare these eval.json numbers in genlab.report.table.METRICS: {undeclared}"
    assert {"fd_digits", "elbo_nats", "w2", "mmd2_rbf", "modes", "probe_accuracy"} <= numbers
    assert metric_for("w2").better == "lower" and metric_for("modes").better == "higher"
    assert metric_for("probe_accuracy").better == "higher" and metric_for("n_fake") is None
    assert not math.isnan(result["samples"]["fd_digits"])


def test_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="at least one run"):
        compare_runs([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is not a genlab run folder"):
        compare_runs([tmp_path / "empty"])
    with pytest.raises(DataError, match="does not exist"):
        compare_runs([tmp_path / "nope"])
    run = make_run(tmp_path, "a")
    with pytest.raises(ConfigError, match="folder .* does not exist"):
        compare_runs([run], out=tmp_path / "missing" / "r.html")
    with pytest.raises(ConfigError, match="use one of .html, .htm"):
        compare_runs([run], out=tmp_path / "r.png")
