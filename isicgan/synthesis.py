"""Fixed, named batches of synthetic malignant tiles, with FID gating as in the thesis.

Rule synthesize makes every batch of one generator replicate (:func:`synthesize_replicate`).
Batch k of replicate r of generator g is the folder ``results/synthetic/{g}/rep{r}/batch{k}``
holding ``batch_size`` PNGs named ``{g}_r{r}_b{k}_{i:04d}.png`` (i = 0 .. batch_size-1), plus
``batch{k}.json`` with its quality.

- Noise generators (WGAN-GP, DCGAN, ...) sample with the seed
  ``batch_seed(synthesis.seed, k, try, r)``.
- Translating generators (``translates``: CycleGAN) translate benign tiles of the ``source``
  split, sorted by isic_id: try t of batch k takes slice ``(t - 1) * batches + (k - 1)`` of
  ``batch_size`` tiles. Translation has no noise, so a retry must use other tiles; when the
  source split holds fewer tiles than a slice needs, the slice wraps round to the start, and
  the JSON says so (``source_wrapped``).
- Gating: with ``synthesis.fid_threshold`` set, a batch whose FID (``synthesis.gate_on``: the
  in-domain or the Inception FID, both against the real *train* malignant tiles) is above the
  threshold is generated again, up to ``synthesis.max_tries`` tries. Every try is recorded; the
  first that passes is kept, or, when none passes, the try with the lowest FID, marked
  ``gate_passed: false``.
- The checkpoint is the one training selected (``gan.<name>.select``: the last epoch, or the
  epoch with the lowest val KID); the JSON records which (``checkpoint``).
- Quality of the kept try: :func:`isicgan.quality.evaluate.batch_quality` (distribution metrics,
  equal-size FID, class fidelity), the memorisation audit and, for a translating generator,
  faithfulness to each tile's own source (``quality.source``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isicgan import registry
from isicgan.gan import generate, load_checkpoint
from isicgan.io import atomic_path, check_id, load_png_folder, save_png, write_json
from isicgan.quality.evaluate import References, batch_quality
from isicgan.quality.faithfulness import source_faithfulness
from isicgan.quality.memorisation import audit
from isicgan.specs import SynthesisSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutputs:
    """What batch k writes: its PNG folder, its quality JSON and (optionally) its figure."""

    folder: str | Path
    json: str | Path
    figure: str | Path | None = None


def batch_seed(base_seed: int, k: int, attempt: int, replicate: int = 1) -> int:
    """A seed for batch k, try ``attempt``, of a generator replicate, from the base seed
    (stable, independent streams)."""
    return int(
        np.random.SeedSequence(
            [int(base_seed), int(k), int(attempt), int(replicate)]
        ).generate_state(1)[0]
    )


def file_names(gan: str, k: int, n: int, replicate: int = 1) -> list[str]:
    return [f"{gan}_r{replicate}_b{k}_{i:04d}.png" for i in range(n)]


def source_slice(
    n_source: int, k: int, attempt: int, batches: int, batch_size: int
) -> tuple[list[int], bool]:
    """Indices (into the sorted source tiles) of try ``attempt`` of batch ``k``, and whether it wrapped."""
    if n_source < 1:
        raise ValueError("the source split holds no benign tiles for CycleGAN to translate")
    start = ((attempt - 1) * batches + (k - 1)) * batch_size
    return [(start + i) % n_source for i in range(batch_size)], start + batch_size > n_source


def load_source(source_dir: str | Path) -> tuple[np.ndarray, list[str]]:
    """The benign tiles of the source split, sorted by isic_id."""
    images, ids = load_png_folder(Path(source_dir) / "0")
    for isic_id in ids:
        check_id(isic_id, where=f"{source_dir}/0: ")
    if not ids:
        raise ValueError(f"no benign PNG tiles in {source_dir}/0 for CycleGAN to translate")
    return images, ids


def checkpoint_info(checkpoint: str | Path) -> dict:
    """What synthesis needs to know of a checkpoint: its GAN, whether that GAN translates source
    tiles, and which training epoch it holds and why (``selection``, written by training)."""
    ckpt = load_checkpoint(checkpoint)
    selection = ckpt.get("selection") or {"select": "last", "epoch": int(ckpt["epoch"]) - 1}
    return {
        "gan": ckpt["gan"],
        "translates": bool(registry.spec("generators", ckpt["gan"])["translates"]),
        "epochs_completed": int(ckpt["epoch"]),
        **selection,
    }


def generate_try(
    spec: SynthesisSpec,
    checkpoint: str | Path,
    k: int,
    attempt: int,
    source: tuple[np.ndarray, list[str]] | None,
) -> tuple[np.ndarray, dict]:
    """One try of batch k: the uint8 images and what made them (seed, source ids and index)."""
    gan, device, n = spec.gan, spec.device, spec.batch_size
    seed = batch_seed(spec.seed, k, attempt, spec.replicate)
    info: dict = {"try": attempt, "seed": seed}
    if registry.spec("generators", gan)["translates"]:
        if source is None:
            raise ValueError(f"{gan} translates source tiles: give the source split folder")
        idx, wrapped = source_slice(len(source[1]), k, attempt, spec.batches, n)
        images = generate(checkpoint, n, seed, source=source[0][idx], device=device)
        info.update(
            source_ids=[source[1][i] for i in idx], source_wrapped=wrapped, source_index=idx
        )
        if wrapped:
            log.warning(
                "batch %d try %d: the source split has %d tiles; the slice wraps round",
                k,
                attempt,
                len(source[1]),
            )
    else:
        images = generate(checkpoint, n, seed, device=device)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != n or images.shape[-1] != 3:
        raise ValueError(
            f"{gan} generate() returned {images.dtype} {images.shape}; expected uint8 ({n}, H, W, 3)"
        )
    return images, info


def synthesize_batch(
    spec: SynthesisSpec,
    checkpoint: str | Path,
    k: int,
    refs: References,
    out: BatchOutputs,
    source_dir: str | Path | None = None,
) -> dict:
    """Generate (and gate) batch k of replicate ``spec.replicate`` of ``spec.gan``; write its
    PNG folder, quality JSON and figure (``out``)."""
    gan, replicate, quality = spec.gan, spec.replicate, spec.quality
    threshold = spec.fid_threshold
    gate_key = f"fid_{spec.gate_on}"
    if threshold is not None and spec.gate_on == "inception" and refs.inception is None:
        raise ValueError(
            "synthesis.gate_on is 'inception' with synthesis.fid_threshold set, but "
            f"the Inception FID is unavailable: {refs.inception_reason}"
        )
    ckpt = checkpoint_info(checkpoint)
    if ckpt["gan"] != gan:
        raise ValueError(f"GAN checkpoint {checkpoint} is a {ckpt['gan']} checkpoint, not {gan}")
    source = load_source(source_dir) if ckpt["translates"] and source_dir is not None else None
    max_tries = spec.max_tries if threshold is not None else 1
    tries, kept = [], None
    for attempt in range(1, max_tries + 1):
        images, info = generate_try(spec, checkpoint, k, attempt, source)
        q = batch_quality(images, refs, quality, seed=info["seed"])
        info.update(
            {
                key: q[key]
                for key in ("fid_indomain", "kid_indomain", "fid_inception", "kid_inception")
            }
        )
        info["passed"] = threshold is None or q[gate_key] <= threshold
        tries.append(info)
        log.info(
            "%s batch %d try %d: %s = %.3f (threshold %s)",
            gan,
            k,
            attempt,
            gate_key,
            q[gate_key] if q[gate_key] is not None else float("nan"),
            threshold,
        )
        if kept is None or info["passed"] or q[gate_key] < kept[2][gate_key]:
            kept = (images, info, q)
        if info["passed"]:
            break
    images, info, quality_out = kept
    quality_out["memorisation"] = audit(
        images,
        refs.train_tiles,
        refs.val_tiles,
        refs.real["copy_threshold"]["distance"],
        seed=info["seed"],
    )
    source_tiles = None
    if source is not None:
        source_tiles = source[0][info["source_index"]]
        quality_out["source"] = source_faithfulness(
            images,
            source_tiles,
            refs.encoder,
            refs.classifier,
            float(quality["near_identity_delta"]),
        )
    names = file_names(gan, k, len(images), replicate)
    with atomic_path(out.folder) as tmp:
        tmp.mkdir()
        for name, img in zip(names, images):
            save_png(tmp / name, img)
    result = {
        "gan": gan,
        "replicate": replicate,
        "batch": k,
        "n": len(images),
        "files": names,
        "kept_try": info["try"],
        "seed": info["seed"],
        "checkpoint": ckpt,
        "source_ids": info.get("source_ids"),
        "source_wrapped": info.get("source_wrapped", False),
        "gate": {
            "threshold": threshold,
            "on": gate_key,
            "max_tries": max_tries,
            "passed": bool(info["passed"]),
            "reference": "real train malignant tiles",
        },
        "tries": [
            {key: value for key, value in t.items() if key not in ("source_ids", "source_index")}
            for t in tries
        ],
        "quality": quality_out,
        "real_reference": refs.real,
        "reference_classifier": {
            "threshold": refs.classifier.threshold,
            "real_train": refs.classifier.real,
            "in_sample_ceiling": refs.classifier.ceiling,
        },
    }
    if not info["passed"]:
        log.warning(
            "%s batch %d: no try passed %s <= %s; kept try %d (lowest)",
            gan,
            k,
            gate_key,
            threshold,
            info["try"],
        )
    if out.figure:
        # lazy: matplotlib takes about a second to import; only a batch with a figure draws
        from isicgan.quality.figures import batch_figure

        batch_figure(
            out.figure,
            f"{gan} replicate {replicate} batch {k} (try {info['try']}, "
            f"epoch {ckpt['epoch']}, select: {ckpt['select']})",
            images,
            refs.train_malignant,
            refs.train_tiles,
            quality_out["memorisation"],
            source=(source_tiles, quality_out["source"]) if source is not None else None,
        )
    write_json(out.json, result)
    return result


def synthesize_replicate(
    spec: SynthesisSpec,
    checkpoint: str | Path,
    refs: References,
    outputs: list[BatchOutputs],
    source_dir: str | Path | None = None,
) -> list[dict]:
    """Batches 1..``spec.batches`` of one generator replicate (rule synthesize), batch k to
    ``outputs[k - 1]``: the same bytes as :func:`synthesize_batch` of each batch alone."""
    if len(outputs) != spec.batches:
        raise ValueError(
            f"{spec.gan} replicate {spec.replicate}: {len(outputs)} batch outputs "
            f"for synthesis.batches = {spec.batches}"
        )
    return [
        synthesize_batch(spec, checkpoint, k, refs, out, source_dir)
        for k, out in enumerate(outputs, start=1)
    ]
