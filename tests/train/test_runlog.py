"""metrics.jsonl under faults: a torn last line, and steps replayed after a resume."""

import json

from genlab.config import Config
from genlab.runs import standard_hooks
from genlab.train import Trainer
from genlab.train.runlog import cut_metrics, read_metrics
from tests.conftest import tiny_vae


def test_read_metrics_skips_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n{"step": 3, "lo')
    assert read_metrics(path) == [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]


def test_cut_metrics_drops_steps_past_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 8)] + [{"step": 5, "fd": 3.0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 8, "lo')
    assert cut_metrics(path, 5) == 3  # steps 6, 7 and the torn line; step 5's eval stays
    assert read_metrics(path) == [r for r in rows if r["step"] <= 5]
    assert path.read_text().endswith("\n") and [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]


def test_resume_logs_every_step_once_after_a_torn_write(tmp_path):
    cfg = Config.from_dict(tiny_vae(train__steps=10))
    Trainer(cfg, tmp_path).fit()
    log = tmp_path / "metrics.jsonl"
    # A kill at step 13, in the middle of writing its record (the checkpoint is at step 10).
    with open(log, "a") as f:
        f.write('{"step": 11, "loss": 1.0}\n{"step": 12, "loss": 1.0}\n{"step": 13, "lo')
    cfg = Config.from_dict(tiny_vae(train__steps=14))
    Trainer(cfg, tmp_path, resume=True, hooks=standard_hooks(cfg)).fit()  # LossPlot reads the log
    steps = [r["step"] for r in read_metrics(log) if "loss" in r]
    assert steps == list(range(1, 15))
    assert all(json.loads(line) for line in log.read_text().splitlines())  # nothing torn is left
    assert (tmp_path / "loss.png").stat().st_size > 0
