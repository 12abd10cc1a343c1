"""One module per classifier of the study; see :mod:`isicgan.registry`.

A new classifier is a new module here holding one :class:`~.base.Classifier` subclass with a
literal ``name`` (equal to the module name), ``display_name`` and ``config_schema``; the
workflow, the config schema and the tables find it by looking.
"""

from __future__ import annotations

from typing import Any

from isicgan import registry

from .base import Classifier


def classifier_class(name: str) -> type[Classifier]:
    return registry.load_class("classifiers", name)


def make_classifier(name: str, params: dict[str, Any], threads: int = 1) -> Classifier:
    """Classifier ``name`` with its config section ``params``."""
    return classifier_class(name)(params, threads=threads)


def display_names() -> dict[str, str]:
    """Config name -> the thesis's table name, for every classifier, in registry order."""
    return {n: s["display_name"] for n, s in registry.specs("classifiers").items()}


def uses_features(name: str) -> bool:
    """True for heads on a frozen backbone's cached features (rule backbone_features)."""
    return bool(registry.spec("classifiers", name)["uses_features"])
