"""Command-line argument types with ranges, and a parser whose errors are one line (exit code 2).

Every genlab command line (the `genlab` CLI and each recipe's `python -m ...`) parses through these, so
a bad value is refused before anything is loaded or allocated:

>>> parser = ArgumentParser(prog="demo")
>>> _ = parser.add_argument("--steps", type=integer(1), default=10)
>>> parser.parse_args(["--steps", "5"]).steps
5
>>> integer(1)("0")
Traceback (most recent call last):
  ...
argparse.ArgumentTypeError: must be an integer >= 1, got '0'
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, `prog: error: ...`, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def integer(low: int | None = None, high: int | None = None):
    """An argparse type: an integer in [low, high] (either bound may be open-ended)."""
    bounds = {(False, False): "", (True, False): f" >= {low}", (False, True): f" <= {high}",
              (True, True): f" in [{low}, {high}]"}
    message = "must be an integer" + bounds[low is not None, high is not None] + ", got {!r}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(message.format(text)) from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(message.format(text))
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False):
    """An argparse type: a finite float in [low, high] ((low, high] with `low_open`)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text!r}") from None
        above = value > low if low_open else value >= low
        if not (math.isfinite(value) and above and value <= high):
            raise argparse.ArgumentTypeError(f"must be a finite number in {interval}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def device(text: str) -> str:
    """An argparse type: cpu, cuda or cuda:N, where that device exists on this machine."""
    import torch

    name = text.strip()
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{name!r}: no CUDA device is available here; use cpu")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise argparse.ArgumentTypeError(f"{name!r}: this machine has {count} CUDA devices")
        return name
    raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")


def fail(prog: str, message: str) -> NoReturn:
    """A usage error found after parsing (e.g. against the data): one line, exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


__all__ = ["ArgumentParser", "device", "fail", "integer", "number"]
