"""DCGAN (Radford et al. 2016), the related-work baseline, on malignant training tiles.

Generator: z -> transposed convs with batch norm and ReLU -> tanh. Discriminator: 4x4
stride-2 convs with batch norm (from the second on) and LeakyReLU(0.2) -> one logit.
Binary cross-entropy on logits, non-saturating generator loss, Adam(lr, betas).
DiffAugment, when configured, is applied to every discriminator input, real and fake.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from isicgan.gan.base import GANModel
from isicgan.gan.networks import ConvCritic, LatentGenerator


class DCGAN(GANModel):
    name = "dcgan"
    rank = 3
    config_schema = """
      epochs: {$ref: "#/$defs/posint", default: 150}
      batch_size: {$ref: "#/$defs/posint", default: 64}
      latent_dim: {$ref: "#/$defs/posint", default: 100}
      ngf: {$ref: "#/$defs/posint", default: 64}
      ndf: {$ref: "#/$defs/posint", default: 64}
      diffaugment: {$ref: "#/$defs/diffaugment", default: "color,translation,cutout"}
    """
    domains = {"real": "1"}
    generator_net = "G"
    loss_names = ("loss_D", "loss_G", "D_real", "D_fake")

    def build(self, training: bool) -> None:
        c = self.config
        self.nets["G"] = LatentGenerator(c["latent_dim"], c["ngf"], self.image_size, norm="batch")
        if training:
            self.nets["D"] = ConvCritic(c["ndf"], self.image_size, norm="batch")

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real = self.batch["real"]
        z = self.noise(len(real), self.rng).to(self.device)
        with self.autocast():
            fake = G(z)
            # discriminator: real -> 1, fake -> 0
            d_real = D(self.augment(real)).float()
            d_fake = D(self.augment(fake.detach())).float()
            loss_d = F.binary_cross_entropy_with_logits(
                d_real, torch.ones_like(d_real)
            ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        self.step_optimizer("D", loss_d)
        # generator: non-saturating, D(fake) -> 1
        D.requires_grad_(False)
        with self.autocast():
            d_gen = D(self.augment(fake)).float()
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        self.step_optimizer("G", loss_g)
        D.requires_grad_(True)
        return {
            "loss_D": loss_d.detach(),
            "loss_G": loss_g.detach(),
            "D_real": torch.sigmoid(d_real).mean().detach(),
            "D_fake": torch.sigmoid(d_fake).mean().detach(),
        }
