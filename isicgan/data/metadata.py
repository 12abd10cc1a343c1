"""Reading and checking ``train-metadata.csv``: the columns ingest needs, each row checked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from isicgan.data.errors import DataError
from isicgan.io import ISIC_ID_RE, check_id

REQUIRED_COLUMNS = ["isic_id", "patient_id", "target"]
#: the tile's institution; read when present (needed only by data.external_test)
ATTRIBUTION = "attribution"


def _read_header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from exc


#: many ids in one string, one per line: one regular-expression pass checks them all
_ID_LINES = re.compile(rf"(?:{ISIC_ID_RE.pattern.strip('^$')}\n)*")


def stripped(column: pd.Series) -> pd.Series:
    """``column.str.strip()``, stripping each distinct value once (ids repeat across rows)."""
    codes, uniques = pd.factorize(column.to_numpy(object))
    clean = np.array([u.strip() for u in uniques], dtype=object)
    if (clean == uniques).all():
        return column
    return pd.Series(clean[codes], index=column.index, dtype=column.dtype)


def checked_ids(ids: pd.Series, path: Path, line: np.ndarray) -> pd.Series:
    """The ids, stripped of surrounding blanks; the first unsafe one raises (with its line)."""
    if _ID_LINES.fullmatch("\n".join(ids.tolist()) + "\n") is not None:
        return ids  # all safe, so none has blanks to strip
    ids = ids.str.strip()
    bad = ~ids.str.fullmatch(ISIC_ID_RE.pattern).to_numpy(bool) | ids.isin([".", ".."]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        check_id(ids.iat[i], where=f"{path} line {line[i]}: ")
    return ids


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read and check ``isic_id, patient_id, target`` (and ``attribution``) of a metadata CSV.

    Returns a frame with those columns (``target`` as int8; ``attribution`` as read, or empty
    strings when the file has no such column), in file order, with the file's line number of
    each row in ``line``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"metadata file '{path}' is missing")
    header = _read_header(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"{path}: required column(s) {', '.join(missing)} missing "
            f"(the header has {len(header)} columns: {', '.join(header[:8])}...)"
        )
    columns = REQUIRED_COLUMNS + ([ATTRIBUTION] if ATTRIBUTION in header else [])
    try:
        frame = pd.read_csv(
            path, usecols=columns, dtype=str, keep_default_na=False, na_filter=False, engine="c"
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse the CSV ({exc})") from exc
    frame = frame[columns]
    if ATTRIBUTION not in frame:
        frame[ATTRIBUTION] = ""
    line = np.arange(len(frame)) + 2  # header is line 1

    def fail_where(mask: np.ndarray, what: str) -> None:
        rows = np.flatnonzero(mask)
        if len(rows):
            i = rows[0]
            more = f" ({len(rows)} rows in all)" if len(rows) > 1 else ""
            raise DataError(
                f"{path} line {line[i]} (isic_id {frame['isic_id'].iat[i]!r}): "
                f"{what.format(**frame.iloc[i].to_dict())}{more}"
            )

    frame["isic_id"] = checked_ids(frame["isic_id"], path, line)
    if not pd.Index(frame["isic_id"]).is_unique:
        duplicated = frame["isic_id"].duplicated(keep=False).to_numpy()
        first = frame["isic_id"][duplicated].iat[0]
        where = line[(frame["isic_id"] == first).to_numpy()]
        raise DataError(
            f"{path}: isic_id {first!r} is duplicated (lines "
            f"{', '.join(map(str, where))}); {int(duplicated.sum())} rows share an id"
        )
    frame["patient_id"] = stripped(frame["patient_id"])
    fail_where((frame["patient_id"] == "").to_numpy(), "patient_id is empty")
    target = stripped(frame["target"])
    fail_where(~target.isin(["0", "1"]).to_numpy(), "target {target!r} is not 0 or 1")
    frame["target"] = (target == "1").to_numpy().astype(np.int8)
    frame[ATTRIBUTION] = stripped(frame[ATTRIBUTION])
    frame["line"] = line
    return frame
