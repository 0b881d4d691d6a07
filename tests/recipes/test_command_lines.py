"""Every recipe's command line refuses bad arguments with one line and exit code 2, in well under a second
of its own work (before any data is generated or training starts)."""

import importlib
import time

import pytest

BAD = [
    ("glove", ["--epochs", "-1"]), ("glove", ["--epochs", "0"]), ("glove", ["--bogus"]),
    ("seq2seq", ["--subjects", "0"]), ("seq2seq", ["--subjects", "1"]), ("seq2seq", ["--steps", "-1"]),
    ("seq2seq", ["--subjects", "1000000000"]),
    ("spo", ["--sentences", "0"]), ("spo", ["--sentences", "-5"]), ("spo", ["--steps", "0"]),
    ("capsules", ["--steps", "0"]), ("capsules", ["--batch-size", "0"]), ("capsules", ["--lr", "-1"]),
    ("capsules", ["--lr", "nan"]),
    ("capsules", ["--data", "fashion-mnist", "--data-dir", "/nonexistent/dir"]),
    ("finetune", ["--per-class", "-1"]), ("finetune", ["--per-class", "0"]), ("finetune", ["--steps", "0"]),
    ("finetune", ["--source", "nope"]), ("finetune", ["--per-class", "100000"]),
    ("stirling", ["--bogus"]), ("stirling", ["--max-terms", "-1"]),
    ("gillespie", ["--bogus"]), ("gillespie", ["--paths", "-1"]),
    ("trie", ["--bogus"]), ("trie", ["--beam", "0"]),
    ("ellipses", ["--bogus"]), ("linear_autoencoder", ["--n", "-1"]),
]


@pytest.mark.parametrize("recipe,argv", BAD, ids=[f"{r}:{' '.join(a)}" for r, a in BAD])
def test_bad_arguments_are_one_line_exit_2(recipe, argv, capsys):
    module = importlib.import_module(f"genlab.recipes.{recipe}")
    main = module.main if hasattr(module, "main") else importlib.import_module(
        f"genlab.recipes.{recipe}.__main__").main
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    elapsed = time.perf_counter() - start
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err, err
    assert elapsed < 5.0  # loading the bundled digits is the slowest check


def test_cuda_device_refused_without_cuda(capsys):
    import torch

    from genlab.recipes.capsules.__main__ import main

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as exit_:
        main(["--device", "cuda"])
    assert exit_.value.code == 2 and "no CUDA device" in capsys.readouterr().err
