"""Chebyshev radial basis of MTP: Q_β(r) = T_β(x(r)) (r_cut − r)², x(r) ∈ [−1, 1] on [r_min, r_cut].

Shapeev, Multiscale Model. Simul. 14, 1153 (2016), Eq. 5; mlip-2 ``RBChebyshev``. The factor
(r_cut − r)² makes each neighbour's energy and force vanish continuously at the cutoff. Below
r_min (shorter than any training distance) each Q_β saturates,
Q_β(r) = Q_β(r_min) − Q_β'(r_min) δ (1 − e^{−(r_min − r)/δ}), δ = ``SATURATION_A``,
so the basis stays bounded instead of following the polynomials outside [−1, 1] (whose growth,
of either sign, can pull atoms together); Q and dQ/dr stay continuous at r_min, and the MTP's
pull on a pair fades within a few δ below it, leaving the ZBL baseline
(:mod:`superionic.potentials.repulsion`) to set the wall.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Decay length (Å) of the radial functions' saturation below r_min.
SATURATION_A = 0.2


@njit(cache=True, fastmath=False)
def chebyshev_radial(r: float, r_min: float, r_cut: float, Q: np.ndarray, dQ: np.ndarray) -> None:
    """Fill Q[β] = T_β(ξ)(r_cut − r)² and dQ[β] = dQ_β/dr in place (zero beyond r_cut;
    saturating below r_min)."""
    n = Q.shape[0]
    if r >= r_cut:
        for b in range(n):
            Q[b] = 0.0
            dQ[b] = 0.0
        return
    below = r_min - r
    if below > 0.0:
        r = r_min
    s = 2.0 / (r_cut - r_min)
    x = (2.0 * r - r_min - r_cut) / (r_cut - r_min)
    w = (r_cut - r) * (r_cut - r)
    dw = -2.0 * (r_cut - r)
    t_prev, t_cur = 1.0, x
    d_prev, d_cur = 0.0, 1.0
    Q[0] = w
    dQ[0] = dw
    if n > 1:
        Q[1] = x * w
        dQ[1] = s * w + x * dw
    for b in range(2, n):
        t_next = 2.0 * x * t_cur - t_prev
        d_next = 2.0 * t_cur + 2.0 * x * d_cur - d_prev
        t_prev, t_cur = t_cur, t_next
        d_prev, d_cur = d_cur, d_next
        Q[b] = t_cur * w
        dQ[b] = d_cur * s * w + t_cur * dw
    if below > 0.0:
        decay = np.exp(-below / SATURATION_A)
        for b in range(n):
            Q[b] -= dQ[b] * SATURATION_A * (1.0 - decay)
            dQ[b] *= decay


def chebyshev_radial_torch(r, r_min: float, r_cut: float, n_beta: int):
    """Torch version of :func:`chebyshev_radial` for a vector of distances: (P, n_beta)."""
    import torch

    below = torch.clamp(r_min - r, min=0.0)
    re = r + below  # max(r, r_min); d(re)/dr = 0 below r_min
    x = (2.0 * re - r_min - r_cut) / (r_cut - r_min)
    w = torch.clamp(r_cut - re, min=0.0) ** 2
    cols = [torch.ones_like(x)]
    if n_beta > 1:
        cols.append(x)
    for _ in range(2, n_beta):
        cols.append(2.0 * x * cols[-1] - cols[-2])
    Q = torch.stack(cols, dim=1) * w[:, None]
    # slope at r_min of T_β(x)(r_cut − r)²: T_β'(−1) = (−1)^{β+1} β², T_β(−1) = (−1)^β
    beta = torch.arange(n_beta, dtype=r.dtype, device=r.device)
    sign = (-1.0) ** beta
    width = r_cut - r_min
    slope = -sign * beta**2 * (2.0 / width) * width**2 - sign * 2.0 * width
    sat = SATURATION_A * (1.0 - torch.exp(-below / SATURATION_A))
    return Q - sat[:, None] * slope[None, :]
