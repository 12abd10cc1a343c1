"""Which tiles go to which split.

:func:`select_splits` runs these steps, every draw from ``numpy.random.default_rng(seed)``
over sorted ids:

1. :func:`hold_out_institutions` (only with ``data.external_test``): every patient with a
   tile from a named attribution leaves the cohort; those tiles form the ``external`` pool.
2. :func:`check_totals`: the cohort holds at least the tiles the counts ask for.
3. The patients are put in a random preference order.
4. :func:`patient_groups`: disjoint patient groups for test, val and train (train: every
   patient left). Test, then val, take patients whose malignant tiles sum exactly to what
   they need (:func:`exact_fill`), then patients without a malignant lesion for their benign
   side.
5. :func:`draw_tiles`: malignant tiles uniformly within each group; benign tiles in two strata
   (patients with / without a malignant lesion) so that val, test and source take the same
   share from patients with a malignant lesion as train (the population rule). ``source``
   draws from train's group.
6. :func:`draw_external`: the external tiles, uniformly from the held-out institutions' tiles.
7. :func:`check_benign_mix`: val's and test's share is within :data:`MIX_TOLERANCE` of
   train's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from isicgan.data.errors import DataError
from isicgan.data.metadata import ATTRIBUTION
from isicgan.data.spec import ALL_SPLITS, EXTERNAL, SPLITS, ExternalTest, IngestSpec, SplitCounts

MANIFEST_COLUMNS = ["isic_id", "patient_id", "target", "split"]
BENIGN, MALIGNANT = 0, 1

#: val and test benign tiles: share from patients with a malignant lesion within this of train's
MIX_TOLERANCE = 0.10


# --------------------------------------------------------------------------- small tools


def exact_fill(sizes: Sequence[int], target: int) -> tuple[list[int], int]:
    """Pick items (indices into ``sizes``, preferring earlier ones) whose sizes sum to ``target``.

    First a pass that takes every item that still fits; if that misses, a subset-sum search
    over all items. Returns ``(indices, surplus)``: surplus is 0 on an exact fill; when no
    subset sums to ``target`` the items are taken in order until the sum passes it, and
    ``surplus`` says by how much (those tiles are dropped from the last group).
    """
    if target <= 0:
        return [], 0
    chosen, total = [], 0
    for i, size in enumerate(sizes):
        if 0 < size <= target - total:
            chosen.append(i)
            total += size
            if total == target:
                return chosen, 0
    # subset sum: way_to[total] = (item, previous total) of the first way found to make it
    way_to: dict[int, tuple[int, int]] = {0: (-1, -1)}
    for i, size in enumerate(sizes):
        if size <= 0:
            continue
        for total in sorted(way_to, reverse=True):
            reached = total + size
            if reached <= target and reached not in way_to:
                way_to[reached] = (i, total)
        if target in way_to:
            picked, total = [], target
            while total:
                item, total = way_to[total]
                picked.append(item)
            return sorted(picked), 0
    chosen, total = [], 0
    for i, size in enumerate(sizes):
        if size > 0:
            chosen.append(i)
            total += size
            if total >= target:
                return chosen, total - target
    return chosen, total - target  # negative: not enough in all


def pick(rng: np.random.Generator, ids: Sequence[str], k: int) -> list[str]:
    """``k`` ids drawn without replacement from ``ids`` (sorted first: independent of order)."""
    pool = sorted(ids)
    if k > len(pool):
        raise AssertionError("caller checks availability")
    return sorted(pool[i] for i in rng.choice(len(pool), k, replace=False)) if k else []


# --------------------------------------------------------------------------- the cohort


@dataclass
class Cohort:
    """The metadata by patient: every tile's id (sorted), patient and class; tile counts."""

    ids: np.ndarray  # isic_id of every tile, sorted
    patient_of_tile: np.ndarray  # each tile's patient, as its position in ``patients``
    target: np.ndarray  # each tile's class
    patients: list[str]  # sorted
    n_malignant: dict[str, int]
    n_benign: dict[str, int]
    source: str

    @classmethod
    def of(cls, meta: pd.DataFrame, source: str) -> Cohort:
        meta = meta.sort_values("isic_id", kind="stable")
        patient_of_tile, patients = pd.factorize(meta["patient_id"].to_numpy(object), sort=True)
        target = meta["target"].to_numpy()

        def tiles_per_patient(cls_: int) -> dict[str, int]:
            counts = np.bincount(patient_of_tile[target == cls_], minlength=len(patients))
            return dict(zip(patients.tolist(), counts.tolist()))

        return cls(
            ids=meta["isic_id"].to_numpy(object),
            patient_of_tile=patient_of_tile,
            target=target,
            patients=patients.tolist(),
            n_malignant=tiles_per_patient(MALIGNANT),
            n_benign=tiles_per_patient(BENIGN),
            source=source,
        )

    def tiles_of(self, patients: Iterable[str], cls: int) -> list[str]:
        """The ``cls`` tiles of ``patients``, sorted by id."""
        position = {p: i for i, p in enumerate(self.patients)}
        member = np.zeros(len(self.patients), bool)
        member[[position[p] for p in patients]] = True
        return self.ids[member[self.patient_of_tile] & (self.target == cls)].tolist()

    def patient_of(self, isic_ids: Sequence[str]) -> list[str]:
        """The patient of each of ``isic_ids`` (tiles of the cohort)."""
        at = np.searchsorted(self.ids, np.asarray(isic_ids, dtype=object), side="right") - 1
        return [self.patients[i] for i in self.patient_of_tile[at]]

    def has_malignant(self, patient: str) -> bool:
        return self.n_malignant[patient] > 0

    def benign_tiles(self, patients: Iterable[str]) -> int:
        return sum(self.n_benign[p] for p in patients)

    def shortfall(
        self, what: str, n_needed: int, n_have: int, detail: str, counts: SplitCounts
    ) -> DataError:
        return DataError(
            f"{self.source}: not enough {what} for data.counts: need {n_needed}, {detail} "
            f"{n_have} (the data hold {sum(self.n_malignant.values())} malignant and "
            f"{sum(self.n_benign.values())} benign tiles of {len(self.patients)} patients; "
            f"asked: {counts.describe()})"
        )

    def available(
        self, group: list[str], cls: int, n: int, what: str, counts: SplitCounts
    ) -> list[str]:
        """The ``cls`` tiles of ``group``'s patients; a :class:`DataError` if fewer than ``n``."""
        tiles = self.tiles_of(group, cls)
        if len(tiles) < n:
            raise self.shortfall(
                what, n, len(tiles), f"the {len(group)} patients left for it hold", counts
            )
        return tiles


