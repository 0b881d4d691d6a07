"""`genlab compare` from the command line: output, atomic page, one-line errors, no torch import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import genlab
from genlab.cli import main
from tests.report.runs import make_run, samples_section


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_prints_markdown_and_writes_the_page(tmp_path, capsys):
    a = make_run(tmp_path, "a", {"samples": samples_section(10.0, 0.2)})
    b = make_run(tmp_path, "b", {"samples": samples_section(20.0, 0.7)})
    page = tmp_path / "report.html"
    page.write_text("old page")  # replaced whole
    code, out, err = run(["compare", a, b, "-o", page], capsys)
    assert code == 0 and f"wrote {page}" in err
    rows = [line for line in out.splitlines() if line.startswith(f"| {tmp_path}")]
    assert len(rows) == 2 and "**10**" in rows[0] and "**0.7**" in rows[1]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('class="run-row"') == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "report.html"]  # no temporary left
    # self-contained: every src is a data URI, and nothing is linked from outside
    assert 'src="' in html and html.count('src="') == html.count('src="data:')
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<link" not in html and "<script" not in html


def test_compare_without_output_prints_only_markdown(tmp_path, capsys):
    a = make_run(tmp_path, "a")
    code, out, _ = run(["compare", a], capsys)
    assert code == 0 and out.startswith("| run |") and "no eval.json" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("case, needle", [
    ("not-a-run", "is not a genlab run folder (no config.yaml)"),
    ("missing", "does not exist"),
    ("out-folder-missing", "does not exist"),
    ("out-is-folder", "is a folder; give a file name"),
    ("out-suffix", "use one of .html, .htm"),
])
def test_bad_input_is_one_line_exit_2(case, needle, tmp_path, capsys):
    good = make_run(tmp_path, "good")
    (tmp_path / "not-a-run").mkdir()
    argv = {"not-a-run": ["compare", good, tmp_path / "not-a-run"],
            "missing": ["compare", tmp_path / "missing"],
            "out-folder-missing": ["compare", good, "-o", tmp_path / "no" / "r.html"],
            "out-is-folder": ["compare", good, "-o", tmp_path],
            "out-suffix": ["compare", good, "-o", tmp_path / "r.txt"]}[case]
    code, out, err = run(argv, capsys)
    line = err.strip()
    assert code == 2 and out == "" and "\n" not in line and line.startswith("genlab: error:")
    assert needle in line


def test_no_run_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare"])
    assert stop.value.code == 2 and "the following arguments are required: RUN" in capsys.readouterr().err


def test_compare_imports_no_torch(tmp_path):
    a = make_run(tmp_path, "a", {"samples": samples_section(10.0, 0.2)})
    code = (f"import sys\nfrom genlab.cli import main\nassert main(['compare', {str(a)!r}, '-o', "
            f"{str(tmp_path / 'r.html')!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn', 'matplotlib')))")
    env = {**os.environ, "PYTHONPATH": str(Path(genlab.__file__).parent.parent)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_failed_write_is_one_line_and_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    a = make_run(tmp_path, "a")
    page = tmp_path / "report.html"
    page.write_text("old page")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    code, _, err = run(["compare", a, "-o", page], capsys)
    assert code == 2 and err.strip() == f"genlab: error: cannot write {page}: No space left on device"
    assert page.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "report.html"]  # the temporary is removed
