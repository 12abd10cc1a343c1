"""The image store: JPEG bytes from ``train-image.hdf5`` or a JPEG folder, decoded to PNG tiles."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from isicgan.data.errors import DataError
from isicgan.data.layout import HDF5_NAME
from isicgan.io import check_id, save_png


class ImageStore:
    """JPEG bytes by ``isic_id`` from ``train-image.hdf5`` or a folder of ``<isic_id>.jpg``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._h5 = None
        if self.path.is_file():
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as exc:
                raise DataError(
                    f"image store '{self.path}' is not a readable HDF5 file ({exc})"
                ) from exc
        elif not self.path.is_dir():
            raise DataError(
                f"image store '{self.path}' is missing (expected {HDF5_NAME} or a "
                f"folder of <isic_id>.jpg)"
            )

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def ids(self) -> set[str]:
        if self._h5 is not None:
            return {n.decode() for n in self._link_names()}
        return {e.name[:-4] for e in os.scandir(self.path) if e.name.endswith(".jpg")}

    def _link_names(self) -> list[bytes]:
        names: list[bytes] = []
        self._h5.id.links.iterate(names.append)  # faster than keys() on 401k links
        return names

    def has(self, isic_ids: Sequence[str]) -> np.ndarray:
        """Whether each of ``isic_ids`` (checked ids: ASCII) has an image, as a bool array."""
        if self._h5 is None:
            return np.isin(np.asarray(isic_ids, dtype=object), list(self.ids()))
        names = np.array(self._link_names())  # fixed-width bytes, in name order
        if len(names) == 0:
            return np.zeros(len(isic_ids), bool)
        if not (names[1:] > names[:-1]).all():
            names = np.sort(names)
        wanted = np.array(isic_ids, dtype=names.dtype if len(isic_ids) == 0 else "S")
        at = np.minimum(np.searchsorted(names, wanted), len(names) - 1)
        return names[at] == wanted

    def read(self, isic_id: str) -> bytes:
        check_id(isic_id)
        if self._h5 is not None:
            try:
                dataset = h5py.h5d.open(self._h5.id, isic_id.encode())
            except KeyError:
                raise DataError(f"{self.path}: no image for isic_id {isic_id!r}") from None
            kind = dataset.get_type()
            if (
                kind.get_class() == h5py.h5t.STRING
                and not kind.is_variable_str()
                and dataset.get_space().get_simple_extent_type() == h5py.h5s.SCALAR
            ):
                # Kaggle's layout, read through the low-level API: 5x less time holding the GIL
                buffer = np.empty((), dtype=f"S{kind.get_size()}")
                dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, buffer, mtype=kind)
                return bytes(buffer[()])
            value = self._h5[isic_id][()]
            if isinstance(value, np.ndarray):  # a uint8 array instead of a bytes scalar
                return value.tobytes()
            return bytes(value)
        file = self.path / f"{isic_id}.jpg"
        if not file.is_file():
            raise DataError(f"{self.path}: no image file {file.name} for isic_id {isic_id!r}")
        return file.read_bytes()


def check_store(meta: pd.DataFrame, store: ImageStore, metadata_path: str | Path) -> None:
    """Every metadata id has an image in the store (one error naming the first that has not)."""
    absent = ~store.has(meta["isic_id"].tolist())
    if absent.any():
        i = int(np.flatnonzero(absent)[0])
        raise DataError(
            f"{metadata_path} line {meta['line'].iat[i]}: isic_id "
            f"{meta['isic_id'].iat[i]!r} has no image in '{store.path}' "
            f"({int(absent.sum())} of {len(meta)} ids lack one)"
        )


def decode_tile(data: bytes, size: int, where: str = "") -> np.ndarray:
    """JPEG (or any PIL-readable) bytes -> size x size x 3 uint8.

    RGB conversion first (grayscale, palette, CMYK, RGBA: alpha dropped), then a centre crop
    to the largest square when the tile is not square, then PIL LANCZOS resampling.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{where}cannot decode the image ({type(exc).__name__}: {exc})") from exc
    width, height = rgb.size
    if width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def write_split_folders(
    manifest: pd.DataFrame,
    store: ImageStore,
    split_dirs: Mapping[str, Path],
    image_size: int,
    threads: int = 1,
) -> None:
    """Decode the manifest's images into ``split_dirs[split]/{0,1}/{isic_id}.png``.

    Pillow and zlib release the GIL, so ``threads`` > 1 helps; each file depends only on its
    own bytes, so the output does not depend on the thread count.
    """
    for folder in split_dirs.values():
        for cls in ("0", "1"):
            (Path(folder) / cls).mkdir(parents=True, exist_ok=True)
    jobs = list(manifest[["isic_id", "target", "split"]].itertuples(index=False, name=None))

    def one(job: tuple[str, int, str]) -> None:
        isic_id, target, split = job
        data = store.read(isic_id)
        tile = decode_tile(data, image_size, where=f"{store.path} isic_id {isic_id!r}: ")
        save_png(Path(split_dirs[split]) / str(int(target)) / f"{isic_id}.png", tile)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for _ in tqdm(
            pool.map(one, jobs),
            total=len(jobs),
            desc="tiles",
            unit="img",
            mininterval=5,
            disable=None,
        ):
            pass
