"""Named default parameter sets (Li metal, Li6PS5Cl, LLZO, polymer pad) with their sources."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from superionic.core.errors import InputError


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("superionic.interface").joinpath("materials.json").read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def material_names() -> list[str]:
    """Names of the shipped parameter sets."""
    return sorted(_table())


def material(name: str) -> dict[str, float]:
    """Values (SI) of one parameter set, e.g. ``material('Li6PS5Cl')['G']``."""
    t = _table()
    if name not in t:
        raise InputError(f"unknown material {name!r}", field="material",
                         expected="one of " + ", ".join(material_names()))
    return {k: float(v[0]) for k, v in t[name].items()}


def material_sources(name: str) -> dict[str, str]:
    """Source of every number of one parameter set."""
    material(name)
    return {k: v[1] for k, v in _table()[name].items()}
