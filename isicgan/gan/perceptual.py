"""VGG19 perceptual loss between matched feature statistics of two batches.

The thesis added a VGG19 perceptual term between a fake image and an unrelated real
image (the pair has nothing in common, so the term rewards no likeness). Here the term compares
*statistics* of the two batches instead: for each chosen VGG19 layer, the per-channel
mean and standard deviation of the features over the batch and the pixels, for the
fake batch and the real batch. Images in [-1, 1] are mapped to [0, 1] and normalised
with the ImageNet mean/std that VGG19 was trained with.

Weights: a local torchvision state-dict file (config ``weights.vgg19``, e.g.
``vgg19-dcbb9e9d.pth``; a file holding only the ``features.*`` entries up to the last
layer used is accepted too), or, with no file, torchvision's download (online only).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# relu1_2, relu2_2, relu3_4, relu4_4 in torchvision's vgg19().features
LAYERS = (3, 8, 17, 26)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# torchvision's vgg19().features layout: 3x3 convs (+ReLU) and 2x2 max pools ("M")
VGG19_PLAN = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)


def vgg19_features(last_layer: int = max(LAYERS)) -> nn.Sequential:
    """VGG19's ``features`` up to ``last_layer``, module indices as in torchvision (so its
    ``features.N.weight`` keys load), randomly initialised."""
    layers: list[nn.Module] = []
    ch = 3
    for item in VGG19_PLAN:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(ch, item, 3, padding=1), nn.ReLU(inplace=True)]
            ch = item
    return nn.Sequential(*layers[: last_layer + 1])


def load_vgg19_features(weights: str | Path | None, last_layer: int = max(LAYERS)) -> nn.Sequential:
    """VGG19 ``features`` up to ``last_layer`` (inclusive), frozen, in eval mode."""
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weight file {path} (config weights.vgg19) not found")
        from isicgan.weights import FILENAMES, verify  # lazy: only with a local file

        if path.name in FILENAMES:
            verify(path)  # the published checksum of torchvision's file
        else:
            log.warning(
                "VGG19 file %s has not torchvision's name; its checksum is not checked", path
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        feats = vgg19_features(last_layer)
        wanted = {
            k.removeprefix("features."): v
            for k, v in state.items()
            if k.startswith("features.") and int(k.split(".")[1]) <= last_layer
        }
        missing = set(feats.state_dict()) - set(wanted)
        if missing:
            raise ValueError(
                f"VGG19 weight file {path} lacks {sorted(missing)[:4]}...: "
                "expected torchvision's vgg19 state dict (features.N.weight/bias)"
            )
        feats.load_state_dict(wanted)
        log.info("VGG19 perceptual loss: weights read from %s", path)
    else:
        log.warning(
            "VGG19 perceptual loss: weights.vgg19 is null, so torchvision downloads "
            "the ImageNet weights now (needs internet; set weights.vgg19 to a local "
            "vgg19-dcbb9e9d.pth to run offline)"
        )
        # lazy: torchvision is needed only to download the weights
        from torchvision.models import VGG19_Weights, vgg19

        try:
            model = vgg19(weights=VGG19_Weights.IMAGENET1K_V1)
        except Exception as exc:  # URLError, SSL errors, ... all mean the same here
            raise RuntimeError(
                "could not download the VGG19 ImageNet weights for the perceptual loss "
                f"({exc}). Offline: put torchvision's vgg19-dcbb9e9d.pth somewhere and set "
                "config weights.vgg19 to its path, or set gan.wgan_gp.perceptual_weight: 0"
            ) from exc
        feats = model.features[: last_layer + 1]
    feats.eval().requires_grad_(False)
    return feats


class PerceptualStatLoss(nn.Module):
    """Sum over VGG19 layers of |mean_fake - mean_real|_1 + |std_fake - std_real|_1 (per channel,
    averaged), the statistics taken over batch and pixels."""

    def __init__(self, weights: str | Path | None, layers: tuple[int, ...] = LAYERS):
        super().__init__()
        self.layers = tuple(sorted(layers))
        self.features = load_vgg19_features(weights, self.layers[-1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> PerceptualStatLoss:
        super().train(mode)
        self.features.eval()  # always frozen, whatever the parent does
        return self

    def stats(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.layers:
                f = x.float().transpose(0, 1).flatten(1)  # (C, N*H*W)
                out.append((f.mean(1), f.std(1)))
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            real_stats = self.stats(real)
        loss = fake.new_zeros((), dtype=torch.float32)
        for (fm, fs), (rm, rs) in zip(self.stats(fake), real_stats):
            loss = loss + (fm - rm).abs().mean() + (fs - rs).abs().mean()
        return loss
