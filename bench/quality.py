"""Bench: images/s of our Inception feature path beside clean-fid's ``compute_fid`` on the same
two folders, plus the in-domain encoder path.

What is compared (printed too):
- clean-fid 0.1.35 ``compute_fid(fdir1, fdir2, mode="clean", custom_feat_extractor=net)``, where
  ``net`` is clean-fid's own ``InceptionV3W`` wrapper loading a TorchScript file; CPU,
  ``num_workers=0``, batch 32. It includes clean-fid's folder reading, clean resize and FID.
- ours: ``load_png_folder`` + ``isicgan.quality.features.inception_features`` (same clean resize,
  same network call) + ``isicgan.quality.metrics.fid_from_features``, on the same folders.
The real Inception file cannot be downloaded here, so by default the TorchScript file is a small
stand-in with the same interface (``layers`` at 299 px -> 2048 features): the figures then
measure the pipeline (I/O, resize, FID) and not Inception's ~6 GFLOPs per image. Pass
``--weights inception-2015-12-05.pt`` to time the real network.

    .venv/bin/python bench/quality.py [--n 200] [--size 32] [--weights FILE] [--threads 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from isicgan.io import load_png_folder, save_png
from isicgan.quality import features as qf
from isicgan.quality import metrics
from isicgan.quality.encoder import load_encoder, train_encoder


class _Layers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 32, kernel_size=8, stride=8)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(32 * 16, 2048)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(x)))
        return torch.relu(self.fc(h.flatten(1))).view(x.shape[0], 2048, 1, 1)


class _StandIn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = _Layers()

    def forward(self, x, return_features: bool = False):
        return self.layers((x - 128) / 128).view(x.shape[0], 2048)


def _tiles(n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 220, (n, 4, 4, 3))
    big = coarse.repeat(size // 4 + 1, axis=1).repeat(size // 4 + 1, axis=2)[:, :size, :size]
    return np.clip(big + rng.normal(0, 8, big.shape), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="images per folder")
    ap.add_argument("--size", type=int, default=32, help="tile side in px")
    ap.add_argument("--weights", help="clean-fid's inception-2015-12-05.pt (default: a stand-in)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from cleanfid import fid as cfid
    from cleanfid.inception_torchscript import InceptionV3W

    work = Path(tempfile.mkdtemp(prefix="bench_quality_"))
    try:
        if args.weights:
            net_dir = Path(args.weights).resolve().parent
            if Path(args.weights).name != qf.INCEPTION_FILE:
                raise SystemExit(
                    f"--weights must be named {qf.INCEPTION_FILE} (clean-fid's wrapper reads that name)"
                )
            label = f"Inception {args.weights}"
        else:
            net_dir = work
            torch.manual_seed(0)
            torch.jit.script(_StandIn().eval()).save(str(work / qf.INCEPTION_FILE))
            label = "TorchScript stand-in (conv 8x8/8 -> 2048), not Inception"
        dirs = []
        for i in range(2):
            d = work / f"folder{i}"
            d.mkdir()
            for j, img in enumerate(_tiles(args.n, args.size, seed=i)):
                save_png(d / f"ISIC_{j:07d}.png", img)
            dirs.append(d)
        total = 2 * args.n
        print(
            f"two folders of {args.n} PNG tiles at {args.size} px; network: {label}; "
            f"CPU, {args.threads} threads"
        )

        wrapper = InceptionV3W(str(net_dir), download=False).eval()
        t0 = time.perf_counter()
        feats_cf = [
            cfid.get_folder_features(
                str(d),
                wrapper,
                num_workers=0,
                batch_size=32,
                device=torch.device("cpu"),
                mode="clean",
                verbose=False,
            )
            for d in dirs
        ]
        t_cf_feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        fid_cf = cfid.compute_fid(
            str(dirs[0]),
            str(dirs[1]),
            mode="clean",
            custom_feat_extractor=wrapper,
            num_workers=0,
            batch_size=32,
            device=torch.device("cpu"),
            verbose=False,
        )
        t_cf = time.perf_counter() - t0

        net = qf.load_inception(net_dir / qf.INCEPTION_FILE)
        t0 = time.perf_counter()
        ours = [qf.inception_features(load_png_folder(d)[0], net) for d in dirs]
        t_ours_feat = time.perf_counter() - t0
        fid_ours = metrics.fid_from_features(*ours)
        t_ours = time.perf_counter() - t0
        gap = max(float(np.abs(a - b).max()) for a, b in zip(ours, feats_cf))

        train_encoder(load_png_folder(dirs[0])[0], work / "enc.pt", dim=64, epochs=1, seed=0)
        enc = load_encoder(work / "enc.pt")
        t0 = time.perf_counter()
        ind = [qf.indomain_features(load_png_folder(d)[0], enc) for d in dirs]
        t_ind_feat = time.perf_counter() - t0
        metrics.fid_from_features(*ind)
        t_ind = time.perf_counter() - t0

        print(f"{'path':58s} {'seconds':>8s} {'images/s':>9s}")
        for name, sec in [
            ("clean-fid get_folder_features (features only)", t_cf_feat),
            ("clean-fid compute_fid (features + FID)", t_cf),
            ("ours: load_png_folder + inception_features", t_ours_feat),
            ("ours: + fid_from_features", t_ours),
            ("ours: in-domain encoder features", t_ind_feat),
            ("ours: in-domain encoder features + FID (64-d)", t_ind),
        ]:
            print(f"{name:58s} {sec:8.2f} {total / sec:9.1f}")
        print(
            f"FID clean-fid {fid_cf:.6f}  ours {fid_ours:.6f}  (max |feature difference| {gap:.2e})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
