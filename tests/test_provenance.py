"""The code digest and its cache: cached digests equal freshly computed ones, every edit that
changes code is seen, and the cache file survives damage and writers racing each other.

Protects: the param ``code`` of every rule (isicgan/provenance.py) reruns a job exactly when
the package code it runs changed, also when the digest comes from the cache across workflow
parses (issue 18: an instant no-op).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from isicgan import provenance

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "synthesize.py"  # a script that reaches much of the package
MODEL = ("isicgan.gan.models.dcgan",)


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of the package and scripts, a private cache file, and a fresh in-process cache."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "isicgan", src / "isicgan", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "scripts", src / "scripts", symlinks=True)
    monkeypatch.setenv("ISICGAN_CODE_CACHE", str(tmp_path / "cache" / "code-digest.json"))
    new_process()
    yield src
    new_process()


def new_process():
    """Forget what this process has cached, as a new workflow parse starts without it."""
    provenance._memory.clear()
    provenance._memory_digests.clear()
    provenance._dirty.clear()
    provenance._dirty_digests.clear()
    provenance._disk = None


def digest(src: Path) -> str:
    return provenance.code_digest(src / "scripts" / SCRIPT, src, MODEL)


def settle(monkeypatch):
    """Let files changed just now be cached (they are parsed every time within RACY_SECONDS)."""
    monkeypatch.setattr(provenance, "RACY_SECONDS", 0.0)


def test_a_cached_digest_equals_the_uncached_one(tree, monkeypatch):
    settle(monkeypatch)
    first = digest(tree)
    cache = Path(os.environ["ISICGAN_CODE_CACHE"])
    files = json.loads(cache.read_text())["files"]
    assert str(tree / "isicgan" / "gan" / "models" / "dcgan.py") in files
    new_process()
    assert digest(tree) == first  # from the cache file
    assert provenance._dirty == {} and provenance._disk is not None
    monkeypatch.setenv("ISICGAN_CODE_CACHE", "off")
    new_process()
    assert digest(tree) == first  # parsed again, no cache


def test_comments_and_docstrings_change_nothing_and_code_does(tree, monkeypatch):
    settle(monkeypatch)
    before = digest(tree)
    dcgan = tree / "isicgan" / "gan" / "models" / "dcgan.py"
    text = dcgan.read_text()
    dcgan.write_text(text.replace('"""', '"""Edited. ', 1) + "\n# a comment\n")
    new_process()
    assert digest(tree) == before
    dcgan.write_text(text + "\nEDITED = True\n")
    new_process()
    assert digest(tree) != before
    # a module the script does not reach changes nothing
    dcgan.write_text(text)
    new_process()
    assert digest(tree) == before
    (tree / "isicgan" / "unused_module.py").write_text("X = 1\n")
    assert digest(tree) == before


def test_a_file_changed_within_racy_seconds_is_parsed_every_time(tree):
    """A file changed less than RACY_SECONDS ago is never cached, in memory or on disk: on a
    file system whose clock ticks coarsely, an edit that keeps the size could keep the times
    too, and a cached entry would hide it."""
    dcgan = tree / "isicgan" / "gan" / "models" / "dcgan.py"
    text = dcgan.read_text()
    dcgan.write_text(text + "\nEDITED = 1\n")
    one = digest(tree)
    cache_file = Path(os.environ["ISICGAN_CODE_CACHE"])
    cache = json.loads(cache_file.read_text())["files"] if cache_file.exists() else {}
    assert str(dcgan) not in cache and str(dcgan) not in provenance._memory
    assert str(tree / "isicgan" / "io.py") not in cache  # copied just now: also fresh
    dcgan.write_text(text + "\nEDITED = 2\n")
    two = digest(tree)
    assert one != two
    new_process()
    assert digest(tree) == two


def test_an_old_modification_time_put_back_does_not_hide_an_edit(tree, monkeypatch):
    """``cp -p`` or ``touch -r`` can give a changed file its old size and mtime; the change
    time and inode, which no user can set, are part of the key."""
    settle(monkeypatch)
    dcgan = tree / "isicgan" / "gan" / "models" / "dcgan.py"
    text = dcgan.read_text()
    dcgan.write_text(text + "\nEDITED = 1\n")
    old = dcgan.stat()
    os.utime(dcgan, ns=(old.st_atime_ns - 10**10, old.st_mtime_ns - 10**10))
    stamped = dcgan.stat()
    one = digest(tree)
    new_process()
    dcgan.write_text(text + "\nEDITED = 2\n")
    os.utime(dcgan, ns=(stamped.st_atime_ns, stamped.st_mtime_ns))
    assert (dcgan.stat().st_size, dcgan.stat().st_mtime_ns) == (
        stamped.st_size,
        stamped.st_mtime_ns,
    )
    assert digest(tree) != one


def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(tree, monkeypatch):
    settle(monkeypatch)
    expected = digest(tree)
    cache = Path(os.environ["ISICGAN_CODE_CACHE"])
    for damage in [
        "{not json",
        json.dumps({"version": -1, "files": {}}),
        json.dumps(
            {
                "version": provenance.CACHE_VERSION,
                "files": {str(tree / "isicgan" / "io.py"): ["x", 1]},
            }
        ),
    ]:
        cache.write_text(damage)
        new_process()
        assert digest(tree) == expected
        data = json.loads(cache.read_text())
        assert data["version"] == provenance.CACHE_VERSION and len(data["files"]) > 10


RACER = """
import sys
from isicgan import provenance
provenance.RACY_SECONDS = 0.0
for _ in range(20):
    provenance._memory.clear(); provenance._memory_digests.clear(); provenance._disk = None
    d = provenance.code_digest(sys.argv[1] + "/scripts/synthesize.py", sys.argv[1],
                               ("isicgan.gan.models.dcgan",))
print(d)
"""


def test_writers_racing_leave_a_whole_cache_file(tree, tmp_path):
    """Processes writing the cache at once: each write is a whole file renamed into place."""
    copies = [tree]
    for i in range(3):
        copies.append(tmp_path / f"copy{i}")
        shutil.copytree(tree, copies[-1], symlinks=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(src)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for src in copies
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # same code, same digest
    cache = Path(os.environ["ISICGAN_CODE_CACHE"])
    data = json.loads(cache.read_text())
    assert data["version"] == provenance.CACHE_VERSION
    assert not list(cache.parent.glob("*.tmp"))
    new_process()
    assert digest(tree) == outs[0][0].strip()
