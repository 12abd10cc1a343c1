"""DDPM (Ho et al. 2020): a denoising diffusion model on malignant training tiles, sampled with
DDIM (Song et al. 2021). Built on ``diffusers``: its ``UNet2DModel``, ``DDPMScheduler`` (the
forward noising of training) and ``DDIMScheduler`` (the few-step sampler).

Training: for a batch of real tiles x0 (in [-1, 1]; optionally flipped at random), draw
Gaussian noise e and a timestep t uniformly from 0..train_timesteps-1, noise the tiles to x_t
with the ``beta_schedule``, and regress the UNet's output on (x_t, t) with mean squared error
against e (``prediction: epsilon``) or the velocity sqrt(a_t) e - sqrt(1 - a_t) x0
(``v_prediction``, Salimans & Ho 2022: in short CPU runs its samples are far less noisy, since
the last DDIM steps do not divide a noise estimate by a small sqrt(a_t)); Adam(lr, betas),
bf16 autocast on CUDA through the base. After every step an exponential moving average of
the weights (``ema_decay``, warmed up as min(decay, (1 + n) / (10 + n)) after n steps, so a
short run is not dominated by the initial weights) is updated; the EMA network, ``ema``, is
the generator: the sample grids, the final checkpoint's
``generator_net`` and :func:`isicgan.gan.generate` all use it.

Sampling: DDIM with ``sampling_steps`` steps, "trailing" timestep spacing (the first step starts
from t = train_timesteps - 1, pure noise) and ``eta``. The generator input of one image is one
int64 seed drawn from the caller's CPU generator (:meth:`DDPM.noise`); each image then draws its
own starting noise x_T, and, when ``eta`` > 0, its per-step noise, from a CPU generator seeded
with it, and the CPU runs the UNet on fixed blocks of images. So the images of a seed do not
depend on the batch size they are made in and are the same on every CPU run (with the same
thread count). With ``eta`` = 0 (the default) DDIM is deterministic after x_T: no per-step
noise is drawn.

Sizes: the UNet halves the map at each of its levels but the last, so ``image_size`` must be
divisible by 2^(levels - 1) (``levels`` = len(widths)); 32 px allows up to 6 levels, 140 px
(= 4 x 35) at most 3 (140 -> 70 -> 35). A size that does not fit is an error naming the key,
not a silent pad or resize.

The checkpoint holds two plain state dicts, ``unet`` (trained) and ``ema`` (sampled), and the
EMA step count in ``extra``: it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from isicgan.gan.base import GANModel

# images per UNet call when sampling on the CPU (see DDPM.generate_batch)
CPU_BLOCK = 8


def check_config(config: dict[str, Any], image_size: int) -> None:
    """Clear errors for a UNet the config cannot build at ``image_size``."""
    widths, attention = list(config["widths"]), list(config["attention"])
    groups = int(config["norm_groups"])
    if len(attention) != len(widths):
        raise ValueError(
            f"config gan.ddpm.attention has {len(attention)} entries but "
            f"gan.ddpm.widths has {len(widths)}: one per UNet level"
        )
    bad = [w for w in widths if w % groups]
    if bad:
        raise ValueError(
            f"config gan.ddpm.widths {widths}: {bad} not divisible by gan.ddpm.norm_groups {groups}"
        )
    if int(config["sampling_steps"]) > int(config["train_timesteps"]):
        raise ValueError(
            f"config gan.ddpm.sampling_steps {config['sampling_steps']} exceeds "
            f"gan.ddpm.train_timesteps {config['train_timesteps']}"
        )
    factor = 2 ** (len(widths) - 1)
    if image_size % factor:
        raise ValueError(
            f"image size {image_size} is not divisible by 2^(levels - 1) = {factor} "
            f"for the {len(widths)} levels of gan.ddpm.widths {widths}; use fewer "
            "levels"
        )


class DDPM(GANModel):
    name = "ddpm"
    rank = 4
    config_schema = """
      epochs: {$ref: "#/$defs/posint", default: 300}
      batch_size: {$ref: "#/$defs/posint", default: 32}
      betas: {$ref: "#/$defs/betas", default: [0.9, 0.999]}
      widths:
        description: channels of each UNet level; image_size must be divisible by 2^(levels-1)
        type: array
        items: {$ref: "#/$defs/posint"}
        minItems: 1
        default: [64, 128, 256]
      attention:
        description: one flag per UNet level (as many as widths), true for self-attention blocks
        type: array
        items: {type: boolean}
        minItems: 1
        default: [false, false, true]
      layers_per_block: {$ref: "#/$defs/posint", default: 2, description: "residual blocks per UNet level"}
      norm_groups: {$ref: "#/$defs/posint", default: 32, description: "GroupNorm groups; must divide every width"}
      attention_head_dim: {$ref: "#/$defs/posint", default: 8, description: "channels per attention head"}
      train_timesteps: {type: integer, minimum: 2, default: 1000,
                        description: "diffusion steps of the training noise schedule"}
      beta_schedule: {enum: [linear, scaled_linear, squaredcos_cap_v2], default: squaredcos_cap_v2,
                      description: "noise schedule"}
      prediction: {enum: [epsilon, v_prediction], default: v_prediction,
                   description: "what the UNet regresses: the noise or the velocity (Salimans & Ho 2022)"}
      sampling_steps: {$ref: "#/$defs/posint", default: 50,
                       description: "DDIM steps per image (at most train_timesteps)"}
      eta: {type: number, minimum: 0, maximum: 1, default: 0.0,
            description: "DDIM noise; 0: deterministic after the starting noise, 1: DDPM-like"}
      ema_decay: {type: number, minimum: 0, exclusiveMaximum: 1, default: 0.999,
                  description: "decay of the weight EMA that every sample uses (warmed up over the first steps)"}
      flips: {type: boolean, default: true, description: "random horizontal and vertical flips of the training tiles"}
    """
    domains = {"real": "1"}
    generator_net = "ema"
    optimizer_nets = {"G": ("unet",)}
    loss_names = ("loss",)
    weight_init = None  # keep diffusers' own initialisation (under the scoped seed)

    def build(self, training: bool) -> None:
        # lazy: diffusers takes seconds to import; the registry tests import this module
        from diffusers import UNet2DModel

        c = self.config
        check_config(c, self.image_size)
        down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in c["attention"])
        up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(c["attention"]))
        unet = UNet2DModel(
            sample_size=self.image_size,
            in_channels=3,
            out_channels=3,
            block_out_channels=tuple(int(w) for w in c["widths"]),
            layers_per_block=int(c["layers_per_block"]),
            down_block_types=down,
            up_block_types=up,
            norm_num_groups=int(c["norm_groups"]),
            attention_head_dim=int(c["attention_head_dim"]),
        )
        if training:
            self.nets["unet"] = unet
            self.nets["ema"] = copy.deepcopy(unet).requires_grad_(False)
        else:
            self.nets["ema"] = unet.requires_grad_(False)
        self.ema_steps = 0
        self._schedulers()

    def _schedulers(self) -> None:
        # lazy: diffusers takes seconds to import (see build)
        from diffusers import DDIMScheduler, DDPMScheduler

        c = self.config
        common = {
            "num_train_timesteps": int(c["train_timesteps"]),
            "beta_schedule": c["beta_schedule"],
            "prediction_type": c["prediction"],
            "clip_sample": True,
        }
        self.train_scheduler = DDPMScheduler(**common)
        self.sample_scheduler = DDIMScheduler(**common, timestep_spacing="trailing")
        self.sample_scheduler.set_timesteps(int(c["sampling_steps"]))

    # ------------------------------------------------------------------ training
    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        unet = self.nets["unet"]
        x0 = self.batch["real"]
        n = len(x0)
        if self.config["flips"]:
            flip = torch.rand(n, 2, generator=self.rng) < 0.5
            x0 = torch.where(flip[:, 0, None, None, None].to(x0.device), x0.flip(3), x0)
            x0 = torch.where(flip[:, 1, None, None, None].to(x0.device), x0.flip(2), x0)
        noise = torch.randn(x0.shape, generator=self.rng).to(self.device)
        t = torch.randint(0, int(self.config["train_timesteps"]), (n,), generator=self.rng).to(
            self.device
        )
        x_t = self.train_scheduler.add_noise(x0, noise, t)
        if self.config["prediction"] == "v_prediction":
            target = self.train_scheduler.get_velocity(x0, noise, t)
        else:
            target = noise
        with self.autocast():
            pred = unet(x_t, t).sample
        loss = F.mse_loss(pred.float(), target)
        self.step_optimizer("G", loss)
        self.update_ema()
        return {"loss": loss.detach()}

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * unet, d = min(ema_decay, (1 + n) / (10 + n))."""
        self.ema_steps += 1
        n = self.ema_steps
        d = min(float(self.config["ema_decay"]), (1 + n) / (10 + n))
        ema, unet = self.nets["ema"], self.nets["unet"]
        ema_params = [p for p in ema.parameters()]
        unet_params = [p.detach() for p in unet.parameters()]
        torch._foreach_lerp_(ema_params, unet_params, 1.0 - d)
        for b_ema, b in zip(ema.buffers(), unet.buffers()):
            b_ema.copy_(b)

    def extra_state(self) -> dict[str, Any]:
        return {"ema_steps": int(self.ema_steps)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.ema_steps = int(state["ema_steps"])

    # ------------------------------------------------------------------ sampling
    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """One int64 seed per image, drawn from ``gen``: the image's own noise stream."""
        return torch.randint(0, 2**62, (n,), generator=gen, dtype=torch.int64)

    @torch.no_grad()
    def generate_batch(self, inputs: torch.Tensor) -> torch.Tensor:
        """DDIM sampling from the per-image seeds ``inputs``; images in [-1, 1].

        On the CPU the UNet runs on blocks of exactly :data:`CPU_BLOCK` images (the last
        padded with throw-away images): a matrix product's rounding depends on how many rows
        it has, not on what the other rows hold, so a fixed block makes each image the same
        whatever the batch it was asked for in.
        """
        block = CPU_BLOCK if self.device.type == "cpu" else len(inputs)
        seeds = inputs.cpu().tolist()
        outs = []
        for start in range(0, len(seeds), block):
            part = seeds[start : start + block]
            padded = part + [0] * (block - len(part))
            outs.append(self._ddim(padded)[: len(part)])
        return torch.cat(outs) if outs else torch.zeros(0, 3, self.image_size, self.image_size)

    def _ddim(self, seeds: list[int]) -> torch.Tensor:
        net = self.nets[self.generator_net]
        size, eta = self.image_size, float(self.config["eta"])
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]

        def draw() -> torch.Tensor:
            return torch.stack([torch.randn(3, size, size, generator=g) for g in gens]).to(
                self.device
            )

        sched = self.sample_scheduler
        x = draw() * sched.init_noise_sigma
        for t in sched.timesteps:
            out = net(x, t.to(self.device)).sample.float()
            x = sched.step(
                out, int(t), x, eta=eta, variance_noise=draw() if eta > 0 else None
            ).prev_sample
        return x.clamp(-1.0, 1.0)
