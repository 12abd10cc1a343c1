"""WGAN-GP (Gulrajani et al. 2017) on malignant training tiles: the thesis design, corrected.

Corrections of the thesis code (its WGAN-GP fault: batch norm in a gradient-penalised critic
and a perceptual loss between unpaired images):
- no batch norm in the critic: the gradient penalty is defined per sample, and batch
  norm couples the samples of a batch. ``critic_norm``: ``layer`` (GroupNorm with one
  group, i.e. layer norm over C,H,W) or ``none``;
- spectral normalisation through ``torch.nn.utils.parametrizations.spectral_norm`` (a
  differentiable reparametrisation, not an in-place edit of the weights);
- the optional VGG19 perceptual term compares feature statistics of the fake batch with
  those of the real batch (:mod:`isicgan.gan.perceptual`), not unpaired images.

Critic loss: E[D(fake)] - E[D(real)] + gp_weight * E[(||grad D(x_hat)||_2 - 1)^2], x_hat
on random lines between (augmented) real and fake images. The critic is updated on every
batch and the generator on every ``n_critic``-th batch (thesis: 2). Generator loss:
-E[D(fake)] (+ perceptual_weight * perceptual).

Presets: ``latent`` (default): a z vector through transposed convs, as DCGAN. ``thesis``:
the thesis generator, an image of N(0,1) noise through two stride-2 convs, three residual
blocks and two transposed convs (batch norm in the generator is harmless: the penalty
concerns the critic only).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from isicgan.gan.base import GANModel
from isicgan.gan.networks import ConvCritic, LatentGenerator, NoiseImageGenerator

THESIS_RES_BLOCKS = 3


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] with x_hat = a*real + (1-a)*fake, a ~ U(0,1)
    per sample (drawn from ``gen``). Differentiable (create_graph) for the critic update."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=gen).to(
        device=real.device, dtype=real.dtype
    )
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    score = critic(x_hat)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


class WGANGP(GANModel):
    name = "wgan_gp"
    rank = 2
    # weights.vgg19 is a DAG input when the setting perceptual_weight is above 0
    optional_weights = {"vgg19": "perceptual_weight"}
    config_schema = """
      preset: {enum: [latent, thesis], default: latent,
               description: "latent: z-vector generator; thesis: the thesis image-noise ResNet generator"}
      epochs: {$ref: "#/$defs/posint", default: 150}
      batch_size: {$ref: "#/$defs/posint", default: 64}
      lr: {$ref: "#/$defs/lr", default: 0.000005}
      n_critic: {$ref: "#/$defs/posint", default: 2}
      gp_weight: {type: number, minimum: 0, default: 10.0}
      latent_dim: {$ref: "#/$defs/posint", default: 128}
      ngf: {$ref: "#/$defs/posint", default: 64}
      ndf: {$ref: "#/$defs/posint", default: 64}
      critic_norm: {enum: [layer, none], default: layer, description: "never batch norm in a gradient-penalised critic"}
      perceptual_weight: {type: number, minimum: 0, default: 0.0,
                          description: "VGG19 perceptual loss weight; > 0 needs weights.vgg19"}
      diffaugment: {$ref: "#/$defs/diffaugment", default: "color,translation,cutout"}
    """
    domains = {"real": "1"}
    generator_net = "G"
    loss_names = ("loss_critic", "wasserstein", "gp", "loss_G", "perceptual")

    def build(self, training: bool) -> None:
        c = self.config
        if c["preset"] == "thesis":
            self.nets["G"] = NoiseImageGenerator(c["ngf"], self.image_size, THESIS_RES_BLOCKS)
        elif c["preset"] == "latent":
            self.nets["G"] = LatentGenerator(c["latent_dim"], c["ngf"], self.image_size)
        else:
            raise ValueError(f"config gan.wgan_gp.preset: unknown preset {c['preset']!r}")
        self.perceptual = None
        self.step = 0
        if training:
            self.nets["D"] = ConvCritic(
                c["ndf"], self.image_size, norm=c["critic_norm"], spectral=True
            )
            if float(c["perceptual_weight"]) > 0:
                # lazy: the perceptual term is off by default and loads VGG19 code
                from isicgan.gan.perceptual import PerceptualStatLoss

                self.perceptual = PerceptualStatLoss(self.weights.get("vgg19")).to(self.device)

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.config["preset"] == "thesis":  # an image of noise, not a z vector
            return torch.randn(n, 3, self.image_size, self.image_size, generator=gen)
        return super().noise(n, gen)

    def extra_state(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        real = self.batch["real"]
        n = len(real)
        z = self.noise(n, self.rng).to(self.device)
        if self.device.type == "cuda" and z.dim() == 4:
            z = z.contiguous(memory_format=torch.channels_last)
        gp_weight = float(self.config["gp_weight"])
        g_step = (self.step + 1) % int(self.config["n_critic"]) == 0
        with self.autocast(), torch.set_grad_enabled(g_step):
            fake = G(z)  # keeps its graph only when the generator steps too
        with self.autocast():
            real_aug, fake_aug = self.augment(real), self.augment(fake.detach())
            d_real = D(real_aug).float().mean()
            d_fake = D(fake_aug).float().mean()
            gp = gradient_penalty(D, real_aug, fake_aug, self.rng)
            loss_d = d_fake - d_real + gp_weight * gp
        self.step_optimizer("D", loss_d)
        out = {
            "loss_critic": loss_d.detach(),
            "wasserstein": (d_real - d_fake).detach(),
            "gp": gp.detach(),
        }
        self.step += 1
        if g_step:
            D.requires_grad_(False)
            with self.autocast():
                loss_g = -D(self.augment(fake)).float().mean()
                if self.perceptual is not None:
                    perc = self.perceptual(fake, real)
                    loss_g = loss_g + float(self.config["perceptual_weight"]) * perc
                    out["perceptual"] = perc.detach()
            self.step_optimizer("G", loss_g)
            D.requires_grad_(True)
            out["loss_G"] = loss_g.detach()
        return out
