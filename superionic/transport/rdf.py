"""Partial radial distribution functions g_ab(r) of periodic (triclinic) cells.

g_ab(r) = <n_ab(r)> / (N_a rho_b 4 pi r^2 dr), rho_b = N_b / V (Allen & Tildesley, *Computer
Simulation of Liquids*, 2nd ed., sec. 2.6), where n_ab(r) counts pairs i in a, j in b, i != j,
over all periodic images: r_max may exceed half the cell width and any triclinic cell is
handled, and a crystal gives the same g in its primitive cell and in any supercell (for N
uncorrelated points g_aa = (N_a - 1) / N_a). ``rdf_overlap`` compares two curves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.transport.source import as_reader

__all__ = ["RDFResult", "compute_rdf", "rdf_frame_counts", "rdf_overlap"]


@dataclass(frozen=True)
class RDFResult:
    """Partial RDFs on a common grid: ``g[(a, b)]`` and running coordination ``n[(a, b)]``.

    ``r_A`` are bin centres, ``edges_A`` bin edges; ``n[(a, b)][k]`` is the mean number of b
    atoms within ``edges_A[k + 1]`` of an a atom (the integral 4 pi rho_b int g r^2 dr).
    """

    r_A: np.ndarray
    edges_A: np.ndarray
    g: dict[tuple[str, str], np.ndarray]
    n: dict[tuple[str, str], np.ndarray]
    n_frames: int
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: r_A and, per pair "A-B", g and the running coordination number."""
        return {
            "r_A": self.r_A.tolist(),
            "n_frames": self.n_frames,
            "g": {f"{a}-{b}": v.tolist() for (a, b), v in self.g.items()},
            "coordination": {f"{a}-{b}": v.tolist() for (a, b), v in self.n.items()},
        }


def _pairs_from(symbols: Sequence[str], pairs: Iterable[Sequence[str]] | None
                ) -> list[tuple[str, str]]:
    present = sorted(set(symbols))
    if pairs is None:
        return [(a, b) for i, a in enumerate(present) for b in present[i:]]
    out = []
    for p in pairs:
        p = tuple(p.split("-")) if isinstance(p, str) else tuple(p)
        if len(p) != 2 or p[0] not in present or p[1] not in present:
            raise InputError(f"species pair {p!r}", field="pairs",
                             expected=f"two of the species present {present}, e.g. ('Li', 'S')")
        out.append((str(p[0]), str(p[1])))
    return out


def rdf_frame_counts(
    positions: np.ndarray,
    cell: np.ndarray,
    codes: np.ndarray,
    pair_codes: Sequence[tuple[int, int]],
    edges_A: np.ndarray,
) -> np.ndarray:
    """Histogram (n_pairs, n_bins) of ordered pair distances i != j, i of species a, j of b,
    over all periodic images, for one frame (positions Å, cell rows = lattice vectors Å)."""
    from ase.neighborlist import primitive_neighbor_list

    r_max = float(edges_A[-1])
    cell = np.asarray(cell, float)
    frac = np.linalg.solve(cell.T, np.asarray(positions, float).T).T
    wrapped = (frac - np.floor(frac)) @ cell  # unwrapped input (far images) is allowed
    i, j, d = primitive_neighbor_list("ijd", (True, True, True), cell, wrapped, r_max,
                                      self_interaction=False)
    ci, cj = codes[i], codes[j]
    out = np.zeros((len(pair_codes), len(edges_A) - 1))
    for k, (a, b) in enumerate(pair_codes):
        sel = (ci == a) & (cj == b)
        out[k] = np.histogram(d[sel], bins=edges_A)[0]
    return out


