"""Short-range repulsive baseline of QMTP: the ZBL universal screened nuclear repulsion, switched
off inside the range of distances the training data cover.

V(r) = Z_i Z_j e² / (4πε₀ r) · φ(r / a),  a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23),
φ(x) = 0.18175 e^{−3.19980 x} + 0.50986 e^{−0.94229 x} + 0.28022 e^{−0.40290 x}
       + 0.02817 e^{−0.20162 x}
(Ziegler, Biersack & Littmark, *The Stopping and Range of Ions in Solids*, Pergamon (1985),
Eq. 2-73). It is multiplied by a C² switch s(r) that is 1 below r_inner and 0 above r_outer
(s = 1 − 10t³ + 15t⁴ − 6t⁵, t = (r − r_inner)/(r_outer − r_inner)). With r_outer set to 85 %
of the shortest distance of each species pair in the training data the baseline is exactly
zero on every training configuration, so fits are unchanged, and on thermal configurations
near them, while two atoms pushed well below anything in the data meet a wall instead of the
extrapolated MTP. A pair never closer than the cutoff in the data has never been seen to
interact at all, so its wall sits at ``OUTER_FRACTION`` × the cutoff.

The wall is placed once, from the data a potential is first fitted to (in the conductivity
workflow, configurations the teacher sampled itself); continued training keeps it. Frames
that a potential's own MD found (active learning, audits) are where it goes wrong: letting
them move the wall inwards is a ratchet, each refinement opening the next shorter contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from numba import njit

if TYPE_CHECKING:
    import torch

#: e²/(4πε₀) in eV·Å (CODATA 2018).
COULOMB_EV_A = 14.399645
_ZBL_C = np.array([0.18175, 0.50986, 0.28022, 0.02817])
_ZBL_D = np.array([3.19980, 0.94229, 0.40290, 0.20162])
_ZBL_A0 = 0.46850
#: r_outer as a fraction of the shortest distance of the pair in the training data: thermal
#: configurations just outside the data (a pair a few per cent closer) see no baseline.
OUTER_FRACTION = 0.85
#: Width (as a fraction of r_outer) over which the baseline is switched off.
SWITCH_FRACTION = 0.25


def zbl_screening_length(z1: int, z2: int) -> float:
    """Universal screening length a (Å) of the ZBL potential."""
    return _ZBL_A0 / (z1**0.23 + z2**0.23)


@njit(cache=True, inline="always")
def _zbl_switched(r, zz, a, r_in, r_out):
    """(V s, d(V s)/dr) at distance r for charge product zz, screening a and switch radii."""
    if r >= r_out:
        return 0.0, 0.0
    x = r / a
    phi = 0.0
    dphi = 0.0
    for k in range(4):
        e = _ZBL_C[k] * np.exp(-_ZBL_D[k] * x)
        phi += e
        dphi -= _ZBL_D[k] * e / a
    pre = COULOMB_EV_A * zz / r
    v = pre * phi
    dv = pre * dphi - v / r
    if r <= r_in:
        return v, dv
    w = r_out - r_in
    t = (r - r_in) / w
    s = 1.0 - t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)
    ds = -30.0 * t * t * (1.0 - t) * (1.0 - t) / w
    return v * s, dv * s + v * ds


@njit(cache=True)
def repulsion_pairs(species, pair_i, pair_j, pair_vec, zz, a, r_in, r_out, dE_dr):
    """Energy of the baseline over a full (i→j and j→i) pair list, each pair counted once;
    adds ∂E/∂r_p of every directed pair to ``dE_dr`` (P, 3) in place."""
    energy = 0.0
    for p in range(pair_i.shape[0]):
        si = species[pair_i[p]]
        sj = species[pair_j[p]]
        if r_out[si, sj] <= 0.0:
            continue
        v0 = pair_vec[p, 0]
        v1 = pair_vec[p, 1]
        v2 = pair_vec[p, 2]
        r = np.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        if r >= r_out[si, sj]:
            continue
        e, de = _zbl_switched(r, zz[si, sj], a[si, sj], r_in[si, sj], r_out[si, sj])
        energy += 0.5 * e
        g = 0.5 * de / r
        dE_dr[p, 0] += g * v0
        dE_dr[p, 1] += g * v1
        dE_dr[p, 2] += g * v2
    return energy


def pair_tables(species: Sequence[int], r_outer: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per species pair: Z_i Z_j, screening length a (Å), r_inner and r_outer (Å)."""
    z = np.asarray(species, dtype=float)
    zz = np.outer(z, z)
    a = _ZBL_A0 / (z[:, None] ** 0.23 + z[None, :] ** 0.23)
    r_out = np.ascontiguousarray(r_outer, dtype=float)
    r_in = (1.0 - SWITCH_FRACTION) * r_out
    return zz, a, r_in, r_out


def repulsion_torch(vec: torch.Tensor, sp_i: torch.Tensor, sp_j: torch.Tensor,
                    species: Sequence[int], r_outer: np.ndarray) -> torch.Tensor:
    """Baseline energy of every directed pair (P,), halved (torch; differentiable)."""
    import torch

    zz, a, r_in, r_out = (torch.as_tensor(t, dtype=vec.dtype, device=vec.device)
                          for t in pair_tables(species, r_outer))
    ro = r_out[sp_i, sp_j]
    keep = ro > 0
    r = torch.linalg.norm(vec, dim=1)
    r = torch.where(keep, r, torch.ones_like(r))  # no division by zero on unused pairs
    c = torch.as_tensor(_ZBL_C, dtype=vec.dtype, device=vec.device)
    d = torch.as_tensor(_ZBL_D, dtype=vec.dtype, device=vec.device)
    x = r / a[sp_i, sp_j]
    v = COULOMB_EV_A * zz[sp_i, sp_j] / r * (c * torch.exp(-d * x[:, None])).sum(dim=1)
    ri = r_in[sp_i, sp_j]
    t = torch.clamp((r - ri) / torch.where(keep, ro - ri, torch.ones_like(ro)), 0.0, 1.0)
    s = 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t * t)
    return torch.where(keep & (r < ro), 0.5 * v * s, torch.zeros_like(r))


def outer_radii(structures: Sequence[Atoms], species: Sequence[int],
                neighbours: Sequence[object], r_cut: float) -> np.ndarray:
    """Default r_outer (Å) per species pair: ``OUTER_FRACTION`` × its shortest distance in
    ``structures`` (see :func:`shortest_pair_distances`)."""
    return OUTER_FRACTION * shortest_pair_distances(structures, species, neighbours, r_cut)


def shortest_pair_distances(structures: Sequence[Atoms], species: Sequence[int],
                            neighbours: Sequence[object], r_cut: float) -> np.ndarray:
    """Shortest distance (Å) of every species pair over ``structures`` (their neighbour lists
    at ``r_cut``); pairs never closer than r_cut get r_cut."""
    lookup = {int(z): k for k, z in enumerate(species)}
    S = len(species)
    d_min = np.full((S, S), np.inf)
    for atoms, nb in zip(structures, neighbours, strict=True):
        if not len(nb.pair_i):
            continue
        sp = np.array([lookup[int(z)] for z in atoms.numbers])
        si, sj = sp[nb.pair_i], sp[nb.pair_j]
        r = np.linalg.norm(nb.vectors, axis=1)
        np.minimum.at(d_min, (si, sj), r)
    d_min = np.where(np.isfinite(d_min), d_min, float(r_cut))
    return np.minimum(d_min, d_min.T)
