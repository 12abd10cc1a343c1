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
    domains = {"real": "1"}
    generator_net = "G"
    loss_names = ("loss_D", "loss_G", "D_real", "D_fake")

    def build(self, training: bool) -> None:
        c = self.config
        self.nets["G"] = LatentGenerator(c["latent_dim"], c["ngf"], self.image_size, norm="batch")
        if training:
            self.nets["D"] = ConvCritic(c["ndf"], self.image_size, norm="batch")

    def build_optimizers(self) -> None:
        lr, betas = float(self.config["lr"]), tuple(self.config["betas"])
        self.optimizers["G"] = torch.optim.Adam(self.nets["G"].parameters(), lr=lr, betas=betas)
        self.optimizers["D"] = torch.optim.Adam(self.nets["D"].parameters(), lr=lr, betas=betas)

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, int(self.config["latent_dim"]), generator=gen)

    def generate_batch(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.nets["G"](inputs)

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real = self.batch["real"]
        z = self.noise(len(real), self.rng).to(self.device)
        with self.autocast():
            fake = G(z)
            # discriminator: real -> 1, fake -> 0
            d_real = D(self.augment(real)).float()
            d_fake = D(self.augment(fake.detach())).float()
            loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.optimizers["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["D"].step()
        # generator: non-saturating, D(fake) -> 1
        D.requires_grad_(False)
        with self.autocast():
            d_gen = D(self.augment(fake)).float()
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["G"].step()
        D.requires_grad_(True)
        return {"loss_D": loss_d.detach(), "loss_G": loss_g.detach(),
                "D_real": torch.sigmoid(d_real).mean().detach(),
                "D_fake": torch.sigmoid(d_fake).mean().detach()}
