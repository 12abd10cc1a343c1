"""The settings of the data stage, built from the config's ``data`` section, and its splits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: the splits every run has, in manifest order: ``source`` holds CycleGAN inputs only
SPLITS = ("train", "val", "test", "source")
#: the held-out institution's test set, present only when ``data.external_test`` is set
EXTERNAL = "external"
#: every split a manifest may hold, in manifest order
ALL_SPLITS = SPLITS + (EXTERNAL,)


def splits_of(config_data: Mapping[str, Any]) -> list[str]:
    """The splits of a run: train, val, test, source, and external when configured."""
    return list(SPLITS) + ([EXTERNAL] if config_data.get("external_test") else [])


@dataclass(frozen=True)
class SplitCounts:
    """Tiles each split takes, per class, from ``data.counts`` and ``data.val_fraction``."""

    test_malignant: int
    test_benign: int
    val_malignant: int
    val_benign: int
    train_malignant: int
    train_benign: int
    source_benign: int

    @classmethod
    def from_config(
        cls, counts: Mapping[str, Mapping[str, int]], val_fraction: float
    ) -> SplitCounts:
        pool_malignant = int(counts["pool"]["malignant"])
        pool_benign = int(counts["pool"]["benign"])
        val_malignant = int(round(val_fraction * pool_malignant))
        val_benign = int(round(val_fraction * pool_benign))
        return cls(
            test_malignant=int(counts["test"]["malignant"]),
            test_benign=int(counts["test"]["benign"]),
            val_malignant=val_malignant,
            val_benign=val_benign,
            train_malignant=pool_malignant - val_malignant,
            train_benign=pool_benign - val_benign,
            source_benign=int(counts["source"]["benign"]),
        )

    @property
    def malignant(self) -> int:
        return self.test_malignant + self.val_malignant + self.train_malignant

    @property
    def benign(self) -> int:
        return self.test_benign + self.val_benign + self.train_benign + self.source_benign

    def describe(self) -> str:
        return (
            f"test {self.test_benign}+{self.test_malignant}, pool "
            f"{self.val_benign + self.train_benign}+{self.val_malignant + self.train_malignant}"
            f", source {self.source_benign} benign"
        )


@dataclass(frozen=True)
class ExternalTest:
    """``data.external_test``: the institutions held out as the ``external`` test set."""

    attributions: tuple[str, ...]
    benign: int
    malignant: int

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> ExternalTest | None:
        if not section:
            return None
        return cls(
            attributions=tuple(str(a) for a in section["attributions"]),
            benign=int(section["counts"]["benign"]),
            malignant=int(section["counts"]["malignant"]),
        )


@dataclass(frozen=True)
class IngestSpec:
    """Everything the ingest stage reads from the config (its ``data`` section)."""

    image_size: int
    seed: int
    counts: SplitCounts
    external: ExternalTest | None = None

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> IngestSpec:
        """From the config's ``data`` section (as validated by the schema)."""
        return cls(
            image_size=int(data["image_size"]),
            seed=int(data["seed"]),
            counts=SplitCounts.from_config(data["counts"], float(data["val_fraction"])),
            external=ExternalTest.from_config(data.get("external_test")),
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> IngestSpec:
        """From :func:`dataclasses.asdict` of a spec (the rule's param)."""
        external = spec.get("external")
        return cls(
            image_size=int(spec["image_size"]),
            seed=int(spec["seed"]),
            counts=SplitCounts(**spec["counts"]),
            external=ExternalTest(
                attributions=tuple(external["attributions"]),
                benign=int(external["benign"]),
                malignant=int(external["malignant"]),
            )
            if external
            else None,
        )

    @property
    def splits(self) -> list[str]:
        return list(SPLITS) + ([EXTERNAL] if self.external else [])
