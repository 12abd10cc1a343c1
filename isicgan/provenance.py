"""Which package code a rule runs, and a digest of it, so that editing that code reruns the rule.

Snakemake's ``code`` rerun trigger sees a rule's script only, not the :mod:`isicgan` modules
the script imports. Each rule therefore gets the param ``code``: a digest of the source of
every package module its script reaches through imports (:func:`module_closure`, followed
transitively, lazy imports inside functions included), plus the module of the model its
wildcard names (models are imported by name at run time, :mod:`isicgan.registry`, so no import
statement points at them). A changed param reruns the job (Snakemake's ``params`` trigger).

The digest covers the code, not its formatting: it hashes each module's syntax tree with
docstrings removed, so comments, docstrings and blank lines change nothing.

Every parse of the workflow asks for these digests, so they are cached: in memory for the
process, and across processes in a small JSON file (:func:`cache_file`). Per file it keeps the
imports (to follow the closure without parsing), per set of files the digest, both keyed by the
files' paths, sizes, modification and change times and inodes: a set of unchanged files has the
digest it had, a changed (or added, or removed) file computes it anew, with the same value as
without the cache. A file changed in the last :data:`RACY_SECONDS` is never cached (a same-size
edit within the file system's clock tick could keep its times). The cache file is written
atomically (a temporary file renamed over it); two processes writing at once lose at most each
other's new entries. ``ISICGAN_CODE_CACHE=off`` switches it off.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "isicgan"
#: files changed less than this many seconds ago are parsed every time, never cached
RACY_SECONDS = 2.0
#: bump when what is cached per file changes
CACHE_VERSION = 2
#: the cache keeps at most this many files and digests (the most recently added are kept)
CACHE_MAX_FILES = 5000
CACHE_MAX_DIGESTS = 2000


@dataclass(frozen=True)
class _Facts:
    """What the digest needs of one source file."""

    key: tuple[int, ...]  # size, mtime_ns, ctime_ns, inode
    imports: tuple[tuple, ...]  # ("import", names) | ("from", level, module, names)
    settled: bool  # unchanged for RACY_SECONDS: may be cached


_memory: dict[str, _Facts] = {}
_memory_digests: dict[str, str] = {}  # signature of a set of files -> their digest
_disk: dict[str, dict] | None = None  # the cache file's "files" and "digests", read once
_dirty: dict[str, _Facts] = {}  # entries to add to the cache file
_dirty_digests: dict[str, str] = {}


def cache_file() -> Path | None:
    """The cross-process cache: ``$ISICGAN_CODE_CACHE`` ("off" disables it), else
    ``code-digest.json`` in ``$XDG_CACHE_HOME/isicgan`` (``~/.cache/isicgan``)."""
    env = os.environ.get("ISICGAN_CODE_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / PACKAGE / "code-digest.json"


def _read_cache(path: Path | None) -> dict[str, dict]:
    """The cache file's sections ``files`` and ``digests`` (empty when absent or foreign)."""
    empty: dict[str, dict] = {"files": {}, "digests": {}}
    if path is None:
        return empty
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return empty
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return empty
    return {k: data[k] if isinstance(data.get(k), dict) else {} for k in empty}


def _newest(entries: dict, new: dict, keep: int, exists=None) -> dict:
    """``entries`` updated with ``new`` (which come last), without those ``exists`` rejects,
    cut to the ``keep`` most recently added."""
    entries = {k: v for k, v in entries.items() if k not in new}
    entries.update(new)
    if exists is not None:
        entries = {k: v for k, v in entries.items() if exists(k)}
    return dict(list(entries.items())[-keep:])


def _write_cache() -> None:
    """Merge the new entries into the cache file, atomically; failures leave it as it was."""
    path = cache_file()
    if path is None or not (_dirty or _dirty_digests):
        _dirty.clear()
        _dirty_digests.clear()
        return
    data = _read_cache(path)
    new_files = {name: [list(f.key), [list(i) for i in f.imports]] for name, f in _dirty.items()}
    # forget files that are gone (test copies, old checkouts), then the oldest beyond the cap
    data["files"] = _newest(data["files"], new_files, CACHE_MAX_FILES, os.path.exists)
    data["digests"] = _newest(data["digests"], dict(_dirty_digests), CACHE_MAX_DIGESTS)
    _dirty.clear()
    _dirty_digests.clear()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".code-digest-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"version": CACHE_VERSION, **data}, out, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home or a full disk: the digest is still right, only slower


