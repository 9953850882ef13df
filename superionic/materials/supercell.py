"""Supercells with a guaranteed minimum distance between periodic images."""

from __future__ import annotations

import numpy as np


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (rows are lattice vectors), in Å."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    return np.array(
        [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    )


def min_image_distance(cell: np.ndarray) -> float:
    """Shortest non-zero lattice vector of the cell (the distance to the nearest image), Å."""
    cell = np.asarray(cell, dtype=float)
    rng = np.arange(-2, 3)
    n = np.array(np.meshgrid(rng, rng, rng, indexing="ij")).reshape(3, -1).T
    n = n[np.any(n != 0, axis=1)]
    return float(np.min(np.linalg.norm(n @ cell, axis=1)))


def diagonal_supercell_for(cell: np.ndarray, min_distance_A: float) -> tuple[int, int, int]:
    """Smallest diagonal repetition (n1, n2, n3) whose perpendicular widths are all at least
    ``min_distance_A`` (which also bounds the minimum image distance from below)."""
    widths = perpendicular_widths(cell)
    reps = np.maximum(1, np.ceil(min_distance_A / widths - 1e-9)).astype(int)
    return int(reps[0]), int(reps[1]), int(reps[2])
