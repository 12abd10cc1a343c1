"""The data stage: read, check, select, decode, write atomically.

1. :func:`~isicgan.data.metadata.read_metadata` reads and checks the metadata CSV.
2. :func:`~isicgan.data.store.check_store`: every id has an image.
3. :func:`~isicgan.data.splits.select_splits` picks the tiles of every split.
4. :func:`~isicgan.data.store.write_split_folders` decodes only the selected images into
   ``{split}/{0,1}/{isic_id}.png``.
5. :func:`~isicgan.data.figures.plot_institutions` draws a few tiles of every institution.

Outputs are written under temporary names and renamed at the end, manifest last: a failed or
killed run leaves none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from isicgan.data.figures import plot_institutions
from isicgan.data.metadata import ATTRIBUTION, read_metadata
from isicgan.data.spec import IngestSpec
from isicgan.data.splits import count_table, select_splits
from isicgan.data.store import ImageStore, check_store, write_split_folders
from isicgan.io import atomic_path, remove_stale_temporaries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutputs:
    """Where ingest writes: the manifest, the counts table, the tiles' institutions
    (``isic_id, split, target, attribution``, manifest order), one folder per split and the
    figure of tiles per institution."""

    manifest: str | Path
    counts: str | Path
    institutions: str | Path
    split_dirs: Mapping[str, str | Path]
    figure: str | Path


def institution_table(manifest: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """The manifest's tiles with the institution (``attribution``) each comes from."""
    attribution = meta.set_index("isic_id")[ATTRIBUTION]
    return pd.DataFrame(
        {
            "isic_id": manifest["isic_id"],
            "split": manifest["split"],
            "target": manifest["target"],
            ATTRIBUTION: attribution.reindex(manifest["isic_id"]).to_numpy(),
        }
    )


def ingest(
    metadata: str | Path,
    images: str | Path,
    outputs: IngestOutputs,
    spec: IngestSpec,
    threads: int = 1,
) -> pd.DataFrame:
    """The data stage (module docstring). Returns the manifest."""
    missing = [s for s in spec.splits if s not in outputs.split_dirs]
    if missing:
        raise ValueError(f"split_dirs lacks {missing}")
    meta = read_metadata(metadata)
    log.info(
        "%s: %d tiles, %d malignant, %d patients",
        metadata,
        len(meta),
        int(meta["target"].sum()),
        meta["patient_id"].nunique(),
    )
    with ImageStore(images) as store:
        check_store(meta, store, metadata)
        manifest = select_splits(meta, spec, source=str(metadata))
        counts = count_table(
            manifest, meta.loc[meta["target"] == 1, "patient_id"].unique(), spec.splits
        )
        log.info("selected:\n%s", counts.to_string(index=False))
        institutions = institution_table(manifest, meta)
        split_dirs = {s: outputs.split_dirs[s] for s in spec.splits}
        # a run killed mid-write left hidden temporaries beside the outputs: remove them first
        for out in (
            outputs.manifest,
            outputs.counts,
            outputs.institutions,
            outputs.figure,
            *split_dirs.values(),
        ):
            for stale in remove_stale_temporaries(out):
                log.warning("removed %s, left by an interrupted run", stale)
        with ExitStack() as stack:  # renames happen on exit in reverse order: manifest last
            tmp_manifest = stack.enter_context(atomic_path(outputs.manifest))
            tmp_counts = stack.enter_context(atomic_path(outputs.counts))
            tmp_institutions = stack.enter_context(atomic_path(outputs.institutions))
            tmp_figure = stack.enter_context(atomic_path(outputs.figure))
            tmp_dirs = {s: stack.enter_context(atomic_path(d)) for s, d in split_dirs.items()}
            write_split_folders(manifest, store, tmp_dirs, spec.image_size, threads)
            plot_institutions(
                institutions,
                tmp_dirs,
                tmp_figure,
                spec.external.attributions if spec.external else (),
            )
            institutions.to_csv(tmp_institutions, index=False, lineterminator="\n")
            counts.to_csv(tmp_counts, index=False, lineterminator="\n")
            manifest.to_csv(tmp_manifest, index=False, lineterminator="\n")
    return manifest
