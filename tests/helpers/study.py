"""One tiny end-to-end study (config.yaml + tests/tiny.yaml through the real Snakefile), built
once per test session and shared by every test that reads a finished study.

The build starts in the background as the session starts (when a collected test needs the
study), so it overlaps the tests that do not. Under pytest-xdist the workers share one build
through a file lock: the first to take it builds, the others wait and reuse the result. Tests
that edit or rerun a study work on a copy (:func:`copy_study`); ``cp -a`` keeps modification
times, and Snakemake's metadata travels in ``.snakemake/``, so a copy of the finished study
plans nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import traceback
from pathlib import Path

from filelock import FileLock

from helpers.workflow import workflow_command

#: a whole tiny study takes minutes; this is a hung run
BUILD_TIMEOUT = 1800

_builds: dict[Path, threading.Thread] = {}
_running: dict[Path, subprocess.Popen] = {}


def _build(root: Path) -> None:
    """Build ``root/study`` unless done (or failed) already; the outcome is left in
    ``root/study.done`` or ``root/study.failed`` for every process of the session."""
    study, done, failed = root / "study", root / "study.done", root / "study.failed"
    with FileLock(str(root / "study.lock")):
        if done.exists() or failed.exists():
            return
        if study.exists():  # a build interrupted earlier in this session
            shutil.rmtree(study)
        study.mkdir()
        started = time.monotonic()
        # in pytest's process group: Ctrl-C in a terminal stops the build too
        proc = subprocess.Popen(
            workflow_command(study), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _running[root] = proc
        try:
            out, err = proc.communicate(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(root)
            out, err = proc.communicate()
            err += f"\n(killed after {BUILD_TIMEOUT} s)"
        finally:
            _running.pop(root, None)
        if proc.returncode != 0:
            failed.write_text(
                f"snakemake failed ({proc.returncode}):\n{out[-4000:]}\n{err[-8000:]}"
            )
        else:
            done.write_text(f"built in {time.monotonic() - started:.0f} s\n")


def _build_in_thread(root: Path) -> None:
    try:
        _build(root)
    except BaseException:  # reported to every test that needs the study
        (root / "study.failed").write_text(traceback.format_exc())


def start_shared_study(root: Path) -> None:
    """Start building the shared study under ``root`` in a background thread of this process
    (which waits instead, if another process of the session holds the lock)."""
    root.mkdir(parents=True, exist_ok=True)
    if root not in _builds:
        _builds[root] = threading.Thread(
            target=_build_in_thread, args=(root,), daemon=True, name="tiny-study-build"
        )
        _builds[root].start()


def shared_study(root: Path) -> Path:
    """``root/study``, the finished tiny study: built here, or waited for when a background
    build (of this or another process) runs. A failed build is reported to every caller, not
    retried."""
    root.mkdir(parents=True, exist_ok=True)
    if root in _builds:
        _builds[root].join()
    else:
        _build(root)
    failed = root / "study.failed"
    if failed.exists():
        raise AssertionError("the shared tiny study failed to build:\n" + failed.read_text())
    return root / "study"


def stop(root: Path) -> None:
    """Stop this process's build under ``root``, if one runs: SIGTERM (Snakemake then stops its
    jobs), SIGKILL if it is still there after 30 s."""
    proc = _running.get(root)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def finish(root: Path, stopped: bool) -> None:
    """At the end of a session (or of an xdist worker's part of it): wait for this process's
    build, which another worker may still need, unless the session ``stopped`` early."""
    if root in _builds:
        if stopped:
            stop(root)
        _builds[root].join()


def copy_study(study: Path, dest: Path, *relative: str) -> Path:
    """A copy of ``study`` at ``dest`` (the whole study, or only the ``relative`` paths),
    modification times kept (``cp -a``), so Snakemake sees copied outputs as finished."""
    if not relative:
        subprocess.run(["cp", "-a", str(study), str(dest)], check=True)
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--parents", *relative, str(dest)], cwd=study, check=True)
    return dest
