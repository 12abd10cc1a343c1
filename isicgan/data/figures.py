"""The figure of tiles per institution: a few benign and malignant tiles of every attribution.

Drawn with PIL inside the ingest job (no plotting library, no job of its own): one row per
attribution, :data:`PER_CLASS` benign then :data:`PER_CLASS` malignant tiles, the held-out
(external) attributions last, in red and marked.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from isicgan.data.metadata import ATTRIBUTION
from isicgan.io import atomic_path

#: tiles shown per class and institution, their side in the figure, the label column's width
PER_CLASS = 4
CELL = 72
LABEL_WIDTH = 300
GAP = 6
INK, RED, PAPER = (20, 20, 20), (178, 34, 34), (255, 255, 255)


def institution_tiles(
    institutions: pd.DataFrame, per_class: int = PER_CLASS
) -> dict[str, list[tuple[str, str, int]]]:
    """Per attribution (sorted by name): up to ``per_class`` benign then malignant tiles, as
    ``(isic_id, split, target)``, the first ones by isic_id (deterministic)."""
    out = {}
    table = institutions.sort_values("isic_id", kind="stable")
    for name, rows in table.groupby(ATTRIBUTION, sort=True):
        columns = ["isic_id", "split", "target"]
        out[str(name)] = [
            row
            for target in (0, 1)
            for row in rows.loc[rows["target"] == target, columns]
            .head(per_class)
            .itertuples(index=False, name=None)
        ]
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's scalable font (FreeType)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _label(name: str, institutions: pd.DataFrame, external: Sequence[str]) -> str:
    rows = institutions[ATTRIBUTION] == name
    lines = textwrap.wrap(name or "(no attribution)", 34)
    if name in external:
        lines.append("EXTERNAL (held out)")
    lines.append(
        f"{int((institutions.loc[rows, 'target'] == 0).sum())} benign, "
        f"{int((institutions.loc[rows, 'target'] == 1).sum())} malignant"
    )
    return "\n".join(lines)


def plot_institutions(
    institutions: pd.DataFrame,
    split_dirs: Mapping[str, str | Path],
    out: str | Path,
    external: Sequence[str] = (),
) -> None:
    """Write the figure to ``out`` (PNG). ``institutions`` has ``isic_id, split, target,
    attribution`` (ingest's institutions table); the tiles are read from
    ``split_dirs[split]/{target}/{isic_id}.png``."""
    tiles = institution_tiles(institutions)
    names = sorted(tiles, key=lambda name: (name in external, name))
    font, title_font = _font(12), _font(14)
    top = 50
    width = LABEL_WIDTH + 2 * PER_CLASS * (CELL + GAP) + GAP
    height = top + len(names) * (CELL + GAP) + GAP
    figure = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(figure)
    draw.text(
        (GAP, 6), "Tiles per institution (attribution), as ingested", fill=INK, font=title_font
    )
    draw.text((LABEL_WIDTH, top - 18), "benign", fill=INK, font=font)
    draw.text((LABEL_WIDTH + PER_CLASS * (CELL + GAP), top - 18), "malignant", fill=INK, font=font)
    for row, name in enumerate(names):
        y = top + row * (CELL + GAP)
        colour = RED if name in external else INK
        draw.multiline_text(
            (GAP, y + 4), _label(name, institutions, external), fill=colour, font=font, spacing=3
        )
        for target in (0, 1):
            shown = [t for t in tiles[name] if t[2] == target]
            for k, (isic_id, split, _) in enumerate(shown):
                x = LABEL_WIDTH + (target * PER_CLASS + k) * (CELL + GAP)
                with Image.open(Path(split_dirs[split]) / str(target) / f"{isic_id}.png") as im:
                    tile = im.convert("RGB")
                resample = Image.NEAREST if tile.width <= CELL else Image.LANCZOS
                figure.paste(tile.resize((CELL, CELL), resample), (x, y))
        if name in external:
            draw.rectangle(
                (LABEL_WIDTH - 3, y - 3, width - GAP + 2, y + CELL + 2), outline=RED, width=2
            )
    with atomic_path(out) as tmp:
        figure.save(tmp, format="PNG", optimize=False, compress_level=6)
