"""Frames of a trajectory as ASE ``Atoms``, evenly spread over a stretch of MD steps."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from ase import Atoms


def sample_frames(path: str | os.PathLike[str], n: int, *, after_step: int = -1,
                  upto_step: int | None = None, **open_kwargs: Any) -> list[Atoms]:
    """``n`` frames evenly spread over the MD steps after ``after_step`` and up to
    ``upto_step`` (default: the end) of any trajectory :func:`superionic.io.open_trajectory`
    reads; fewer if the stretch holds fewer. Each is wrapped into its cell and carries its MD
    step in ``info["step"]`` (the frame index when the file has no step numbers)."""
    from superionic.io.open import open_trajectory

    reader = open_trajectory(path, require_timing=False, **open_kwargs)
    ch = reader.read_all()
    steps = np.asarray(ch.steps) if ch.steps is not None else np.arange(len(ch))
    last = steps.max() if upto_step is None else upto_step
    idx = np.flatnonzero((steps > after_step) & (steps <= last))
    if idx.size == 0 or n <= 0:
        return []
    pick = np.unique(idx[np.linspace(0, idx.size - 1, min(n, idx.size)).round().astype(int)])
    out = []
    for i in pick:
        a = Atoms(reader.info.symbols, positions=ch.positions[i], cell=ch.cells[i], pbc=True)
        a.wrap()
        a.info["step"] = int(steps[i])
        out.append(a)
    return out
