"""CycleGAN (Zhu et al. 2017): benign (domain A, class folder 0) -> malignant (B, folder 1).

Networks: G_AB, G_BA (generators), D_A, D_B (PatchGAN discriminators).

Presets:
- ``resnet``: the reference design: c7s1-ngf, two stride-2 convs, ``n_blocks`` residual
  blocks, two transposed convs, c7s1-3, tanh, instance norm; 70x70 PatchGAN with
  instance norm (fewer stride-2 layers on images too small for three).
- ``thesis``: the thesis generator (Conv 3->64->128->256, ConvT 256->128->64, Conv
  64->3, batch norm + ReLU, tanh; kernel sizes/strides in
  :func:`isicgan.gan.networks.thesis_cycle_generator`) and discriminator (Conv 3->64
  LeakyReLU, 64->128->256->512 with batch norm + LeakyReLU, Conv 512->1: a PatchGAN
  with 4x4 kernels, strides 2, 2, 2, 1, 1 and batch norm).

Losses (weights ``lambdas``, thesis (1, 1, 10, 5, 5)):
  adv_ab * LSGAN(D_B(G_AB(A)), 1) + adv_ba * LSGAN(D_A(G_BA(B)), 1)
  + cycle * (|G_BA(G_AB(A)) - A|_1 + |G_AB(G_BA(B)) - B|_1)
  + identity_a * |G_BA(A) - A|_1 + identity_b * |G_AB(B) - B|_1
Discriminators: 0.5 * (LSGAN(D(real), 1) + LSGAN(D(pooled fake), 0)), fakes drawn from
an image pool of ``pool_size`` past fakes. One Adam for both generators, one for both
discriminators; learning rate constant, then linearly towards 0 over the last
``decay_epochs`` epochs. Each epoch draws up to ``max_images_per_epoch`` benign tiles
(seeded) and pairs them with malignant tiles drawn by repeated shuffles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from isicgan.gan.base import GANModel, to_uint8
from isicgan.gan.networks import (
    patch_discriminator,
    patch_layers_for,
    resnet_generator,
    thesis_cycle_generator,
)


class ImagePool:
    """History of generated images (Shrivastava et al. 2017): with probability 1/2 the
    discriminator sees an older fake instead of the newest, which is stored in its place."""

    def __init__(self, size: int):
        self.size = int(size)
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return images.detach().float()
        out = []
        for img in images.detach().float():
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand((), generator=gen).item() < 0.5:
                i = int(torch.randint(0, self.size, (), generator=gen))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)

    def state(self) -> torch.Tensor:
        if not self.images:
            return torch.zeros(0)
        return torch.stack(self.images).float().cpu()

    def load(self, stacked: torch.Tensor, device: torch.device) -> None:
        self.images = [t.to(device) for t in stacked] if stacked.numel() else []


def lsgan(pred: torch.Tensor, target: float) -> torch.Tensor:
    pred = pred.float()
    return F.mse_loss(pred, torch.full_like(pred, target))


class CycleGAN(GANModel):
    name = "cyclegan"
    rank = 1
    translates = True  # generates from benign source tiles, not from noise
    config_schema = """
      preset: {enum: [resnet, thesis], default: resnet,
               description: "resnet: the reference CycleGAN; thesis: the thesis encoder-decoder"}
      epochs: {$ref: "#/$defs/posint", default: 1000}
      decay_epochs: {$ref: "#/$defs/nonneg", default: 500,
                     description: "lr constant, then linearly to 0 over the last decay_epochs"}
      batch_size: {$ref: "#/$defs/posint", default: 1}
      max_images_per_epoch: {type: [integer, "null"], minimum: 1, default: null,
                             description: "benign tiles drawn per epoch (null: all)"}
      lambdas:
        type: object
        additionalProperties: false
        default: {}
        properties:
          adv_ab: {type: number, minimum: 0, default: 1.0}
          adv_ba: {type: number, minimum: 0, default: 1.0}
          cycle: {type: number, minimum: 0, default: 10.0}
          identity_a: {type: number, minimum: 0, default: 5.0}
          identity_b: {type: number, minimum: 0, default: 5.0}
      pool_size: {$ref: "#/$defs/nonneg", default: 50}
      ngf: {$ref: "#/$defs/posint", default: 64}
      ndf: {$ref: "#/$defs/posint", default: 64}
      n_blocks: {$ref: "#/$defs/posint", default: 9}
      diffaugment: {$ref: "#/$defs/diffaugment", default: ""}
    """
    domains = {"A": "0", "B": "1"}
    generator_net = "G_AB"
    sample_rows = ("benign source", "translated (G_AB)", "reconstructed (G_BA)")
    optimizer_nets = {"G": ("G_AB", "G_BA"), "D": ("D_A", "D_B")}
    loss_names = (
        "G_adv_ab",
        "G_adv_ba",
        "cycle_a",
        "cycle_b",
        "idt_a",
        "idt_b",
        "loss_G",
        "D_A",
        "D_B",
    )

    def build(self, training: bool) -> None:
        c = self.config
        if self.image_size % 4:
            raise ValueError(
                f"CycleGAN generators need image_size divisible by 4, got {self.image_size}"
            )
        if c["preset"] == "resnet":
            make_g = lambda: resnet_generator(3, 3, c["ngf"], c["n_blocks"], norm="instance")  # noqa: E731
            d_norm = "instance"
        elif c["preset"] == "thesis":
            make_g = lambda: thesis_cycle_generator(c["ngf"])  # noqa: E731
            d_norm = "batch"
        else:
            raise ValueError(f"config gan.cyclegan.preset: unknown preset {c['preset']!r}")
        self.nets["G_AB"] = make_g()
        if training:
            self.nets["G_BA"] = make_g()
            n_layers = patch_layers_for(self.image_size)
            self.nets["D_A"] = patch_discriminator(3, c["ndf"], n_layers, d_norm)
            self.nets["D_B"] = patch_discriminator(3, c["ndf"], n_layers, d_norm)
        self.pool_A = ImagePool(c["pool_size"])
        self.pool_B = ImagePool(c["pool_size"])

    def lr_at(self, epoch: int) -> float:
        total, decay = int(self.config["epochs"]), int(self.config["decay_epochs"])
        decay = min(decay, total)
        factor = 1.0 - max(0, epoch + 1 - (total - decay)) / float(decay + 1)
        return float(self.config["lr"]) * factor

    def extra_state(self) -> dict[str, Any]:
        return {"pool_A": self.pool_A.state(), "pool_B": self.pool_B.state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_A.load(state["pool_A"], self.device)
        self.pool_B.load(state["pool_B"], self.device)

    def epoch_batches(self, data: dict[str, torch.Tensor]) -> Iterator[dict[str, torch.Tensor]]:
        a, b = data["A"], data["B"]
        cap = self.config["max_images_per_epoch"]
        idx_a = torch.randperm(len(a), generator=self.rng)
        if cap is not None:
            idx_a = idx_a[: int(cap)]
        reps = -(-len(idx_a) // len(b))
        idx_b = torch.cat([torch.randperm(len(b), generator=self.rng) for _ in range(reps)])
        idx_b = idx_b[: len(idx_a)]
        bs = int(self.config["batch_size"])
        for start in range(0, len(idx_a), bs):
            ia, ib = idx_a[start : start + bs], idx_b[start : start + bs]
            yield {"A": a[ia.to(a.device)], "B": b[ib.to(b.device)]}

    def fixed_inputs(self, data: dict[str, torch.Tensor], n: int = 8) -> torch.Tensor:
        """Eight benign tiles, the same every epoch (seeded choice)."""
        a = data["A"]
        pick = torch.randperm(
            len(a), generator=torch.Generator().manual_seed(int(self.config["seed"]) + 2)
        )[:n]
        return a[pick.to(a.device)].cpu()

    @torch.no_grad()
    def sample_images(self, fixed: torch.Tensor) -> tuple[np.ndarray, int]:
        """Rows: benign input, G_AB(input) (malignant-like), G_BA(G_AB(input)) (cycle)."""
        fake_b = self.generate_eval(fixed)
        g_ba = self.nets.get("G_BA")
        rows = [fixed.numpy(), to_uint8(fake_b)]
        if g_ba is not None:
            was = g_ba.training
            g_ba.eval()
            with self.autocast():
                rec = g_ba(fake_b.to(self.device)).float()
            g_ba.train(was)
            rows.append(to_uint8(rec))
        return np.concatenate(rows), len(fixed)

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        """One batch: the generator step, then the discriminator step on its fakes."""
        fake_a, fake_b, losses = self.generator_step()
        losses.update(self.discriminator_step(fake_a, fake_b))
        return losses

    def generator_step(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Update G_AB and G_BA (discriminators frozen) on the adversarial, cycle and identity
        losses; returns the fakes (A from B, B from A) and the detached losses."""
        G_AB, G_BA, D_A, D_B = (self.nets[k] for k in ("G_AB", "G_BA", "D_A", "D_B"))
        lam = self.config["lambdas"]
        real_a, real_b = self.batch["A"], self.batch["B"]
        D_A.requires_grad_(False)
        D_B.requires_grad_(False)
        with self.autocast():
            fake_b = G_AB(real_a)
            rec_a = G_BA(fake_b)
            fake_a = G_BA(real_b)
            rec_b = G_AB(fake_a)
            losses = {
                "G_adv_ab": lsgan(D_B(self.augment(fake_b)), 1.0),
                "G_adv_ba": lsgan(D_A(self.augment(fake_a)), 1.0),
                "cycle_a": F.l1_loss(rec_a.float(), real_a.float()),
                "cycle_b": F.l1_loss(rec_b.float(), real_b.float()),
            }
            weighted = (
                lam["adv_ab"] * losses["G_adv_ab"]
                + lam["adv_ba"] * losses["G_adv_ba"]
                + lam["cycle"] * (losses["cycle_a"] + losses["cycle_b"])
            )
            if lam["identity_a"] > 0 or lam["identity_b"] > 0:
                losses["idt_a"] = F.l1_loss(G_BA(real_a).float(), real_a.float())
                losses["idt_b"] = F.l1_loss(G_AB(real_b).float(), real_b.float())
                weighted = (
                    weighted
                    + lam["identity_a"] * losses["idt_a"]
                    + lam["identity_b"] * losses["idt_b"]
                )
        self.step_optimizer("G", weighted)
        D_A.requires_grad_(True)
        D_B.requires_grad_(True)
        out = {k: v.detach() for k, v in losses.items()}
        out["loss_G"] = weighted.detach()
        return fake_a, fake_b, out

    def discriminator_step(
        self, fake_a: torch.Tensor, fake_b: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Update D_A and D_B (one optimiser) on real tiles vs fakes drawn through the pools."""
        pooled_a = self.pool_A.query(fake_a, self.rng)
        pooled_b = self.pool_B.query(fake_b, self.rng)
        loss_da = self.discriminator_loss(self.nets["D_A"], self.batch["A"], pooled_a)
        loss_db = self.discriminator_loss(self.nets["D_B"], self.batch["B"], pooled_b)
        self.step_optimizer("D", loss_da + loss_db)
        return {"D_A": loss_da.detach(), "D_B": loss_db.detach()}

    def discriminator_loss(
        self, D: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        """0.5 * (LSGAN(D(real), 1) + LSGAN(D(fake), 0)), both inputs augmented."""
        with self.autocast():
            return 0.5 * (lsgan(D(self.augment(real)), 1.0) + lsgan(D(self.augment(fake)), 0.0))
