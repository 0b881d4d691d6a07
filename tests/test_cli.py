import json

import pytest
import yaml

from genlab.cli import main
from tests.conftest import tiny_vae


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_list(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "vae" in out and "digits" in out and "vae-digits" in out


@pytest.mark.parametrize("argv, needle", [
    (["train", "nope", "--out", "X"], "unknown preset 'nope'"),
    (["train", "vae-digits", "--out", "X", "train.steps=abc"], "expected an integer"),
    (["train", "vae-digits", "--out", "X", "train.nokey=1"], "unknown config key train.nokey"),
    (["train", "vae-digits", "--out", "X", "model.name=gann"], "unknown model 'gann'"),
    (["train", "vae-digits", "--out", "X", "data.name=cifar"], "unknown dataset 'cifar'"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys, tmp_path):
    argv = [a.replace("X", str(tmp_path / "run")) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and line.startswith("genlab: error:") and needle in line
    if "unknown" in needle and "key" not in needle:
        assert "choose one of" in line


def test_train_sample_eval(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae()))
    run_dir = tmp_path / "run"
    code, _, _ = run(["train", str(cfg), "--out", str(run_dir), "train.steps=12"], capsys)
    assert code == 0
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "checkpoints/latest"):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "samples").glob("*.png"))
    # a second train into the same folder is refused unless resumed or overwritten
    code, _, err = run(["train", str(cfg), "--out", str(run_dir)], capsys)
    assert code == 2 and "--resume" in err
    code, _, _ = run(["train", "--out", str(run_dir), "--resume", "train.steps=15"], capsys)
    assert code == 0
    code, out, _ = run(["sample", str(run_dir), "-n", "16", "-o", str(tmp_path / "s.png")], capsys)
    assert code == 0 and (tmp_path / "s.png").stat().st_size > 0
    code, out, _ = run(["eval", str(run_dir)], capsys)
    assert code == 0
    result = json.loads((run_dir / "eval.json").read_text())
    ll = result["likelihood"]
    assert ll["importance_samples"] == 20 and ll["n_test"] == 64
    assert ll["log_likelihood_is_nats"] >= ll["elbo_nats"] - 0.05


def test_eval_missing_run(tmp_path, capsys):
    code, _, err = run(["eval", str(tmp_path / "nothing")], capsys)
    assert code == 1 and "no checkpoint" in err
