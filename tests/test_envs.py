"""Per-rule conda envs match the code: every rule that runs something names an env in
envs/, and that env lists every third-party package its script imports, directly or
through the isicgan code it can reach (static AST scan, nothing imported: followed
transitively by name, imports inside functions included), at the versions pinned in
requirements.txt.

The scan reads whatever rule files exist when the tests run, so it guards each stage
as it lands. (``--use-conda`` itself cannot run here: no conda channels.)
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from helpers.workflow import REPO

PACKAGE = "isicgan"
# import name -> distribution name where they differ
DISTRIBUTION = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "cv2": "opencv-python",
    "cleanfid": "clean-fid",
    "skimage": "scikit-image",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "torch": "torch",
    "torchvision": "torchvision",
}
NOT_PACKAGES = {"python", "pip"}

RULE_RE = re.compile(r"^(rule|checkpoint)\s+(\w+)\s*:", re.M)
DIRECTIVE_RE = re.compile(r"^    (\w+):\s*(.*)$")
ACTIONS = {"script", "shell", "run", "notebook", "wrapper", "cwl"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_rules(path: Path) -> dict[str, dict[str, str]]:
    """Rule name -> {directive: first value line} for the rules of one .smk file."""
    rules: dict[str, dict[str, str]] = {}
    text = path.read_text()
    matches = list(RULE_RE.finditer(text))
    for i, m in enumerate(matches):
        body = text[m.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        directives: dict[str, str] = {}
        lines = body.splitlines()
        for j, line in enumerate(lines):
            d = DIRECTIVE_RE.match(line)
            if not d:
                if line and not line.startswith(" ") and not line.startswith("#"):
                    break  # the rule ended
                continue
            key, value = d.groups()
            if not value.strip() and j + 1 < len(lines):
                value = lines[j + 1].strip()
            directives[key] = value.strip().rstrip(",").strip("\"'")
        rules[m.group(2)] = directives
    return rules


def all_rules() -> dict[str, tuple[Path, dict[str, str]]]:
    out = {}
    for smk in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for name, directives in parse_rules(smk).items():
            out[name] = (smk, directives)
    return out


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    return pins


def env_pins(env_file: Path) -> dict[str, str]:
    """Package -> version of a conda env file (conda `name=ver` and pip `name==ver` entries)."""
    spec = yaml.safe_load(env_file.read_text())
    pins = {}

    def add(entry: str, sep: str) -> None:
        name, _, version = entry.partition(sep)
        pins[_norm(name.strip())] = version.strip()

    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for pip_dep in dep.get("pip", []):
                add(pip_dep, "==")
        else:
            add(dep, "=")
    return pins


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


MODULE = "<module>"  # the unit of a module's import-time code
LOAD_CLASS = "load_class"  # isicgan.registry.load_class(family, name): imports a model by name


@cache
def registry_packages() -> dict[str, str]:
    """Family -> the package of its model modules, read from FAMILIES in isicgan/registry.py
    (a model module is imported by name at run time, so no import statement names it)."""
    tree = ast.parse((REPO / PACKAGE / "registry.py").read_text())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "FAMILIES":
            return {
                family: package for family, (package, _) in ast.literal_eval(node.value).items()
            }
    raise AssertionError("isicgan/registry.py defines no FAMILIES")


EVERYTHING = "*"  # every unit of a module (a script; a module used as a whole)


class _Unit(ast.NodeVisitor):
    """What one unit of code (a module's import-time statements, or one top-level function or
    class with its methods) imports and which names it reads. Annotations are skipped: with
    ``from __future__ import annotations`` they are never evaluated."""

    def __init__(self) -> None:
        self.imports: list[ast.Import | ast.ImportFrom] = []
        self.names: set[str] = set()
        self.registry_families: set[str] = set()  # registry.load_class(family, ...) calls

    def visit_Import(self, node: ast.Import) -> None:
        self.imports.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.imports.append(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) == LOAD_CLASS:
            family = node.args[0] if node.args else None
            assert isinstance(family, ast.Constant) and isinstance(family.value, str), (
                f"{LOAD_CLASS}() with a family the scan cannot read (line {node.lineno})"
            )
            self.registry_families.add(family.value)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        pass

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for child in [
            *node.decorator_list,
            *node.args.defaults,
            *node.args.kw_defaults,
            *node.body,
        ]:
            if child is not None:
                self.visit(child)

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_def


class _Module:
    """A parsed file: its units and, per name an import binds (anywhere in the file), the
    isicgan targets: ("module", dotted) or ("name", dotted module, attribute)."""

    def __init__(self, path: Path) -> None:
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(REPO)
        self.package = ".".join(
            rel.parent.parts if path.name == "__init__.py" else rel.with_suffix("").parts[:-1]
        )
        self.units: dict[str, _Unit] = {MODULE: _Unit()}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                unit = self.units[node.name] = _Unit()
                unit.visit(node)
                for deco in node.decorator_list:  # decorators run at import time
                    self.units[MODULE].visit(deco)
            else:
                self.units[MODULE].visit(node)
        self.bindings: dict[str, list[tuple[str, ...]]] = {}
        for unit in self.units.values():
            for node in unit.imports:
                for local, target in self.targets(node):
                    self.bindings.setdefault(local, []).append(target)

    def absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1])
        return f"{base}.{node.module}" if node.module else base

    def targets(self, node: ast.Import | ast.ImportFrom) -> list[tuple[str, tuple[str, ...]]]:
        """(local name, isicgan target) for each isicgan name the import binds."""
        out = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    local = alias.asname or alias.name.split(".")[0]
                    out.append((local, ("module", alias.name if alias.asname else PACKAGE)))
            return out
        module = self.absolute(node)
        if module.split(".")[0] != PACKAGE:
            return out
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            target = ("module", sub) if _module_file(sub) else ("name", module, alias.name)
            out.append((alias.asname or alias.name, target))
        return out

    def executed_modules(self, node: ast.Import | ast.ImportFrom) -> list[str]:
        """The isicgan modules whose import-time code an import statement runs."""
        if isinstance(node, ast.Import):
            return [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
        module = self.absolute(node)
        if module.split(".")[0] != PACKAGE:
            return []
        return [module] + [
            f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}")
        ]


@cache
def _parse(path: Path) -> _Module:
    return _Module(path)


@cache
def third_party_imports(script: Path) -> frozenset[str]:
    """Distribution names a rule's script needs: every import, lazy ones inside functions
    included, of the code the script can reach, followed transitively through the package.

    Reach is tracked per name: ``from isicgan.classify.models import DISPLAY_NAMES`` runs
    models.py's import-time code but reaches none of its functions (whose lazy imports pull
    in tensorflow) until the importing code reads a name bound to one. A function or class
    reached counts whole, with every name it reads; a module imported as a module counts
    whole; importing a module also runs its parent packages' ``__init__``. A call of
    ``registry.load_class(family, name)`` reaches every model module of that family.
    """
    found: set[str] = set()
    seen: set[tuple[Path, str]] = set()
    todo: list[tuple[Path, str]] = [(script, EVERYTHING)]

    def reach_module(dotted: str, name: str) -> None:
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):  # parents' __init__ run first
            f = _module_file(".".join(parts[:i]))
            if f:
                todo.append((f, name if i == len(parts) else MODULE))

    def reach_target(target: tuple[str, ...]) -> None:
        if target[0] == "module":
            reach_module(target[1], EVERYTHING)
        else:
            reach_module(target[1], target[2])

    while todo:
        path, name = todo.pop()
        if (path, name) in seen:
            continue
        seen.add((path, name))
        mod = _parse(path)
        if name == EVERYTHING:
            todo.extend((path, unit) for unit in mod.units)
            continue
        if name not in mod.units:  # a constant (import-time) or a re-export
            todo.append((path, MODULE))
            for target in mod.bindings.get(name, []):
                reach_target(target)
            continue
        if name != MODULE:
            todo.append((path, MODULE))
        unit = mod.units[name]
        for node in unit.imports:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif not node.level:
                found.add((node.module or "").split(".")[0])
            for dotted in mod.executed_modules(node):
                reach_module(dotted, MODULE)
        for family in unit.registry_families:  # any model of the family may be loaded
            package = REPO.joinpath(*registry_packages()[family].split("."))
            for model in sorted(package.glob("*.py")):
                todo.append((model, EVERYTHING))
                reach_module(registry_packages()[family], MODULE)
        for read in unit.names:
            if read in mod.units and read != name:
                todo.append((path, read))
            for target in mod.bindings.get(read, []):
                reach_target(target)
    found = {
        x
        for x in found
        if x and x != PACKAGE and x not in sys.stdlib_module_names and x != "snakemake"
    }
    return frozenset(_norm(DISTRIBUTION.get(x, x)) for x in found)


RULES = all_rules()
ACTION_RULES = {n: v for n, v in RULES.items() if ACTIONS & set(v[1])}


def test_the_scanner_sees_rules_and_follows_isicgan_imports():
    assert "fetch_weights" in RULES, "the rule parser found no rules"
    script = REPO / "scripts" / "fetch_weights.py"
    # fetch_weights.py -> isicgan.io (numpy, PIL) + isicgan.weights.fetch -> (lazy) the
    # registry of weight files, isicgan.registry (yaml)
    assert third_party_imports(script) == {"numpy", "pillow", "pyyaml"}


def test_the_scanner_follows_lazy_imports_through_the_package_by_name():
    scripts = REPO / "scripts"
    # classify.py -> (lazy) study.run_classifier -> registry.load_class("classifiers", ...):
    # any classifier module, Keras ones (lazy tensorflow, keras) and scikit-learn ones
    assert {"tensorflow", "keras", "scikit-learn"} <= third_party_imports(scripts / "classify.py")
    # synthesize.py -> quality.evaluate -> features/metrics/figures (lazy cleanfid, matplotlib)
    assert {"clean-fid", "matplotlib", "torch"} <= third_party_imports(scripts / "synthesize.py")
    # tables.py reads only DISPLAY_NAMES of models.py and read_runs of study.py: no Keras
    assert not {"tensorflow", "keras"} & third_party_imports(scripts / "classify_tables.py")


@pytest.mark.parametrize("rule", sorted(ACTION_RULES))
def test_every_rule_that_runs_code_names_an_existing_env(rule):
    smk, directives = ACTION_RULES[rule]
    if "run" in directives:
        pytest.fail(
            f"rule {rule} ({smk.name}) uses run:, which cannot have a conda env; use script:"
        )
    assert "conda" in directives, f"rule {rule} in {smk.name} names no conda env"
    env = (smk.parent / directives["conda"]).resolve()
    assert env.is_file() and env.parent == REPO / "envs", (
        f"rule {rule}: conda env {directives['conda']} is not a file in envs/"
    )


@pytest.mark.parametrize("rule", sorted(n for n, (_, d) in ACTION_RULES.items() if "script" in d))
def test_env_lists_every_package_the_rules_script_imports(rule):
    smk, directives = ACTION_RULES[rule]
    script = (smk.parent / directives["script"]).resolve()
    assert script.is_file(), f"rule {rule}: script {directives['script']} not found"
    env = (smk.parent / directives["conda"]).resolve()
    missing = sorted(third_party_imports(script) - set(env_pins(env)))
    assert not missing, (
        f"rule {rule}: {script.relative_to(REPO)} (and the isicgan modules it "
        f"imports) need {', '.join(missing)}, not listed in {env.relative_to(REPO)}"
    )


@pytest.mark.parametrize("env", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_env_pins_agree_with_requirements(env):
    pins, wanted = env_pins(REPO / "envs" / env), requirements()
    for name, version in pins.items():
        if name in NOT_PACKAGES:
            continue
        if name not in wanted:  # a tool only this env needs (e.g. kaggle): still pinned exactly
            assert re.fullmatch(r"[0-9][0-9A-Za-z.]*", version), (
                f"envs/{env}: {name} is not pinned to one version ({version or 'no version'})"
            )
            continue
        assert version == wanted[name], (
            f"envs/{env}: {name}={version}, but requirements.txt pins {wanted[name]}"
        )
