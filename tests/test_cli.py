import json
import os
from pathlib import Path

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


@pytest.mark.parametrize("sub", [["eval"], ["sample"]])
def test_missing_or_empty_run_is_exit_2(sub, tmp_path, capsys):
    code, _, err = run([*sub, str(tmp_path / "nothing")], capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run([*sub, str(tmp_path)], capsys)  # a folder, but not a run
    assert code == 2 and "no checkpoint" in err and err.count("\n") == 1


# ---------------------------------------------------------------------- bad input: one line, exit 2
def one_line_error(err: str) -> str:
    line = err.strip()
    assert "\n" not in line and line.startswith("genlab: error:"), err
    return line


@pytest.mark.parametrize("override, needle", [
    ("train.steps=0", "train.steps"), ("train.steps=-3", "train.steps"),
    ("train.ckpt_every=-1", "train.ckpt_every"), ("train.log_every=0", "train.log_every"),
    ("train.sample_every=-1", "train.sample_every"), ("train.eval_every=-1", "train.eval_every"),
    ("train.keep_checkpoints=0", "train.keep_checkpoints"), ("train.n_samples=0", "train.n_samples"),
    ("train.grad_accum=0", "train.grad_accum"), ("data.batch_size=0", "data.batch_size"),
    ("data.batch_size=-4", "data.batch_size"), ("data.test_fraction=1.5", "data.test_fraction"),
    ("data.test_fraction=-0.5", "data.test_fraction"), ("data.test_fraction=1", "data.test_fraction"),
    ("data.n_samples=0", "data.n_samples"), ("data.image_size=0", "data.image_size"),
    ("data.image_size=-8", "data.image_size"), ("data.logit_alpha=0.5", "data.logit_alpha"),
    ("data.logit_alpha=nan", "data.logit_alpha"), ("eval.n_test=-1", "eval.n_test"),
    ("eval.importance_samples=0", "eval.importance_samples"), ("eval.batch_size=0", "eval.batch_size"),
    ("model.latent_dim=0", "model.latent_dim"), ("model.hidden=-1", "model.hidden"),
    ("model.iwae_k=0", "model.iwae_k"), ("model.min_log_std=.inf", "model.min_log_std"),
])
def test_out_of_range_values(override, needle, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae()))
    code, _, err = run(["train", str(cfg), "--out", str(tmp_path / "run"), override], capsys)
    assert code == 2 and needle in one_line_error(err)
    assert not (tmp_path / "run").exists()  # refused before any folder is made


@pytest.mark.parametrize("preset, override", [
    ("gan-ns-digits", "model.critic.n_critic=0"), ("gan-ns-digits", "model.g_steps=-1"),
    ("gan-ns-digits", "model.critic.clip=0"), ("gan-ns-digits", "model.critic.penalty_weight=nan"),
    ("gan-ns-digits", "model.latent_dim=0"), ("nice-digits", "model.couplings=0"),
    ("realnvp-digits", "model.levels=0"), ("glow-digits", "model.steps=0"),
    ("glow-digits", "model.hidden=0"), ("realnvp-moons", "model.temperature=-1"),
])
def test_model_ranges(preset, override, tmp_path, capsys):
    code, _, err = run(["train", preset, "--out", str(tmp_path / "run"), override], capsys)
    assert code == 2 and override.split("=")[0] in one_line_error(err)


def test_yaml_duplicate_key_and_bad_bytes(tmp_path, capsys):
    dup = tmp_path / "dup.yaml"
    dup.write_text(yaml.safe_dump(tiny_vae()) + "model: {name: gan}\n")
    code, _, err = run(["train", str(dup), "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "duplicate key 'model'" in one_line_error(err)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(yaml.safe_dump(tiny_vae()).encode() + b"# \xe9\n")
    code, _, err = run(["train", str(latin), "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "not UTF-8" in one_line_error(err)


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae()))
    for out, needle in ((cfg, "existing file"), (cfg / "run", "is a file")):
        code, _, err = run(["train", str(cfg), "--out", str(out)], capsys)
        assert code == 2 and needle in one_line_error(err)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root can write anywhere: nothing to test then
        code, _, err = run(["train", str(cfg), "--out", str(locked / "a" / "run")], capsys)
        assert code == 2 and "not writable" in one_line_error(err)
    if Path("/proc/self").is_dir():  # a folder even root cannot create, and os.access cannot predict
        code, _, err = run(["train", str(cfg), "--out", "/proc/genlab-no/run"], capsys)
        assert code == 2 and "cannot create run folder" in one_line_error(err)


def test_version(capsys):
    from genlab import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"genlab {__version__}"


# ---------------------------------------------------------------------- resume refusals
@pytest.fixture
def trained(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae()))
    run_dir = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run_dir)]) == 0
    capsys.readouterr()
    return run_dir


