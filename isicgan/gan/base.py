"""The base every GAN shares: build (seeded), set_input, optimize_parameters, state, save/load.

A GAN is a subclass, alone in a module of :mod:`isicgan.gan.models` (found there by
:mod:`isicgan.registry`), that builds its networks in :meth:`build`, declares which class
folders it trains on (``domains``), which network generates (``generator_net``) and which
networks each Adam optimiser updates (``optimizer_nets``), and implements
:meth:`optimize_parameters` (one batch, using :meth:`step_optimizer`). Noise GANs draw
z vectors from :meth:`noise` unless they override it. The training loop in
:mod:`isicgan.gan.train` knows nothing else about it.

Checkpoints are plain dicts of tensors, numbers, strings, lists and dicts, so they load
with ``torch.load(weights_only=True)``:

``{"format", "gan", "config", "image_size", "epoch" (epochs completed), "data_hash",
"history" (list of per-epoch dicts), "nets" ({name: state_dict}), and, for resumable
checkpoints, "optimizers", "extra", "rng"}``.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from isicgan.gan.diffaugment import diff_augment, parse_policy
from isicgan.gan.networks import init_weights
from isicgan.io import atomic_path
from isicgan.specs import plain as plain_config

CHECKPOINT_FORMAT = 1


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1] (float tensors are passed through)."""
    if images.dtype == torch.uint8:
        images = images.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    if images.is_cuda:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC numpy array."""
    x = ((images.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


class GANModel:
    """Shared machinery; see the module docstring for the subclass contract."""

    name: ClassVar[str] = ""
    # Read by the workflow from the source (isicgan.registry), so literals only:
    translates: ClassVar[bool] = False  # generates from source tiles (CycleGAN)
    # a known-null generator (augmented copies of real tiles): readers report it apart
    placebo: ClassVar[bool] = False
    optional_weights: ClassVar[dict[str, str]] = {}  # weights key -> setting that enables it (> 0)
    config_schema: ClassVar[str] = ""  # YAML: JSON schema of gan.<name> beyond the shared keys
    rank: ClassVar[int] = 100  # order in tables and figures, then the name
    domains: ClassVar[dict[str, str]] = {"real": "1"}  # batch key -> class folder (1 = malignant)
    generator_net: ClassVar[str] = "G"
    # labels of the rows of :meth:`sample_images` grids (empty: unlabelled rows of samples)
    sample_rows: ClassVar[tuple[str, ...]] = ()
    # optimiser name -> the networks it updates (build_optimizers makes one Adam each)
    optimizer_nets: ClassVar[dict[str, tuple[str, ...]]] = {"G": ("G",), "D": ("D",)}
    loss_names: ClassVar[tuple[str, ...]] = ()
    # weights re-drawn after build() by init_weights(kind, gain); None keeps the networks'
    # own initialisation (drawn under the scoped seed), e.g. for a library-built network
    weight_init: ClassVar[tuple[str, float] | None] = ("normal", 0.02)

    def __init__(
        self,
        config: dict[str, Any],
        image_size: int,
        device: str | torch.device = "cpu",
        training: bool = True,
        weights: dict[str, str | Path] | None = None,
    ):
        self.config = plain_config(config)
        self.image_size = int(image_size)
        self.device = torch.device(device)
        self.amp = self.device.type == "cuda"
        self.training = training
        # local weight files by key of ``optional_weights`` (config ``weights.<key>``)
        self.weights: dict[str, str | Path] = dict(weights or {})
        self.policy = parse_policy(self.config.get("diffaugment", ""))
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        seed = int(self.config["seed"])
        # Construction draws (default inits, spectral-norm vectors) come from a scoped seed;
        # the weights that matter are then re-drawn from an explicit generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.build(training)
        if self.weight_init is not None:
            init_gen = torch.Generator().manual_seed(seed)
            for _, net in sorted(self.nets.items()):
                init_weights(net, *self.weight_init, generator=init_gen)
        for net in self.nets.values():
            net.to(self.device)
            if self.device.type == "cuda":
                net.to(memory_format=torch.channels_last)
            net.train(training)
        if training:
            self.build_optimizers()
        # every random draw of training (batch order, noise, augmentation, image pool)
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.batch: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ subclass hooks
    def build(self, training: bool) -> None:
        raise NotImplementedError

    def build_optimizers(self) -> None:
        """One Adam(lr, betas) per entry of ``optimizer_nets`` over those networks' parameters."""
        lr, betas = float(self.config["lr"]), tuple(self.config["betas"])
        for name, nets in self.optimizer_nets.items():
            params = [p for net in nets for p in self.nets[net].parameters()]
            self.optimizers[name] = torch.optim.Adam(params, lr=lr, betas=betas)

    def optimize_parameters(self) -> dict[str, torch.Tensor]:
        """One training step on ``self.batch``; returns detached scalar losses."""
        raise NotImplementedError

    def generate_batch(self, inputs: torch.Tensor) -> torch.Tensor:
        """Generator output in [-1, 1] for noise (noise GANs) or source images (CycleGAN)."""
        return self.nets[self.generator_net](inputs)

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """Generator inputs for ``n`` images drawn from ``gen`` (on the CPU): z vectors."""
        return torch.randn(n, int(self.config["latent_dim"]), generator=gen)

    def step_optimizer(self, name: str, loss: torch.Tensor) -> None:
        """Zero the gradients of optimiser ``name``, back-propagate ``loss``, step."""
        self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers[name].step()

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # ------------------------------------------------------------------ shared behaviour
    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch`` (constant; CycleGAN overrides with linear decay)."""
        return float(self.config["lr"])

    def set_lr(self, epoch: int) -> float:
        lr = self.lr_at(epoch)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment for a discriminator input (identity when the policy is empty)."""
        return diff_augment(x, self.policy, self.rng) if self.policy else x

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        """Take a batch of uint8 NHWC (or float NCHW) tensors, keyed like ``domains``."""
        self.batch = {k: to_float(v.to(self.device, non_blocking=True)) for k, v in batch.items()}

    def epoch_batches(self, data: dict[str, torch.Tensor]) -> Iterator[dict[str, torch.Tensor]]:
        """Noise GANs: one shuffled pass over the real images; a last batch of one is dropped
        (batch norm cannot train on it)."""
        real = data["real"]
        bs = int(self.config["batch_size"])
        order = torch.randperm(len(real), generator=self.rng)
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            if len(idx) >= 2:
                yield {"real": real[idx.to(real.device)]}

    def images_in(self, batch: dict[str, torch.Tensor]) -> int:
        return len(next(iter(batch.values())))

    def fixed_inputs(self, data: dict[str, torch.Tensor], n: int = 16) -> torch.Tensor:
        """The inputs of the sample grids: the same every epoch (seeded noise)."""
        return self.noise(n, torch.Generator().manual_seed(int(self.config["seed"]) + 2))

    @torch.no_grad()
    def sample_images(self, fixed: torch.Tensor) -> tuple[np.ndarray, int]:
        """uint8 images for a grid and the number of columns of that grid."""
        out = self.generate_eval(fixed)
        return to_uint8(out), int(np.ceil(np.sqrt(len(out))))

    @torch.no_grad()
    def generate_eval(self, inputs: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Generator output (float NCHW in [-1, 1], on the CPU) for ``inputs`` (noise, or uint8
        source tiles), in eval mode and in chunks of ``batch_size``: the fixed evaluation
        sample of quality over training, the sample grids and :func:`isicgan.gan.generate`."""
        net = self.nets[self.generator_net]
        was_training = net.training
        net.eval()
        try:
            outs = []
            for start in range(0, len(inputs), batch_size):
                chunk = inputs[start : start + batch_size].to(self.device)
                if chunk.dtype == torch.uint8:
                    chunk = to_float(chunk)
                with self.autocast():
                    outs.append(self.generate_batch(chunk).float().cpu())
            return torch.cat(outs) if outs else torch.zeros(0, 3, self.image_size, self.image_size)
        finally:
            net.train(was_training)

    # ------------------------------------------------------------------ state
    def state_dict(self, full: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {"nets": {k: v.state_dict() for k, v in self.nets.items()}}
        if full:
            state["optimizers"] = {k: v.state_dict() for k, v in self.optimizers.items()}
            state["extra"] = self.extra_state()
            state["rng"] = self.rng.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
        if "optimizers" in state:
            for k, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][k])
        if "extra" in state:
            self.load_extra_state(state["extra"])
        if "rng" in state:
            self.rng.set_state(state["rng"])

    def save(
        self,
        path: str | Path,
        epoch: int,
        history: list[dict[str, float]],
        data_hash: str = "",
        full: bool = True,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Write a checkpoint atomically (temporary name, then rename); ``meta``: extra keys
        (plain values), e.g. the ``selection`` of the final checkpoint."""
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "gan": self.name,
            "config": self.config,
            "image_size": self.image_size,
            "epoch": int(epoch),
            "data_hash": data_hash,
            "history": copy.deepcopy(history),
            **(meta or {}),
            **self.state_dict(full),
        }
        with atomic_path(path) as tmp:
            torch.save(ckpt, tmp)


class TrainingHook(Protocol):
    """What the training loop (:mod:`isicgan.gan.train`) calls during a run; implemented by
    :class:`isicgan.quality.training_eval.TrainingEvaluation` (quality over training)."""

    columns: tuple[str, ...]  # the history.csv columns it adds to evaluated epochs
    references: dict[str, float]  # real-data reference lines of the loss figure

    def start(
        self, model: GANModel, data: dict[str, torch.Tensor], checkpoint_dir: Path, done_epochs: int
    ) -> None: ...

    def after_epoch(
        self, model: GANModel, epoch: int, epochs: int, rows: list[dict], data_hash: str
    ) -> dict[str, float]: ...

    def prune(self, rows: list[dict]) -> None: ...

    def write_final(
        self, model: GANModel, final: Path, epochs: int, rows: list[dict], data_hash: str
    ) -> dict[str, Any]: ...
