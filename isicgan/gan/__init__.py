"""The generators of the study: CycleGAN (benign -> malignant), WGAN-GP, DCGAN, ...

Public API (used by the workflow and the synthesis stage):

- :func:`generate` -- images from a trained checkpoint, deterministic on the CPU;
- :func:`load_checkpoint` -- a checkpoint as a plain dict (``weights_only=True``);
- :func:`build_model` -- a generator by name (one module each in :mod:`isicgan.gan.models`);
- :func:`train_gan` (in :mod:`isicgan.gan.train`) -- the training job of rule ``train_gan``.

A new generator is a new module in ``isicgan/gan/models/`` holding one
:class:`~isicgan.gan.base.GANModel` subclass; :mod:`isicgan.registry` finds it by looking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from isicgan import registry
from isicgan.gan.base import GANModel, to_uint8
from isicgan.specs import REPLICATE_SEED_STEP, replicate_config  # noqa: F401 (public API)

__all__ = [
    "GANModel",
    "build_model",
    "model_class",
    "replicate_config",
    "generate",
    "load_checkpoint",
    "resolve_device",
    "train_gan",
]


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; ``cuda`` without one is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            "config gan.device is 'cuda' but no CUDA device is available (use 'auto' or 'cpu')"
        )
    return device


def model_class(gan: str) -> type[GANModel]:
    """The class of generator ``gan`` (the module ``isicgan/gan/models/<gan>.py``)."""
    return registry.load_class("generators", gan)


def build_model(
    gan: str,
    config: dict[str, Any],
    image_size: int,
    device: str = "cpu",
    training: bool = True,
    weights: dict[str, str | Path] | None = None,
) -> GANModel:
    """The generator ``gan`` built and seeded from its config section; ``weights``: local
    weight files by key of the model's ``optional_weights``."""
    return model_class(gan)(config, image_size, device=device, training=training, weights=weights)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint (final or intermediate) on the CPU with ``weights_only=True``.

    Keys: ``gan``, ``config`` (the GAN's config section it was trained with),
    ``image_size``, ``epoch`` (epochs completed), ``history``, ``nets`` ({name: state_dict}),
    and for intermediate checkpoints also ``optimizers``, ``extra``, ``rng``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GAN checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"GAN checkpoint {path} cannot be read ({exc})") from exc
    missing = {"gan", "config", "image_size", "epoch", "nets"} - set(ckpt)
    if missing:
        raise ValueError(f"GAN checkpoint {path} lacks {sorted(missing)}")
    return ckpt


def generate(
    checkpoint: str | Path,
    n: int,
    seed: int,
    source: np.ndarray | None = None,
    device: str = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """``n`` synthetic malignant images, uint8 (n, H, W, 3), from a trained checkpoint.

    Noise generators (``translates`` false): the generator inputs for all ``n`` images are drawn at
    once from ``torch.Generator().manual_seed(seed)`` on the CPU, so the result does not
    depend on ``batch_size`` and is the same on every CPU run. Translating generators
    (CycleGAN): translate ``source`` (uint8 (n, H, W, 3) benign tiles of the trained image
    size) benign -> malignant; ``seed`` is unused (the translation is deterministic). Generators run in
    eval mode.
    """
    ckpt = load_checkpoint(checkpoint)
    device = resolve_device(device)
    model = build_model(
        ckpt["gan"], ckpt["config"], ckpt["image_size"], device=device, training=False
    )
    net_name = model.generator_net
    model.nets[net_name].load_state_dict(ckpt["nets"][net_name])
    size = model.image_size
    if model.translates:
        if source is None:
            raise ValueError(
                f"{ckpt['gan']} generate() needs source: benign uint8 tiles (n, H, W, 3)"
            )
        source = np.asarray(source)
        if source.dtype != np.uint8 or source.ndim != 4 or source.shape[1:] != (size, size, 3):
            raise ValueError(
                f"source must be uint8 (n, {size}, {size}, 3) to match checkpoint "
                f"{checkpoint}; got {source.dtype} {source.shape}"
            )
        if len(source) != n:
            raise ValueError(f"{ckpt['gan']} generate(): n={n} but len(source)={len(source)}")
        inputs = torch.from_numpy(np.ascontiguousarray(source))
    else:
        if source is not None:
            raise ValueError(f"{ckpt['gan']} samples from noise; source must be None")
        inputs = model.noise(int(n), torch.Generator().manual_seed(int(seed)))
    if n == 0:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return to_uint8(model.generate_eval(inputs, batch_size=int(batch_size)))


def __getattr__(name: str):
    # lazy: train_gan pulls in tqdm and pandas, which generate() does not need
    if name == "train_gan":
        from isicgan.gan.train import train_gan

        return train_gan
    raise AttributeError(name)
