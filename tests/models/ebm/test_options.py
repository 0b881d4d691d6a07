"""EBM options that cannot work on the data are refused in one line before training."""

import pytest


@pytest.mark.parametrize("override, needle", [
    (["data.name=8gaussians", "model.store_uint8=true"], "model.store_uint8=true"),
    (["model.buffer_size=1000000000"], "model.buffer_size=1000000000 needs"),
])
def test_buffer_options_that_cannot_work_are_one_line_errors(override, needle, tmp_path, capsys):
    from genlab.cli import main

    code = main(["train", "ebm-8gaussians", "--out", str(tmp_path / "r"), *override])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
