"""Chebyshev radial basis of MTP: Q_β(r) = T_β(x(r)) (r_cut − r)², x(r) ∈ [−1, 1] on [r_min, r_cut].

Shapeev, Multiscale Model. Simul. 14, 1153 (2016), Eq. 5; mlip-2 ``RBChebyshev``. The factor
(r_cut − r)² makes each neighbour's energy and force vanish continuously at the cutoff.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=False)
def chebyshev_radial(r: float, r_min: float, r_cut: float, Q: np.ndarray, dQ: np.ndarray) -> None:
    """Fill Q[β] = T_β(ξ)(r_cut − r)² and dQ[β] = dQ_β/dr in place (zero beyond r_cut)."""
    n = Q.shape[0]
    if r >= r_cut:
        for b in range(n):
            Q[b] = 0.0
            dQ[b] = 0.0
        return
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


def chebyshev_radial_torch(r, r_min: float, r_cut: float, n_beta: int):
    """Torch version of :func:`chebyshev_radial` for a vector of distances: (P, n_beta)."""
    import torch

    x = (2.0 * r - r_min - r_cut) / (r_cut - r_min)
    w = torch.clamp(r_cut - r, min=0.0) ** 2
    cols = [torch.ones_like(x)]
    if n_beta > 1:
        cols.append(x)
    for _ in range(2, n_beta):
        cols.append(2.0 * x * cols[-1] - cols[-2])
    return torch.stack(cols, dim=1) * w[:, None]
