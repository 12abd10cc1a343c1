"""Tiny real files in the layout the classify stage reads (manifest, class folders, batches)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from isicgan.io import save_png

COUNTS = {"train": (12, 6), "val": (6, 3), "test": (6, 6)}  # (benign, malignant)


def tile(rng: np.random.Generator, malignant: bool, size: int) -> np.ndarray:
    """A noisy tile; malignant ones are darker and redder, so classifiers can learn something."""
    base = np.array([90, 50, 40] if malignant else [170, 140, 120], dtype=float)
    img = base + rng.normal(0, 25, size=(size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_study_data(
    root: Path,
    gans=("cyclegan", "dcgan"),
    batches: int = 2,
    batch_size: int = 4,
    size: int = 32,
    seed: int = 0,
    counts: dict[str, tuple[int, int]] = COUNTS,
    replicates: int = 1,
) -> dict:
    """Write results/data/{manifest.csv,split/target/*.png} and
    results/synthetic/{gan}/rep{r}/batch{k}/."""
    rng = np.random.default_rng(seed)
    data = root / "results" / "data"
    rows, n = [], 0
    for split, (n_ben, n_mal) in counts.items():
        for target, count in ((0, n_ben), (1, n_mal)):
            folder = data / split / str(target)
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                isic_id = f"ISIC_{n:07d}"
                save_png(folder / f"{isic_id}.png", tile(rng, bool(target), size))
                held_out = split in ("test", "external")  # patients of their own
                patient = f"IP_{100 + n if held_out else n % 9:07d}"
                rows.append((isic_id, patient, target, split))
                n += 1
    pd.DataFrame(rows, columns=["isic_id", "patient_id", "target", "split"]).to_csv(
        data / "manifest.csv", index=False
    )
    batch_files = []
    for gan in gans:
        for r in range(1, replicates + 1):
            for k in range(1, batches + 1):
                folder = root / "results" / "synthetic" / gan / f"rep{r}" / f"batch{k}"
                folder.mkdir(parents=True, exist_ok=True)
                # written in reverse, so creation order differs from sorted order (the
                # order test also reverses the listing itself, whatever the file system)
                for i in reversed(range(batch_size)):
                    save_png(folder / f"{gan}_r{r}_b{k}_{i:04d}.png", tile(rng, True, size))
                (folder.parent / f"batch{k}.json").write_text("{}")
                batch_files.append(str(folder.parent / f"batch{k}.json"))
    return {
        "manifest": str(data / "manifest.csv"),
        "synthetic_files": batch_files,
        "gans": list(gans),
        "batches": batches,
        "batch_size": batch_size,
        "replicates": replicates,
    }
