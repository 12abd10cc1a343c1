"""Tiny real inputs for the quality tests: structured tiles and a TorchScript Inception stand-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from isicgan.io import save_png


def tiles(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 n x size x size x 3 lesion-like tiles: a smooth random field, a dark blob, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        coarse = rng.uniform(0, 1, (3, 4, 4))
        field = torch.nn.functional.interpolate(
            torch.tensor(coarse)[None], size=(size, size), mode="bicubic", align_corners=True
        )[0].numpy()
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.1, 0.3)]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r**2))
        base = np.array([200, 150, 130])[:, None, None] * (0.7 + 0.3 * field) * (1 - 0.6 * blob)
        img = base + rng.normal(0, 6, base.shape)
        out[i] = np.clip(img, 0, 255).transpose(1, 2, 0).astype(np.uint8)
    return out


def write_tiles(folder: Path, images: np.ndarray, prefix: str = "ISIC_") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        save_png(folder / f"{prefix}{i:07d}.png", img)
    return folder


class _Layers(torch.nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.conv = torch.nn.Conv2d(3, 16, kernel_size=13, stride=13)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(16 * 16, dim)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(x)))
        return torch.tanh(self.fc(h.flatten(1))).view(x.shape[0], self.dim, 1, 1)


class _StandIn(torch.nn.Module):
    """Same calling convention as clean-fid's inception-2015-12-05.pt: ``layers`` takes
    (x - 128) / 128 at 299 px and gives 2048 features; ``forward(x, return_features)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.layers = _Layers(dim)

    def forward(self, x, return_features: bool = False):
        x = torch.nn.functional.interpolate(
            x, size=(299, 299), mode="bilinear", align_corners=False
        )
        return self.layers((x - 128) / 128).view(x.shape[0], self.dim)


def inception_standin(path: Path, seed: int = 0, dim: int = 2048) -> Path:
    """Script the stand-in network and save it to ``path`` (a TorchScript file). ``dim`` < 2048
    keeps FID's matrix square roots cheap in tests that do not compare with clean-fid."""
    torch.manual_seed(seed)
    torch.jit.script(_StandIn(dim).eval()).save(str(path))
    return path


def write_manifest(data: Path, path: Path, per_patient: int = 2) -> Path:
    """A manifest (isic_id, patient_id, target, split) of the tiles under ``data/{split}/{0,1}``:
    consecutive tiles of a class folder share a patient, ``per_patient`` each."""
    rows = ["isic_id,patient_id,target,split"]
    for split_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        for cls in ("0", "1"):
            files = sorted((split_dir / cls).glob("*.png")) if (split_dir / cls).is_dir() else []
            for i, png in enumerate(files):
                rows.append(
                    f"{png.stem},P_{split_dir.name}_{cls}_{i // per_patient},{cls},{split_dir.name}"
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path
