"""`genlab export`: the exported folder samples and evaluates on its own (no run, no data, no upstream
run folder), gives the run's samples bit for bit, carries a model card with the evaluation, and is
a folder the Hugging Face Hub client accepts (checked offline)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

import genlab
from genlab import cli
from genlab.core.errors import ConfigError, DataError
from genlab.export import export_run
from genlab.runs import is_export, load_run
from tests.conftest import tiny_vae


def _images(root, n=48):
    """A tiny image-folder dataset (8x8 grey PNGs in two classes): data that can be deleted."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        base = np.zeros((8, 8), np.uint8)
        base[:, : 4 if i % 2 else 8] = 200
        noise = rng.integers(0, 40, (8, 8))
        Image.fromarray((base + noise).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


def _one_line(capsys, argv, *words):
    """The CLI must exit 2 with one stderr line holding `words`."""
    capsys.readouterr()
    assert cli.main([str(a) for a in argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error:"), lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A 4-step VAE (with EMA weights) on a folder of images, evaluated, then exported."""
    root = tmp_path_factory.mktemp("export")
    data = _images(root / "data")
    raw = tiny_vae(train__steps=4, train__ckpt_every=4, train__sample_every=4, train__n_samples=4)
    raw["data"] = {"name": "image-folder", "data_dir": str(data), "grayscale": True, "batch_size": 8,
                   "pixels": "dequantize"}
    raw["model"].update(hidden=16, latent_dim=2)
    raw["optim"]["default"]["ema"] = 0.5
    raw["eval"] = {"n_test": 8, "importance_samples": 4, "batch_size": 8, "probe_n_train": 8,
                   "probe_n_test": 8}
    (root / "tiny.yaml").write_text(yaml.safe_dump(raw))
    run = root / "run"
    assert cli.main(["train", str(root / "tiny.yaml"), "--out", str(run)]) == 0
    assert cli.main(["eval", str(run), "--n-test", "8"]) == 0
    assert cli.main(["export", str(run), str(root / "out")]) == 0
    return root, run, root / "out", data


def test_layout_weights_and_metadata(image_run):
    _, run, out, _ = image_run
    names = {p.name for p in out.iterdir()}
    assert {"README.md", "config.yaml", "model.safetensors", "data_spec.json", "genlab.json",
            "eval.json", "samples.png", "loss.png"} <= names
    assert is_export(out) and not is_export(run)
    meta = json.loads((out / "genlab.json").read_text())
    assert meta["format"] == "genlab-export" and meta["family"] == "vae" and meta["step"] == 4
    assert meta["ema_weights"] is True and meta["time"]["wall_s"] > 0 and meta["time"]["cpu_s"] > 0
    assert meta["trained_with_genlab"] == genlab.__version__
    spec = json.loads((out / "data_spec.json").read_text())
    assert spec["spec"]["shape"] == [1, 8, 8] and spec["spec"]["levels"] == 256
    assert spec["spec"]["n_classes"] == 2 and spec["pixels"]["mode"] == "dequantize"
    # The weights are the EMA weights `load_run(RUN)` samples with, not the checkpoint's raw ones.
    weights = load_file(out / "model.safetensors")
    sampled = load_run(run, "cpu").model.state_dict()
    raw = load_run(run, "cpu", use_ema=False).model.state_dict()
    assert weights.keys() == sampled.keys()
    assert all(torch.equal(weights[k], sampled[k]) for k in weights)
    assert any(not torch.equal(weights[k], raw[k]) for k in weights)
    with safe_open(out / "model.safetensors", "pt") as f:
        info = f.metadata()
    assert info["family"] == "vae" and info["genlab_version"] == genlab.__version__
    assert info["format_version"] == "1"


def test_model_card_has_the_numbers_and_hub_metadata(image_run):
    _, run, out, _ = image_run
    card = (out / "README.md").read_text()
    evaluation = json.loads((run / "eval.json").read_text())
    like = evaluation["likelihood"]
    assert f"{like['elbo_nats']:.2f} nats" in card and f"{like['elbo_bits_per_dim']:.4f} bits/dim" in card
    assert f"{like['n_test']} test examples" in card and "K = 4 importance samples" in card
    assert f"{100 * evaluation['probe']['probe_accuracy']:.1f} %" in card
    assert "genlab train config.yaml --out RUN --data-dir DATA_DIR" in card
    assert "| steps | 4 of 4 |" in card and "CPU time" in card and "wall time" in card
    assert "not found" not in card and "NOT the exported checkpoint" not in card
    hub = pytest.importorskip("huggingface_hub")
    data = hub.ModelCard.load(out / "README.md").data
    assert data.library_name == "genlab" and "vae" in data.tags
    assert data.pipeline_tag == "unconditional-image-generation"
    results = {r.metric_type: r.metric_value for r in data.eval_results}
    assert results["elbo_nats"] == like["elbo_nats"]


def test_folder_is_what_upload_folder_would_send(image_run):
    """Offline: the files upload_folder would list (its default ignore patterns drop none of ours),
    each a valid commit operation; no network call."""
    hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    out = image_run[2]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    kept = list(filter_repo_objects(files, ignore_patterns=DEFAULT_IGNORE_PATTERNS))
    assert kept == files and not any(f.startswith(".") for f in files)
    for f in files:
        hub.CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(out / f))


def test_clean_directory_without_data_samples_and_evaluates(image_run, tmp_path, monkeypatch, capsys):
    _, run, out, data = image_run
    clean = tmp_path / "clean"
    shutil.copytree(out, clean / "model")
    monkeypatch.chdir(clean)
    # The same samples as the run under the same seed, bit for bit (load_run reseeds: seed after it).
    original, exported = load_run(run, "cpu"), load_run("model", "cpu")
    torch.manual_seed(7)
    expected = original.model.sample(6)
    torch.manual_seed(7)
    assert torch.equal(exported.model.sample(6), expected)
    assert exported.ema_weights and exported.pixels is not None
    # With the data (--data-dir): every metric; the export's own eval.json is left as exported.
    published = (clean / "model" / "eval.json").read_text()
    assert cli.main(["eval", "model", "--data-dir", str(data), "--n-test", "8"]) == 0
    full = json.loads((clean / "model" / "eval-local.json").read_text())
    assert "elbo_nats" in full["likelihood"] and (clean / "model" / "eval.json").read_text() == published
    # The data gone: sampling works, eval reports what needs no data and says in one line what not.
    shutil.rmtree(data)
    try:
        assert cli.main(["sample", "model", "-n", "4", "-o", "x.png"]) == 0
        assert (clean / "x.png").is_file()
        capsys.readouterr()
        assert cli.main(["eval", "model", "--n-samples", "20", "-o", "e.json"]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "image-folder not found" in err[0] and "skipped" in err[0]
        result = json.loads((clean / "e.json").read_text())
        assert result["data"] == "absent" and set(result["skipped"]) == {"likelihood", "samples", "probe"}
        assert result["sampling"]["n_fake"] == 20 and result["sampling"]["finite_fraction"] == 1.0
        assert 0 <= result["sampling"]["min"] <= result["sampling"]["max"] <= 1  # stored-pixel units
        # A --data-dir that holds nothing is an error, not a quiet fallback.
        _one_line(capsys, ["eval", "model", "--data-dir", tmp_path / "nowhere"], "nowhere")
    finally:
        _images(data)  # later tests of this module use the data again


def test_no_ema_of_an_ema_export_is_one_line(image_run, capsys):
    _one_line(capsys, ["sample", image_run[2], "--no-ema", "-o", image_run[0] / "s.png"], "EMA weights")


def test_refusals_are_one_line(image_run, tmp_path, capsys):
    root, run, out, _ = image_run
    _one_line(capsys, ["export", tmp_path / "missing", tmp_path / "o"], "does not exist")
    _one_line(capsys, ["export", tmp_path, tmp_path / "o"], "not a genlab run folder")
    empty = tmp_path / "empty-run"
    (empty / "checkpoints").mkdir(parents=True)
    _one_line(capsys, ["export", empty, tmp_path / "o"], "no finished checkpoint")
    _one_line(capsys, ["export", out, tmp_path / "o"], "is an export already")
    _one_line(capsys, ["export", run, out], "not empty", "--overwrite")
    _one_line(capsys, ["export", run, run], "would contain run")
    _one_line(capsys, ["export", run, run.parent, "--overwrite"], "would contain run")
    _one_line(capsys, ["export", run, run / "export"], "is inside run")
    (tmp_path / "file").write_text("x")
    _one_line(capsys, ["export", run, tmp_path / "file"], "existing file")
    assert not list(tmp_path.glob(".o.tmp-*")) and not (tmp_path / "o").exists()


def test_overwrite_replaces_atomically(image_run, tmp_path):
    run = image_run[1]
    target = tmp_path / "o"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    assert export_run(run, target, overwrite=True) == target
    assert not (target / "stale.txt").exists() and (target / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temporary or old folder left


def test_unfinished_run_needs_partial(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_vae(train__steps=4, train__ckpt_every=2)))
    run = tmp_path / "run"
    assert cli.main(["train", str(config), "--out", str(run)]) == 0
    shutil.rmtree(run / "checkpoints" / "step-0000004")
    (run / "checkpoints" / "latest").write_text("step-0000002\n")
    _one_line(capsys, ["export", run, tmp_path / "o"], "stopped at step 2 of 4", "--partial")
    assert cli.main(["export", str(run), str(tmp_path / "o"), "--partial"]) == 0
    card = (tmp_path / "o" / "README.md").read_text()
    assert "| steps | 2 of 4 (stopped early) |" in card
    assert "not evaluated" in card and "model-index" not in card  # no eval.json; 2-D data: no image task


def test_damaged_exports_are_one_line(image_run, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(image_run[2], bad)
    meta = json.loads((bad / "genlab.json").read_text())
    (bad / "genlab.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ConfigError, match="export format 99 is newer"):
        load_run(bad, "cpu")
    (bad / "genlab.json").write_text(json.dumps(meta))
    (bad / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(DataError, match="incomplete or damaged"):
        load_run(bad, "cpu")
    (bad / "model.safetensors").unlink()
    _one_line(capsys, ["sample", bad, "-o", tmp_path / "s.png"], "incomplete or damaged")


def test_training_time_is_recorded_and_survives_resume(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_vae(train__steps=2, train__ckpt_every=2)))
    run = tmp_path / "run"
    assert cli.main(["train", str(config), "--out", str(run)]) == 0

    def state(step):
        return torch.load(run / "checkpoints" / f"step-{step:07d}" / "state.pt", weights_only=True)["time"]

    first = state(2)
    assert first["wall_s"] > 0 and first["cpu_s"] > 0
    assert cli.main(["train", "--out", str(run), "--resume", "train.steps=4"]) == 0
    assert state(4)["wall_s"] > first["wall_s"] and state(4)["cpu_s"] > first["cpu_s"]


def test_vqvae_prior_export_holds_its_first_stage(tmp_path):
    """The upstream run is exported inside (upstream/first_stage/) and loaded from there: deleting
    the original first-stage run folder changes nothing."""
    fast = ["train.device=cpu", "train.progress=false", "data.batch_size=16", "eval.n_test=16",
            "eval.batch_size=16", "train.sample_every=0", "train.eval_every=0"]
    first, prior, out = tmp_path / "vq", tmp_path / "prior", tmp_path / "export"
    assert cli.main(["train", "vqvae-digits", "--out", str(first), *fast, "model.hidden=8", "model.codes=8",
                     "model.dim=4", "model.res_blocks=1", "train.steps=2"]) == 0
    assert cli.main(["train", "vqvae-prior-digits", "--out", str(prior), *fast, f"model.run={first}",
                     "model.hidden=8", "model.layers=1", "train.steps=2"]) == 0
    assert export_run(prior, out) == out
    assert is_export(out / "upstream" / "first_stage")
    meta = json.loads((out / "genlab.json").read_text())
    assert meta["upstream"]["first_stage"]["config_key"] == "model.run"
    card = (out / "README.md").read_text()
    assert "upstream/first_stage/config.yaml" in card and "model.run=FIRST_STAGE_RUN" in card
    original = load_run(prior, "cpu")
    torch.manual_seed(3)
    expected = original.model.sample(4)
    shutil.rmtree(first)
    with pytest.raises(ConfigError, match="builds on run"):
        load_run(prior, "cpu")  # the run folder itself does need its first stage
    moved = tmp_path / "moved"
    shutil.move(out, moved)  # anywhere: nothing points back at the original paths
    exported = load_run(moved, "cpu")
    torch.manual_seed(3)
    assert torch.equal(exported.model.sample(4), expected)


def test_reflow_export_holds_its_teacher(tmp_path):
    """A reflow (`cfm` with `model.run`) of a reflow: the upstream runs nest (upstream/teacher/upstream/
    teacher/) and all load from inside the moved export."""
    teacher = {"name": "cfm", "path": "otcfm", "source": "normal", "hidden": 16, "depth": 2,
               "solver": "euler", "steps": 3}
    runs = [tmp_path / "teacher", tmp_path / "reflow1", tmp_path / "reflow2"]
    for i, run in enumerate(runs):
        model = {**teacher, **({"path": "icfm", "run": str(runs[i - 1])} if i else {})}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({
            "model": model, "data": {"name": "moons", "batch_size": 16, "n_samples": 256},
            "optim": {"default": {"lr": 1e-3, "ema": 0.9}},
            "train": {"steps": 2, "ckpt_every": 2, "progress": False, "device": "cpu", "sample_every": 0,
                      "eval_every": 0}}))
        assert cli.main(["train", str(tmp_path / "c.yaml"), "--out", str(run)]) == 0
    out = export_run(runs[2], tmp_path / "export")
    assert is_export(out / "upstream" / "teacher" / "upstream" / "teacher")
    original = load_run(runs[2], "cpu")
    torch.manual_seed(0)
    expected = original.model.sample(5)
    for run in runs[:2]:
        shutil.rmtree(run)
    moved = shutil.move(out, tmp_path / "moved")
    exported = load_run(moved, "cpu")
    torch.manual_seed(0)
    assert torch.equal(exported.model.sample(5), expected)


def test_card_flags_an_evaluation_of_an_older_checkpoint(image_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(image_run[1], run)
    evaluation = json.loads((run / "eval.json").read_text())
    evaluation["checkpoint"] = str(run / "checkpoints" / "step-0000002")
    (run / "eval.json").write_text(json.dumps(evaluation))
    card = (export_run(run, tmp_path / "o") / "README.md").read_text()
    assert "checkpoint `step-0000002`: NOT the exported checkpoint" in card
