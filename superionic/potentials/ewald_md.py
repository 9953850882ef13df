"""Electrostatics and charge equilibration for molecular dynamics: state kept between steps.

The dense path (:func:`superionic.potentials.ewald.coulomb_matrix` and a Cholesky QEq) rebuilds
the O(N²) Coulomb matrix at every call. Along an MD trajectory the same charge model is solved
with reused state instead:

- Ewald splitting at an MD accuracy (``accuracy``, same meaning as in
  :func:`~superionic.potentials.ewald.ewald_parameters`), with the screening width ``eta`` raised
  to the Gaussian-charge range so that the real-space cutoff is not wasted on the Gaussian term;
  the integer k-vector set is fixed (smooth energy under strain);
- a Verlet list (pairs within ``r_cut + skin``, rebuilt only when an atom has moved more than
  ``skin / 2``; Verlet, Phys. Rev. 159, 98 (1967)) for the real-space sum and for the MTP;
- the real-space kernel of each pair of Gaussian widths from a cubic Hermite table (exact values
  and slopes at the knots; energies and forces of the same cubic, so forces stay the exact
  gradient), evaluated once per step; conjugate-gradient steps reuse the pair terms;
- structure factors ``exp(i k.r_i)`` from per-axis phase tables (one complex product per atom
  and k-vector along runs of consecutive ``m3``), computed once per step;
- QEq by matrix-free projected preconditioned conjugate gradients on ``A + diag(J)``
  (Gould, Hribar & Nocedal, SIAM J. Sci. Comput. 23, 1376 (2001)). The preconditioner is the
  diagonal plus the exact reciprocal terms of the longest charge waves, whose large eigenvalues
  ``~ k_e 4πρ/k²`` set the condition number of Jacobi-preconditioned QEq in large cells; it is
  inverted by the Woodbury identity. The solve starts from a polynomial extrapolation in time of
  the charges of the previous steps (order ``predictor_order``) and runs until the
  electronegativity is equal on every atom to ``qeq_tol`` eV/e, so forces stay the gradient of
  the energy. The structure factors of the charges are carried along the iterations for the
  forces.

The Coulomb operator is that of :mod:`superionic.potentials.ewald` (Gaussian charges, Ewald
self term, neutralising background); only truncation differs, controlled by ``accuracy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.units import COULOMB_EV_A
from superionic.potentials.ewald import _diag_self, _exponent, ewald_parameters
from superionic.potentials.mtp_numba import periodic_neighbour_list

__all__ = ["VerletList", "MDElectrostatics", "QEqResult", "DEFAULT_MD_ACCURACY",
           "DEFAULT_SKIN_A", "kernel_table", "table_spacing"]

#: Default Ewald accuracy along MD (measured: electrostatic forces within ~2e-7 eV/Å of the
#: 1e-8 reference on Li3PS4 cells).
DEFAULT_MD_ACCURACY: float = 1e-5
#: Default Verlet skin (Å).
DEFAULT_SKIN_A: float = 1.0
#: Relative cost ``w`` of one (atom, k-vector) term to one real-space pair in the choice of
#: ``eta``: with tabulated pair terms and ~3 operator applications per step the optimum of
#: measured MD step times on 128- and 768-atom cells (eta within ±10 % of it costs < 5 %).
MD_COST_RATIO: float = 0.25
#: Smallest loop (pairs, or atoms × k-vectors / 8) run on several threads.
PARALLEL_MIN_WORK: int = 200_000
#: Knot spacing of the cubic Hermite tables of the real-space kernel, per Å of the narrowest
#: Gaussian width, at accuracy 1e-5 (scaled by accuracy^(1/3): the slope error goes as h³;
#: measured 4e-9 eV/Å/e² at 0.02 Å for sigma = 0.9 Å, interpolated energies within 3e-11).
TABLE_SPACING_PER_WIDTH: float = 0.016
#: Most distinct Gaussian widths tabulated (one table per pair of widths); direct erfc beyond.
TABLE_MAX_WIDTHS: int = 8
#: Order of the polynomial extrapolation in time of the charges that start each QEq solve.
PREDICTOR_ORDER: int = 4
#: Long-wavelength k-vectors kept exactly in the QEq preconditioner: those whose charge-wave
#: eigenvalue ``k_e w_k N / 2`` is above this fraction of the mean diagonal of ``A + J``.
LONGWAVE_FRACTION: float = 0.02
#: Most k-vectors in the long-wavelength part of the QEq preconditioner.
LONGWAVE_MAX: int = 64


def _pairs_full(positions: np.ndarray, cell: np.ndarray, r_list: float):
    """Full periodic pair list ``(i, j, S)`` within ``r_list``, sorted by ``i`` (all pairs
    tested on small cells, a cell list on large ones)."""
    i, j, S, _, _ = periodic_neighbour_list(positions, cell, float(r_list))
    return i, j, S


class VerletList:
    """Pairs within ``r_cut + skin`` of a periodic cell, reused while atoms move little.

    :meth:`update` rebuilds the list when an atom has moved more than ``skin / 2`` since the
    last build or the cell has changed; :meth:`pairs` returns the pairs within ``r_cut`` with
    their separation vectors ``D = R_j − R_i + S · cell`` at the current geometry, sorted by
    centre atom (the layout of :class:`superionic.potentials.qmtp.Neighbours`). ``half=True``
    keeps each unordered pair once.
    """

    def __init__(self, r_cut: float, skin: float = DEFAULT_SKIN_A, half: bool = False) -> None:
        if r_cut <= 0.0 or skin < 0.0:
            raise InputError(f"r_cut={r_cut}, skin={skin}", field="r_cut/skin",
                             expected="r_cut > 0 Å and skin >= 0 Å")
        self.r_cut = float(r_cut)
        self.skin = float(skin)
        self.half = half
        self.n_builds = 0
        self._ref_pos: np.ndarray | None = None
        self._ref_cell: np.ndarray | None = None

    def update(self, positions: np.ndarray, cell: np.ndarray) -> bool:
        """Rebuild if needed; True when the list was rebuilt."""
        positions = np.asarray(positions, dtype=float)
        cell = np.asarray(cell, dtype=float)
        if self._ref_pos is not None and self._ref_pos.shape == positions.shape \
                and np.array_equal(cell, self._ref_cell):
            d2 = np.einsum("ij,ij->i", positions - self._ref_pos, positions - self._ref_pos)
            if d2.max(initial=0.0) <= (0.5 * self.skin) ** 2:
                return False
        i, j, S = _pairs_full(positions, cell, self.r_cut + self.skin)
        if self.half:
            keep = (i < j) | ((i == j) & ((S[:, 0] > 0) | ((S[:, 0] == 0) & (
                (S[:, 1] > 0) | ((S[:, 1] == 0) & (S[:, 2] > 0))))))
            i, j, S = i[keep], j[keep], S[keep]
        self.i = np.ascontiguousarray(i, dtype=np.int64)
        self.j = np.ascontiguousarray(j, dtype=np.int64)
        self.S = np.ascontiguousarray(S, dtype=float)
        self._ref_pos = positions.copy()
        self._ref_cell = cell.copy()
        self.n_builds += 1
        return True

    def pairs(self, positions: np.ndarray, cell: np.ndarray):
        """``(i, j, S, D, start)`` of the pairs within ``r_cut`` at this geometry."""
        self.update(positions, cell)
        positions = np.asarray(positions, dtype=float)
        cell = np.asarray(cell, dtype=float)
        if self.i.shape[0] < PARALLEL_MIN_WORK:  # one compiled pass
            return _compact_pairs(positions, cell, self.i, self.j, self.S,
                                  self.r_cut * self.r_cut, len(positions))
        keep, D = _select_pairs(positions, cell, self.i, self.j, self.S, self.r_cut * self.r_cut)
        i = self.i[keep]
        start = np.searchsorted(i, np.arange(len(positions) + 1)).astype(np.int64)
        return i, self.j[keep], self.S[keep], np.ascontiguousarray(D[keep]), start


@numba.njit(inline="always", cache=True)
def _separation(pos, cell, i, j, S, p, D):  # pragma: no cover - numba
    """Write the periodic separation r_j + S·cell − r_i of pair ``p`` into D[p]; return r²."""
    r2 = 0.0
    for a in range(3):
        v = pos[j, a] - pos[i, a] + S[p, 0] * cell[0, a] + S[p, 1] * cell[1, a] \
            + S[p, 2] * cell[2, a]
        D[p, a] = v
        r2 += v * v
    return r2


def _pair_vectors_py(pos, cell, pi, pj, S, D, r2):  # pragma: no cover - numba
    for p in numba.prange(pi.shape[0]):
        r2[p] = _separation(pos, cell, pi[p], pj[p], S, p, D)


@numba.njit(cache=True)
def _compact_pairs(pos, cell, pi, pj, S, r_cut2, n):  # pragma: no cover - numba
    """``(i, j, S, D, start)`` of the listed pairs within ``sqrt(r_cut2)`` (list order kept)."""
    m = pi.shape[0]
    oi = np.empty(m, dtype=np.int64)
    oj = np.empty(m, dtype=np.int64)
    oS = np.empty((m, 3))
    oD = np.empty((m, 3))
    start = np.zeros(n + 1, dtype=np.int64)
    c = 0
    for p in range(m):
        i = pi[p]
        j = pj[p]
        d0 = pos[j, 0] - pos[i, 0] + S[p, 0] * cell[0, 0] + S[p, 1] * cell[1, 0] \
            + S[p, 2] * cell[2, 0]
        d1 = pos[j, 1] - pos[i, 1] + S[p, 0] * cell[0, 1] + S[p, 1] * cell[1, 1] \
            + S[p, 2] * cell[2, 1]
        d2 = pos[j, 2] - pos[i, 2] + S[p, 0] * cell[0, 2] + S[p, 1] * cell[1, 2] \
            + S[p, 2] * cell[2, 2]
        if d0 * d0 + d1 * d1 + d2 * d2 < r_cut2:
            oi[c] = i
            oj[c] = j
            for a in range(3):
                oS[c, a] = S[p, a]
            oD[c, 0] = d0
            oD[c, 1] = d1
            oD[c, 2] = d2
            start[i + 1] += 1
            c += 1
    for i in range(n):
        start[i + 1] += start[i]
    return oi[:c], oj[:c], oS[:c], oD[:c], start


def _compiled(py_func, fastmath: bool = False):
    """Serial and thread-parallel compilations of one kernel: on small systems (and on busy
    machines) thread start-up costs more than the loop itself."""
    return (numba.njit(cache=True, fastmath=fastmath)(py_func),
            numba.njit(cache=True, parallel=True, fastmath=fastmath)(py_func))


def _pick(kernels, work: int):
    return kernels[1] if work >= PARALLEL_MIN_WORK else kernels[0]


_pair_vectors = _compiled(_pair_vectors_py)


def _select_pairs(positions, cell, pi, pj, S, r_cut2):
    D = np.empty((pi.shape[0], 3))
    r2 = np.empty(pi.shape[0])
    _pick(_pair_vectors, pi.shape[0])(positions, cell, pi, pj, S, D, r2)
    return r2 < r_cut2, D


# --------------------------------------------------------------------------------------------
# kernels


def _real_terms_py(D, pi, pj, sigma, inv_ae, r_cut2, phi, dphi_r):  # pragma: no cover - numba
    """phi(r) = [erfc(r/(√2 eta)) − erfc(r/(√2 gamma_ij))]/r and phi'(r)/r per pair (no k_e)."""
    two_over_sqrtpi = 2.0 / math.sqrt(math.pi)
    for p in numba.prange(pi.shape[0]):
        r2 = D[p, 0] * D[p, 0] + D[p, 1] * D[p, 1] + D[p, 2] * D[p, 2]
        if r2 >= r_cut2:
            phi[p] = 0.0
            dphi_r[p] = 0.0
            continue
        r = math.sqrt(r2)
        g2 = sigma[pi[p]] ** 2 + sigma[pj[p]] ** 2
        t_e = math.erfc(r * inv_ae)
        dt = -two_over_sqrtpi * inv_ae * math.exp(-r2 * inv_ae * inv_ae)
        if g2 > 0.0:
            inv_ag = 1.0 / math.sqrt(2.0 * g2)
            t_e -= math.erfc(r * inv_ag)
            dt += two_over_sqrtpi * inv_ag * math.exp(-r2 * inv_ag * inv_ag)
        ph = t_e / r
        phi[p] = ph
        dphi_r[p] = (dt - ph) / r2


