"""Numba kernels of the MTP contraction program on given basic moments, with the first- and
second-order adjoints that force training needs, one atom at a time.

The program computes v[c] += coeff · v[a] · v[b] (triples ordered so that inputs come first;
:class:`~superionic.potentials.mtp_basis.ContractionProgram`) from v[:K] = M_i, and
B_α = v[basis_index[α]]. For weights s_i (the energy's ∂E/∂B_i) the reverse sweep gives
G_i = ∂(s_i·B)/∂M_i. Training differentiates G once more: for a direction H_i = ∂L/∂G_i, a
forward tangent sweep ṽ (seeded with H_i) gives J H = ∂L/∂s_i, and the tangent of the reverse
sweep gives the Hessian product ∂²(s_i·B)/∂M_i² H_i = ∂L/∂M_i (forward-over-reverse
differentiation; Griewank & Walther, Evaluating Derivatives, 2nd ed., SIAM 2008, ch. 5).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from superionic.potentials.mtp_numba import _compile_both


def _values(M, ia, ib, ic, coeff, n_values):
    n_atoms, K = M.shape
    V = np.zeros((n_atoms, n_values))
    for i in prange(n_atoms):
        v = V[i]
        for k in range(K):
            v[k] = M[i, k]
        for t in range(ia.shape[0]):
            v[ic[t]] += coeff[t] * v[ia[t]] * v[ib[t]]
    return V


def _reverse(V, seed, basis_index, ia, ib, ic, coeff, K):
    n_atoms, n_values = V.shape
    out = np.zeros((n_atoms, K))
    for i in prange(n_atoms):
        v = V[i]
        g = np.zeros(n_values)
        for a in range(basis_index.shape[0]):
            g[basis_index[a]] += seed[i, a]
        for t in range(ia.shape[0] - 1, -1, -1):
            gc = coeff[t] * g[ic[t]]
            if gc != 0.0:
                g[ia[t]] += gc * v[ib[t]]
                g[ib[t]] += gc * v[ia[t]]
        for k in range(K):
            out[i, k] = g[k]
    return out


def _reverse_tangent(V, seed, H, basis_index, ia, ib, ic, coeff):
    n_atoms, n_values = V.shape
    K = H.shape[1]
    gM = np.zeros((n_atoms, K))
    gseed = np.zeros((n_atoms, basis_index.shape[0]))
    for i in prange(n_atoms):
        v = V[i]
        # tangent of the values along H
        dv = np.zeros(n_values)
        for k in range(K):
            dv[k] = H[i, k]
        for t in range(ia.shape[0]):
            dv[ic[t]] += coeff[t] * (dv[ia[t]] * v[ib[t]] + v[ia[t]] * dv[ib[t]])
        for a in range(basis_index.shape[0]):
            gseed[i, a] = dv[basis_index[a]]
        # the reverse sweep and its tangent
        g = np.zeros(n_values)
        dg = np.zeros(n_values)
        for a in range(basis_index.shape[0]):
            g[basis_index[a]] += seed[i, a]
        for t in range(ia.shape[0] - 1, -1, -1):
            c = ic[t]
            gc = coeff[t] * g[c]
            dgc = coeff[t] * dg[c]
            g[ia[t]] += gc * v[ib[t]]
            g[ib[t]] += gc * v[ia[t]]
            dg[ia[t]] += dgc * v[ib[t]] + gc * dv[ib[t]]
            dg[ib[t]] += dgc * v[ia[t]] + gc * dv[ia[t]]
        for k in range(K):
            gM[i, k] = dg[k]
    return gM, gseed


_VALUES = _compile_both(_values)
_REVERSE = _compile_both(_reverse)
_REVERSE_TANGENT = _compile_both(_reverse_tangent)


def values(program, M: np.ndarray, parallel: bool = True) -> np.ndarray:
    """All program values (N, n_values) from the basic moments M (N, K)."""
    return _VALUES[0 if parallel else 1](M, program.ia, program.ib, program.ic, program.coeff,
                                         program.n_values)


def reverse(program, V: np.ndarray, seed: np.ndarray, parallel: bool = True) -> np.ndarray:
    """∂(Σ_i seed_i·B_i)/∂M (N, K) at the values V."""
    return _REVERSE[0 if parallel else 1](V, seed, program.basis_index, program.ia, program.ib,
                                          program.ic, program.coeff, program.n_basic)


def reverse_tangent(program, V: np.ndarray, seed: np.ndarray, H: np.ndarray,
                    parallel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """For G = reverse(V, seed): ∂(Σ H·G)/∂M (N, K) and ∂(Σ H·G)/∂seed (N, n_basis)."""
    return _REVERSE_TANGENT[0 if parallel else 1](V, seed, H, program.basis_index, program.ia,
                                                  program.ib, program.ic, program.coeff)


__all__ = ["reverse", "reverse_tangent", "values"]
