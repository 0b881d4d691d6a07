"""Optional Inception FID: network structure and loading, on a synthetic state dict (no download)."""

import json

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.core.errors import DataError
from genlab.eval.features.inception import FIDInception, load_inception


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A random state dict with the FID file's layout (plus its 1008-way fc, which genlab ignores)."""
    torch.manual_seed(0)
    state = FIDInception().state_dict()
    for k, v in state.items():
        if k.endswith("running_var"):
            state[k] = torch.rand_like(v) + 0.5
        elif v.is_floating_point():
            state[k] = torch.randn_like(v) * 0.05
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048), torch.zeros(1008)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-synthetic.pth"
    torch.save(state, path)
    return path, state


def test_structure_matches_the_fid_network():
    net = FIDInception()
    # torchvision's Inception-v3 has 27,161,264 parameters; minus AuxLogits (3,326,696) and the
    # 1000-way fc (2,049,000) leaves the 21,785,568 of the FID feature extractor.
    assert sum(p.numel() for p in net.parameters()) == 21_785_568
    keys = net.state_dict().keys()
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in keys and "Conv2d_1a_3x3.conv.weight" in keys


def test_loads_synthetic_weights_and_gives_2048_features(weights):
    path, state = weights
    fnet = load_inception(path)
    torch.testing.assert_close(fnet.net.Mixed_6e.branch7x7dbl_5.conv.weight,
                               state["Mixed_6e.branch7x7dbl_5.conv.weight"])
    feats = fnet.net.features(torch.rand(1, 1, 28, 28))  # resized to 299 x 299 like real FID
    assert feats.shape == (1, 2048) and torch.isfinite(feats).all()
    assert fnet.describe()["id"] == "inception-v3-fid" and len(fnet.sha256) == 64


def test_refuses_other_files(weights, tmp_path):
    _, state = weights
    broken = dict(state)
    del broken["Mixed_5b.branch1x1.conv.weight"]
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(DataError, match="1 missing"):
        load_inception(tmp_path / "broken.pth")
    with pytest.raises(DataError, match="does not download"):
        load_inception(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read"):
        load_inception(tmp_path / "junk.pth")


@pytest.mark.filterwarnings("ignore:Fréchet distance with N=6")
def test_eval_cli_adds_inception_metrics(weights, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(FIDInception, "input_size", 75)  # the smallest valid size, to stay fast
    path, _ = weights
    fake = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "fake.npz", samples=fake)
    code = main(["eval", "--real", "digits", "--fake", str(tmp_path / "fake.npz"), "--n-real", "6",
                 "--inception-weights", str(path)])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and "fd_digits" in res
    inc = res["inception"]
    assert inc["feature_net"]["features"] == 2048 and inc["n_real"] == inc["n_fake"] == 6
    assert inc["fd_inception"] >= 0 and "kid_inception" in inc