def _import_entries(tree: ast.AST) -> tuple[tuple, ...]:
    entries = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            entries.append(("import", tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            entries.append(
                ("from", node.level, node.module or "", tuple(alias.name for alias in node.names))
            )
    return tuple(entries)


def _strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _from_entry(entry, key: tuple[int, ...]) -> _Facts | None:
    """The facts of a cache file entry, or None when it is for other file times or malformed."""
    try:
        if tuple(entry[0]) != key:
            return None
        imports = tuple(tuple(tuple(x) if isinstance(x, list) else x for x in i) for i in entry[1])
        return _Facts(key, imports, True)
    except (TypeError, IndexError):
        return None


def _cached() -> dict[str, dict]:
    global _disk
    if _disk is None:
        _disk = _read_cache(cache_file())
    return _disk


def _facts(path: str | Path) -> _Facts:
    """The imports of ``path``: from memory, the cache file, or parsed now."""
    name = os.path.abspath(path)
    st = os.stat(name)
    key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    known = _memory.get(name)
    if known is not None and known.key == key:
        return known
    facts = _from_entry(_cached()["files"].get(name), key)
    if facts is not None:
        _memory[name] = facts
        return facts
    newest = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    settled = not time.time() - RACY_SECONDS < newest  # and not in the future
    tree = ast.parse(Path(name).read_text(), filename=name)
    facts = _Facts(key, _import_entries(tree), settled)
    if settled:
        _memory[name] = facts
        _dirty[name] = facts
    return facts


def _imports(facts: _Facts, module: str, is_package: bool) -> set[str]:
    """Dotted names imported anywhere in the file (relative imports resolved).

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule).
    """
    names: set[str] = set()
    for entry in facts.imports:
        if entry[0] == "import":
            names.update(entry[1])
            continue
        _, level, base, aliases = entry
        if level:
            parts = module.split(".")
            keep = len(parts) - level + (1 if is_package else 0)
            base = ".".join(parts[:keep] + ([base] if base else []))
        names.add(base)
        names.update(f"{base}.{alias}" for alias in aliases)
    return {n for n in names if n}


def _module_file(root: Path, name: str) -> Path | None:
    """The source file of package module ``name`` under ``root`` (None outside the package)."""
    found = _Walk(str(root)).module_file(name)
    return None if found is None else Path(found)


class _Walk:
    """One closure computation under ``root``: file look-ups memoised (plain string paths,
    which cost less than :mod:`pathlib` in a walk that looks up thousands of names)."""

    def __init__(self, root: str):
        self.root = root
        self.package = os.path.join(os.path.realpath(root), PACKAGE) + os.sep
        self._files: dict[str, str | None] = {}
        self._real: dict[str, str] = {}

    def module_file(self, name: str) -> str | None:
        if name in self._files:
            return self._files[name]
        found = None
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            path = os.path.join(self.root, *name.split("."))
            if os.path.isfile(os.path.join(path, "__init__.py")):
                found = os.path.join(path, "__init__.py")
            elif os.path.isfile(path + ".py"):
                found = path + ".py"
        self._files[name] = found
        return found

    def real(self, path: str) -> str:
        if path not in self._real:
            self._real[path] = os.path.realpath(path)
        return self._real[path]

    def inside(self, path: str) -> bool:
        return self.real(path).startswith(self.package)

    def module_name(self, path: str) -> str:
        rel = os.path.splitext(self.real(path)[len(self.package) - len(PACKAGE) - 1 :])[0]
        parts = rel.split(os.sep)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def closure(self, start: str) -> tuple[dict[str, _Facts], set[str]]:
        """Package files reached from ``start`` (with their facts) and external top-level names."""
        files: dict[str, _Facts] = {}
        external: set[str] = set()
        todo = [start]
        while todo:
            path = todo.pop()
            if path in files:
                continue
            facts = files[path] = _facts(path)
            module = self.module_name(path) if self.inside(path) else "__main__"
            for name in _imports(facts, module, os.path.basename(path) == "__init__.py"):
                target = self.module_file(name)
                if target is not None:
                    todo.append(target)
                    # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                    parts = name.split(".")
                    for i in range(1, len(parts)):
                        parent = self.module_file(".".join(parts[:i]))
                        if parent is not None:
                            todo.append(parent)
                elif not name.startswith(PACKAGE):
                    external.add(name.split(".")[0])
        return {f: facts for f, facts in files.items() if self.inside(f)}, external

    def digest(self, files: dict[str, _Facts]) -> str:
        """sha256 over the files' paths below the root and their docstring-free syntax trees.

        Cached by the files' paths and keys (size, times, inode): a set of unchanged files has
        the digest it had; a change to any of them (or a file more or less) computes it anew.
        """
        root = os.path.realpath(self.root)
        named = sorted((os.path.relpath(self.real(f), root), f) for f in files)
        signature = hashlib.sha256(
            json.dumps([root, [(rel, files[f].key) for rel, f in named]]).encode()
        ).hexdigest()
        known = _memory_digests.get(signature) or _cached()["digests"].get(signature)
        if isinstance(known, str):
            _memory_digests[signature] = known
            return known
        h = hashlib.sha256()
        for rel, f in named:
            tree = _strip_docstrings(ast.parse(Path(f).read_text(), filename=f))
            h.update(rel.encode())
            h.update(ast.dump(tree, annotate_fields=False).encode())
        digest = h.hexdigest()[:16]
        if all(files[f].settled for _, f in named) and all(
            _facts(f).key == files[f].key
            for _, f in named  # unchanged while being read
        ):
            _memory_digests[signature] = digest
            _dirty_digests[signature] = digest
        return digest


def module_closure(start: str | Path, root: str | Path) -> tuple[set[Path], set[str]]:
    """Package files reached from ``start`` (a script or module) and the other top-level
    modules they import. ``root`` holds the ``isicgan`` folder.

    Returns (package files, including ``start`` when it is one of them; names of
    third-party and standard-library top-level modules imported along the way).
    """
    try:
        files, external = _Walk(str(root)).closure(str(start))
    finally:
        _write_cache()
    return {Path(f) for f in files}, external


def source_digest(files: set[Path] | list[Path], root: str | Path) -> str:
    """sha256 over the docstring-free syntax trees of ``files`` (named relative to ``root``)."""
    try:
        return _Walk(str(root)).digest({str(f): _facts(Path(f)) for f in files})
    finally:
        _write_cache()


def code_digest(script: str | Path, root: str | Path, extra_modules: tuple[str, ...] = ()) -> str:
    """The digest of the package code that ``script`` runs, plus ``extra_modules`` (dotted
    names of modules it imports by name at run time) and their own imports."""
    walk = _Walk(str(root))
    try:
        files, _ = walk.closure(str(script))
        files.pop(str(script), None)  # Snakemake's own code trigger watches the script
        for name in extra_modules:
            path = walk.module_file(name)
            if path is None:
                raise ValueError(f"no module {name} under {root}")
            files.update(walk.closure(path)[0])
        return walk.digest(files)
    finally:
        _write_cache()
