"""Load and validate the workflow configuration against ``schemas/config.schema.yaml``.

The Snakefile calls :func:`validate_config` on the merged ``config`` dict, so a
mistyped or unknown key stops the run before any job starts, with a message
naming the key. Tests and benches call :func:`load_config` to get exactly the
settings a workflow run would see, defaults included.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO_ROOT / "config.yaml"


class ConfigError(ValueError):
    """A config value is missing, mistyped, out of range or unknown."""


def _with_defaults(validator_class):
    """A validator that fills in ``default`` values of the schema as it validates."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # the offending key is not in the path; name it explicitly
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(",".join(extra))
    return ".".join(parts) or "<top level>"


def build_schema() -> dict[str, Any]:
    """The full schema: ``schemas/config.schema.yaml`` plus what the model registries add.

    Generator and classifier names (``gans``, ``synthesis.generator``,
    ``classifiers.names``), each model's settings section and each backbone's weight key
    come from the model modules (:mod:`isicgan.registry`), so no list of names is repeated.
    """
    from isicgan import registry

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    props = schema["properties"]
    generators = registry.specs("generators")
    common = schema["$defs"]["generator_common"]["properties"]
    props["gans"]["items"]["enum"] = list(generators)
    props["synthesis"]["properties"]["generator"]["enum"] = list(generators)
    props["gan"]["properties"].update({n: s.schema(common) for n, s in generators.items()})
    classifiers = registry.specs("classifiers")
    props["classifiers"]["properties"]["names"]["items"]["enum"] = list(classifiers)
    props["classifiers"]["properties"]["names"]["default"] = list(classifiers)
    props["classifiers"]["properties"].update({n: s.schema() for n, s in classifiers.items()})
    for s in classifiers.values():
        if s["weights"]:
            props["weights"]["properties"][s["weights"]["key"]] = {
                "$ref": "#/$defs/weight_path",
                "default": None,
                "description": f"{s['display_name']}: {s['weights']['note']}",
            }
    return schema


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate ``config`` in place (filling defaults) and return it.

    Raises :class:`ConfigError` listing every offending key.
    """
    schema = build_schema()
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            if e.validator == "additionalProperties":
                lines.append(
                    f"unknown config key '{_key_path(e)}' (allowed here: "
                    f"{', '.join(sorted(e.schema.get('properties', {})))})"
                )
            else:
                lines.append(f"config key '{_key_path(e)}': {e.message}")
        raise ConfigError(f"invalid {source}:\n  " + "\n  ".join(lines))
    _check_consistency(config)
    return config


def _check_consistency(config: dict[str, Any]) -> None:
    """Cross-key rules that JSON schema cannot express."""
    gen = config["synthesis"]["generator"]
    if gen not in config["gans"]:
        raise ConfigError(
            f"config key 'synthesis.generator': '{gen}' is not one of the trained GANs "
            f"in 'gans' ({', '.join(config['gans'])})"
        )
    for name in config["classifiers"]["names"]:
        if name not in config["classifiers"]:
            raise ConfigError(f"config key 'classifiers.names': no settings for '{name}'")
    for gan, section in config["gan"].items():
        if isinstance(section, dict) and "select" in section:
            check_select(section["select"], section.get("eval_every", 0), f"gan.{gan}.")


#: how a generator's final checkpoint is chosen (``gan.<name>.select``)
SELECT = ("last", "best_val")


def check_select(select: str, eval_every: int, key: str = "") -> None:
    """``select`` is known, and ``best_val`` has evaluated epochs to choose from
    (``eval_every`` >= 1); else a :class:`ConfigError` naming the keys (prefix ``key``)."""
    if select not in SELECT:
        raise ConfigError(
            f"config key '{key}select': must be one of {', '.join(SELECT)}, got {select!r}"
        )
    if select == "best_val" and not eval_every:
        raise ConfigError(
            f"config key '{key}select': best_val needs '{key}eval_every' >= 1 "
            "(the val KID of evaluated epochs chooses the checkpoint)"
        )


def deep_merge(base: dict, override: dict) -> dict:
    """Merge ``override`` into a copy of ``base`` the way Snakemake merges --configfile."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(
    paths: Iterable[str | Path] = (DEFAULT_CONFIG,), overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Read YAML files in order (later ones win), apply ``overrides``, validate."""
    config: dict[str, Any] = {}
    names = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys")
        config = deep_merge(config, loaded)
        names.append(str(path))
    if overrides:
        config = deep_merge(config, overrides)
    return validate_config(config, source=" + ".join(names) or "config")
