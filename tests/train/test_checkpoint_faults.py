"""Checkpoint folders under faults: hostile `latest` pointers, leftovers of kills, a full disk."""

import errno
import os

import pytest
import torch

from genlab.config import Config
from genlab.core import checkpoint
from genlab.core.checkpoint import (
    clean_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from genlab.core.errors import DataError
from genlab.train import Trainer
from tests.conftest import tiny_vae


def _save(ckpt_dir, step, keep=3):
    return save_checkpoint(ckpt_dir, step, {"w": torch.full((3,), float(step))}, {"step": step}, keep)


def _plant_outside(tmp_path):
    """A complete checkpoint outside the run, which a hostile pointer could name."""
    return _save(tmp_path / "outside", 99).parent / "step-0000099"


@pytest.mark.parametrize("pointer", ["../../outside/checkpoints/step-0000099", "ABS", b"\xff\xfe\x00\x81junk",
                                     "step-" + "0" * 5000, "DIR", "step-0000099"])
def test_latest_only_names_a_step_folder_inside(tmp_path, capsys, pointer):
    ckpt = tmp_path / "run" / "checkpoints"
    _save(ckpt, 1)
    _save(ckpt, 2)
    outside = _plant_outside(tmp_path)
    (ckpt / "latest").unlink()
    if pointer == "DIR":
        (ckpt / "latest").mkdir()
    elif pointer == "ABS":
        (ckpt / "latest").write_text(str(outside) + "\n")
    elif isinstance(pointer, bytes):
        (ckpt / "latest").write_bytes(pointer)
    else:
        (ckpt / "latest").write_text(pointer + "\n")
    found = latest_checkpoint(ckpt)
    assert found == ckpt / "step-0000002"  # the newest complete checkpoint of this run
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err and "Traceback" not in err


def test_latest_pointer_followed_when_valid(tmp_path, capsys):
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1)
    _save(ckpt, 2)
    (ckpt / "latest").write_text("step-0000001\n")  # e.g. a user rolling back on purpose
    assert latest_checkpoint(ckpt) == ckpt / "step-0000001"
    assert capsys.readouterr().err == ""


def test_clean_removes_leftovers_of_kills(tmp_path):
    ckpt = tmp_path / "checkpoints"
    good = _save(ckpt, 1)
    (ckpt / ".tmp-step-0000002-4242").mkdir()  # kill during a save
    (ckpt / ".tmp-step-0000002-4242" / "model.safetensors").write_bytes(b"partial")
    (ckpt / "step-0000003").mkdir()  # kill during the deletion of an old checkpoint
    (ckpt / "step-0000004").mkdir()
    (ckpt / "step-0000004" / "state.pt").write_bytes(b"")
    clean_checkpoints(ckpt)
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", good.name]


def test_old_checkpoints_deleted_by_rename_then_remove(tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1, keep=1)
    # A kill right before the removal: with rename-first, no step-* folder is left behind.
    monkeypatch.setattr(checkpoint.shutil, "rmtree", lambda *a, **k: None)
    _save(ckpt, 2, keep=1)
    assert [p.name for p in ckpt.glob("step-*")] == ["step-0000002"]
    monkeypatch.undo()
    clean_checkpoints(ckpt)
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000002"]


def test_trainer_cleans_leftovers_on_resume(tmp_path):
    Trainer(Config.from_dict(tiny_vae(train__steps=2, train__ckpt_every=1)), tmp_path).fit()
    ckpt = tmp_path / "checkpoints"
    (ckpt / ".tmp-step-0000003-1").mkdir()
    (ckpt / "step-0000000").mkdir()
    t = Trainer(Config.from_dict(tiny_vae(train__steps=3)), tmp_path, resume=True)
    t.close()
    assert t.step == 2
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000001", "step-0000002"]


def test_disk_full_is_one_line_and_keeps_previous(tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1)
    before = load_checkpoint(ckpt / "step-0000001")[0]["w"]

    def full_disk(tensors, path):
        open(path, "wb").write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    # 2**18 float32 weights = 1 MiB, plus 2**17 float64 in the state = 1 MiB: needs 2.0 MiB
    with pytest.raises(DataError) as info:
        save_checkpoint(ckpt, 2, {"w": torch.zeros(2**18)}, {"m": [torch.zeros(2**17, dtype=torch.float64)]})
    msg = str(info.value)
    assert "\n" not in msg and "disk full" in msg and "2.0 MiB" in msg and str(ckpt / "step-0000002") in msg
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000001"]  # no partial temp folder
    assert latest_checkpoint(ckpt) == ckpt / "step-0000001"
    assert torch.equal(load_checkpoint(ckpt / "step-0000001")[0]["w"], before)


