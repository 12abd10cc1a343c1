"""Feature vectors of image sets: the Inception network of the FID literature and the in-domain encoder.

Inception (clean-fid "clean" mode): every uint8 tile is resized to 299 x 299 with clean-fid's
own PIL bicubic resizer (float, no quantisation), scaled (x - 128) / 128 and passed through the
``layers`` of clean-fid's TorchScript network ``inception-2015-12-05.pt`` (2048 pool features),
exactly as ``cleanfid.inception_torchscript.InceptionV3W`` does. The network is read only from
the file configured as ``weights.fid_inception`` (the weights stage downloads it there for online
users); nothing is fetched behind the workflow's back, so a missing file gives null FID/KID with
the reason, never a number from another network.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from isicgan.io import atomic_path, load_png_folder
from isicgan.quality.encoder import load_encoder, to_input
from isicgan.weights import verify as verify_weight

log = logging.getLogger(__name__)

INCEPTION_FILE = "inception-2015-12-05.pt"


def inception_unavailable(path: str | Path | None) -> str | None:
    """Why Inception FID/KID cannot be computed with ``path``, or None when they can."""
    if not path:
        return (
            "weights.fid_inception is null: set it to clean-fid's TorchScript Inception "
            f"({INCEPTION_FILE}; the fetch_weights rule downloads it when online)"
        )
    if not Path(path).is_file():
        return f"weights.fid_inception file not found: {path}"
    return None


def load_inception(path: str | Path, verify: bool = True):
    """clean-fid's TorchScript Inception (or a stand-in with the same interface), eval mode.

    A file named ``inception-2015-12-05.pt`` is first checked with
    :func:`isicgan.weights.verify` (its sha256, recorded on first use); ``verify=False`` skips it.
    """
    path = Path(path)
    reason = inception_unavailable(path)
    if reason:
        raise FileNotFoundError(reason)
    if verify and path.name == INCEPTION_FILE:
        verify_weight(path)
    try:
        net = torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise ValueError(
            f"{path} is not a TorchScript file (expected clean-fid's {INCEPTION_FILE}): {err}"
        ) from err
    if not hasattr(net, "layers"):
        raise ValueError(f"{path} has no 'layers' submodule: not clean-fid's TorchScript Inception")
    return net


def clean_resize(images: np.ndarray) -> np.ndarray:
    """clean-fid clean mode resize: uint8 N x H x W x 3 -> float32 N x 3 x 299 x 299 in [0, 255]."""
    # lazy: clean-fid is needed only when weights.fid_inception is configured
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    return np.stack([resize(img).transpose(2, 0, 1) for img in images]).astype(np.float32)


def inception_features(images: np.ndarray, net, batch_size: int = 32) -> np.ndarray:
    """N x 2048 Inception pool features (float64) of uint8 N x H x W x 3 tiles."""
    feats = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(clean_resize(images[start : start + batch_size]))
            out = net.layers.forward((x - 128) / 128)
            feats.append(out.reshape(len(x), -1).double().numpy())
    return np.concatenate(feats) if feats else np.zeros((0, 2048))


def indomain_features(images: np.ndarray, encoder, batch_size: int = 256) -> np.ndarray:
    """N x encoder_dim bottleneck features (float64) of the in-domain encoder."""
    feats = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = to_input(images[start : start + batch_size], encoder.input_size)
            feats.append(encoder(x).double().numpy())
    return np.concatenate(feats) if feats else np.zeros((0, 0))


def features(images: np.ndarray, space: str, model) -> np.ndarray:
    """Features of ``images`` in ``space`` ('indomain' or 'inception') with the loaded ``model``."""
    if space == "indomain":
        return indomain_features(images, model)
    if space == "inception":
        return inception_features(images, model)
    raise ValueError(f"unknown feature space {space!r} (indomain | inception)")


def load_model(space: str, path: str | Path):
    return load_encoder(path) if space == "indomain" else load_inception(path)


def write_reference(
    folder: str | Path, space: str, model_path: str | Path, out_path: str | Path
) -> int:
    """Features of every PNG in ``folder`` saved to ``out_path`` (npz: feats, ids, space)."""
    images, ids = load_png_folder(folder)
    if not ids:
        raise ValueError(f"no PNG tiles in {folder}: cannot compute reference features")
    feats = features(images, space, load_model(space, model_path))
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, feats=feats, ids=np.array(ids), space=np.array(space))
    log.info("%s features of %d tiles in %s -> %s", space, len(ids), folder, out_path)
    return len(ids)


def read_reference(path: str | Path) -> np.ndarray:
    """The feature matrix of a reference file written by :func:`write_reference`."""
    with np.load(path) as data:
        return data["feats"]
