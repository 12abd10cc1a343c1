"""The placebo generator: its "synthetic" tiles are randomly augmented copies of real train
malignant tiles, drawn exactly as the classifier study's ``augment`` arm draws them
(:mod:`isicgan.augment`: seeded copies, each flipped, rotated and colour-jittered once).

It learns nothing. Training stores the train split's malignant tiles (in sorted file order) in
the checkpoint, so rule synthesize can draw from them like from any generator; a checkpoint of
the placebo is therefore as large as those tiles. Everything downstream treats it as a
generator (replicates, batches, quality, arms), and its known answers calibrate the study:

- quality: it reads as near-real (its tiles are real tiles) and the memorisation audit flags it
  (a flipped, rotated or colour-jittered copy is still a copy);
- classifier arms: its contrasts against ``augment`` are a known null (the same kind of tiles),
  so the share of its verdicts that claim a difference is the pipeline's false-positive rate.

Readers exclude a generator whose registry spec has ``placebo`` true from "the generators" and
report it as the placebo.

Draws: the generator input of ``n`` images is one seed drawn from the caller's torch generator
(for synthesis: the batch seed), mixed with the replicate's ``seed``; the images are
``augment_tiles(tiles[malignant_copies(..., seed, n)], seed)``. So replicates differ (their
``seed`` differs) and a batch does not depend on how generation is chunked.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from isicgan.augment import augment_tiles, malignant_copies
from isicgan.gan.base import GANModel, to_float


class TileBank(nn.Module):
    """The real train malignant tiles (uint8 N x H x W x 3) as a buffer, so they travel in the
    checkpoint's ``nets``; loading a state dict takes the stored tiles whatever their number."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("tiles", torch.zeros(0, 0, 0, 3, dtype=torch.uint8))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "tiles"
        if key in state_dict:
            self.tiles = torch.empty_like(state_dict[key], device=self.tiles.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Placebo(GANModel):
    name = "placebo"
    rank = 90
    placebo = True
    config_schema = """
      epochs: {$ref: "#/$defs/posint", default: 1, description: "passes that store the tiles (1 is enough)"}
      checkpoint_every: {$ref: "#/$defs/posint", default: 1}
      sample_epochs: {$ref: "#/$defs/sample_epochs", default: [-1]}
      eval_every: {$ref: "#/$defs/eval_every", default: 1}
    """
    domains = {"real": "1"}
    generator_net = "G"
    optimizer_nets: dict[str, tuple[str, ...]] = {}
    loss_names: tuple[str, ...] = ()
    weight_init = None

    def build(self, training: bool) -> None:
        self.nets["G"] = TileBank()

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        self.batch = batch  # uint8 tiles, kept as they are

    def epoch_batches(self, data: dict[str, torch.Tensor]) -> Iterator[dict[str, torch.Tensor]]:
        yield {"real": data["real"]}

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        """Store the train malignant tiles; there is nothing to optimise."""
        self.nets["G"].tiles = self.batch["real"].detach().to(torch.uint8).clone()
        return {}

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """One seed for all ``n`` images (column 0) and the image's index (column 1)."""
        seed = torch.randint(0, 2**31 - 1, (1,), generator=gen)
        return torch.stack([seed.expand(n), torch.arange(n)], dim=1)

    @torch.no_grad()
    def generate_eval(self, inputs: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Augmented copies of the stored tiles, drawn as the ``augment`` arm draws them, as
        float NCHW in [-1, 1] (exact: they map back to the same uint8 tiles)."""
        tiles = self.nets["G"].tiles.cpu().numpy()
        n = len(inputs)
        if n == 0:
            return torch.zeros(0, 3, self.image_size, self.image_size)
        if len(tiles) == 0:
            raise ValueError("the placebo holds no train malignant tiles (train it first)")
        seed = draw_seed(int(self.config["seed"]), int(inputs[0, 0]))
        idx = malignant_copies(np.ones(len(tiles), dtype=np.int64), seed, n)
        images = augment_tiles(tiles[idx], seed)
        return to_float(torch.from_numpy(images)).cpu()

    def fixed_inputs(self, data: dict[str, torch.Tensor], n: int = 16) -> torch.Tensor:
        return self.noise(n, torch.Generator().manual_seed(int(self.config["seed"]) + 2))


def draw_seed(replicate_seed: int, input_seed: int) -> int:
    """The seed of one draw: the replicate's seed mixed with the caller's (batch) seed."""
    return int(np.random.SeedSequence([replicate_seed, input_seed]).generate_state(1)[0])