def check_totals(cohort: Cohort, counts: SplitCounts) -> None:
    """One error when the whole cohort holds fewer tiles of a class than the counts ask for."""
    total_malignant = sum(cohort.n_malignant.values())
    total_benign = sum(cohort.n_benign.values())
    if total_malignant < counts.malignant:
        raise cohort.shortfall(
            "malignant tiles (target=1)",
            counts.malignant,
            total_malignant,
            "test + pool malignant, available",
            counts,
        )
    if total_benign < counts.benign:
        raise cohort.shortfall(
            "benign tiles (target=0)",
            counts.benign,
            total_benign,
            "test + pool + source benign, available",
            counts,
        )


def malignant_patient_share(cohort: Cohort, patients: Iterable[str]) -> float:
    """Share of the benign tiles of ``patients`` that belong to patients with a malignant lesion."""
    benign_of_malignant_patients = benign_of_all = 0
    for p in patients:
        benign_of_all += cohort.n_benign[p]
        if cohort.has_malignant(p):
            benign_of_malignant_patients += cohort.n_benign[p]
    return benign_of_malignant_patients / benign_of_all if benign_of_all else 0.0


# --------------------------------------------------------------------------- patient groups


def patients_for_malignant(cohort: Cohort, candidates: list[str], n_malignant: int) -> list[str]:
    """Patients (from ``candidates``, in order) whose malignant tiles sum exactly to
    ``n_malignant`` where possible (:func:`exact_fill`)."""
    if n_malignant <= 0:
        return []
    with_malignant = [p for p in candidates if cohort.has_malignant(p)]
    chosen, _ = exact_fill([cohort.n_malignant[p] for p in with_malignant], n_malignant)
    return [with_malignant[i] for i in chosen]


