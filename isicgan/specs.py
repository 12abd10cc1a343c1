"""The settings objects of the generator and synthesis stages, one frozen dataclass per stage.

Rule ``train_gan`` runs :func:`isicgan.gan.train.train_gan` with a :class:`GanRun`, rule
``synthesize`` runs :mod:`isicgan.synthesis` with a :class:`SynthesisSpec`. The rules build them
from the config and the wildcards (``rules/common.smk``) and pass ``dataclasses.asdict`` of them
as one param, so Snakemake reruns a job exactly when one of its settings changed; the script
rebuilds the object with ``from_dict``. They live here, not beside the stage functions, because
the workflow builds them while it parses: this module imports no torch, scikit-learn or
matplotlib. A new setting is two edits: the schema and the settings object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: replicate r of a generator trains with seed + REPLICATE_SEED_STEP * (r - 1)
REPLICATE_SEED_STEP = 1000


def plain(data: Any) -> Any:
    """A JSON-plain deep copy (Snakemake params hold their own dict/list types)."""
    return json.loads(json.dumps(data))


def replicate_config(config: dict[str, Any], replicate: int) -> dict[str, Any]:
    """A generator's config section for its training run ``replicate`` (1, 2, ...): the same
    settings with its own seed, so replicates differ only in their random draws."""
    if int(replicate) < 1:
        raise ValueError(f"replicate must be 1 or more, got {replicate}")
    return {**config, "seed": int(config["seed"]) + REPLICATE_SEED_STEP * (int(replicate) - 1)}


@dataclass(frozen=True)
class GanRun:
    """The settings of one training run (rule ``train_gan``, one generator replicate).

    ``settings``: the generator's ``gan.<name>`` section with the replicate's seed
    (:func:`isicgan.gan.replicate_config`); ``quality``: the ``quality`` keys of the
    per-epoch evaluation (``eval_samples``, ``kid_subsets``, ``kid_subset_size``);
    ``checkpoint_dir``: the resumable checkpoints (None: ``checkpoints/`` beside final.pt).
    """

    gan: str
    replicate: int
    settings: dict[str, Any]
    image_size: int
    device: str = "auto"
    quality: dict[str, Any] = field(default_factory=dict)
    checkpoint_dir: str | None = None

    @classmethod
    def of(
        cls, config: dict[str, Any], gan: str, replicate: int, checkpoint_dir: str | None = None
    ) -> GanRun:
        """Replicate ``replicate`` of generator ``gan`` from the validated workflow config."""
        quality = {
            k: config["quality"][k] for k in ("eval_samples", "kid_subsets", "kid_subset_size")
        }
        return cls(
            gan=gan,
            replicate=int(replicate),
            settings=replicate_config(config["gan"][gan], int(replicate)),
            image_size=int(config["data"]["image_size"]),
            device=config["gan"]["device"],
            quality=quality,
            checkpoint_dir=checkpoint_dir,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanRun:
        """The run from ``dataclasses.asdict`` of one (a Snakemake param)."""
        return cls(**plain(dict(data)))


@dataclass(frozen=True)
class SynthesisSpec:
    """The settings of the synthesis of one generator replicate (rule ``synthesize``).

    ``batches``: how many batches the study has (``synthesis.batches``: it sets the source slice
    of a translating generator's tries); ``quality``: the ``quality`` config section.
    """

    gan: str
    replicate: int
    batches: int
    batch_size: int
    seed: int
    fid_threshold: float | None
    gate_on: str
    max_tries: int
    quality: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @classmethod
    def of(cls, config: dict[str, Any], gan: str, replicate: int) -> SynthesisSpec:
        """Replicate ``replicate`` of generator ``gan`` from the validated workflow config."""
        s = config["synthesis"]
        return cls(
            gan=gan,
            replicate=int(replicate),
            batches=int(s["batches"]),
            batch_size=int(s["batch_size"]),
            seed=int(s["seed"]),
            fid_threshold=s["fid_threshold"],
            gate_on=s["gate_on"],
            max_tries=int(s["max_tries"]),
            quality=dict(config["quality"]),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthesisSpec:
        """The spec from ``dataclasses.asdict`` of one (a Snakemake param)."""
        return cls(**plain(dict(data)))
