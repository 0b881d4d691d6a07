"""Experiment tracking (`train.loggers`): config checks, refusals before training, MLflow read back
from a local file store across a crash and a resume, W&B's offline run file, TensorBoard's calls."""

import json
import sys
import time
import types
import typing
from pathlib import Path

import pytest

from genlab.cli import main
from genlab.config import Config, TrainConfig, load_config
from genlab.core.errors import ConfigError
from genlab.runs import standard_hooks
from genlab.train import Trainer
from genlab.train.loggers import LOGGERS, Loggers, flatten_config
from genlab.train.run_folder import claim_run_folder
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae

TOY = ["data.name=8gaussians", "data.n_samples=256", "data.batch_size=32", "train.device=cpu",
       "train.progress=false", "train.log_every=1", "model.latent_dim=2"]


def tracked(steps, loggers, **overrides):
    raw = tiny_vae(train__steps=steps, train__ckpt_every=3, train__loggers=loggers, train__n_samples=16,
                   **overrides)
    return Config.from_dict(raw)


# ------------------------------------------------------------------ config
def test_config_names_match_the_registry():
    hint = typing.get_type_hints(TrainConfig)["loggers"]
    assert set(typing.get_args(typing.get_args(hint)[0])) == set(LOGGERS.names())


def test_jsonl_is_always_on_and_each_name_counts_once():
    assert TrainConfig().loggers == ["jsonl"]
    cfg = load_config("vae-digits", ["train.loggers=[mlflow, wandb, mlflow]"])
    assert cfg.train.loggers == ["jsonl", "mlflow", "wandb"]
    assert load_config("vae-digits", ["train.loggers=mlflow"]).train.loggers == ["jsonl", "mlflow"]
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_an_unknown_logger_is_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"^unknown train.loggers 'mlfow'; choose one of: jsonl, ") as err:
        load_config("vae-digits", ["train.loggers=[mlfow]"])
    assert "\n" not in str(err.value)


def test_the_old_tensorboard_switch_is_read_as_a_logger():
    assert load_config("vae-digits", ["train.tensorboard=true"]).train.loggers == ["jsonl", "tensorboard"]
    assert load_config("vae-digits", ["train.tensorboard=false"]).train.loggers == ["jsonl"]
    with pytest.raises(ConfigError, match="train.tensorboard"):
        load_config("vae-digits", ["train.tensorboard=maybe"])


# ------------------------------------------------------------------ refusals before training
def no_data(*args, **kwargs):
    raise AssertionError("data was loaded although a logger cannot start")


