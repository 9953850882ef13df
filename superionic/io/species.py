"""Selecting atoms by species."""

from __future__ import annotations

import numpy as np

from superionic.core.errors import InputError
from superionic.io.base import TrajectoryInfo


def species_indices(info: TrajectoryInfo, species: str | list[str]) -> np.ndarray:
    """Indices of the atoms of ``species`` (one symbol or several), in file order."""
    wanted = [species] if isinstance(species, str) else list(species)
    present = sorted(set(info.symbols))
    missing = [s for s in wanted if s not in present]
    if missing or not wanted:
        raise InputError(
            f"species {missing or wanted} not in the trajectory",
            source=info.path,
            field="species",
            expected=f"one of {present}",
        )
    symbols = np.asarray(info.symbols)
    return np.flatnonzero(np.isin(symbols, wanted))