def add_benign_patients(
    cohort: Cohort,
    group: list[str],
    free: list[str],
    n_benign: int,
    n_from_benign_only: int,
    spread: float,
) -> list[str]:
    """Grow ``group`` with patients from ``free`` (in order; taken ones are removed from it).

    First patients without a malignant lesion, until they hold ``spread`` times
    ``n_from_benign_only`` benign tiles (``spread`` > 1 spreads the draw over more patients);
    then, only if the group still holds fewer than ``n_benign`` benign tiles, patients with one.
    """
    group = list(group)
    wanted = int(np.ceil(n_from_benign_only * spread)) if n_from_benign_only > 0 else 0
    held = 0
    for p in [p for p in free if not cohort.has_malignant(p) and cohort.n_benign[p]]:
        if held >= wanted:
            break
        group.append(p)
        held += cohort.n_benign[p]
    group_benign = cohort.benign_tiles(group)
    for p in [p for p in free if cohort.has_malignant(p) and p not in group]:
        if group_benign >= n_benign:
            break
        if cohort.n_benign[p]:
            group.append(p)
            group_benign += cohort.n_benign[p]
    taken = set(group)
    free[:] = [p for p in free if p not in taken]
    return group


def patient_groups(cohort: Cohort, order: list[str], counts: SplitCounts) -> dict[str, list[str]]:
    """Disjoint patient groups of test, val and train (train: every patient left).

    1. Malignant side: test, then val, take patients whose malignant tiles sum exactly to
       what they need.
    2. Benign side: the share of benign tiles from patients with a malignant lesion among the
       patients left after step 1 estimates train's share. Test, then val, add patients
       without a malignant lesion until they hold ``spread`` times the benign tiles they will
       draw from such patients, where ``spread`` is the cohort's benign tiles over all benign
       tiles asked for: each split then draws about the same fraction of its patients' tiles,
       so val and test benign tiles come from many patients, as train's do. If that leaves
       train short of benign tiles, ``spread`` is 1.
    """
    test_patients = patients_for_malignant(cohort, order, counts.test_malignant)
    taken = set(test_patients)
    val_patients = patients_for_malignant(
        cohort, [p for p in order if p not in taken], counts.val_malignant
    )
    taken |= set(val_patients)
    left = [p for p in order if p not in taken]
    share_left = malignant_patient_share(cohort, left)
    spreads = [max(1.0, sum(cohort.n_benign.values()) / counts.benign)] if counts.benign else []
    if not spreads or spreads[0] > 1.0:
        spreads.append(1.0)
    for spread in spreads:
        free = list(left)
        groups = {}
        for split, group, n_benign in (
            ("test", test_patients, counts.test_benign),
            ("val", val_patients, counts.val_benign),
        ):
            benign_of_group = cohort.benign_tiles(group)
            # benign tiles to draw from patients without a malignant lesion, with one to spare
            # for rounding (train's final share can sit a little below share_left)
            n_from_benign_only = n_benign - min(
                benign_of_group, int(np.floor(share_left * n_benign))
            )
            if 0 < n_from_benign_only < n_benign:
                n_from_benign_only = min(n_benign, n_from_benign_only + 1)
            groups[split] = add_benign_patients(
                cohort, group, free, n_benign, n_from_benign_only, spread
            )
        groups["train"] = free
        if cohort.benign_tiles(free) >= counts.train_benign + counts.source_benign:
            break
    return groups


# --------------------------------------------------------------------------- tiles


