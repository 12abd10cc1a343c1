"""Network builders shared by the GANs: norm layers and weight init by name, and the
generators/discriminators of each model.

Every builder takes the image side in pixels, so the same code serves the 16-32 px
tests, the 32 px demo and the 140 px thesis set-up. Sizes that are not a power of
two are handled by generating the next size up and centre-cropping (noise
generators) or by checking divisibility up front (image-to-image generators).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


# --------------------------------------------------------------------------- helpers
def norm_layer(name: str, channels: int) -> nn.Module:
    """A normalisation layer by name: batch | instance | layer | none.

    ``layer`` normalises each sample over (C, H, W) with a per-channel affine
    (GroupNorm with one group): independent of the batch, hence safe inside a
    gradient-penalised critic.
    """
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm layer {name!r} (batch, instance, layer, none)")


def init_weights(
    net: nn.Module,
    kind: str = "normal",
    gain: float = 0.02,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialise conv/linear weights by name (normal | xavier | kaiming) and norm affines.

    Draws come from ``generator`` so initialisation is reproducible without global state.
    Spectral-normalised layers are initialised through their ``original`` weight.
    """

    def weight_of(m: nn.Module) -> torch.Tensor | None:
        if hasattr(m, "parametrizations") and "weight" in m.parametrizations:
            return m.parametrizations.weight.original
        return getattr(m, "weight", None)

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = weight_of(m)
                if kind == "normal":
                    nn.init.normal_(w, 0.0, gain, generator=generator)
                elif kind == "xavier":
                    nn.init.xavier_normal_(w, gain=gain, generator=generator)
                elif kind == "kaiming":
                    nn.init.kaiming_normal_(w, a=0.0, mode="fan_in", generator=generator)
                else:
                    raise ValueError(f"unknown init {kind!r} (normal, xavier, kaiming)")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                nn.init.normal_(m.weight, 1.0, gain, generator=generator)
                nn.init.zeros_(m.bias)
    return net


def _maybe_sn(module: nn.Module, use: bool) -> nn.Module:
    return spectral_norm(module) if use else module


def n_doublings(image_size: int, start: int = 4) -> int:
    """How many x2 upsamplings take a ``start``-ish map to at least ``image_size``."""
    return max(1, int(math.floor(math.log2(image_size / start))))


