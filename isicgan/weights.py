"""Pretrained weights: where they come from, how they are fetched, how they are checked.

Each weight is a file under ``resources/weights/`` named as its publisher names it.
Online machines get it from the ``fetch_weights`` rule (run once, e.g. on a SLURM
login node); offline users copy the file there by hand. Either way the file is
checked before it is used: :func:`verify` compares it with the checksums in
:data:`REGISTRY` and raises :class:`WeightError` naming the file when it differs.

Checksums and where they come from:

* ``vgg19-dcbb9e9d.pth``: full sha256 from a public weight inventory; it agrees with
  the sha256 prefix torchvision puts in the file name and with the published size.
* Keras ``*_notop.h5``: Keras publishes md5 sums (``file_hash`` in
  ``keras/src/applications``); no public sha256 was found, so the sha256 is computed
  on the first fetch or first use and stored beside the file (``<file>.sha256``).
* ``inception-2015-12-05.pt`` (clean-fid / StyleGAN2-ADA): no published checksum was
  found; its sha256 is recorded on first fetch or use, and checked from then on.

Downloads are written to a temporary name in the target folder and renamed only
once every known checksum matches, so a broken or wrong download never leaves a
file that looks complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from isicgan.io import atomic_path, write_text

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class WeightError(RuntimeError):
    """A weight file is missing, unknown, or does not match its checksum."""


@dataclass(frozen=True)
class WeightSpec:
    key: str  # the config key under ``weights:``
    filename: str
    url: str
    sha256: str | None  # None: recorded on first fetch/use (``<file>.sha256``)
    md5: str | None = None  # the publisher's own checksum, where it gives one
    size: int | None = None
    note: str = ""


def _backbone_weights() -> tuple[WeightSpec, ...]:
    """The ImageNet files that backbone classifiers declare (their ``weights`` attribute)."""
    from isicgan import registry

    return tuple(
        WeightSpec(sha256=None, **s["weights"])
        for s in registry.specs("classifiers").values()
        if s["weights"]
    )


REGISTRY: dict[str, WeightSpec] = {
    spec.key: spec
    for spec in (
        WeightSpec(
            key="fid_inception",
            filename="inception-2015-12-05.pt",
            url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
            "inception-2015-12-05.pt",
            sha256=None,
            note="TorchScript Inception of the TF FID graph, as used by clean-fid",
        ),
        WeightSpec(
            key="vgg19",
            filename="vgg19-dcbb9e9d.pth",
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            sha256="dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
            size=574_673_361,
            note="torchvision VGG19 ImageNet weights (perceptual loss)",
        ),
    )
    + _backbone_weights()
}

FILENAMES: dict[str, WeightSpec] = {spec.filename: spec for spec in REGISTRY.values()}


def spec_for(path: str | Path) -> WeightSpec:
    """The registry entry for a weight file, found by its file name."""
    name = Path(path).name
    try:
        return FILENAMES[name]
    except KeyError:
        raise WeightError(
            f"{path}: unknown weight file name '{name}' (known: {', '.join(sorted(FILENAMES))})"
        ) from None


def digests(path: str | Path) -> dict[str, str]:
    """sha256 and md5 of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def sidecar(path: str | Path) -> Path:
    """Where the sha256 recorded for a weight without a published one is kept."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _read_sidecar(path: Path) -> str | None:
    side = sidecar(path)
    if not side.is_file():
        return None
    text = side.read_text().split()
    if not text or len(text[0]) != 64:
        raise WeightError(
            f"{side}: expected '<sha256>  <file name>', got {side.read_text()[:80]!r}"
        )
    return text[0].lower()


def _write_atomic(target: Path, text: str) -> None:
    """Write a small record beside a weight; a read-only weights folder only costs a warning."""
    try:
        write_text(target, text)
    except OSError as exc:
        log.warning("could not write %s (%s); the check will be repeated next time", target, exc)


def _write_sidecar(path: Path, sha256: str) -> None:
    _write_atomic(sidecar(path), f"{sha256}  {path.name}\n")


def _check(
    found: dict[str, str], size: int, spec: WeightSpec, where: str, recorded: str | None = None
) -> None:
    expected = {"sha256": spec.sha256 or recorded, "md5": spec.md5}
    problems = [
        f"{algo} is {found[algo]}, expected {want}"
        for algo, want in expected.items()
        if want and found[algo] != want.lower()
    ]
    if spec.size is not None and size != spec.size:
        problems.insert(0, f"size is {size} bytes, expected {spec.size}")
    if problems:
        source = (
            " (recorded in " + str(sidecar(where)) + ")" if recorded and not spec.sha256 else ""
        )
        raise WeightError(
            f"{where}: checksum mismatch for {spec.filename}{source}: "
            + "; ".join(problems)
            + (
                " (nothing was written)"
                if where.startswith("download of ")
                else f". Delete it and fetch it again from {spec.url}"
            )
        )


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def verify(path: str | Path, spec: WeightSpec | None = None, use_stamp: bool = True) -> str:
    """Check a weight file against its known checksums; return its sha256.

    A missing file raises :class:`WeightError` saying how to get it. Where no
    sha256 is published, the first call records it in ``<file>.sha256`` and later
    calls compare with that record. A passed check is remembered in
    ``<file>.verified`` (size, mtime, sha256), so checking an unchanged file again
    (every job parses the workflow) costs a ``stat`` instead of hashing 500 MB.
    """
    path = Path(path)
    spec = spec or spec_for(path)
    if not path.is_file():
        raise WeightError(
            f"{path}: pretrained weight '{spec.key}' not found. Online: "
            f"`snakemake --cores 1 {path}` fetches it from {spec.url}; "
            f"offline: download that file elsewhere and copy it to {path}"
        )
    stamp = _stamp(path)
    if use_stamp and stamp.is_file():
        size, mtime, sha = (stamp.read_text().split() + ["", "", ""])[:3]
        expected = spec.sha256 or _read_sidecar(path)
        if expected and sha == expected and f"{size} {mtime}" == _stat_key(path):
            return sha
    found = digests(path)
    recorded = None if spec.sha256 else _read_sidecar(path)
    _check(found, path.stat().st_size, spec, str(path), recorded)
    if not spec.sha256 and recorded is None:
        _write_sidecar(path, found["sha256"])
        log.warning(
            "%s: no published sha256; recorded %s in %s (checked from now on)",
            path,
            found["sha256"],
            sidecar(path),
        )
    _write_atomic(stamp, f"{_stat_key(path)} {found['sha256']}\n")
    return found["sha256"]


def download(url: str, dest: str | Path, spec: WeightSpec, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``spec``'s checksums on the way.

    ``url`` may be http(s):// or file://. Nothing is left at ``dest`` unless the whole
    file arrived and matched; a mismatch or a broken transfer raises :class:`WeightError`.
    """
    dest = Path(dest)
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with atomic_path(dest) as tmp, open(tmp, "wb") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                announced = response.headers.get("Content-Length")
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
            if announced is not None and size != int(announced):
                raise OSError(f"transfer ended after {size} of {announced} bytes")
        except (OSError, ValueError) as exc:  # URLError, HTTPError, IncompleteRead, timeouts
            raise WeightError(f"could not download {url} to {dest}: {exc}") from exc
        out.flush()
        os.fsync(out.fileno())
        found = {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}
        _check(found, size, spec, f"download of {url}")  # a mismatch leaves nothing at dest
    if not spec.sha256:
        _write_sidecar(dest, found["sha256"])
    _write_atomic(_stamp(dest), f"{_stat_key(dest)} {found['sha256']}\n")
    log.info("fetched %s (%d bytes, sha256 %s)", dest, size, found["sha256"])
    return dest


def fetch(path: str | Path, url: str | None = None, timeout: float = 60) -> Path:
    """Make sure the weight file ``path`` is present and verified, downloading it if missing.

    The registry entry is found from the file name; ``url`` overrides its address
    (a mirror, or a file:// path on a shared disk).
    """
    path = Path(path)
    spec = spec_for(path)
    if path.is_file():
        verify(path, spec)
        log.info("%s already present and verified", path)
        return path
    return download(url or spec.url, path, spec, timeout=timeout)
