"""The model registries: one module per model, found by looking, read without importing it.

Two families, each a package whose modules hold one model class each:

- generators (``isicgan/gan/models/``): a :class:`~isicgan.gan.base.GANModel` subclass;
- classifiers (``isicgan/classify/classifiers/``): a
  :class:`~isicgan.classify.classifiers.base.Classifier` subclass.

A model's facts that the workflow needs before any job runs (its name, its config schema,
whether it translates source tiles, which weight file it may need) are literal class
attributes. The Snakefile, the config schema and the wildcard constraints read them from
the source with :mod:`ast`, so parsing the workflow imports neither torch nor TensorFlow
(a ``--use-conda`` run parses it in an environment that has neither); jobs import the class
with :func:`load_class`. A test checks that what is read equals what is imported.

Adding a model is therefore one new module (plus its config section and tests): nothing
else names it.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent

#: family -> (package of the model modules, module of the base classes they build on)
FAMILIES: dict[str, tuple[str, str]] = {
    "generators": ("isicgan.gan.models", "isicgan.gan.base"),
    "classifiers": ("isicgan.classify.classifiers", "isicgan.classify.classifiers.base"),
}
#: attributes that must be literals (read from the source); a model inherits those of the
#: base classes in the family's base module. ``rank`` orders the models (then the name).
STATIC = (
    "name",
    "display_name",
    "config_schema",
    "translates",
    "optional_weights",
    "uses_features",
    "weights",
    "rank",
    "placebo",
)


@dataclass(frozen=True)
class ModelSpec:
    """What the workflow knows of one model without importing it."""

    family: str
    name: str
    module: str  # dotted module name
    path: Path  # its source file
    cls: str  # class name in the module
    attrs: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.attrs[key]

    def schema(self, common: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON schema of the model's config section.

        ``config_schema`` is YAML: either the section's properties (merged over ``common``,
        the properties every model of the family shares), or a single ``$ref`` to a shared
        definition of the schema file.
        """
        text = self.attrs.get("config_schema") or ""
        body = yaml.safe_load(text) if text.strip() else {}
        if not isinstance(body, dict):
            raise ValueError(f"{self.path}: config_schema must be a YAML mapping")
        if "$ref" in body:
            return {"$ref": body["$ref"], "default": {}}
        return {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {**(common or {}), **body},
        }


def _literal_attrs(node: ast.ClassDef, where: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            attrs[target.id] = ast.literal_eval(value)
        except ValueError:
            if target.id in STATIC:
                raise ValueError(
                    f"{where}: class attribute {target.id} must be a literal "
                    "(the workflow reads it without importing the module)"
                ) from None
    return attrs


def _classes(path: Path) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Top-level classes of a module: name -> (base class names, literal attributes)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name: (
            [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases],
            _literal_attrs(node, f"{path}: class {node.name}"),
        )
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def _module_path(root: Path, module: str) -> Path:
    return root.joinpath(*module.split(".")[1:]).with_suffix(".py")


def _inherited(classes: dict, bases: list[str]) -> dict[str, Any]:
    """Literal attributes of ``bases`` and their bases, nearest last (so they win)."""
    attrs: dict[str, Any] = {}
    for base in bases:
        if base in classes:
            parents, own = classes[base]
            attrs.update(_inherited(classes, parents))
            attrs.update(own)
    return attrs


def _read_module(family: str, path: Path, base_classes: dict) -> ModelSpec | None:
    """The model of one module; ``base_classes`` are those of the family's base module."""
    package = FAMILIES[family][0]
    classes = _classes(path)
    known = {**base_classes, **classes}
    found = [
        (cls, {**_inherited(known, bases), **own})
        for cls, (bases, own) in classes.items()
        if own.get("name")
    ]  # a model: a class with a literal name
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"{path}: one model per module, found {', '.join(n for n, _ in found)}")
    cls, attrs = found[0]
    if attrs["name"] != path.stem:
        raise ValueError(
            f"{path}: model name {attrs['name']!r} must equal the module name {path.stem!r}"
        )
    return ModelSpec(family, attrs["name"], f"{package}.{path.stem}", path, cls, attrs)


@cache
def _specs(family: str, root: str) -> dict[str, ModelSpec]:
    package, base_module = FAMILIES[family]
    folder = Path(root).joinpath(*package.split(".")[1:])
    base_classes = _classes(_module_path(Path(root), base_module))
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.stem.startswith("_") or f"{package}.{path.stem}" == base_module:
            continue
        spec = _read_module(family, path, base_classes)
        if spec is not None:
            found.append(spec)
    found.sort(key=lambda s: (s.attrs.get("rank", 100), s.name))
    return {s.name: s for s in found}


def specs(family: str) -> dict[str, ModelSpec]:
    """Every model of ``family`` ("generators" or "classifiers"), by name, sorted."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (known: {', '.join(FAMILIES)})")
    return _specs(family, str(PACKAGE_ROOT))


def spec(family: str, name: str) -> ModelSpec:
    known = specs(family)
    if name not in known:
        kind = family[:-1]
        raise ValueError(
            f"unknown {kind} {name!r} (known: {', '.join(known)}; a new {kind} is "
            f"a module in {FAMILIES[family][0].replace('.', '/')}/)"
        )
    return known[name]


def names(family: str) -> list[str]:
    return list(specs(family))


def load_class(family: str, name: str) -> type:
    """Import the model class ``name`` of ``family``."""
    s = spec(family, name)
    return getattr(importlib.import_module(s.module), s.cls)