def draw_benign(
    rng: np.random.Generator,
    from_malignant_patients: list[str],
    from_benign_only: list[str],
    n: int,
    n_from_malignant: int,
) -> list[str]:
    """``n`` tiles: ``n_from_malignant`` from the first list, the rest from the second;
    ``n_from_malignant`` is moved into what the two lists can give."""
    n_from_malignant = min(
        max(n_from_malignant, n - len(from_benign_only)), len(from_malignant_patients), n
    )
    return sorted(
        pick(rng, from_malignant_patients, n_from_malignant)
        + pick(rng, from_benign_only, n - n_from_malignant)
    )


def draw_tiles(
    rng: np.random.Generator, cohort: Cohort, groups: Mapping[str, list[str]], counts: SplitCounts
) -> dict[str, dict[int, list[str]]]:
    """The tiles of every split and class, drawn from its patient group.

    Malignant tiles are drawn uniformly from the group. Benign tiles are drawn in two strata,
    from the group's patients with and without a malignant lesion: train takes the share of
    its group's benign tiles from the first; source, val and test then take the same share
    as train's drawn tiles.
    """

    def available(split: str, cls: int, n: int, what: str) -> list[str]:
        return cohort.available(groups[split], cls, n, what, counts)

    def benign_strata(split: str) -> tuple[list[str], list[str]]:
        group = groups[split]
        return (
            cohort.tiles_of([p for p in group if cohort.has_malignant(p)], BENIGN),
            cohort.tiles_of([p for p in group if not cohort.has_malignant(p)], BENIGN),
        )

    train_from_malignant, train_from_benign_only = benign_strata("train")
    share_in_group = len(train_from_malignant) / max(
        1, len(train_from_malignant) + len(train_from_benign_only)
    )
    n_train_from_malignant = min(
        max(
            int(round(share_in_group * counts.train_benign)),
            counts.train_benign - len(train_from_benign_only),
        ),
        len(train_from_malignant),
        counts.train_benign,
    )
    share_in_train = (
        n_train_from_malignant / counts.train_benign if counts.train_benign else share_in_group
    )

    def benign(split: str, n: int) -> list[str]:
        available(split, BENIGN, n, f"benign tiles for {split}")
        return draw_benign(rng, *benign_strata(split), n, int(round(share_in_train * n)))

    def malignant(split: str, n: int, what: str) -> list[str]:
        return pick(rng, available(split, MALIGNANT, n, what), n)

    drawn: dict[str, dict[int, list[str]]] = {}
    drawn["test"] = {
        MALIGNANT: malignant("test", counts.test_malignant, "malignant tiles for test"),
        BENIGN: benign("test", counts.test_benign),
    }
    drawn["val"] = {
        MALIGNANT: malignant("val", counts.val_malignant, "malignant tiles for val"),
        BENIGN: benign("val", counts.val_benign),
    }
    train_malignant = available(
        "train",
        MALIGNANT,
        counts.train_malignant,
        "malignant tiles for train (test and val are filled by whole patients first)",
    )
    available(
        "train",
        BENIGN,
        counts.train_benign + counts.source_benign,
        "benign tiles for train + source",
    )
    drawn["train"] = {
        MALIGNANT: pick(rng, train_malignant, counts.train_malignant),
        BENIGN: draw_benign(
            rng,
            train_from_malignant,
            train_from_benign_only,
            counts.train_benign,
            n_train_from_malignant,
        ),
    }

    def unused(tiles: list[str]) -> list[str]:
        return [
            t for t, taken in zip(tiles, pd.Index(tiles).isin(drawn["train"][BENIGN])) if not taken
        ]

    drawn["source"] = {
        MALIGNANT: [],
        BENIGN: draw_benign(
            rng,
            unused(train_from_malignant),
            unused(train_from_benign_only),
            counts.source_benign,
            int(round(share_in_train * counts.source_benign)),
        ),
    }
    return drawn


# --------------------------------------------------------------------------- external