def test_other_os_errors_still_clean_the_temp_folder(tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoints"

    def broken(tensors, path):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(checkpoint, "save_file", broken)
    monkeypatch.setattr(checkpoint, "_free_bytes", lambda path: 2**40)
    with pytest.raises(DataError, match="cannot write checkpoint .*I/O error"):
        _save(ckpt, 1)
    assert list(ckpt.iterdir()) == [] and list_checkpoints(ckpt) == []


def test_torch_writer_full_disk_runtime_error_is_one_line(tmp_path, monkeypatch):
    """torch's zip writer reports a full disk as RuntimeError("[enforce fail ...] unexpected pos"): the
    same one-line message, and no temporary folder is left on the full disk."""
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1)

    def full(obj, path):
        open(path, "wb").write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    monkeypatch.setattr(checkpoint, "_free_bytes", lambda path: 10)  # the disk is (nearly) full
    with pytest.raises(DataError, match="disk full") as info:
        _save(ckpt, 2)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000001"]
    monkeypatch.setattr(checkpoint, "_free_bytes", lambda path: 2**40)  # some other writer failure
    with pytest.raises(DataError, match="cannot write checkpoint .*unexpected pos"):
        _save(ckpt, 2)
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000001"]


def test_interrupt_during_save_leaves_no_temp_folder(tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1)

    def interrupted(obj, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _save(ckpt, 2)
    assert sorted(p.name for p in ckpt.iterdir()) == ["latest", "step-0000001"]


@pytest.mark.parametrize("part", ["folder", "weights", "checkpoints"])
def test_symlinked_checkpoints_are_not_followed(tmp_path, capsys, part):
    """A step folder, a checkpoint file or the checkpoints/ folder itself linked to another run's is
    ignored with a warning: the run is never evaluated or resumed with another run's model."""
    other = tmp_path / "other" / "checkpoints"
    _save(other, 7)
    ckpt = tmp_path / "run" / "checkpoints"
    if part == "checkpoints":
        ckpt.parent.mkdir()
        ckpt.symlink_to(other, target_is_directory=True)
        expected = None
    else:
        _save(ckpt, 1)
        expected = ckpt / "step-0000001"
        if part == "folder":
            (ckpt / "step-0000009").symlink_to(other / "step-0000007", target_is_directory=True)
        else:
            (ckpt / "step-0000009").mkdir()
            link = ckpt / "step-0000009" / "model.safetensors"
            link.symlink_to(other / "step-0000007" / "model.safetensors")
            os.link(ckpt / "step-0000001" / "state.pt", ckpt / "step-0000009" / "state.pt")
        (ckpt / "latest").write_text("step-0000009\n")
    assert latest_checkpoint(ckpt) == expected
    assert checkpoint.load_latest(ckpt) is None or checkpoint.load_latest(ckpt)[0] == expected
    err = capsys.readouterr().err
    assert "symbolic link" in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ["weights", "state", "empty-state"])
def test_load_latest_falls_back_from_a_broken_newest_checkpoint(tmp_path, capsys, damage):
    ckpt = tmp_path / "checkpoints"
    _save(ckpt, 1)
    newest = _save(ckpt, 2)
    if damage == "empty-state":
        torch.save({}, newest / "state.pt")  # a valid file that is not a genlab state
    else:
        f = newest / ("model.safetensors" if damage == "weights" else "state.pt")
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    path, weights, state = checkpoint.load_latest(ckpt, required=("step",))
    assert path == ckpt / "step-0000001" and state["step"] == 1 and float(weights["w"][0]) == 1.0
    err = capsys.readouterr().err
    assert "step-0000002" in err and "using the older checkpoint step-0000001" in err
    # every checkpoint broken: one clear error, not a traceback
    (ckpt / "step-0000001" / "state.pt").write_bytes(b"")
    with pytest.raises(DataError, match="can be loaded|cannot load"):
        checkpoint.load_latest(ckpt, required=("step",))