@pytest.mark.parametrize("override, needle", [
    ("train.steps=5", "set train.steps above 20"),
    ("data.batch_size=16", "cannot change data.batch_size"),
    ("train.seed=3", "cannot change train.seed"),
    ("data.n_samples=256", "cannot change data.n_samples"),
    ("data.test_fraction=0.5", "cannot change data.test_fraction"),
    ("model.hidden=8", "does not fit the configured model"),
])
def test_resume_refusals(trained, override, needle, capsys):
    before = (trained / "config.yaml").read_text()
    code, _, err = run(["train", "--out", str(trained), "--resume", "train.steps=40", override], capsys)
    line = one_line_error(err)
    assert code == 2 and needle in line
    if "hidden" in override:  # names a conflicting key and both shapes
        assert "encoder.1.0.weight: (16, 2) in the checkpoint, (8, 2) in the model" in line
    assert (trained / "config.yaml").read_text() == before  # not rewritten


def test_resume_further_still_works(trained, capsys):
    code, out, _ = run(["train", "--out", str(trained), "--resume", "train.steps=25"], capsys)
    assert code == 0 and "25 steps" in out


class Untrusted:
    pass


def test_untrusted_pickle_is_refused(trained, capsys):
    import torch

    # A harmless object of a class not on torch's weights_only allow-list stands in for any payload.
    ckpts = sorted((trained / "checkpoints").glob("step-*"))
    torch.save({"step": Untrusted()}, ckpts[-1] / "state.pt")
    # the newest checkpoint is refused (never unpickled) and named; an older clean one is used
    code, _, err = run(["sample", str(trained), "-o", str(trained / "s.png")], capsys)
    assert code == 0 and "refusing to unpickle" in err and ckpts[-1].name in err, err
    for ckpt in ckpts:
        torch.save({"step": Untrusted()}, ckpt / "state.pt")
    code, _, err = run(["sample", str(trained), "-o", str(trained / "s.png")], capsys)
    line = one_line_error(err)
    assert "refusing to unpickle" in line and "weights_only" not in line


def test_resume_with_overwrite_is_refused(trained, capsys):
    before = sorted(str(p.relative_to(trained)) for p in trained.rglob("*"))
    for order in (["--resume", "--overwrite"], ["--overwrite", "--resume"]):
        code, _, err = run(["train", "--out", str(trained), *order], capsys)
        line = one_line_error(err)
        assert code == 2 and "--resume and --overwrite" in line
    assert sorted(str(p.relative_to(trained)) for p in trained.rglob("*")) == before  # nothing deleted


@pytest.mark.parametrize("damage", ["empty-state", "truncated-weights"])
def test_a_broken_checkpoint_falls_back_or_is_one_line(trained, capsys, damage):
    """`{}` in state.pt or half a weights file: sample and resume use the older complete checkpoint
    (naming the broken one); with no loadable checkpoint left, one line and exit code 2."""
    import torch

    ckpts = sorted((trained / "checkpoints").glob("step-*"))
    assert len(ckpts) == 2

    def damage_(ckpt):
        if damage == "empty-state":
            torch.save({}, ckpt / "state.pt")
        else:
            f = ckpt / "model.safetensors"
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    damage_(ckpts[-1])
    code, _, err = run(["sample", str(trained), "-o", str(trained / "s.png")], capsys)
    assert code == 0 and ckpts[-1].name in err and f"older checkpoint {ckpts[0].name}" in err, err
    code, _, err = run(["train", "--out", str(trained), "--resume", "train.steps=25"], capsys)
    assert code == 0 and ckpts[-1].name in err, err
    for ckpt in sorted((trained / "checkpoints").glob("step-*")):
        damage_(ckpt)
    for argv in (["sample", str(trained), "-o", str(trained / "s.png")],
                 ["train", "--out", str(trained), "--resume", "train.steps=30"]):
        code, _, err = run(argv, capsys)
        assert code == 2 and one_line_error(err), err
