"""The terminal progress line: a rate from the first update, redrawn in place within 80 columns."""

from __future__ import annotations

import io

from genlab.train import runlog
from genlab.train.runlog import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_first_update_shows_rate_and_eta_and_stays_in_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the line must still stop at 79
    clock = iter([100.0, 102.0, 104.0])
    monkeypatch.setattr(runlog.time, "perf_counter", lambda: next(clock))
    out = _Tty()
    p = Progress(1000, stream=out, start=0)
    many = {f"loss_component_{i}": 1.23456789 * i for i in range(6)}
    p.update(50, many)  # 50 steps in 2 s
    p.update(100, many)
    p.close()
    text = out.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # redrawn in place, newline only at close
    frames = text[:-1].split("\r")[1:]
    assert len(frames) == 2 and all(len(f) <= 79 for f in frames)
    assert "25 it/s" in frames[0] and "0:00:38" in frames[0]  # (1000 - 50) / 25 s
    assert "0:00:36" in frames[1]


def test_not_a_terminal_writes_one_line_per_update():
    out = io.StringIO()
    p = Progress(10, stream=out, start=0)
    p.update(5, {"loss": 0.5})
    assert out.getvalue().count("\n") == 1 and "loss=0.5" in out.getvalue()
