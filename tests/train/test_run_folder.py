"""Run-folder policy: one module decides for the CLI and the Trainer."""

import pytest

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train import Trainer
from genlab.train.run_folder import RUN_FILES, RUN_FOLDERS, check_run_folder, claim_run_folder, holds_run
from tests.conftest import tiny_vae


def fake_run(folder):
    for name in RUN_FOLDERS:
        (folder / name).mkdir(parents=True)
    for name in RUN_FILES:
        (folder / name).write_text("{}\n")
    (folder / "config.yaml").write_text("kept\n")
    (folder / "notes.txt").write_text("the user's\n")


def test_policy(tmp_path):
    assert not holds_run(tmp_path)
    check_run_folder(tmp_path, resume=False, overwrite=False)  # empty: fine
    fake_run(tmp_path)
    assert holds_run(tmp_path)
    with pytest.raises(ConfigError, match="already holds a run.*--resume.*--overwrite"):
        check_run_folder(tmp_path, resume=False, overwrite=False)
    check_run_folder(tmp_path, resume=True, overwrite=False)
    check_run_folder(tmp_path, resume=False, overwrite=True)
    with pytest.raises(ConfigError, match="--resume and --overwrite"):
        check_run_folder(tmp_path / "empty", resume=True, overwrite=True)


def test_claim_overwrite_clears_only_run_outputs(tmp_path):
    fake_run(tmp_path)
    claim_run_folder(tmp_path, resume=False, overwrite=True).release()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "config.yaml", "notes.txt"]


def test_refused_claim_deletes_nothing_and_releases_the_lock(tmp_path):
    fake_run(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match="already holds a run"):
        claim_run_folder(tmp_path, resume=False)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name != ".lock") == before
    claim_run_folder(tmp_path, resume=False, overwrite=True).release()  # lock was released


def test_trainer_overwrite_starts_over(tmp_path):
    Trainer(Config.from_dict(tiny_vae(train__steps=2)), tmp_path).fit()
    t = Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path, overwrite=True)
    assert not (tmp_path / "checkpoints").exists() and t.step == 0
    t.fit()
    t.close()
    assert [p.name for p in (tmp_path / "checkpoints").glob("step-*")] == ["step-0000001"]
    with pytest.raises(ConfigError, match="contradict"):
        Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path, resume=True, overwrite=True)