def test_a_missing_extra_is_exit_2_and_one_line_before_data_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    monkeypatch.setattr("genlab.train.trainer.load_dataset", no_data)
    code = main(["train", "vae-digits", *TOY, "train.loggers=[mlflow]", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("genlab: error: train.loggers: mlflow needs")
    assert 'pip install "genlab[track]"' in err
    assert not (tmp_path / "r").exists()


def test_wandb_online_without_a_login_is_refused(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (the `track` extra)")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setattr("genlab.train.trainer.load_dataset", no_data)
    with pytest.raises(ConfigError, match="wandb in online mode needs a W&B login"):
        Trainer(tracked(3, ["wandb"]), tmp_path / "r")


def test_an_unwritable_mlflow_store_is_refused(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow-skinny is not installed (the `track` extra)")
    (tmp_path / "file").write_text("")
    monkeypatch.setattr("genlab.train.trainer.load_dataset", no_data)
    cfg = tracked(3, ["mlflow"], train__mlflow_uri=f"file:{tmp_path / 'file' / 'mlruns'}")
    with pytest.raises(ConfigError, match="cannot be written"):
        Trainer(cfg, tmp_path / "r")


# ------------------------------------------------------------------ the group
class Broken:
    def scalars(self, step, values):
        raise OSError("disk full\nsecond line")

    def close(self, status="FINISHED"):
        pass


def test_a_backend_failing_mid_run_is_dropped_with_one_warning(tmp_path, capsys):
    loggers = Loggers.open(Config.from_dict(tiny_vae()), tmp_path)
    loggers.trackers["broken"] = Broken()
    loggers.log({"step": 1, "loss": 1.0})
    loggers.log({"step": 2, "loss": 0.5})
    err = capsys.readouterr().err
    assert err == "genlab: warning: broken logging failed (disk full); continuing without broken\n"
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2]  # jsonl goes on


def test_overwrite_clears_the_tracking_files(tmp_path):
    for name in ("mlruns", "wandb", "checkpoints"):
        (tmp_path / name).mkdir()
    (tmp_path / "trackers.json").write_text("{}")
    claim_run_folder(tmp_path, resume=False, overwrite=True).release()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


# ------------------------------------------------------------------ MLflow, for real
class CrashAt:
    """A hook that fails at `step`, after that step was logged (the checkpoint is older)."""

    def __init__(self, step):
        self.step = step

    def due(self, step, end):
        return step == self.step

    def __call__(self, trainer):
        raise RuntimeError("crash")


def test_mlflow_store_read_back_across_a_crash_a_resume_and_eval(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow-skinny is not installed (the `track` extra)")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = tmp_path / "run"
    cfg = tracked(6, ["mlflow"])
    # Steps 1..5 are logged, the checkpoint is at 3: the resume replays 4 and 5.
    with pytest.raises(RuntimeError, match="crash"), Trainer(cfg, run_dir, hooks=[CrashAt(5)]) as trainer:
        trainer.fit()
    saved = json.loads((run_dir / "trackers.json").read_text())["mlflow"]
    assert saved["tracking_uri"] == (run_dir / "mlruns").resolve().as_uri()
    client = MlflowClient(saved["tracking_uri"])
    assert client.get_run(saved["run_id"]).info.status == "FAILED"
    before = {m.step: m.value for m in client.get_metric_history(saved["run_id"], "loss")}
    assert sorted(before) == [1, 2, 3, 4, 5]

    with Trainer(cfg, run_dir, resume=True, hooks=standard_hooks(cfg)) as trainer:
        trainer.fit()
    assert json.loads((run_dir / "trackers.json").read_text())["mlflow"] == saved  # the same run
    runs = client.search_runs([client.get_run(saved["run_id"]).info.experiment_id])
    assert [r.info.run_id for r in runs] == [saved["run_id"]]
    run = runs[0]
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(saved["run_id"], "loss")
    assert [m.step for m in history] == [1, 2, 3, 4, 5, 6]  # no duplicate at the cut
    jsonl = {r["step"]: r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r}
    assert {m.step: m.value for m in history} == pytest.approx(jsonl)
    assert {s: before[s] for s in (4, 5)} == pytest.approx({s: jsonl[s] for s in (4, 5)})  # exact resume
    assert set(run.data.metrics) >= {"loss", "steps_per_s", "lr/model"}
    assert run.data.params == flatten_config(cfg)
    assert run.data.params["train.steps"] == "6" and run.data.params["model.name"] == "vae"

    def files(path=None):
        for entry in client.list_artifacts(saved["run_id"], path):
            yield from files(entry.path) if entry.is_dir else [entry.path]

    assert sorted(files()) == ["loss.png", "samples/step-0000006.png"]

    code = main(["eval", str(run_dir), "--device", "cpu", "--n-samples", "200", "--no-probe"])
    assert code == 0
    run = client.get_run(saved["run_id"])
    assert "eval.json" in set(files())
    result = json.loads((run_dir / "eval.json").read_text())
    assert run.data.metrics["eval/mmd2_rbf"] == pytest.approx(result["samples"]["mmd2_rbf"])
    assert [m.step for m in client.get_metric_history(saved["run_id"], "eval/mmd2_rbf")] == [6]
    assert run.info.status == "FINISHED"


# ------------------------------------------------------------------ W&B, offline
def wandb_records(path: Path):
    """The protobuf records of a W&B run file (a LevelDB-style log: 7-byte header, then chunks of
    crc32, little-endian length and type in 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if pos + 7 + length > len(data):  # a chunk still being written
            return
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_holds_the_scalars_and_files(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (the `track` extra)")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    run_dir = tmp_path / "run"
    cfg = tracked(3, ["wandb"], train__wandb_mode="offline")
    with Trainer(cfg, run_dir, hooks=standard_hooks(cfg)) as trainer:
        trainer.fit()
    saved = json.loads((run_dir / "trackers.json").read_text())["wandb"]
    [run_file] = (run_dir / "wandb").glob(f"offline-run-*-{saved['id']}/run-{saved['id']}.wandb")
    # wandb's service process may still be writing the file when finish() returns: wait for its end
    deadline = time.monotonic() + 20
    while "exit" not in [r.WhichOneof("record_type") for r in wandb_records(run_file)]:
        assert time.monotonic() < deadline, "the W&B run file never got its exit record"
        time.sleep(0.1)
    history = []
    for record in wandb_records(run_file):
        if record.WhichOneof("record_type") == "history":
            items = record.history.item  # wandb-core writes nested_key, older writers key
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in items})
    logged = {r["step"]: r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r}
    assert {h["_step"]: h["loss"] for h in history} == pytest.approx(logged)
    assert sorted(logged) == [1, 2, 3]
    files = run_file.parent / "files"
    assert (files / "loss.png").read_bytes() == (run_dir / "loss.png").read_bytes()
    assert (files / "samples" / "step-0000003.png").is_file()


# ------------------------------------------------------------------ TensorBoard (its calls)
class FakeWriter:
    calls: list = []

    def __init__(self, log_dir, purge_step=None):
        self.calls.append(("open", Path(log_dir).name, purge_step))

    def add_scalar(self, tag, value, step):
        self.calls.append(("scalar", tag, step))

    def add_image(self, tag, pixels, step, dataformats):
        self.calls.append(("image", tag, step, pixels.shape[-1], dataformats))

    def close(self):
        self.calls.append(("close",))


def test_tensorboard_gets_scalars_images_and_purges_replayed_steps(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard",
                        types.SimpleNamespace(SummaryWriter=FakeWriter))
    FakeWriter.calls = []
    cfg = tracked(4, ["tensorboard"])
    with Trainer(cfg, tmp_path, hooks=standard_hooks(cfg)) as trainer:
        trainer.fit()
    calls = FakeWriter.calls
    assert calls[0] == ("open", "tensorboard", None) and calls[-1] == ("close",)
    assert [c[2] for c in calls if c[:2] == ("scalar", "loss")] == [1, 2, 3, 4]
    assert ("image", "samples", 4, 3, "HWC") in calls and ("image", "loss", 4, 3, "HWC") in calls
    FakeWriter.calls = []
    cfg = tracked(6, ["tensorboard"])
    with Trainer(cfg, tmp_path, resume=True) as trainer:
        trainer.fit()
    assert FakeWriter.calls[0] == ("open", "tensorboard", 5)  # events after the checkpoint (4) dropped
    assert [c[2] for c in FakeWriter.calls if c[:2] == ("scalar", "loss")] == [5, 6]


def test_tensorboard_event_files_read_back_across_a_crash_and_a_resume(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (the `track` extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tracked(6, ["tensorboard"])
    with pytest.raises(RuntimeError, match="crash"), Trainer(cfg, tmp_path, hooks=[CrashAt(5)]) as trainer:
        trainer.fit()  # steps 1..5 logged, checkpoint at 3
    with Trainer(cfg, tmp_path, resume=True, hooks=standard_hooks(cfg)) as trainer:
        trainer.fit()
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    loss = {e.step: e.value for e in events.Scalars("loss")}
    assert [e.step for e in events.Scalars("loss")] == [1, 2, 3, 4, 5, 6]  # 4, 5 purged, then replayed
    jsonl = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r}
    assert loss == pytest.approx(jsonl, rel=1e-6)
    assert {"samples", "loss"} <= set(events.Tags()["images"])


def test_mlflow_from_the_cli_train_then_resume(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow", reason="mlflow-skinny is not installed (the `track` extra)")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store, out = tmp_path / "store", str(tmp_path / "run")
    args = ["train", "vae-digits", *TOY, "train.steps=2", "train.loggers=[mlflow]",
            f"train.mlflow_uri={store}", "train.mlflow_experiment=toys", "--out", out]
    assert main(args) == 0
    assert main(["train", "--resume", "--out", out, "train.steps=4"]) == 0
    assert capsys.readouterr().err == ""
    client = MlflowClient(store.as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("toys").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2, 3, 4]
    assert run.data.params["train.steps"] == "2" and run.data.tags["changed.train.steps"] == "4"
    assert run.info.run_name == "run" and run.info.status == "FINISHED"


def test_eval_into_a_backend_that_is_gone_warns_and_logs_nothing(tmp_path, monkeypatch, capsys):
    from genlab.train.loggers import log_evaluation

    monkeypatch.setitem(sys.modules, "mlflow", None)
    saved = {"mlflow": {"tracking_uri": "file:/x", "run_id": "r"}}
    (tmp_path / "trackers.json").write_text(json.dumps(saved))
    (tmp_path / "eval.json").write_text("{}")
    log_evaluation(Config.from_dict(tiny_vae()), tmp_path, tmp_path / "eval.json", 3, {"eval/w2": 1.0})
    err = capsys.readouterr().err
    assert err.startswith("genlab: warning: not logging to mlflow: train.loggers: mlflow needs")
    assert err.count("\n") == 1
