"""Per-rule conda envs match the code: every rule that runs something names an env in
envs/, and that env lists every third-party package its script imports, directly or
through the isicgan modules it uses (static AST scan, followed transitively), at the
versions pinned in requirements.txt.

The scan reads whatever rule files exist when the tests run, so it guards each stage
as it lands. (``--use-conda`` itself cannot run here: no conda channels.)
"""
from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGE = "isicgan"
# import name -> distribution name where they differ
DISTRIBUTION = {
    "PIL": "pillow", "sklearn": "scikit-learn", "yaml": "pyyaml", "cv2": "opencv-python",
    "cleanfid": "clean-fid", "skimage": "scikit-image", "tensorflow": "tensorflow",
    "keras": "keras", "torch": "torch", "torchvision": "torchvision",
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
        body = text[m.end(): matches[i + 1].start() if i + 1 < len(matches) else len(text)]
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


def _import_nodes(tree: ast.AST, lazy: bool) -> list[ast.AST]:
    """Import statements run when the module is imported (lazy=False), or all of them."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and (lazy or not inside):
                found.append(child)
            visit(child, inside)

    visit(tree, False)
    return found


def _imports(path: Path, lazy: bool) -> tuple[set[str], set[str]]:
    """(top-level third-party/stdlib names, isicgan modules) imported by ``path``.

    ``lazy``: include imports inside functions too (for the script and the modules it
    imports directly: those functions are the ones the script calls).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(REPO).parent.parts)
    else:
        package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    external, internal = set(), set()
    for node in _import_nodes(tree, lazy):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if node.level:  # relative import inside the package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == PACKAGE:
                if _module_file(name):
                    internal.add(name)
            elif top:
                external.add(top)
    return external, internal


@lru_cache(maxsize=None)
def third_party_imports(script: Path) -> frozenset[str]:
    """Distribution names a rule's script needs: every import of the script and of the
    isicgan modules it imports directly, plus the import-time imports (module level) of
    every isicgan module reached from those, transitively."""
    seen: set[tuple[Path, bool]] = set()
    todo = [(script, True, 0)]
    found: set[str] = set()
    while todo:
        path, lazy, depth = todo.pop()
        if (path, lazy) in seen:
            continue
        seen.add((path, lazy))
        external, internal = _imports(path, lazy)
        found |= {x for x in external if x not in sys.stdlib_module_names and x != "snakemake"}
        for module in internal:
            # a package import also runs the __init__ of every parent package
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                f = _module_file(".".join(parts[:i]))
                if f:
                    todo.append((f, depth == 0 and i == len(parts), depth + 1))
    return frozenset(_norm(DISTRIBUTION.get(x, x)) for x in found)


RULES = all_rules()
ACTION_RULES = {n: v for n, v in RULES.items() if ACTIONS & set(v[1])}


def test_the_scanner_sees_rules_and_follows_isicgan_imports():
    assert "fetch_weights" in RULES, "the rule parser found no rules"
    script = REPO / "scripts" / "fetch_weights.py"
    # fetch_weights.py -> isicgan.io (numpy, PIL) + isicgan.weights (stdlib only)
    assert third_party_imports(script) == {"numpy", "pillow"}


@pytest.mark.parametrize("rule", sorted(ACTION_RULES))
def test_every_rule_that_runs_code_names_an_existing_env(rule):
    smk, directives = ACTION_RULES[rule]
    if "run" in directives:
        pytest.fail(f"rule {rule} ({smk.name}) uses run:, which cannot have a conda env; use script:")
    assert "conda" in directives, f"rule {rule} in {smk.name} names no conda env"
    env = (smk.parent / directives["conda"]).resolve()
    assert env.is_file() and env.parent == REPO / "envs", \
        f"rule {rule}: conda env {directives['conda']} is not a file in envs/"


@pytest.mark.parametrize("rule", sorted(n for n, (_, d) in ACTION_RULES.items() if "script" in d))
def test_env_lists_every_package_the_rules_script_imports(rule):
    smk, directives = ACTION_RULES[rule]
    script = (smk.parent / directives["script"]).resolve()
    assert script.is_file(), f"rule {rule}: script {directives['script']} not found"
    env = (smk.parent / directives["conda"]).resolve()
    missing = sorted(third_party_imports(script) - set(env_pins(env)))
    assert not missing, (f"rule {rule}: {script.relative_to(REPO)} (and the isicgan modules it "
                         f"imports) need {', '.join(missing)}, not listed in {env.relative_to(REPO)}")


@pytest.mark.parametrize("env", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_env_pins_agree_with_requirements(env):
    pins, wanted = env_pins(REPO / "envs" / env), requirements()
    for name, version in pins.items():
        if name in NOT_PACKAGES:
            continue
        if name not in wanted:  # a tool only this env needs (e.g. kaggle): still pinned exactly
            assert re.fullmatch(r"[0-9][0-9A-Za-z.]*", version), \
                f"envs/{env}: {name} is not pinned to one version ({version or 'no version'})"
            continue
        assert version == wanted[name], \
            f"envs/{env}: {name}={version}, but requirements.txt pins {wanted[name]}"
