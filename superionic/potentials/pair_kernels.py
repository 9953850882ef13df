"""Numba kernels of the pair-table products (:mod:`superionic.potentials.pair_tables`) and
their vector-Jacobian products, one pass over each atom's pairs with nothing per pair stored
beyond the tables themselves.

Pairs are sorted by their centre atom i (``pair_start`` gives each atom's run); ``mu[κ]`` is the
radial function of basic moment κ. With f (P, n_mu) and f' (P, n_mu) the radial functions of
each pair, m (P, K) the monomials and ∇m (P, 3, K) their gradients:

    moments     M_iκ = Σ_p∋i f_pμ(κ) m_pκ
    derivative  d_p = r̂_p Σ_κ G_iκ f'_pμ(κ) m_pκ + Σ_κ G_iκ f_pμ(κ) ∇m_pκ
"""

from __future__ import annotations

import numpy as np
from numba import prange

from superionic.potentials.mtp_numba import _compile_both


def _moments(f, mono, mu, pair_start, n_atoms):
    K = mono.shape[1]
    M = np.zeros((n_atoms, K))
    for i in prange(n_atoms):
        for p in range(pair_start[i], pair_start[i + 1]):
            for k in range(K):
                M[i, k] += f[p, mu[k]] * mono[p, k]
    return M


def _moments_vjp(gM, mono, mu, pair_start, n_mu):
    n_atoms, K = gM.shape
    gf = np.zeros((mono.shape[0], n_mu))
    for i in prange(n_atoms):
        for p in range(pair_start[i], pair_start[i + 1]):
            for k in range(K):
                gf[p, mu[k]] += gM[i, k] * mono[p, k]
    return gf


def _derivative(G, f, fp, mono, dmono, unit, mu, pair_start):
    n_atoms, K = G.shape
    d = np.zeros((mono.shape[0], 3))
    for i in prange(n_atoms):
        for p in range(pair_start[i], pair_start[i + 1]):
            s = 0.0
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            for k in range(K):
                g = G[i, k]
                s += g * fp[p, mu[k]] * mono[p, k]
                gf = g * f[p, mu[k]]
                a0 += gf * dmono[p, 0, k]
                a1 += gf * dmono[p, 1, k]
                a2 += gf * dmono[p, 2, k]
            d[p, 0] = unit[p, 0] * s + a0
            d[p, 1] = unit[p, 1] * s + a1
            d[p, 2] = unit[p, 2] * s + a2
    return d


def _derivative_vjp(lam, G, f, fp, mono, dmono, unit, mu, pair_start):
    n_atoms, K = G.shape
    n_mu = f.shape[1]
    gG = np.zeros((n_atoms, K))
    gf = np.zeros((mono.shape[0], n_mu))
    gfp = np.zeros((mono.shape[0], n_mu))
    for i in prange(n_atoms):
        for p in range(pair_start[i], pair_start[i + 1]):
            l0, l1, l2 = lam[p, 0], lam[p, 1], lam[p, 2]
            radial = l0 * unit[p, 0] + l1 * unit[p, 1] + l2 * unit[p, 2]
            for k in range(K):
                m = mu[k]
                ld = l0 * dmono[p, 0, k] + l1 * dmono[p, 1, k] + l2 * dmono[p, 2, k]
                rm = radial * mono[p, k]
                gG[i, k] += rm * fp[p, m] + f[p, m] * ld
                gf[p, m] += G[i, k] * ld
                gfp[p, m] += G[i, k] * rm
    return gG, gf, gfp


_MOMENTS = _compile_both(_moments)
_MOMENTS_VJP = _compile_both(_moments_vjp)
_DERIVATIVE = _compile_both(_derivative)
_DERIVATIVE_VJP = _compile_both(_derivative_vjp)


def moments(f, mono, mu, pair_start, n_atoms: int, parallel: bool = True) -> np.ndarray:
    """Basic moments M (N, K)."""
    return _MOMENTS[0 if parallel else 1](f, mono, mu, pair_start, n_atoms)


def moments_vjp(gM, mono, mu, pair_start, n_mu: int, parallel: bool = True) -> np.ndarray:
    """∂(Σ gM·M)/∂f (P, n_mu)."""
    return _MOMENTS_VJP[0 if parallel else 1](gM, mono, mu, pair_start, n_mu)


def derivative(G, f, fp, mono, dmono, unit, mu, pair_start,
               parallel: bool = True) -> np.ndarray:
    """Pair derivatives ∂E/∂r_p (P, 3) from G = ∂E/∂M."""
    return _DERIVATIVE[0 if parallel else 1](G, f, fp, mono, dmono, unit, mu, pair_start)


def derivative_vjp(lam, G, f, fp, mono, dmono, unit, mu, pair_start,
                   parallel: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """∂(Σ λ·d)/∂G (N, K), ∂/∂f and ∂/∂f' (P, n_mu)."""
    return _DERIVATIVE_VJP[0 if parallel else 1](lam, G, f, fp, mono, dmono, unit, mu,
                                                 pair_start)


__all__ = ["derivative", "derivative_vjp", "moments", "moments_vjp"]
