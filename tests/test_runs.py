"""`load_run` and `genlab sample`/`eval` of a run folder without its training data; runs of older versions."""

import re
import shutil

import pytest
import torch

import genlab
import genlab.train.build
from genlab.cli import main
from genlab.config import Config
from genlab.core.checkpoint import latest_checkpoint, release
from genlab.core.errors import ConfigError, DataError
from genlab.runs import load_run
from genlab.train import Trainer
from tests.conftest import tiny_vae


def _no_data(*args, **kwargs):
    raise DataError("dataset files not found")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("toy") / "run"
    Trainer(Config.from_dict(tiny_vae(train__steps=2)), run).fit()
    return run


def test_image_run_loads_without_its_data(tmp_path, monkeypatch):
    cfg = Config.from_dict(tiny_vae(data__name="digits", data__range="symmetric", train__steps=1))
    trainer = Trainer(cfg, tmp_path)
    trainer.fit()
    monkeypatch.setattr(genlab.train.build, "load_dataset", _no_data)
    run = load_run(tmp_path, "cpu")
    assert run.pixels == trainer.pixels  # levels 17, symmetric range: read from the checkpoint
    assert run.model.sample(3).shape == (3, 1, 8, 8)
    with pytest.raises(DataError):
        run.dataset  # noqa: B018  (loaded only on demand)
    assert run.dataset_or_none() is None


def test_sample_toy_run_without_data_has_no_reference_points(toy_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(genlab.train.build, "load_dataset", _no_data)
    out = tmp_path / "s.png"
    assert main(["sample", str(toy_run), "-n", "8", "-o", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0


def test_eval_data_dir_is_where_the_reference_data_is_read(toy_run, tmp_path, monkeypatch, capsys):
    seen = []
    real = genlab.train.build.load_dataset

    def spy(data, seed=0):
        seen.append(data.data_dir)
        return real(data, seed=seed)

    monkeypatch.setattr(genlab.train.build, "load_dataset", spy)
    out = tmp_path / "e.json"
    assert main(["eval", str(toy_run), "--device", "cpu", "--no-samples", "--data-dir", str(tmp_path),
                 "-o", str(out)]) == 0
    assert seen == [str(tmp_path)] and out.is_file()


@pytest.mark.parametrize("ema, no_ema, expected",
                         [(None, False, False), (0.9, False, True), (0.9, True, False)])
def test_eval_json_reports_the_weights_actually_used(tmp_path, ema, no_ema, expected):
    import json

    raw = tiny_vae(train__steps=3)
    raw["optim"]["default"]["ema"] = ema
    trainer = Trainer(Config.from_dict(raw), tmp_path / "run")
    trainer.fit()
    run = load_run(tmp_path / "run", "cpu", use_ema=not no_ema)
    assert run.ema_weights is expected
    if expected:  # the model holds the EMA shadow, not the raw weights
        shadow = trainer.emas["model"].shadow
        assert all(p.equal(s) for p, s in zip(run.model.param_groups()["model"], shadow))
    args = ["eval", str(tmp_path / "run"), "--no-samples", "--n-test", "16", "--importance-samples", "4",
            "-o", str(tmp_path / "eval.json")] + (["--no-ema"] if no_ema else [])
    assert main(args) == 0
    assert json.loads((tmp_path / "eval.json").read_text())["ema_weights"] is expected


def _set_version(run, version):
    """Rewrite the latest checkpoint as if genlab `version` had written it (None: no version)."""
    path = latest_checkpoint(run / "checkpoints") / "state.pt"
    state = torch.load(path, weights_only=True)
    assert state.pop("genlab_version") == genlab.__version__ == "0.2.0"  # what a save records
    if version is not None:
        state["genlab_version"] = version
    torch.save(state, path)


@pytest.mark.parametrize("version", [None, "0.1.0", "0.1.9"])
def test_runs_of_older_versions_are_refused_in_one_line(toy_run, tmp_path, capsys, version):
    run = tmp_path / "old"
    shutil.copytree(toy_run, run)
    _set_version(run, version)
    written = version or "0.1.0"
    message = f"run written by genlab {written} (before 0.2.0's config layout); retrain it"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_run(run, "cpu")
    capsys.readouterr()
    for argv in (["sample", str(run), "-n", "4", "-o", str(tmp_path / "s.png"), "--device", "cpu"],
                 ["eval", str(run), "--device", "cpu", "--no-samples", "-o", str(tmp_path / "e.json")],
                 ["train", "--out", str(run), "--resume", "train.steps=4", "train.device=cpu"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err == f"genlab: error: {run}: {message}\n", argv
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "e.json").exists()


def test_runs_of_this_or_a_later_version_load(toy_run, tmp_path):
    run = tmp_path / "new"
    shutil.copytree(toy_run, run)
    _set_version(run, "0.10.0")  # compared as numbers, not strings
    assert load_run(run, "cpu").model.sample(2).shape == (2, 2)
    assert release("0.2.0.dev1") == (0, 2, 0) and release("1.0") == (1, 0, 0) and release("x") == (0, 0, 0)
