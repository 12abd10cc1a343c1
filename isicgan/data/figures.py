"""The figure of tiles per institution: a few benign and malignant tiles of every attribution."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from isicgan.data.metadata import ATTRIBUTION  # noqa: E402
from isicgan.io import atomic_path  # noqa: E402

#: tiles shown per class and institution
PER_CLASS = 4


def institution_tiles(institutions: pd.DataFrame, per_class: int = PER_CLASS
                      ) -> dict[str, list[tuple[str, str, int]]]:
    """Per attribution (sorted by name): up to ``per_class`` benign then malignant tiles, as
    ``(isic_id, split, target)``, the first ones by isic_id (deterministic)."""
    out = {}
    table = institutions.sort_values("isic_id", kind="stable")
    for name, rows in table.groupby(ATTRIBUTION, sort=True):
        picked = [row for target in (0, 1)
                  for row in rows.loc[rows["target"] == target, ["isic_id", "split", "target"]]
                  .head(per_class).itertuples(index=False, name=None)]
        out[str(name)] = picked
    return out


def plot_institutions(institutions_csv: str | Path, split_root: str | Path, out: str | Path,
                      external: Sequence[str] = ()) -> None:
    """Write the figure: one row per attribution, ``PER_CLASS`` benign then malignant tiles,
    the held-out (external) attributions last and labelled. ``split_root`` holds the class
    folders ``{split}/{0,1}/{isic_id}.png``."""
    institutions = pd.read_csv(institutions_csv, dtype={ATTRIBUTION: str},
                               keep_default_na=False)
    tiles = institution_tiles(institutions)
    names = sorted(tiles, key=lambda name: (name in external, name))
    fig, axes = plt.subplots(len(names), 2 * PER_CLASS, squeeze=False,
                             figsize=(1.1 * 2 * PER_CLASS + 3.2, 1.15 * len(names) + 0.6))
    for r, name in enumerate(names):
        shown = tiles[name]
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            target = 0 if c < PER_CLASS else 1
            of_class = [t for t in shown if t[2] == target]
            k = c % PER_CLASS
            if k < len(of_class):
                isic_id, split, _ = of_class[k]
                path = Path(split_root) / split / str(target) / f"{isic_id}.png"
                ax.imshow(np.asarray(Image.open(path).convert("RGB")), interpolation="nearest")
        label = "\n".join(textwrap.wrap(name or "(no attribution)", 28))
        if name in external:
            label += "\nEXTERNAL (held out)"
        n = institutions[ATTRIBUTION] == name
        label += f"\n{int((institutions.loc[n, 'target'] == 0).sum())} benign, " \
                 f"{int((institutions.loc[n, 'target'] == 1).sum())} malignant"
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7,
                              color="firebrick" if name in external else "black")
    axes[0][0].set_title("benign", loc="left", fontsize=8)
    axes[0][PER_CLASS].set_title("malignant", loc="left", fontsize=8)
    fig.suptitle("Tiles per institution (attribution), as ingested", fontsize=9)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
