"""Which package code a rule runs, and a digest of it, so that editing that code reruns the rule.

Snakemake's ``code`` rerun trigger sees a rule's script only, not the :mod:`isicgan` modules
the script imports. Each rule therefore gets the param ``code``: a digest of the source of
every package module its script reaches through imports (:func:`module_closure`, followed
transitively, lazy imports inside functions included), plus the module of the model its
wildcard names (models are imported by name at run time, :mod:`isicgan.registry`, so no import
statement points at them). A changed param reruns the job (Snakemake's ``params`` trigger).

The digest covers the code, not its formatting: it hashes each module's syntax tree with
docstrings removed, so comments, docstrings and blank lines change nothing.

The same closure serves ``tests/test_envs.py``, which checks that each rule's conda env lists
every third-party package the code it runs imports.
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "isicgan"


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names imported anywhere in ``tree`` (relative imports resolved).

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule).
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n}


def _module_file(root: Path, name: str) -> Path | None:
    """The source file of package module ``name`` under ``root`` (None outside the package)."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _module_name(root: Path, path: Path) -> str:
    rel = path.resolve().relative_to(root.resolve()).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parse(path: Path) -> ast.Module:
    stat = path.stat()
    return _parse_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=None)
def _parse_cached(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def module_closure(start: str | Path, root: str | Path) -> tuple[set[Path], set[str]]:
    """Package files reached from ``start`` (a script or module) and the other top-level
    modules they import. ``root`` holds the ``isicgan`` folder.

    Returns (package files, including ``start`` when it is one of them; names of
    third-party and standard-library top-level modules imported along the way).
    """
    root = Path(root)
    package = (root / PACKAGE).resolve()
    start = Path(start)
    files: set[Path] = set()
    external: set[str] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        inside = package in path.resolve().parents
        module = _module_name(root, path) if inside else "__main__"
        for name in _imports(_parse(path), module, path.name == "__init__.py"):
            target = _module_file(root, name)
            if target is not None:
                todo.append(target)
                # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                parts = name.split(".")
                for i in range(1, len(parts)):
                    parent = _module_file(root, ".".join(parts[:i]))
                    if parent is not None:
                        todo.append(parent)
            elif not name.startswith(PACKAGE):
                external.add(name.split(".")[0])
    package_files = {f for f in files if package in f.resolve().parents}
    return package_files, external


def _strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(files: set[Path] | list[Path], root: str | Path) -> str:
    """sha256 over the docstring-free syntax trees of ``files`` (named relative to ``root``)."""
    root = Path(root).resolve()
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: str(p.resolve().relative_to(root))):
        tree = _strip_docstrings(ast.parse(path.read_text(), filename=str(path)))
        h.update(str(path.resolve().relative_to(root)).encode())
        h.update(ast.dump(tree, annotate_fields=False).encode())
    return h.hexdigest()[:16]


def code_digest(script: str | Path, root: str | Path, extra_modules: tuple[str, ...] = ()) -> str:
    """The digest of the package code that ``script`` runs, plus ``extra_modules`` (dotted
    names of modules it imports by name at run time) and their own imports."""
    root = Path(root)
    files, _ = module_closure(script, root)
    files.discard(Path(script))          # Snakemake's own code trigger watches the script
    for name in extra_modules:
        path = _module_file(root, name)
        if path is None:
            raise ValueError(f"no module {name} under {root}")
        files |= module_closure(path, root)[0]
    return source_digest(files, root)