def compute_rdf(
    source: Any,
    *,
    pairs: Iterable[Sequence[str] | str] | None = None,
    r_max_A: float = 8.0,
    dr_A: float = 0.05,
    start: int = 0,
    stop: int | None = None,
    every: int = 1,
    format: str | None = None,
) -> RDFResult:
    """Partial RDFs g_ab(r) averaged over frames ``start:stop:every`` of ``source``.

    ``source``: a trajectory path, a TrajectoryReader, a list of ASE Atoms, or arrays (see
    :func:`superionic.transport.source.as_reader`). ``pairs`` like ``[("Li", "Li"), "Li-S"]``;
    by default every unordered pair of species present. The cell may vary between frames
    (NPT): each frame is normalised by its own volume.
    """
    if r_max_A <= 0 or dr_A <= 0 or dr_A >= r_max_A:
        raise InputError(f"r_max_A = {r_max_A}, dr_A = {dr_A}", field="r_max_A/dr_A",
                         expected="0 < dr_A < r_max_A")
    if every < 1:
        raise InputError(f"every = {every}", field="every", expected="a positive integer")
    reader = as_reader(source, format=format) if format else as_reader(source)
    symbols = list(reader.info.symbols)
    pair_list = _pairs_from(symbols, pairs)
    species = sorted(set(symbols))
    codes = np.array([species.index(s) for s in symbols])
    pair_codes = [(species.index(a), species.index(b)) for a, b in pair_list]
    counts_by_code = np.bincount(codes, minlength=len(species)).astype(float)
    n_bins = int(round(r_max_A / dr_A))
    edges = np.linspace(0.0, n_bins * dr_A, n_bins + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    # per pair, sum over frames of hist * V / (N_a N_b); divided by shell volume and n_frames
    acc = np.zeros((len(pair_list), n_bins))
    coord = np.zeros((len(pair_list), n_bins))  # sum over frames of hist / N_a
    n_frames = 0
    n_total = reader.info.n_frames
    stop_ = n_total if stop is None else min(stop, n_total)
    for chunk in reader.chunks(256):
        for f in range(chunk.positions.shape[0]):
            idx = chunk.start + f
            if idx < start or idx >= stop_ or (idx - start) % every:
                continue
            cell = chunk.cells[f]
            vol = abs(float(np.linalg.det(cell)))
            if not np.isfinite(vol) or vol <= 0:
                raise InputError(f"cell volume {vol}", source=reader.info.path, frame=idx,
                                 field="cell", expected="a periodic cell with positive volume")
            h = rdf_frame_counts(chunk.positions[f], cell, codes, pair_codes, edges)
            for k, (a, b) in enumerate(pair_codes):
                coord[k] += h[k] / counts_by_code[a]
                acc[k] += h[k] * vol / (counts_by_code[a] * counts_by_code[b])
            n_frames += 1
    if n_frames == 0:
        raise InputError(f"no frames selected from {n_total} (start={start}, stop={stop}, "
                         f"every={every})", source=reader.info.path, field="frames",
                         expected="a non-empty frame selection")
    g = {p: acc[k] / (n_frames * shell) for k, p in enumerate(pair_list)}
    n = {p: np.cumsum(coord[k]) / n_frames for k, p in enumerate(pair_list)}
    return RDFResult(0.5 * (edges[1:] + edges[:-1]), edges, g, n, n_frames, pair_list)


def rdf_overlap(g1: np.ndarray, g2: np.ndarray, r_A: np.ndarray,
                r_range_A: tuple[float, float] | None = None) -> dict[str, float]:
    """Agreement of two RDFs on one grid: the integrated absolute difference
    ``L1 = int |g1 - g2| dr`` (Å) and the overlap ``1 - L1 / int (g1 + g2) dr`` (1 = identical,
    0 = disjoint), optionally within ``r_range_A``."""
    g1, g2, r = np.asarray(g1, float), np.asarray(g2, float), np.asarray(r_A, float)
    if g1.shape != g2.shape or g1.shape != r.shape:
        raise InputError(f"shapes {g1.shape}, {g2.shape}, {r.shape}", field="g",
                         expected="two RDFs on the same r grid")
    sel = np.ones_like(r, bool) if r_range_A is None else (r >= r_range_A[0]) & (
        r <= r_range_A[1])
    from scipy.integrate import trapezoid

    l1 = float(trapezoid(np.abs(g1 - g2)[sel], r[sel]))
    norm = float(trapezoid((g1 + g2)[sel], r[sel]))
    return {"L1_A": l1, "overlap": 1.0 - l1 / norm if norm > 0 else float("nan"),
            "peak1_r_A": float(r[sel][np.argmax(g1[sel])]),
            "peak2_r_A": float(r[sel][np.argmax(g2[sel])])}