class CenterCrop(nn.Module):
    """Crop the centre ``size`` x ``size`` of a feature map (no-op when it already fits)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h == self.size and w == self.size:
            return x
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return x[..., top : top + self.size, left : left + self.size]


# --------------------------------------------------------------------------- CycleGAN
class ResnetBlock(nn.Module):
    """Two 3x3 convs with reflection padding and a skip connection."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        bias = norm == "instance"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(
    in_ch: int, out_ch: int, ngf: int, n_blocks: int, norm: str = "instance", n_down: int = 2
) -> nn.Sequential:
    """The reference CycleGAN generator: c7s1-ngf, n_down stride-2 convs, residual blocks,
    n_down transposed convs, c7s1-out, tanh."""
    bias = norm == "instance"
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_ch, ngf, 7, bias=bias),
        norm_layer(norm, ngf),
        nn.ReLU(True),
    ]
    ch = ngf
    for _ in range(n_down):
        layers += [
            nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias),
            norm_layer(norm, ch * 2),
            nn.ReLU(True),
        ]
        ch *= 2
    layers += [ResnetBlock(ch, norm) for _ in range(n_blocks)]
    for _ in range(n_down):
        layers += [
            nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
            norm_layer(norm, ch // 2),
            nn.ReLU(True),
        ]
        ch //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_ch, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def thesis_cycle_generator(ngf: int) -> nn.Sequential:
    """The thesis generator (section 5): Conv 3->64->128->256, ConvT 256->128->64, Conv 64->3.

    The thesis gives channels, BatchNorm+ReLU and Tanh only; our choices: a 7x7 stride-1
    stem, 3x3 stride-2 downsampling convs, 3x3 stride-2 transposed convs (output_padding 1,
    so 140 -> 35 -> 140 exactly), and a 7x7 output conv; zero padding throughout.
    """
    return nn.Sequential(
        nn.Conv2d(3, ngf, 7, padding=3, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.Conv2d(ngf * 2, ngf * 4, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.Conv2d(ngf, 3, 7, padding=3),
        nn.Tanh(),
    )


def patch_layers_for(image_size: int, wanted: int = 3) -> int:
    """Stride-2 layers of a PatchGAN such that the output map is at least 2x2."""
    n = wanted
    while n > 1 and image_size // (2**n) - 2 < 2:
        n -= 1
    return n


def patch_discriminator(
    in_ch: int, ndf: int, n_layers: int = 3, norm: str = "instance"
) -> nn.Sequential:
    """PatchGAN: 4x4 convs, n_layers stride-2 then one stride-1, then a 1-channel map.

    With n_layers = 3 each output sees a 70x70 patch (the reference CycleGAN design).
    The thesis discriminator (Conv 3->64, 64->128->256->512 with BatchNorm, Conv 512->1)
    is this network with ``norm='batch'``.
    """
    bias = norm in ("instance", "none")
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2, True),
    ]
    ch = ndf
    for i in range(1, n_layers):
        nxt = ndf * min(2**i, 8)
        layers += [
            nn.Conv2d(ch, nxt, 4, stride=2, padding=1, bias=bias),
            norm_layer(norm, nxt),
            nn.LeakyReLU(0.2, True),
        ]
        ch = nxt
    nxt = ndf * min(2**n_layers, 8)
    layers += [
        nn.Conv2d(ch, nxt, 4, stride=1, padding=1, bias=bias),
        norm_layer(norm, nxt),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(nxt, 1, 4, stride=1, padding=1),
    ]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- noise GANs
class LatentGenerator(nn.Module):
    """DCGAN-style generator: z -> s0 x s0 map -> x2 transposed convs -> crop to image_size.

    s0 = ceil(image_size / 2^k) with k doublings from about 4 px; 140 px is made at 160 and
    centre-cropped. Channels halve at each doubling, starting from ngf * 2^(k-1) (max ngf*8).
    """

    def __init__(self, latent_dim: int, ngf: int, image_size: int, norm: str = "batch"):
        super().__init__()
        k = n_doublings(image_size)
        s0 = math.ceil(image_size / 2**k)
        ch = ngf * min(2 ** (k - 1), 8)
        self.latent_dim = latent_dim
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, ch, s0, stride=1, padding=0, bias=norm == "none"),
            norm_layer(norm, ch),
            nn.ReLU(True),
        ]
        for i in range(k - 1):
            nxt = ngf * min(2 ** (k - 2 - i), 8)
            layers += [
                nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1, bias=norm == "none"),
                norm_layer(norm, nxt),
                nn.ReLU(True),
            ]
            ch = nxt
        layers += [
            nn.ConvTranspose2d(ch, 3, 4, stride=2, padding=1),
            nn.Tanh(),
            CenterCrop(image_size),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class ConvCritic(nn.Module):
    """DCGAN discriminator / WGAN critic: 4x4 stride-2 convs down to about 4 px, then a
    conv over the whole remaining map to one score per image (logit or critic value).

    ``norm`` is applied from the second conv on (batch for DCGAN; layer or none for a
    gradient-penalised critic); ``spectral`` wraps every conv in spectral normalisation.
    """

    def __init__(self, ndf: int, image_size: int, norm: str = "batch", spectral: bool = False):
        super().__init__()
        size, ch, layers = image_size, 3, []
        i = 0
        while size > 5 or i == 0:
            nxt = ndf * min(2**i, 8)
            layers.append(
                _maybe_sn(
                    nn.Conv2d(ch, nxt, 4, stride=2, padding=1, bias=i == 0 or norm == "none"),
                    spectral,
                )
            )
            if i > 0:
                layers.append(norm_layer(norm, nxt))
            layers.append(nn.LeakyReLU(0.2, True))
            ch, size, i = nxt, size // 2, i + 1
        layers.append(_maybe_sn(nn.Conv2d(ch, 1, size, stride=1, padding=0), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1).mean(1)


class NoiseImageGenerator(nn.Module):
    """The thesis WGAN-GP generator: an image of noise in, downsampling convs, residual
    blocks, transposed convs, tanh out (a ResNet generator fed with N(0,1) noise images)."""

    def __init__(self, ngf: int, image_size: int, n_blocks: int = 3, norm: str = "batch"):
        super().__init__()
        if image_size % 4:
            raise ValueError(
                f"the thesis WGAN-GP generator needs image_size divisible by 4, got {image_size}"
            )
        self.image_size = image_size
        self.net = resnet_generator(3, 3, ngf, n_blocks, norm=norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
