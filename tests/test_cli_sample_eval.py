"""Argument checks of `genlab sample` and `genlab eval`: one line, exit code 2, before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from genlab import cli
from tests.conftest import tiny_vae


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_vae(train__steps=4, train__ckpt_every=4)))
    assert cli.main(["train", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def _fails(capsys, argv: list[str], *words: str) -> str:
    """Run the CLI; it must exit 2 with exactly one stderr line containing `words`."""
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error:"), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


@pytest.mark.parametrize("n", ["0", "-5"])
def test_sample_n_must_be_positive(capsys, run_dir, tmp_path, n):
    _fails(capsys, ["sample", str(run_dir), "-n", n, "-o", str(tmp_path / "s.png")], "-n", n)
    assert not (tmp_path / "s.png").exists()


def test_sample_huge_n_is_capped_with_a_message(capsys, run_dir, tmp_path):
    out = tmp_path / "s.png"
    assert cli.main(["sample", str(run_dir), "-n", "100000000", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert str(cli.MAX_SAMPLE_GRID) in captured.err and "100000000" in captured.err
    assert f"wrote {cli.MAX_SAMPLE_GRID} samples" in captured.out and out.is_file()


@pytest.mark.parametrize("output,word", [("noext", "extension"), (".", "folder"),
                                         ("missing/s.png", "does not exist"),
                                         ("s.txt", ".png")])
def test_sample_bad_output_checked_before_loading_the_run(capsys, tmp_path, output, word):
    # The run folder does not exist either: the error must be about -o, so -o was checked first.
    target = tmp_path / output if output != "." else tmp_path
    line = _fails(capsys, ["sample", str(tmp_path / "no-run"), "-o", str(target)], "-o", word)
    assert "no-run" not in line


def test_sample_unwritable_output_folder(capsys, tmp_path, monkeypatch):
    # Tests may run as root, which can write anywhere: pretend the folder is read-only.
    monkeypatch.setattr("genlab.core.output_path.os.access", lambda *a, **k: False)
    _fails(capsys, ["sample", str(tmp_path / "no-run"), "-o", str(tmp_path / "s.png")], "not writable")


@pytest.mark.parametrize("flag,value", [("--n-real", "-5"), ("--n-real", "0"), ("--n-samples", "0"),
                                        ("--n-samples", "-3"), ("--importance-samples", "0"),
                                        ("--importance-samples", "-1"), ("--n-test", "-1")])
def test_eval_counts_must_be_positive(capsys, tmp_path, flag, value):
    _fails(capsys, ["eval", str(tmp_path / "no-run"), flag, value], flag, value)


def test_eval_output_into_missing_folder_is_checked_first(capsys, tmp_path):
    out = tmp_path / "missing" / "eval.json"
    _fails(capsys, ["eval", str(tmp_path / "no-run"), "-o", str(out)], "does not exist")
    _fails(capsys, ["eval", "--real", "8gaussians", "--fake", str(tmp_path / "f.npz"), "-o", str(out)],
           "does not exist")


def test_eval_n_test_zero_means_all(capsys, run_dir, tmp_path):
    out = tmp_path / "eval.json"
    argv = ["eval", str(run_dir), "--no-samples", "--n-test", "0", "--importance-samples", "2",
            "-o", str(out)]
    assert cli.main(argv) == 0
    from genlab.runs import load_run

    n_test = len(load_run(run_dir, "cpu", False).dataset.test)
    assert json.loads(out.read_text())["likelihood"]["n_test"] == n_test


def test_eval_metric_warnings_go_to_the_json_not_stderr(capsys, tmp_path):
    fake = tmp_path / "fake.npz"
    np.savez(fake, samples=np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32))
    out = tmp_path / "eval.json"
    assert cli.main(["eval", "--real", "digits", "--fake", str(fake), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Warning" not in err and ".py:" not in err, err
    notes = json.loads(out.read_text())["warnings"]
    assert any("n_fake=20 differs from n_real" in n for n in notes)
    assert any("Fréchet distance with N=20" in n for n in notes)


def test_unreported_warning_is_added_to_the_json_as_one_plain_line(capsys):
    import warnings

    result = {"samples": {"warnings": ["already there"]}}
    with cli._metric_warnings() as caught:
        warnings.warn("already there", stacklevel=1)
        warnings.warn("new condition", RuntimeWarning, stacklevel=1)
    cli._report_warnings(result, caught)
    assert result["warnings"] == ["new condition"]
    assert capsys.readouterr().err == "genlab: warning: new condition\n"


def test_eval_run_honours_n_real(tmp_path):
    # A tiny image run (digits: 360 test images); --n-real picks the first 50 as the reference.
    config = tmp_path / "digits.yaml"
    config.write_text(yaml.safe_dump(tiny_vae(data__name="digits", train__steps=2, train__ckpt_every=2)))
    assert cli.main(["train", str(config), "--out", str(tmp_path / "run")]) == 0
    out = tmp_path / "eval.json"
    argv = ["eval", str(tmp_path / "run"), "--n-real", "50", "--n-samples", "50", "--n-test", "10",
            "--importance-samples", "2", "-o", str(out)]
    assert cli.main(argv) == 0
    samples = json.loads(out.read_text())["samples"]
    assert (samples["n_real"], samples["n_fake"]) == (50, 50)
    # the Python API refuses counts below one instead of falling back to the defaults
    from genlab.eval.evaluate import evaluate
    from genlab.runs import load_run

    run = load_run(tmp_path / "run", "cpu")
    for bad in ({"n_real": 0}, {"n_real": -5}, {"n_samples": 0}, {"n_real": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            evaluate(run.model, run.dataset, run.pixels, run.cfg.eval, "cpu", probe=False, **bad)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04truncated"])
def test_eval_empty_or_broken_npz_is_one_line(capsys, tmp_path, content):
    fake = tmp_path / "empty.npz"
    fake.write_bytes(content)
    _fails(capsys, ["eval", "--real", "8gaussians", "--fake", str(fake)], str(fake))


@pytest.mark.parametrize("argv, needle", [
    (["features", "train", "--data", "digits", "--epochs", "-1"], "--epochs"),
    (["features", "train", "--data", "digits", "--epochs", "0"], "--epochs"),
    (["features", "train", "--data", "digits", "--batch-size", "0"], "--batch-size"),
    (["features", "train", "--data", "digits", "--threads", "0"], "--threads"),
    (["features", "train", "--data", "digits", "--lr", "-1"], "--lr"),
    (["eval", "somewhere", "--probe-n", "-1"], "--probe-n"),
    (["sample", "somewhere", "--seed", "100000000000000000000000"], "--seed"),
    (["sample", "somewhere", "--seed", "-1"], "--seed"),
])
def test_bad_numbers_are_one_line_usage_errors(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_features_out_an_existing_file_is_refused_before_training(capsys, tmp_path):
    out = tmp_path / "file"
    out.write_text("x")
    _fails(capsys, ["features", "train", "--data", "digits", "--out", str(out)], "existing file")


def test_probe_size_follows_the_other_sizes_and_can_be_skipped(tmp_path):
    raw = tiny_vae(train__steps=2, train__ckpt_every=2)
    raw["data"] = {"name": "digits", "batch_size": 32}
    config = tmp_path / "digits.yaml"
    config.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    assert cli.main(["train", str(config), "--out", str(run)]) == 0
    base = ["eval", str(run), "--n-real", "60", "--n-samples", "60", "--n-test", "20",
            "--importance-samples", "2", "-o", str(tmp_path / "e.json")]

    def probe(*extra):
        assert cli.main([*base, *extra]) == 0
        return json.loads((tmp_path / "e.json").read_text()).get("probe")

    assert (probe()["probe_n_train"], probe()["probe_n_test"]) == (60, 60)  # the largest size asked
    assert (probe("--probe-n", "40")["probe_n_train"], probe("--probe-n", "40")["probe_n_test"]) == (40, 40)
    assert probe("--no-probe") is None
