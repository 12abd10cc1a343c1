"""Give each local GPU job its own card.

Snakemake schedules ``resources: gpu=1`` jobs against ``--resources gpu=N`` but does
not tell a job *which* card to use: without help, every concurrent job would pile onto
GPU 0. :func:`gpu_slot` picks free cards with one lock file per card (``flock``, so a
killed job frees its card at once) and sets ``CUDA_VISIBLE_DEVICES`` before PyTorch
or TensorFlow initialise CUDA. Under SLURM (``--gpus``) or when the user has set
``CUDA_VISIBLE_DEVICES`` the assignment is already made and is left alone.

    with gpu_slot(snakemake.resources.get("gpu", 0)):
        train(...)   # torch / keras see only the claimed card(s)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu-slots"


def visible_gpu_count() -> int:
    """Number of NVIDIA GPUs (``nvidia-smi -L``, which does not initialise CUDA); 0 if none."""
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


@contextlib.contextmanager
def gpu_slot(
    n: int = 1,
    lock_dir: str | Path = DEFAULT_LOCK_DIR,
    total: int | None = None,
    timeout: float | None = None,
    poll: float = 1.0,
) -> Iterator[list[str]]:
    """Claim ``n`` free GPUs for the duration of the block; yield their ids ([] = CPU).

    ``total`` is the number of cards (default: :func:`visible_gpu_count`). Waits for
    cards to free up (at most ``timeout`` seconds, then TimeoutError).
    """
    n = int(n or 0)
    preset = os.environ.get("CUDA_VISIBLE_DEVICES")
    if n <= 0 or preset is not None:
        ids = [d for d in (preset or "").split(",") if d]
        if n > 0:
            log.info("CUDA_VISIBLE_DEVICES=%s already set (SLURM or user); using it", preset)
        yield ids
        return
    total = visible_gpu_count() if total is None else total
    if total == 0:
        log.info("no GPU found: running on the CPU")
        yield []
        return
    if n > total:
        raise ValueError(f"a job asks for {n} GPUs but this machine has {total}")
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    held: list[tuple[str, int]] = []
    try:
        while True:
            for i in range(total):
                if len(held) == n:
                    break
                fd = os.open(lock_dir / f"gpu{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                held.append((str(i), fd))
            if len(held) == n:
                break
            for _, fd in held:  # take all or none, so two jobs cannot deadlock on halves
                os.close(fd)
            held = []
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"no {n} free GPU(s) of {total} after {timeout} s (locks in {lock_dir})"
                )
            time.sleep(poll)
        ids = [i for i, _ in held]
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
        log.info("claimed GPU(s) %s", ",".join(ids))
        try:
            yield ids
        finally:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    finally:
        for _, fd in held:
            os.close(fd)