def _real_table_py(pos, cell, pi, pj, S, types, n_types, coef, inv_h, r_cut2, D, phi,
                   dphi_r):  # pragma: no cover - numba
    """Separation vectors and the tabulated phi(r), phi'(r)/r per pair (cubic Hermite)."""
    for p in numba.prange(pi.shape[0]):
        i = pi[p]
        j = pj[p]
        r2 = _separation(pos, cell, i, j, S, p, D)
        if r2 >= r_cut2:
            phi[p] = 0.0
            dphi_r[p] = 0.0
            continue
        r = math.sqrt(r2)
        t = r * inv_h
        k = int(t)
        u = t - k
        c = coef[types[i] * n_types + types[j], k]
        phi[p] = c[0] + u * (c[1] + u * (c[2] + u * c[3]))
        dphi_r[p] = (c[1] + u * (2.0 * c[2] + 3.0 * u * c[3])) * inv_h / r


def _kernel_values(r: np.ndarray, gamma: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """phi(r) = [erf(r/(√2 gamma)) − erf(r/(√2 eta))]/r and phi'(r), finite at r = 0 (no k_e)."""
    from scipy.special import erf

    a_g, a_e = math.sqrt(2.0) * gamma, math.sqrt(2.0) * eta
    c = 2.0 / math.sqrt(math.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (erf(r / a_g) - erf(r / a_e)) / r
        df = (c * (np.exp(-(r / a_g) ** 2) / a_g - np.exp(-(r / a_e) ** 2) / a_e) - f) / r
    zero = r == 0.0
    f[zero] = c * (1.0 / a_g - 1.0 / a_e)
    df[zero] = 0.0
    return f, df


def table_spacing(sigma_min: float, accuracy: float) -> float:
    """Knot spacing (Å) of the real-space kernel tables for the narrowest width ``sigma_min``."""
    h = TABLE_SPACING_PER_WIDTH * sigma_min * (accuracy / 1e-5) ** (1.0 / 3.0)
    return float(min(max(h, 0.002), 0.04))


def kernel_table(widths: np.ndarray, eta: float, r_cut: float, spacing: float) -> np.ndarray:
    """Cubic Hermite coefficients ``(len(widths)², n_intervals, 4)`` of the real-space kernel
    of Gaussian charges of each pair of ``widths`` (Å) screened by ``eta`` (Å), knots ``k h``
    (exact values and slopes at every knot; de Boor, A Practical Guide to Splines, ch. 4).

    On ``[k h, (k + 1) h]`` with ``u = r/h − k``: ``phi = c0 + u (c1 + u (c2 + u c3))``; the
    forces use the derivative of the same cubic, so they are the exact gradient of the
    tabulated energy.
    """
    widths = np.asarray(widths, dtype=float)
    n_int = int(math.ceil(r_cut / spacing)) + 1
    r = spacing * np.arange(n_int + 1)
    out = np.empty((widths.size * widths.size, n_int, 4))
    for a, sa in enumerate(widths):
        for b, sb in enumerate(widths):
            f, df = _kernel_values(r, math.hypot(sa, sb), eta)
            d = spacing * df
            f0, f1, d0, d1 = f[:-1], f[1:], d[:-1], d[1:]
            out[a * widths.size + b] = np.stack(
                [f0, d0, 3.0 * (f1 - f0) - 2.0 * d0 - d1, 2.0 * (f0 - f1) + d0 + d1], axis=1)
    return out


@numba.njit(cache=True)
def _real_matvec(start, pj, phi, q, out):  # pragma: no cover - numba
    """out_i += Σ_j phi_ij q_j over the half pair list in CSR form (pairs of atom i in
    ``start[i]:start[i + 1]``)."""
    for i in range(start.shape[0] - 1):
        qi = q[i]
        acc = 0.0
        for p in range(start[i], start[i + 1]):
            j = pj[p]
            acc += phi[p] * q[j]
            out[j] += phi[p] * qi
        out[i] += acc


@numba.njit(cache=True)
def _real_forces(start, pj, D, phi, dphi_r, q, forces, virial):  # pragma: no cover - numba
    """Real-space forces and virial at charges q; returns the real-space energy (no k_e)."""
    energy = 0.0
    v00 = v01 = v02 = v11 = v12 = v22 = 0.0
    for i in range(start.shape[0] - 1):
        qi = q[i]
        f0 = f1 = f2 = 0.0
        for p in range(start[i], start[i + 1]):
            j = pj[p]
            qq = qi * q[j]
            energy += qq * phi[p]
            g = qq * dphi_r[p]
            d0 = D[p, 0]
            d1 = D[p, 1]
            d2 = D[p, 2]
            f0 += g * d0
            f1 += g * d1
            f2 += g * d2
            forces[j, 0] -= g * d0
            forces[j, 1] -= g * d1
            forces[j, 2] -= g * d2
            v00 += g * d0 * d0
            v01 += g * d0 * d1
            v02 += g * d0 * d2
            v11 += g * d1 * d1
            v12 += g * d1 * d2
            v22 += g * d2 * d2
        forces[i, 0] += f0
        forces[i, 1] += f1
        forces[i, 2] += f2
    virial[0, 0] += v00
    virial[1, 1] += v11
    virial[2, 2] += v22
    virial[0, 1] += v01
    virial[1, 0] += v01
    virial[0, 2] += v02
    virial[2, 0] += v02
    virial[1, 2] += v12
    virial[2, 1] += v12
    return energy


@numba.njit(cache=True)
def _structure_factors(cos, sin, q):  # pragma: no cover - numba
    """Re and Im of S(k) = Σ_i q_i exp(i k.r_i) (compiled: no BLAS threads next to numba's)."""
    nk = cos.shape[1]
    s_re = np.zeros(nk)
    s_im = np.zeros(nk)
    for i in range(cos.shape[0]):
        qi = q[i]
        if qi == 0.0:
            continue
        for m in range(nk):
            s_re[m] += qi * cos[i, m]
            s_im[m] += qi * sin[i, m]
    return s_re, s_im


def _reciprocal_potential_py(cos, sin, a_re, a_im, out):  # pragma: no cover - numba
    """out_i += Σ_k [cos(k.r_i) a_re_k + sin(k.r_i) a_im_k]."""
    for i in numba.prange(cos.shape[0]):
        acc = 0.0
        for m in range(cos.shape[1]):
            acc += cos[i, m] * a_re[m] + sin[i, m] * a_im[m]
        out[i] += acc


def _reciprocal_forces_py(cos, sin, a_re, a_im, k, q, forces):  # pragma: no cover - numba
    """F_i = q_i Σ_k k [sin(k.r_i) a_re_k − cos(k.r_i) a_im_k], a = w S(k) (one pass);
    ``k`` (3, M)."""
    for i in numba.prange(cos.shape[0]):
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        for m in range(cos.shape[1]):
            t = sin[i, m] * a_re[m] - cos[i, m] * a_im[m]
            f0 += t * k[0, m]
            f1 += t * k[1, m]
            f2 += t * k[2, m]
        forces[i, 0] += q[i] * f0
        forces[i, 1] += q[i] * f1
        forces[i, 2] += q[i] * f2


def _structure_phases_py(frac, runs, mmax, cos_out, sin_out):  # pragma: no cover - numba
    """cos and sin of 2π m·f for every atom (rows) and integer k-vector m (columns); ``runs``
    rows ``(m1, m2, m3_first, column, length)``: k-vectors ``(m1, m2, m3_first + t)`` in
    consecutive columns, so that the inner loop is one complex product per k-vector."""
    for i in numba.prange(frac.shape[0]):
        tab_re = np.empty((3, 2 * mmax + 1))
        tab_im = np.empty((3, 2 * mmax + 1))
        for a in range(3):
            step_re = math.cos(2.0 * math.pi * frac[i, a])
            step_im = math.sin(2.0 * math.pi * frac[i, a])
            tab_re[a, mmax] = 1.0
            tab_im[a, mmax] = 0.0
            for m in range(1, mmax + 1):
                # exact phases every 8 steps keep the recurrence's rounding bounded
                if m % 8 == 0:
                    re = math.cos(2.0 * math.pi * m * frac[i, a])
                    im = math.sin(2.0 * math.pi * m * frac[i, a])
                else:
                    pre = tab_re[a, mmax + m - 1]
                    pim = tab_im[a, mmax + m - 1]
                    re = pre * step_re - pim * step_im
                    im = pre * step_im + pim * step_re
                tab_re[a, mmax + m] = re
                tab_im[a, mmax + m] = im
                tab_re[a, mmax - m] = re
                tab_im[a, mmax - m] = -im
        for r in range(runs.shape[0]):
            i0 = runs[r, 0] + mmax
            i1 = runs[r, 1] + mmax
            i2 = runs[r, 2] + mmax
            col = runs[r, 3]
            re01 = tab_re[0, i0] * tab_re[1, i1] - tab_im[0, i0] * tab_im[1, i1]
            im01 = tab_re[0, i0] * tab_im[1, i1] + tab_im[0, i0] * tab_re[1, i1]
            for t in range(runs[r, 4]):
                cos_out[i, col + t] = re01 * tab_re[2, i2 + t] - im01 * tab_im[2, i2 + t]
                sin_out[i, col + t] = re01 * tab_im[2, i2 + t] + im01 * tab_re[2, i2 + t]


def _kmesh_runs(kmesh: np.ndarray) -> np.ndarray:
    """Rows ``(m1, m2, m3_first, column, length)`` of consecutive k-vectors along m3."""
    runs: list[list[int]] = []
    for col, (m1, m2, m3) in enumerate(kmesh.tolist()):
        last = runs[-1] if runs else None
        if last is not None and last[0] == m1 and last[1] == m2 \
                and last[2] + last[4] == m3 and last[3] + last[4] == col:
            last[4] += 1
        else:
            runs.append([m1, m2, m3, col, 1])
    return np.array(runs, dtype=np.int64).reshape(-1, 5)


@numba.njit(cache=True, fastmath=True)
def _longwave_factor(B, C, w_inv):  # pragma: no cover - numba
    """Cholesky factor L of ``K = W⁻¹ + B Cᵀ`` (``B = C D⁻¹``; compiled: no BLAS threads)."""
    m, n = C.shape
    L = np.zeros((m, m))
    for a in range(m):
        for b in range(a + 1):
            acc = 0.0
            for i in range(n):
                acc += B[a, i] * C[b, i]
            L[a, b] = acc
        L[a, a] += w_inv[a]
    for j in range(m):  # in-place Cholesky–Banachiewicz on the lower triangle
        d = L[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        L[j, j] = math.sqrt(d)
        for i in range(j + 1, m):
            acc = L[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            L[i, j] = acc / L[j, j]
    return L


@numba.njit(cache=True)
def _lowrank_apply(dinv, B, L, v):  # pragma: no cover - numba
    """``D⁻¹v − Bᵀ K⁻¹ B v`` (Woodbury form of ``(D + Cᵀ W C)⁻¹ v``, ``B = C D⁻¹``,
    ``K = W⁻¹ + B Cᵀ = L Lᵀ``)."""
    m = B.shape[0]
    u = np.zeros(m)
    for a in range(m):  # t = B v, then L y = t
        acc = 0.0
        for i in range(B.shape[1]):
            acc += B[a, i] * v[i]
        for k in range(a):
            acc -= L[a, k] * u[k]
        u[a] = acc / L[a, a]
    for a in range(m - 1, -1, -1):  # Lᵀ u = y
        acc = u[a]
        for k in range(a + 1, m):
            acc -= L[k, a] * u[k]
        u[a] = acc / L[a, a]
    out = dinv * v
    for a in range(m):
        ua = u[a]
        for i in range(B.shape[1]):
            out[i] -= B[a, i] * ua
    return out


_real_terms = _compiled(_real_terms_py)
_real_table = _compiled(_real_table_py)
_reciprocal_potential = _compiled(_reciprocal_potential_py, fastmath=True)
_reciprocal_forces = _compiled(_reciprocal_forces_py, fastmath=True)
_structure_phases = _compiled(_structure_phases_py)

# --------------------------------------------------------------------------------------------
# state kept along a trajectory


@dataclass
class QEqResult:
    """Charges (e), electrostatic + QEq energy (eV), forces (N, 3), stress (3, 3), iterations."""

    charges: np.ndarray
    energy: float
    forces: np.ndarray
    stress: np.ndarray
    mu: float
    iterations: int


class MDElectrostatics:
    """Ewald electrostatics of Gaussian charges and QEq for successive MD steps of one system.

    ``sigma`` (N,) Gaussian widths (Å). ``accuracy`` sets the Ewald truncation (see module
    docstring), ``skin`` the Verlet skin (Å), ``qeq_tol`` the largest allowed spread of the
    atoms' electronegativities ``∂E/∂q_i`` at the returned charges (eV/e),
    ``predictor_order`` the order of the extrapolation in time that starts each solve (0: the
    last charges). Call :meth:`solve` with the geometry and the QEq parameters of each step.
    """

    def __init__(self, sigma: Any, cell: Any, accuracy: float = DEFAULT_MD_ACCURACY,
                 skin: float = DEFAULT_SKIN_A, qeq_tol: float = 1e-6, eta: float | None = None,
                 cost_ratio: float = MD_COST_RATIO, max_iter: int = 500,
                 predictor_order: int = PREDICTOR_ORDER) -> None:
        sigma = np.ascontiguousarray(sigma, dtype=float)
        cell = np.asarray(cell, dtype=float)
        if sigma.ndim != 1 or np.any(sigma < 0.0):
            raise InputError("sigma must be (N,) non-negative widths", field="sigma",
                             expected="shape (N,), sigma >= 0 Å")
        if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-12:
            raise InputError("fast MD electrostatics need a 3D periodic cell", field="cell",
                             expected="a non-singular (3, 3) cell with pbc all True")
        n = sigma.size
        p = _exponent(accuracy)
        if eta is None:
            eta_opt = ewald_parameters(cell, n, accuracy, cost_ratio=cost_ratio).eta
            # the Gaussian term erfc(r/(√2 gamma)) needs r_cut >= √(2p) gamma_max anyway
            eta = max(eta_opt, math.sqrt(2.0) * float(sigma.max(initial=0.0)) * 1.05)
        self.params = ewald_parameters(cell, n, accuracy, eta=eta)
        self.eta = float(eta)
        self.r_cut = self.eta * math.sqrt(2.0 * p)
        self.sigma = sigma
        self.qeq_tol = float(qeq_tol)
        self.max_iter = int(max_iter)
        self.kmesh = np.ascontiguousarray(self.params.kmesh, dtype=np.int64)
        self._mmax = int(np.abs(self.kmesh).max(initial=0))
        self._runs = _kmesh_runs(self.kmesh)
        self.verlet = VerletList(self.r_cut, skin, half=True)
        if predictor_order < 0:
            raise InputError(f"predictor_order={predictor_order}", field="predictor_order",
                             expected="a non-negative polynomial order")
        self.predictor_order = int(predictor_order)
        # real-space kernel tables, one per pair of distinct widths (point charges: erfc)
        widths, types = np.unique(sigma, return_inverse=True)
        self._table = None
        if 0 < widths.size <= TABLE_MAX_WIDTHS and widths[0] > 0.0:
            self._spacing = table_spacing(float(widths[0]), accuracy)
            self._table = kernel_table(widths, self.eta, self.r_cut, self._spacing)
            self._types = np.ascontiguousarray(types, dtype=np.int64)
            self._n_types = int(widths.size)
        self._history: list[np.ndarray] = []
        self._start: np.ndarray | None = None
        self.last_iterations = 0

    # ---------------------------------------------------------------- geometry of one step
    def _prepare(self, positions: np.ndarray, cell: np.ndarray) -> None:
        n = self.sigma.size
        if positions.shape != (n, 3):
            raise InputError(f"positions have shape {positions.shape}", field="positions",
                             expected=f"shape ({n}, 3)")
        if self.verlet.update(positions, cell) or self._start is None:
            # CSR layout of the half list (sorted by centre atom) for the sums over pairs
            self._start = np.searchsorted(self.verlet.i, np.arange(n + 1)).astype(np.int64)
            self._pj32 = self.verlet.j.astype(np.int32)
        vl = self.verlet
        self._pi, self._pj = vl.i, vl.j
        n_pairs = vl.i.shape[0]
        self._phi = np.empty(n_pairs)
        self._dphi_r = np.empty(n_pairs)
        if self._table is not None:
            self._D = np.empty((n_pairs, 3))
            _pick(_real_table, n_pairs)(
                positions, cell, vl.i, vl.j, vl.S, self._types, self._n_types, self._table,
                1.0 / self._spacing, self.r_cut**2, self._D, self._phi, self._dphi_r)
        else:
            _, self._D = _select_pairs(positions, cell, vl.i, vl.j, vl.S, math.inf)
            inv_ae = 1.0 / (math.sqrt(2.0) * self.eta)
            _pick(_real_terms, n_pairs)(self._D, self._pi, self._pj, self.sigma, inv_ae,
                                        self.r_cut**2, self._phi, self._dphi_r)
        self._volume = float(abs(np.linalg.det(cell)))
        recip = 2.0 * np.pi * np.linalg.inv(cell).T
        k = self.kmesh @ recip
        k2 = np.einsum("ij,ij->i", k, k)
        self._k, self._k2 = k, k2
        self._w = 8.0 * np.pi / self._volume * np.exp(-0.5 * self.eta**2 * k2) / k2
        nk = k.shape[0]
        self._k_t = np.ascontiguousarray(k.T)
        self._cos = np.empty((n, nk))
        self._sin = np.empty((n, nk))
        frac = np.ascontiguousarray(positions @ np.linalg.inv(cell))
        _pick(_structure_phases, n * nk // 8)(frac, self._runs, self._mmax, self._cos, self._sin)
        self._self = _diag_self(self.sigma, self.eta)
        self_images = np.zeros(n)
        mask = self._pi == self._pj
        np.add.at(self_images, self._pi[mask], 2.0 * self._phi[mask])
        s2 = self.sigma**2
        self._diag = COULOMB_EV_A * (self_images + self._self + self._w.sum()
                                     + 2.0 * np.pi / self._volume * (2.0 * s2 - self.eta**2))

    def coulomb_potential(self, q: np.ndarray) -> np.ndarray:
        """``A q`` (eV/e) at the geometry of the last :meth:`solve`/:meth:`prepare` call."""
        return self._apply(q)[0]

    def _apply(self, q: np.ndarray):
        """``A q`` and the structure factors ``S(k)`` of ``q`` (linear in ``q``)."""
        out = self._self * q
        _real_matvec(self._start, self._pj32, self._phi, q, out)
        s_re, s_im = _structure_factors(self._cos, self._sin, q)
        _pick(_reciprocal_potential, q.size * self._w.size // 4)(
            self._cos, self._sin, self._w * s_re, self._w * s_im, out)
        s2 = self.sigma**2
        out += 2.0 * np.pi / self._volume * ((s2 - self.eta**2) * q.sum() + float(s2 @ q))
        return COULOMB_EV_A * out, s_re, s_im

    def prepare(self, positions: Any, cell: Any) -> None:
        """Set up the Coulomb operator at this geometry (called by :meth:`solve`)."""
        self._prepare(np.asarray(positions, dtype=float), np.asarray(cell, dtype=float))

    # ---------------------------------------------------------------- QEq
    def _guess(self, total_charge: float) -> np.ndarray:
        """Charges extrapolated in time by the polynomial of order ``predictor_order`` (or
        lower while the history is short) through the last steps' charges."""
        h = self._history
        if not h:
            return np.full(self.sigma.size, total_charge / self.sigma.size)
        order = min(self.predictor_order, len(h) - 1)
        # Lagrange extrapolation to the next of equally spaced times: (-1)^j C(order+1, j+1)
        q = np.zeros_like(h[-1])
        for j in range(order + 1):
            q += (-1) ** j * math.comb(order + 1, j + 1) * h[-1 - j]
        return q

    def _preconditioner(self, diag: np.ndarray):
        """``v ↦ M⁻¹ v`` for ``M = diag(A + J) + Cᵀ W C``: Jacobi plus the exact reciprocal
        terms of the few longest charge waves (their eigenvalues ~ k_e 4πρ/k² stand far above
        the rest of the spectrum), inverted by the Woodbury identity."""
        dinv = 1.0 / diag
        n = diag.size
        lam = COULOMB_EV_A * self._w * (0.5 * n)
        order = np.argsort(-lam, kind="stable")
        n_long = int(np.count_nonzero(lam >= LONGWAVE_FRACTION * diag.mean()))
        sel = order[:min(n_long, LONGWAVE_MAX, n // 2)]
        C = np.ascontiguousarray(np.concatenate([self._cos[:, sel].T, self._sin[:, sel].T]))
        B = np.ascontiguousarray(C * dinv)
        w = COULOMB_EV_A * np.concatenate([self._w[sel], self._w[sel]])
        L = _longwave_factor(B, C, 1.0 / w)
        self.n_longwave = int(sel.size)
        return lambda v: _lowrank_apply(dinv, B, L, v)

    def _pcg(self, chi, hardness, total_charge):
        """Projected preconditioned CG from the extrapolated charges (warm start)."""
        diag = self._diag + hardness
        if np.any(diag <= 0.0):
            raise InputError("non-positive diagonal of A + diag(J)", field="hardness",
                             expected="A + diag(J) positive definite")
        precond = self._preconditioner(diag)
        m1 = precond(np.ones(diag.size))  # M⁻¹ 1: the charge-conserving projection
        denom = float(m1.sum())
        q = self._guess(total_charge)
        q += m1 * ((total_charge - q.sum()) / denom)
        aq, sq_re, sq_im = self._apply(q)  # S(k) of the charges, updated with them
        r = aq + hardness * q + chi

        def project(res):
            """Deviation of ∂E/∂q_i from its M⁻¹1-weighted mean and its preconditioned
            projection (M⁻¹ applied to the small deviation: no cancellation near the end)."""
            dev = res - float(m1 @ res) / denom
            return dev, precond(dev)

        dev, g = project(r)
        rg = float(g @ dev)
        d = -g
        it = 0
        while True:
            spread = np.abs(dev).max()
            if spread <= self.qeq_tol:
                break
            if it >= self.max_iter:
                raise ConvergenceError(
                    f"QEq conjugate gradients stopped at an electronegativity spread of "
                    f"{spread:.3g} eV/e after {it} iterations (target {self.qeq_tol:g})")
            ad, sd_re, sd_im = self._apply(d)
            hd = ad + hardness * d
            curvature = float(d @ hd)
            if curvature <= 0.0:
                raise ConvergenceError("QEq matrix A + diag(J) is not positive definite on the "
                                       "charge-conserving plane")
            alpha = rg / curvature
            q += alpha * d
            r += alpha * hd
            sq_re += alpha * sd_re
            sq_im += alpha * sd_im
            dev, g = project(r)
            rg_new = float(g @ dev)
            d = -g + (rg_new / rg) * d
            rg = rg_new
            it += 1
        # Σd = 0 along CG: this restores Σq against rounding only (S(k) unchanged to rounding)
        q += m1 * ((total_charge - q.sum()) / denom)
        mu = float(m1 @ r) / denom
        return q, mu, it, (sq_re, sq_im)

    def solve(self, positions: Any, cell: Any, chi: Any, hardness: Any,
              total_charge: float = 0.0, stress: bool = True) -> QEqResult:
        """Equilibrated charges and ``E = Σ χ_i q_i + ½ J_i q_i² + ½ qᵀAq`` with its forces
        and stress at fixed charges (Hellmann–Feynman: ∂E/∂q = μ is uniform at the minimum)."""
        positions = np.asarray(positions, dtype=float)
        cell = np.asarray(cell, dtype=float)
        chi = np.asarray(chi, dtype=float)
        hardness = np.broadcast_to(np.asarray(hardness, dtype=float), chi.shape)
        self._prepare(positions, cell)
        q, mu, it, sf = self._pcg(chi, hardness, float(total_charge))
        self.last_iterations = it
        self._history = (self._history + [q.copy()])[-(self.predictor_order + 1):]
        e_el, forces, st = self.energy_forces_stress(q, stress=stress, structure_factors=sf)
        energy = float(chi @ q + 0.5 * np.sum(hardness * q * q) + e_el)
        return QEqResult(q, energy, forces, st, mu, it)

    def reset(self) -> None:
        """Forget the charge history (call after a jump in the trajectory)."""
        self._history = []

    # ---------------------------------------------------------------- fixed-charge terms
    def energy_forces_stress(self, q: np.ndarray, stress: bool = True,
                             structure_factors: tuple[np.ndarray, np.ndarray] | None = None):
        """Electrostatic energy (eV), forces (N, 3) and stress (3, 3, ASE sign) at charges ``q``
        for the prepared geometry; the same terms as
        :func:`superionic.potentials.ewald.coulomb_energy_forces_stress`.
        ``structure_factors``: Re and Im of ``S(k)`` of ``q`` when already known."""
        n = q.size
        forces = np.zeros((n, 3))
        virial = np.zeros((3, 3))
        energy = _real_forces(self._start, self._pj32, self._D, self._phi, self._dphi_r, q, forces,
                              virial)
        energy += 0.5 * float(self._self @ (q * q))
        if structure_factors is None:
            structure_factors = _structure_factors(self._cos, self._sin, q)
        s_re, s_im = structure_factors
        w = self._w
        _pick(_reciprocal_forces, n * w.size // 4)(self._cos, self._sin, w * s_re, w * s_im,
                                                  self._k_t, q, forces)
        ws2 = 0.5 * w * (s_re**2 + s_im**2)
        energy += float(ws2.sum())
        fac = ws2 * 2.0 * (0.5 * self.eta**2 + 1.0 / self._k2)
        virial += (self._k * fac[:, None]).T @ self._k - np.eye(3) * float(ws2.sum())
        total = float(q.sum())
        e_bg = np.pi / self._volume * (2.0 * total * float(q @ self.sigma**2)
                                       - self.eta**2 * total**2)
        energy += e_bg
        virial -= e_bg * np.eye(3)
        st = virial / self._volume
        st = 0.5 * (st + st.T) if stress else np.zeros((3, 3))
        return COULOMB_EV_A * energy, COULOMB_EV_A * forces, COULOMB_EV_A * st
