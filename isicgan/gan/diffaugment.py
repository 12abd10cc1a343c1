"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for small-data GANs.

The same random transform family is applied to every image the discriminator sees,
real and fake, and every operation is differentiable in the image, so the generator
is trained through it. Images are in [-1, 1], NCHW. Random draws come from a
``torch.Generator`` on the CPU (small per-sample parameters), then move to the
images' device, so runs are reproducible on CPU and GPU alike.

Policies: ``color`` (brightness, saturation, contrast), ``translation`` (shift by up
to 1/8 of the side, zero fill), ``cutout`` (one zeroed square of half the side, placed
fully inside the image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> list[str]:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in POLICIES:
            raise ValueError(
                f"unknown DiffAugment policy {name!r} (allowed: {', '.join(POLICIES)})"
            )
    return names


def _rand(n: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=gen).to(device=like.device, dtype=like.dtype)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(n, gen, x) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(n, gen, x) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, gen, x) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen).to(x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen).to(x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + ty + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + tx + 1).clamp(0, w + 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the border ring is the zero fill
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (n,h,w,c) -> (n,c,h,w)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h - ch + 1, (n, 1, 1), generator=gen).to(x.device)
    ox = torch.randint(0, w - cw + 1, (n, 1, 1), generator=gen).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= oy) & (ys < oy + ch) & (xs >= ox) & (xs < ox + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: str | list[str], gen: torch.Generator) -> torch.Tensor:
    """Apply the policies in order (``""`` or ``[]``: return ``x`` unchanged)."""
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        x = _OPS[name](x, gen)
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x.contiguous()
