"""Benchmark genlab's VQ-VAE against pythae's (Chadebec et al., `pythae.models.VQVAE`) on digits.

    .venv/bin/python benchmarks/vqvae.py                 # 500 steps each, 1 thread (~2 min)
    .venv/bin/python benchmarks/vqvae.py --steps 3000

Same data (scikit-learn's 8x8 digits through genlab's dequantizing `Pixels`), same batches, same
encoder/decoder (genlab's `VQEncoder` / `VQDecoder`, wrapped for pythae), same K, D, beta and Adam
settings; one plain training loop per model (no trainer overhead on either side). Reports test
reconstruction MSE (per pixel, decoded nearest codes) at equal steps, codes in use, and seconds per
step. Differences to keep in mind: pythae sums the reconstruction error over pixels per example (so
its VQ terms weigh relatively less than genlab's per-element means) and updates its EMA codebook in
every forward pass, genlab once per optimizer step. pythae is optional: without it only genlab runs.
Writes benchmarks/results/vqvae.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from genlab.config import DataConfig
from genlab.core.protocol import StepContext
from genlab.data import load_dataset, pixels_for
from genlab.models.vqvae import VQVAE
from genlab.models.vqvae.nets import VQDecoder, VQEncoder

RESULTS = Path(__file__).parent / "results"


def genlab_run(cfg: VQVAE.Config, spec, batches, test, lr):
    torch.manual_seed(0)
    model = VQVAE(cfg, spec)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    start = time.perf_counter()
    for step, x in enumerate(batches):
        for u in model.train_step({"x": x}, StepContext(step)):
            opt.zero_grad(set_to_none=True)
            u.loss.backward()
            opt.step()
        model.on_step_end(StepContext(step))
    seconds = (time.perf_counter() - start) / len(batches)
    model.eval()
    with torch.no_grad():
        codes = model.codes(test)
        mse = F.mse_loss(model.decode_codes(codes), test).item()
    return {"test_mse": mse, "codes_used": int(codes.unique().numel()), "s_per_step": seconds}


def pythae_run(cfg: VQVAE.Config, spec, batches, test, lr, ema: bool):
    from pythae.models import VQVAE as PythaeVQVAE
    from pythae.models import VQVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    c = spec.shape[0]

    class Enc(BaseEncoder):
        def __init__(self):
            BaseEncoder.__init__(self)
            self.net = VQEncoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)

        def forward(self, x):
            return ModelOutput(embedding=self.net(x))

    class Dec(BaseDecoder):
        def __init__(self):
            BaseDecoder.__init__(self)
            self.net = VQDecoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)

        def forward(self, z):
            # accept the quantised map channels-last (B, H, W, D) or channels-first; the layouts
            # are told apart by where D sits (the preset grid is 4x4, D = 8)
            if z.shape[-1] == cfg.dim and z.shape[1] != cfg.dim:
                z = z.permute(0, 3, 1, 2)
            return ModelOutput(reconstruction=self.net(z))

    torch.manual_seed(0)
    pcfg = VQVAEConfig(input_dim=tuple(spec.shape), latent_dim=cfg.dim, commitment_loss_factor=cfg.beta,
                       quantization_loss_factor=1.0, num_embeddings=cfg.codes, use_ema=ema, decay=cfg.decay)
    model = PythaeVQVAE(pcfg, encoder=Enc(), decoder=Dec())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for x in batches:
        out = model({"data": x})
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    seconds = (time.perf_counter() - start) / len(batches)
    model.eval()
    with torch.no_grad():
        out = model({"data": test})
        mse = F.mse_loss(out.recon_x, test).item()
    return {"test_mse": mse, "codes_used": int(out.quantized_indices.unique().numel()), "s_per_step": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data_cfg = DataConfig(name="digits", batch_size=args.batch, pixels="dequantize")
    data = load_dataset(data_cfg, seed=0)
    pixels = pixels_for(data, data_cfg)
    torch.manual_seed(0)
    train = data.split_tensors("train")["x"]
    batches = [pixels(train[torch.randint(len(train), (args.batch,))]) for _ in range(args.steps)]
    test = pixels(data.test)
    rows = {}
    for codebook in ("ema", "loss"):
        # restart off for the like-for-like rows (pythae has none); on for genlab's default
        for restart in (0.0, 1.0):
            cfg = VQVAE.Config(codes=32, dim=8, hidden=32, downsample=1, res_blocks=2, codebook=codebook,
                               restart_threshold=restart)
            rows[f"genlab {codebook}{' +restart' if restart else ''}"] = genlab_run(cfg, data.spec, batches,
                                                                                   test, args.lr)
        try:
            rows[f"pythae {codebook}"] = pythae_run(cfg, data.spec, batches, test, args.lr, codebook == "ema")
        except ImportError as err:
            rows[f"pythae {codebook}"] = {"skipped": f"pythae not importable ({err})"}
    print(f"{'model':<22}{'test MSE':>10}{'codes used':>12}{'ms/step':>10}   ({args.steps} steps, K=32)")
    for name, r in rows.items():
        if "skipped" in r:
            print(f"{name:<22}  {r['skipped']}")
        else:
            print(f"{name:<22}{r['test_mse']:>10.5f}{r['codes_used']:>12d}{1000 * r['s_per_step']:>10.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = {"steps": args.steps, "batch": args.batch, "lr": args.lr, "data": "digits", "rows": rows}
    (RESULTS / "vqvae.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
