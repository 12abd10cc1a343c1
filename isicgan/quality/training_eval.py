"""Quality over training (thesis research question 3) and the checkpoint synthesis uses.

Every ``gan.<name>.eval_every`` epochs (and at the last epoch; 0: never) the training loop
calls :meth:`TrainingEvaluation.after_epoch`, which generates a fixed sample of
``quality.eval_samples`` tiles (the model's own ``fixed_inputs``: seeded noise, or seeded train
benign tiles for a translating generator), and measures it against the real *val* malignant
tiles in the in-domain feature space: ``fid_indomain_val``, ``kid_indomain_val`` (KID with the
same seed every epoch), and the class fidelity of the reference classifier
(``class_fidelity``, ``malignancy_score``). The values go into that epoch's row of
``history.csv``; the test split is never read. The same FID/KID of real train malignant tiles
(as many as the sample, or all when fewer) against val is the dashed line of the figure.

Checkpoint selection (``gan.<name>.select``): ``last`` keeps the last epoch; ``best_val`` takes
the evaluated epoch with the lowest ``kid_indomain_val`` (ties: the earliest). The generator
networks of the best evaluated epoch so far are kept in ``{checkpoint_dir}/best_val/`` (one
file; older ones are pruned when the resumable checkpoint is written, so a job killed in
between still finds the best epoch of the history it resumes with). ``final.pt`` is the
selected checkpoint, with ``selection`` = {select, epoch (0-based, as in history.csv),
kid_indomain_val, epochs_trained}; synthesis records it in every batch JSON.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isicgan.config import check_select
from isicgan.gan import load_checkpoint
from isicgan.gan.base import GANModel, to_uint8
from isicgan.io import atomic_path, load_split_tiles
from isicgan.quality import metrics
from isicgan.quality.classifier import ReferenceClassifier, load_reference_classifier
from isicgan.quality.encoder import load_encoder
from isicgan.quality.features import indomain_features

log = logging.getLogger(__name__)

COLUMNS = ("fid_indomain_val", "kid_indomain_val", "class_fidelity", "malignancy_score")
KID_SEED = 0  # the KID subsets: the same draws every epoch
SNAPSHOT_RE = re.compile(r"^epoch(\d+)\.pt$")


class TrainingEvaluation:
    """The per-epoch hook of :func:`isicgan.gan.train.train_gan` (see the module docstring);
    implements :class:`isicgan.gan.base.TrainingHook`."""

    columns = COLUMNS

    def __init__(
        self,
        encoder,
        classifier: ReferenceClassifier,
        val_malignant: np.ndarray,
        every: int,
        select: str,
        n_samples: int,
        quality: dict,
    ):
        check_select(select, every)
        if len(val_malignant) < 2:
            raise ValueError(
                f"quality over training needs real val malignant tiles, got {len(val_malignant)}"
            )
        self.encoder, self.classifier = encoder, classifier
        self.every, self.select, self.n_samples = int(every), select, int(n_samples)
        self.quality = quality
        self.val = self._features(val_malignant)
        self.fixed = None
        self.snapshot_dir: Path | None = None
        self.references: dict[str, float] = {
            "class_fidelity": classifier.real["malignant"]["class_fidelity"],
            "malignancy_score": classifier.real["malignant"]["malignancy_score"],
        }

    @classmethod
    def from_files(
        cls,
        encoder_path: str | Path,
        classifier_path: str | Path,
        val_dir: str | Path,
        settings: dict,
        quality: dict,
    ) -> TrainingEvaluation:
        """Built from the rule's inputs: the encoder, the reference classifier, the val split;
        ``settings``: the generator's config section, ``quality``: the evaluation's keys."""
        return cls(
            load_encoder(encoder_path),
            load_reference_classifier(classifier_path),
            load_split_tiles(val_dir, ("1",)),
            int(settings["eval_every"]),
            settings["select"],
            int(quality["eval_samples"]),
            quality,
        )

    def _features(self, images: np.ndarray) -> np.ndarray:
        return indomain_features(np.asarray(images), self.encoder)

    def _kid(self, feats: np.ndarray) -> float:
        return metrics.kernel_distance(
            self.val,
            feats,
            int(self.quality["kid_subsets"]),
            int(self.quality["kid_subset_size"]),
            KID_SEED,
        )

    # ------------------------------------------------------------------ hooks
    def start(
        self, model: GANModel, data: dict, checkpoint_dir: str | Path, done_epochs: int
    ) -> None:
        """Fix the sample inputs, set the real reference lines, and drop snapshots the resumed
        history does not reach (from epochs after the checkpoint training resumes from)."""
        self.fixed = model.fixed_inputs(data, self.n_samples)
        self.snapshot_dir = Path(checkpoint_dir) / "best_val"
        if done_epochs == 0:
            shutil.rmtree(self.snapshot_dir, ignore_errors=True)
        for epoch, path in self._snapshots():
            if epoch >= done_epochs:
                path.unlink()
        malignant = [k for k, folder in model.domains.items() if folder == "1"]
        if malignant and self.every:
            real = data[malignant[0]].cpu().numpy()
            pick = np.sort(np.random.default_rng(KID_SEED).permutation(len(real))[: self.n_samples])
            feats = self._features(real[pick])
            self.references["fid_indomain_val"] = metrics.fid_from_features(feats, self.val)
            self.references["kid_indomain_val"] = self._kid(feats)

    def due(self, epoch: int, epochs: int) -> bool:
        return self.every > 0 and ((epoch + 1) % self.every == 0 or epoch == epochs - 1)

    def evaluate(self, model: GANModel) -> dict[str, float]:
        """The quality columns of the fixed sample of ``model`` now."""
        images = to_uint8(model.generate_eval(self.fixed))
        feats = self._features(images)
        fid = metrics.fid_from_features(feats, self.val)
        return {
            "fid_indomain_val": fid,
            "kid_indomain_val": self._kid(feats),
            **self.classifier.fidelity(feats),
        }

    def after_epoch(
        self, model: GANModel, epoch: int, epochs: int, rows: list[dict], data_hash: str
    ) -> dict[str, float]:
        """The quality columns of ``epoch`` (empty when not evaluated); keeps the best snapshot.
        ``rows``: the history so far, ``epoch``'s row included."""
        if not self.due(epoch, epochs):
            return {}
        out = self.evaluate(model)
        best = best_epoch(rows[:-1])
        if best is None or out["kid_indomain_val"] < best[1]:
            model.save(
                self.snapshot_dir / f"epoch{epoch:04d}.pt",
                epoch + 1,
                [*rows[:-1], {**rows[-1], **out}],
                data_hash,
                full=False,
            )
        return out

    def prune(self, rows: list[dict]) -> None:
        """After the resumable checkpoint: keep only the best evaluated epoch's snapshot."""
        best = best_epoch(rows)
        for epoch, path in self._snapshots():
            if best is None or epoch != best[0]:
                path.unlink()

    def write_final(
        self, model: GANModel, final: str | Path, epochs: int, rows: list[dict], data_hash: str
    ) -> dict[str, Any]:
        """``final.pt``: the last epoch or the best evaluated one, with its ``selection``."""
        best = best_epoch(rows)
        if self.select == "last" or best is None:
            kid = rows[-1].get("kid_indomain_val") if rows else None
            selection = {
                "select": self.select,
                "epoch": epochs - 1,
                "epochs_trained": epochs,
                "kid_indomain_val": _plain(kid),
            }
            model.save(final, epochs, rows, data_hash, full=False, meta={"selection": selection})
            return selection
        selection = {
            "select": "best_val",
            "epoch": best[0],
            "epochs_trained": epochs,
            "kid_indomain_val": best[1],
        }
        write_selected(self.snapshot_dir / f"epoch{best[0]:04d}.pt", final, rows, selection)
        log.info("select best_val: epoch %d (val KID %.4g) of %d", best[0], best[1], epochs)
        return selection

    def _snapshots(self) -> list[tuple[int, Path]]:
        if self.snapshot_dir is None or not self.snapshot_dir.is_dir():
            return []
        out = []
        for path in sorted(self.snapshot_dir.iterdir()):
            m = SNAPSHOT_RE.match(path.name)
            if m:
                out.append((int(m.group(1)), path))
        return out


def _plain(value) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


def best_epoch(rows: list[dict]) -> tuple[int, float] | None:
    """(epoch, kid) of the evaluated row with the lowest ``kid_indomain_val``; ties: earliest."""
    best = None
    for row in rows:
        kid = _plain(row.get("kid_indomain_val"))
        if kid is not None and (best is None or kid < best[1]):
            best = (int(row["epoch"]), kid)
    return best


def write_selected(
    snapshot: str | Path, final: str | Path, rows: list[dict], selection: dict
) -> None:
    """Copy a best_val snapshot to ``final`` with the full history and its ``selection``."""
    ckpt = load_checkpoint(snapshot)
    ckpt.update(history=[dict(r) for r in rows], selection=selection)
    with atomic_path(final) as tmp:
        torch.save(ckpt, tmp)
