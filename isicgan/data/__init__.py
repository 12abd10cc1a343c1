"""The data stage: Kaggle ISIC 2024 layout (or the synthetic demo data) -> manifest + class folders.

Modules, one job each:

* this package: the light names below (:func:`splits_of`, :class:`IngestSpec`, ...);
* :mod:`~isicgan.data.spec`: the stage's settings (:class:`IngestSpec`) and :func:`splits_of`;
* :mod:`~isicgan.data.layout`: file names of the Kaggle layout, :func:`locate_raw`;
* :mod:`~isicgan.data.metadata`: reading and checking ``train-metadata.csv``;
* :mod:`~isicgan.data.splits`: which tiles go to which split (patients disjoint, the benign
  population rule, the held-out institution);
* :mod:`~isicgan.data.store`: the image store (HDF5 or JPEG folder), decoding, PNG tiles;
* :mod:`~isicgan.data.stage`: :func:`ingest`, the stage itself (atomic writes);
* :mod:`~isicgan.data.download`: the Kaggle download;
* :mod:`~isicgan.data.figures`: the figure of tiles per institution.

See docs/data.md for the split rules.
"""

from __future__ import annotations

from isicgan.data.errors import DataError
from isicgan.data.layout import METADATA_COLUMNS, locate_raw
from isicgan.data.spec import (
    ALL_SPLITS,
    EXTERNAL,
    SPLITS,
    ExternalTest,
    IngestSpec,
    SplitCounts,
    splits_of,
)

# Only light modules here: the workflow's parse imports this package. The modules that import
# pandas, h5py or PIL are imported by name where used (scripts: ``isicgan.data.stage``), which
# also keeps each rule's code digest (isicgan/provenance.py) to the modules it runs.

__all__ = [
    "ALL_SPLITS",
    "EXTERNAL",
    "SPLITS",
    "METADATA_COLUMNS",
    "DataError",
    "ExternalTest",
    "IngestSpec",
    "SplitCounts",
    "splits_of",
    "locate_raw",
]