def attribution_table(meta: pd.DataFrame) -> pd.DataFrame:
    """Benign and malignant tiles of every attribution in the metadata, sorted by name."""
    table = (
        meta.groupby([ATTRIBUTION, "target"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=[BENIGN, MALIGNANT], fill_value=0)
    )
    table.columns = ["benign", "malignant"]
    return table.sort_index()


def check_external(meta: pd.DataFrame, external: ExternalTest, source: str) -> None:
    """One error when a named attribution does not exist or the named ones hold too few tiles,
    listing every attribution of the data with its benign and malignant tiles."""
    table = attribution_table(meta)
    unknown = [a for a in external.attributions if a not in table.index]
    named = table.loc[[a for a in external.attributions if a in table.index]]
    have_benign, have_malignant = int(named["benign"].sum()), int(named["malignant"].sum())
    problems = []
    if unknown:
        problems.append(f"no tile has attribution {', '.join(map(repr, unknown))}")
    if have_benign < external.benign or have_malignant < external.malignant:
        problems.append(
            f"the named attribution(s) hold {have_benign} benign and "
            f"{have_malignant} malignant tiles, the counts ask for {external.benign} "
            f"benign and {external.malignant} malignant"
        )
    if problems:
        listing = "\n".join(
            f"  {name!r}: {row.benign} benign, {row.malignant} malignant"
            for name, row in table.iterrows()
        )
        raise DataError(
            f"{source}: config key 'data.external_test' cannot be met: "
            f"{'; '.join(problems)}. Attributions in the data (tiles):\n{listing}"
        )


def hold_out_institutions(
    meta: pd.DataFrame, external: ExternalTest, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rest, held_out)``: the rows of patients with no tile from the named attributions, and
    the rows from those attributions (a held-out patient's tiles from elsewhere go nowhere)."""
    check_external(meta, external, source)
    named = meta[ATTRIBUTION].isin(external.attributions).to_numpy()
    held_out_patients = meta.loc[named, "patient_id"].unique()
    leaves = meta["patient_id"].isin(held_out_patients).to_numpy()
    return meta.loc[~leaves], meta.loc[named]


def draw_external(
    rng: np.random.Generator, held_out: pd.DataFrame, external: ExternalTest
) -> dict[int, list[str]]:
    """The external test set: tiles of each class drawn uniformly from the named attributions."""

    def ids(cls: int) -> list[str]:
        return held_out.loc[held_out["target"] == cls, "isic_id"].tolist()

    return {
        MALIGNANT: pick(rng, ids(MALIGNANT), external.malignant),
        BENIGN: pick(rng, ids(BENIGN), external.benign),
    }


# --------------------------------------------------------------------------- the selection


def benign_mix(
    manifest: pd.DataFrame, malignant_patients: Iterable[str], splits: Sequence[str] = SPLITS
) -> dict[str, float]:
    """Per split: share of its benign tiles from patients with a malignant lesion (NaN if none)."""
    ill = set(malignant_patients)
    out = {}
    for split in splits:
        patients = manifest.loc[
            (manifest["split"] == split) & (manifest["target"] == BENIGN), "patient_id"
        ]
        out[split] = float(patients.isin(ill).mean()) if len(patients) else float("nan")
    return out


def check_benign_mix(mix: Mapping[str, float], counts: SplitCounts, source: str) -> None:
    """One error when val's or test's benign mix is further than :data:`MIX_TOLERANCE` from
    train's (beyond what rounding to whole tiles forces)."""
    if np.isnan(mix["train"]):
        return
    for split, n in (("test", counts.test_benign), ("val", counts.val_benign)):
        if n and abs(mix[split] - mix["train"]) > max(MIX_TOLERANCE, 0.5 / n) + 1e-9:
            raise DataError(
                f"{source}: the {n} benign {split} tiles cannot match train's mix of patients: "
                f"{mix[split]:.1%} of them come from patients with a malignant lesion, against "
                f"{mix['train']:.1%} in train (allowed: {MIX_TOLERANCE:.0%} points); the {split} "
                f"patients chosen for their malignant tiles hold too few benign tiles, or too few "
                f"patients without a malignant lesion are left (check data.counts)"
            )


def manifest_of(
    drawn: Mapping[str, Mapping[int, list[str]]], patient_of: Callable[[list[str]], list[str]]
) -> pd.DataFrame:
    """Manifest rows (unsorted) of the tiles drawn per split and class, with their patients."""
    rows = [
        (isic_id, cls, split)
        for split, by_class in drawn.items()
        for cls in (BENIGN, MALIGNANT)
        for isic_id in by_class[cls]
    ]
    ids = [isic_id for isic_id, _, _ in rows]
    return pd.DataFrame(
        {
            "isic_id": ids,
            "patient_id": patient_of(ids),
            "target": [cls for _, cls, _ in rows],
            "split": [split for _, _, split in rows],
        },
        columns=MANIFEST_COLUMNS,
    )


def select_splits(meta: pd.DataFrame, spec: IngestSpec, source: str = "metadata") -> pd.DataFrame:
    """Choose the tiles of each split (steps in the module docstring); return the manifest
    (``MANIFEST_COLUMNS``), sorted by :func:`sort_manifest`."""
    rng = np.random.default_rng(spec.seed)
    counts = spec.counts
    cohort_meta, held_out = meta, None
    if spec.external:
        cohort_meta, held_out = hold_out_institutions(meta, spec.external, source)
    cohort = Cohort.of(
        cohort_meta,
        source
        if held_out is None
        else f"{source} (without the patients of data.external_test's attributions)",
    )
    order = [cohort.patients[i] for i in rng.permutation(len(cohort.patients))]
    check_totals(cohort, counts)
    groups = patient_groups(cohort, order, counts)
    drawn = draw_tiles(rng, cohort, groups, counts)
    manifest = manifest_of(drawn, cohort.patient_of)
    if held_out is not None:
        external = draw_external(rng, held_out, spec.external)
        patient_of_tile = held_out.set_index("isic_id")["patient_id"]
        manifest = pd.concat(
            [
                manifest,
                manifest_of({EXTERNAL: external}, lambda ids: patient_of_tile.loc[ids].tolist()),
            ]
        )
    manifest = sort_manifest(manifest)
    malignant_patients = [p for p in cohort.patients if cohort.has_malignant(p)]
    check_benign_mix(benign_mix(manifest, malignant_patients), counts, source)
    return manifest


def sort_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    """Rows in split order (train, val, test, source, external), then by isic_id."""
    key = manifest["split"].map({s: i for i, s in enumerate(ALL_SPLITS)})
    out = manifest.assign(_k=key).sort_values(["_k", "isic_id"], kind="stable").drop(columns="_k")
    out["target"] = out["target"].astype(int)
    return out.reset_index(drop=True)[MANIFEST_COLUMNS]


def count_table(
    manifest: pd.DataFrame,
    malignant_patients: Iterable[str] | None = None,
    splits: Sequence[str] = SPLITS,
) -> pd.DataFrame:
    """One row per split: benign, malignant, total tiles and distinct patients.

    With ``malignant_patients`` (the cohort's patients with a malignant lesion), also
    ``benign_from_malignant_patients``: the share of the split's benign tiles that come from
    such patients (:func:`benign_mix`; empty where the split has no benign tile).
    """
    rows = []
    mix = (
        benign_mix(manifest, malignant_patients, splits) if malignant_patients is not None else None
    )
    for split in splits:
        part = manifest[manifest["split"] == split]
        row = {
            "split": split,
            "benign": int((part["target"] == BENIGN).sum()),
            "malignant": int((part["target"] == MALIGNANT).sum()),
            "total": len(part),
            "patients": int(part["patient_id"].nunique()),
        }
        if mix is not None:
            row["benign_from_malignant_patients"] = round(mix[split], 4)
        rows.append(row)
    return pd.DataFrame(rows)
