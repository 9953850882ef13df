"""Numba CPU engine of MTP: basis values per atom and analytic reverse-mode forces and virial.

Forward: basic moments M_{μ,ν}(i) = Σ_j f_μ(r_ij) r̂_ij^{⊗ν} accumulated per neighbour, then the
contraction program (:mod:`superionic.potentials.mtp_basis`). Backward: given per-atom weights
g_i = ∂E/∂B(i), the program is run in reverse (adjoint) to ∂E/∂M, then to ∂E/∂r_ij per pair.
Same scheme as mlip-2 (Novikov et al., Mach. Learn.: Sci. Technol. 2, 025002 (2021)); here each
atom's pairs are processed as one block (radial functions and monomials vectorised over the
pairs, moments as dense (μ, monomial) products), which gives the same numbers to rounding. The
radial functions are those of :func:`~superionic.potentials.radial.chebyshev_radial`
(saturating below r_min).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from superionic.potentials.ewald import _shift_range
from superionic.potentials.mtp_basis import ContractionProgram
from superionic.potentials.radial import SATURATION_A

#: LLVM may reorder sums and fuse multiply-adds (no assumptions about NaN or infinity, so
#: broken inputs still propagate as NaN).
_FASTMATH = {"reassoc", "contract"}


@njit(cache=True)
def _moment_layout(basic_mu, basic_pows, n_mu):
    """Dense layout of the basic moments: monomials x^a y^b z^c ordered by degree (a, then b
    descending), so those of degree ≤ d are the first (d+1)(d+2)(d+3)/6; for each basic moment
    its monomial and the monomials one lower in x, y, z (0 where that power is 0); for each μ
    the number of monomials it uses. Returns (ν_max, n_mono, k_mono, k_low, mu_len)."""
    nu_max = 0
    for k in range(basic_mu.shape[0]):
        nu_max = max(nu_max, basic_pows[k, 0] + basic_pows[k, 1] + basic_pows[k, 2])
    n1 = nu_max + 1
    index = np.zeros((n1, n1, n1), dtype=np.int64)
    t = 0
    for d in range(n1):
        for a in range(d, -1, -1):
            for b in range(d - a, -1, -1):
                index[a, b, d - a - b] = t
                t += 1
    n_basic = basic_mu.shape[0]
    k_mono = np.empty(n_basic, dtype=np.int64)
    k_low = np.zeros((n_basic, 3), dtype=np.int64)
    mu_deg = np.full(n_mu, -1, dtype=np.int64)
    for k in range(n_basic):
        a = basic_pows[k, 0]
        b = basic_pows[k, 1]
        c = basic_pows[k, 2]
        k_mono[k] = index[a, b, c]
        if a > 0:
            k_low[k, 0] = index[a - 1, b, c]
        if b > 0:
            k_low[k, 1] = index[a, b - 1, c]
        if c > 0:
            k_low[k, 2] = index[a, b, c - 1]
        mu_deg[basic_mu[k]] = max(mu_deg[basic_mu[k]], a + b + c)
    mu_len = np.zeros(n_mu, dtype=np.int64)
    for m in range(n_mu):
        d = mu_deg[m]
        if d >= 0:
            mu_len[m] = (d + 1) * (d + 2) * (d + 3) // 6
    return nu_max, t, k_mono, k_low, mu_len


@njit(cache=True, inline="always")
def _block_setup(i, species, pair_start, pair_j, pair_vec, n_species, radial_coeffs, r_min, r_cut,
                 nu_max, order, X, inv_r, f, df, mono):
    """Everything per pair that atom i's moments need, laid out along its pairs q so that the
    loops over pairs vectorise: ``order`` (its pairs sorted by neighbour species, so each
    species pair's radial coefficients apply to one contiguous run), unit vectors X[3, q], 1/r,
    radial functions f[μ, q] and f'[μ, q], and the monomials mono[t, q] of
    :func:`_moment_layout`. The Chebyshev recurrence is that of
    :func:`~superionic.potentials.radial.chebyshev_radial` written branch-free over the pairs
    (zero beyond r_cut through max(r_cut − r, 0)), with its saturation below r_min applied
    afterwards to the few pairs that need it. Monomials by degree blocks: the degree-d block
    is x times the degree-(d−1) block, then y times its a = 0 tail, then z times its last
    entry."""
    lo = pair_start[i]
    n = pair_start[i + 1] - lo
    zi = species[i]
    # counting sort by neighbour species
    counts = np.zeros(n_species + 1, dtype=np.int64)
    for q in range(n):
        counts[species[pair_j[lo + q]] + 1] += 1
    for s in range(n_species):
        counts[s + 1] += counts[s]
    seg = counts.copy()
    for q in range(n):
        s = species[pair_j[lo + q]]
        order[seg[s]] = q
        seg[s] += 1
    r = np.empty(n)
    for q in range(n):
        p = lo + order[q]
        x = pair_vec[p, 0]
        y = pair_vec[p, 1]
        z = pair_vec[p, 2]
        rr = np.sqrt(x * x + y * y + z * z)
        r[q] = rr
        ir = 1.0 / rr
        inv_r[q] = ir
        X[0, q] = x * ir
        X[1, q] = y * ir
        X[2, q] = z * ir
    n_beta = radial_coeffs.shape[3]
    n_mu = radial_coeffs.shape[2]
    width = r_cut - r_min
    sc = 2.0 / width
    xi = np.empty(n)
    w = np.empty(n)
    dw = np.empty(n)
    for q in range(n):
        re = max(r[q], r_min)
        xi[q] = (2.0 * re - r_min - r_cut) / width
        cr = max(r_cut - re, 0.0)
        w[q] = cr * cr
        dw[q] = -2.0 * cr
    Q = np.empty((n_beta, n))
    dQ = np.empty((n_beta, n))
    t_prev = np.ones(n)
    t_cur = xi.copy()
    d_prev = np.zeros(n)
    d_cur = np.ones(n)
    for q in range(n):
        Q[0, q] = w[q]
        dQ[0, q] = dw[q]
    if n_beta > 1:
        for q in range(n):
            Q[1, q] = xi[q] * w[q]
            dQ[1, q] = sc * w[q] + xi[q] * dw[q]
    for b in range(2, n_beta):
        for q in range(n):
            tn = 2.0 * xi[q] * t_cur[q] - t_prev[q]
            dn = 2.0 * t_cur[q] + 2.0 * xi[q] * d_cur[q] - d_prev[q]
            t_prev[q] = t_cur[q]
            t_cur[q] = tn
            d_prev[q] = d_cur[q]
            d_cur[q] = dn
            Q[b, q] = tn * w[q]
            dQ[b, q] = dn * sc * w[q] + tn * dw[q]
    for q in range(n):  # saturation below r_min (rare): see chebyshev_radial
        below = r_min - r[q]
        if below > 0.0 and r[q] < r_cut:
            decay = np.exp(-below / SATURATION_A)
            for b in range(n_beta):
                Q[b, q] -= dQ[b, q] * SATURATION_A * (1.0 - decay)
                dQ[b, q] *= decay
    for m in range(n_mu):
        for q in range(n):
            f[m, q] = 0.0
            df[m, q] = 0.0
    for s in range(n_species):
        a = counts[s]
        e = counts[s + 1]
        for m in range(n_mu):
            for b in range(n_beta):
                c = radial_coeffs[zi, s, m, b]
                for q in range(a, e):
                    f[m, q] += c * Q[b, q]
                    df[m, q] += c * dQ[b, q]
    # monomials by degree blocks
    for q in range(n):
        mono[0, q] = 1.0
    prev = 0
    n_prev = 1
    for d in range(1, nu_max + 1):
        cur = prev + n_prev
        for k in range(n_prev):
            for q in range(n):
                mono[cur + k, q] = X[0, q] * mono[prev + k, q]
        tail = prev + n_prev - d
        for k in range(d):
            for q in range(n):
                mono[cur + n_prev + k, q] = X[1, q] * mono[tail + k, q]
        for q in range(n):
            mono[cur + n_prev + d, q] = X[2, q] * mono[prev + n_prev - 1, q]
        prev = cur
        n_prev += d + 1
    return n


@njit(cache=True, inline="always")
def _atom_block(i, species, pair_start, pair_j, pair_vec, radial_coeffs, r_min, r_cut, nu_max,
                n_mono):
    """:func:`_block_setup` of atom i into new arrays: (n_pairs, order, X, 1/r, f, f', mono)."""
    n = pair_start[i + 1] - pair_start[i]
    n_mu = radial_coeffs.shape[2]
    order = np.empty(n, dtype=np.int64)
    X = np.empty((3, n))
    inv_r = np.empty(n)
    f = np.empty((n_mu, n))
    df = np.empty((n_mu, n))
    mono = np.empty((n_mono, n))
    _block_setup(i, species, pair_start, pair_j, pair_vec, radial_coeffs.shape[1],
                 radial_coeffs, r_min, r_cut, nu_max, order, X, inv_r, f, df, mono)
    return n, order, X, inv_r, f, df, mono


def _forward(
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
    basic_mu: np.ndarray,
    basic_pows: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    ic: np.ndarray,
    coeff: np.ndarray,
    n_values: int,
) -> np.ndarray:
    """All program values per atom, shape (N, n_values); pairs sorted by centre atom. The
    moments are accumulated densely over (μ, monomial), which every basic moment fills."""
    n_atoms = species.shape[0]
    n_basic = basic_mu.shape[0]
    n_mu = radial_coeffs.shape[2]
    nu_max, n_mono, k_mono, k_low, mu_len = _moment_layout(basic_mu, basic_pows, n_mu)
    vals = np.zeros((n_atoms, n_values))
    for i in prange(n_atoms):
        n, order, X, inv_r, f, df, mono = _atom_block(
            i, species, pair_start, pair_j, pair_vec, radial_coeffs, r_min, r_cut, nu_max, n_mono)
        acc = np.zeros((n_mu, n_mono))
        for m in range(n_mu):
            fm = f[m]
            for t in range(mu_len[m]):
                mt = mono[t]
                s = 0.0
                for q in range(n):
                    s += fm[q] * mt[q]
                acc[m, t] = s
        v = vals[i]
        for k in range(n_basic):
            v[k] = acc[basic_mu[k], k_mono[k]]
        for t in range(ia.shape[0]):
            v[ic[t]] += coeff[t] * v[ia[t]] * v[ib[t]]
    return vals




@njit(cache=True, inline="always")
def _adjoint(i, kk, g, basis_index, ia, ib, ic, coeff, v, grad):
    """∂(g_i · B(i))/∂value for weight set kk, by the contraction program run in reverse."""
    grad[:] = 0.0
    for a in range(basis_index.shape[0]):
        grad[basis_index[a]] += g[i, kk, a]
    for t in range(ia.shape[0] - 1, -1, -1):
        gc = coeff[t] * grad[ic[t]]
        if gc != 0.0:
            grad[ia[t]] += gc * v[ib[t]]
            grad[ib[t]] += gc * v[ia[t]]


def _backward_one(
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
    basic_mu: np.ndarray,
    basic_pows: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    ic: np.ndarray,
    coeff: np.ndarray,
    basis_index: np.ndarray,
    vals: np.ndarray,
    g: np.ndarray,
) -> np.ndarray:
    """∂E/∂r_ij per pair for one weight set (K = 1, MD): (1, P, 3).

    With w_k = ∂E/∂M_k and d(f m)/dr = u (f' m − ν f m / r) + f ∇_u m / r, the per-atom weights
    are laid out densely over (μ, monomial) — w, ν w, and a w, b w, c w moved to the monomial
    one lower in x, y, z — so each pair needs five dot products with its monomials per μ."""
    n_atoms = species.shape[0]
    n_basic = basic_mu.shape[0]
    n_mu = radial_coeffs.shape[2]
    n_values = vals.shape[1]
    nu_max, n_mono, k_mono, k_low, mu_len = _moment_layout(basic_mu, basic_pows, n_mu)
    out = np.zeros((1, pair_vec.shape[0], 3))
    for i in prange(n_atoms):
        grad = np.empty(n_values)
        _adjoint(i, 0, g, basis_index, ia, ib, ic, coeff, vals[i], grad)
        W = np.zeros((5, n_mu, n_mono))
        for k in range(n_basic):
            wk = grad[k]
            m = basic_mu[k]
            W[0, m, k_mono[k]] += wk
            W[1, m, k_mono[k]] += wk * (basic_pows[k, 0] + basic_pows[k, 1] + basic_pows[k, 2])
            for d in range(3):
                if basic_pows[k, d] > 0:
                    W[2 + d, m, k_low[k, d]] += wk * basic_pows[k, d]
        n, order, X, inv_r, f, df, mono = _atom_block(
            i, species, pair_start, pair_j, pair_vec, radial_coeffs, r_min, r_cut, nu_max, n_mono)
        monoT = mono.T.copy()
        lo = pair_start[i]
        for q in range(n):
            mq = monoT[q]
            ir = inv_r[q]
            s_r = 0.0
            sx = 0.0
            sy = 0.0
            sz = 0.0
            for m in range(n_mu):
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                a4 = 0.0
                w0 = W[0, m]
                w1 = W[1, m]
                w2 = W[2, m]
                w3 = W[3, m]
                w4 = W[4, m]
                for t in range(mu_len[m]):
                    mt = mq[t]
                    a0 += w0[t] * mt
                    a1 += w1[t] * mt
                    a2 += w2[t] * mt
                    a3 += w3[t] * mt
                    a4 += w4[t] * mt
                fm = f[m, q]
                s_r += df[m, q] * a0 - fm * ir * a1
                sx += fm * a2
                sy += fm * a3
                sz += fm * a4
            p = lo + order[q]
            out[0, p, 0] = s_r * X[0, q] + sx * ir
            out[0, p, 1] = s_r * X[1, q] + sy * ir
            out[0, p, 2] = s_r * X[2, q] + sz * ir
    return out


def _backward_many(
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
    basic_mu: np.ndarray,
    basic_pows: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    ic: np.ndarray,
    coeff: np.ndarray,
    basis_index: np.ndarray,
    vals: np.ndarray,
    g: np.ndarray,
) -> np.ndarray:
    """∂E/∂r_ij per pair for K weight sets (training: one per basis function): (K, P, 3). The
    derivative of every basic moment is formed once per pair and dotted with each set."""
    n_atoms = species.shape[0]
    n_basic = basic_mu.shape[0]
    n_mu = radial_coeffs.shape[2]
    n_k = g.shape[1]
    n_values = vals.shape[1]
    nu_max, n_mono, k_mono, k_low, mu_len = _moment_layout(basic_mu, basic_pows, n_mu)
    out = np.zeros((n_k, pair_vec.shape[0], 3))
    for i in prange(n_atoms):
        grad = np.empty(n_values)
        gb = np.empty((n_k, n_basic))
        dm = np.empty((n_basic, 3))
        for kk in range(n_k):
            _adjoint(i, kk, g, basis_index, ia, ib, ic, coeff, vals[i], grad)
            for k in range(n_basic):
                gb[kk, k] = grad[k]
        n, order, X, inv_r, f, df, mono = _atom_block(
            i, species, pair_start, pair_j, pair_vec, radial_coeffs, r_min, r_cut, nu_max, n_mono)
        lo = pair_start[i]
        for q in range(n):
            ir = inv_r[q]
            for k in range(n_basic):
                a = basic_pows[k, 0]
                b = basic_pows[k, 1]
                c = basic_pows[k, 2]
                mk = mono[k_mono[k], q]
                fm = f[basic_mu[k], q]
                rad = df[basic_mu[k], q] * mk - fm * (a + b + c) * mk * ir
                fr = fm * ir
                dm[k, 0] = rad * X[0, q] + fr * a * mono[k_low[k, 0], q]
                dm[k, 1] = rad * X[1, q] + fr * b * mono[k_low[k, 1], q]
                dm[k, 2] = rad * X[2, q] + fr * c * mono[k_low[k, 2], q]
            p = lo + order[q]
            for kk in range(n_k):
                sx = 0.0
                sy = 0.0
                sz = 0.0
                for k in range(n_basic):
                    w = gb[kk, k]
                    sx += w * dm[k, 0]
                    sy += w * dm[k, 1]
                    sz += w * dm[k, 2]
                out[kk, p, 0] = sx
                out[kk, p, 1] = sy
                out[kk, p, 2] = sz
    return out


def _compile_both(py_func):
    """(thread-parallel, serial) compiled kernels: on small cells, and on machines whose cores
    are shared, waking threads costs more than the per-atom loop itself. The serial one is
    compiled from a renamed copy so that the two never share a numba cache entry."""
    serial = types.FunctionType(py_func.__code__, py_func.__globals__,
                                py_func.__name__ + "_serial", py_func.__defaults__,
                                py_func.__closure__)
    serial.__qualname__ = py_func.__qualname__ + "_serial"
    return (njit(cache=True, parallel=True, fastmath=_FASTMATH)(py_func),
            njit(cache=True, fastmath=_FASTMATH)(serial))


_FORWARD = _compile_both(_forward)
_BACKWARD_ONE = _compile_both(_backward_one)
_BACKWARD_MANY = _compile_both(_backward_many)


def basis_values(
    program: ContractionProgram,
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
    parallel: bool = True,
) -> np.ndarray:
    """All program values per atom (N, n_values); basis B = values[:, program.basis_index]."""
    kernel = _FORWARD[0] if parallel else _FORWARD[1]
    return kernel(
        species, pair_start, pair_j, pair_vec, radial_coeffs, float(r_min), float(r_cut),
        program.basic_mu, program.basic_pows, program.ia, program.ib, program.ic, program.coeff,
        program.n_values,
    )


def basis_gradients(
    program: ContractionProgram,
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
    values: np.ndarray,
    g: np.ndarray,
    parallel: bool = True,
) -> np.ndarray:
    """∂(Σ_i g_i·B(i))/∂r_ij per pair, g of shape (N, K, n_basis) -> (K, P, 3)."""
    kernels = _BACKWARD_ONE if g.shape[1] == 1 else _BACKWARD_MANY
    kernel = kernels[0] if parallel else kernels[1]
    return kernel(
        species, pair_start, pair_j, pair_vec, radial_coeffs, float(r_min), float(r_cut),
        program.basic_mu, program.basic_pows, program.ia, program.ib, program.ic, program.coeff,
        program.basis_index, values, np.ascontiguousarray(g, dtype=float),
    )


def pair_forces_virial(
    dE_dr: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray, pair_vec: np.ndarray, n_atoms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Forces (K, N, 3) and virial Σ_p r_p ⊗ ∂E/∂r_p (K, 3, 3) from pair gradients (K, P, 3)."""
    n_k = dE_dr.shape[0]
    forces = np.zeros((n_k, n_atoms, 3))
    for kk in range(n_k):
        for d in range(3):
            forces[kk, :, d] = np.bincount(pair_i, dE_dr[kk, :, d], minlength=n_atoms) - \
                np.bincount(pair_j, dE_dr[kk, :, d], minlength=n_atoms)
    virial = np.einsum("pa,kpb->kab", pair_vec, dE_dr)
    return forces, virial


@njit(cache=True, parallel=True)
def _periodic_pairs(frac, cell, h, r_cut2, counts, offsets, jj, shifts, vecs, fill):
    n = frac.shape[0]
    for i in prange(n):
        c = offsets[i]
        m = 0
        for j in range(n):
            f0 = frac[j, 0] - frac[i, 0]
            f1 = frac[j, 1] - frac[i, 1]
            f2 = frac[j, 2] - frac[i, 2]
            lo0, hi0 = _shift_range(f0, h[0])
            lo1, hi1 = _shift_range(f1, h[1])
            lo2, hi2 = _shift_range(f2, h[2])
            for n0 in range(lo0, hi0 + 1):
                for n1 in range(lo1, hi1 + 1):
                    for n2 in range(lo2, hi2 + 1):
                        if i == j and n0 == 0 and n1 == 0 and n2 == 0:
                            continue
                        a = f0 + n0
                        b = f1 + n1
                        d = f2 + n2
                        x = a * cell[0, 0] + b * cell[1, 0] + d * cell[2, 0]
                        y = a * cell[0, 1] + b * cell[1, 1] + d * cell[2, 1]
                        z = a * cell[0, 2] + b * cell[1, 2] + d * cell[2, 2]
                        if x * x + y * y + z * z >= r_cut2:
                            continue
                        if fill:
                            jj[c] = j
                            shifts[c, 0] = n0
                            shifts[c, 1] = n1
                            shifts[c, 2] = n2
                            vecs[c, 0] = x
                            vecs[c, 1] = y
                            vecs[c, 2] = z
                            c += 1
                        else:
                            m += 1
        if not fill:
            counts[i] = m


@njit(cache=True, parallel=True)
def _binned_pairs(frac, cell, r_cut2, n_bins, reach, atom_bin, bin_start, bin_atoms, counts,
                  offsets, jj, shifts, vecs, fill):
    """Cell-list version of :func:`_periodic_pairs`: atom i meets the atoms of the bins within
    ``reach`` bins of its own along each lattice vector, each bin offset mapped to a bin of the
    cell and a periodic image (distinct offsets give distinct (bin, image) pairs)."""
    n = frac.shape[0]
    for i in prange(n):
        c = offsets[i]
        m = 0
        for o0 in range(-reach[0], reach[0] + 1):
            t0 = atom_bin[i, 0] + o0
            b0 = t0 % n_bins[0]
            n0 = t0 // n_bins[0]
            for o1 in range(-reach[1], reach[1] + 1):
                t1 = atom_bin[i, 1] + o1
                b1 = t1 % n_bins[1]
                n1 = t1 // n_bins[1]
                for o2 in range(-reach[2], reach[2] + 1):
                    t2 = atom_bin[i, 2] + o2
                    b2 = t2 % n_bins[2]
                    n2 = t2 // n_bins[2]
                    b = (b0 * n_bins[1] + b1) * n_bins[2] + b2
                    for q in range(bin_start[b], bin_start[b + 1]):
                        j = bin_atoms[q]
                        if i == j and n0 == 0 and n1 == 0 and n2 == 0:
                            continue
                        a = frac[j, 0] - frac[i, 0] + n0
                        bb = frac[j, 1] - frac[i, 1] + n1
                        d = frac[j, 2] - frac[i, 2] + n2
                        x = a * cell[0, 0] + bb * cell[1, 0] + d * cell[2, 0]
                        y = a * cell[0, 1] + bb * cell[1, 1] + d * cell[2, 1]
                        z = a * cell[0, 2] + bb * cell[1, 2] + d * cell[2, 2]
                        if x * x + y * y + z * z >= r_cut2:
                            continue
                        if fill:
                            jj[c] = j
                            shifts[c, 0] = n0
                            shifts[c, 1] = n1
                            shifts[c, 2] = n2
                            vecs[c, 0] = x
                            vecs[c, 1] = y
                            vecs[c, 2] = z
                            c += 1
                        else:
                            m += 1
        if not fill:
            counts[i] = m


#: From this many atoms on, :func:`periodic_neighbour_list` bins atoms (O(N)) instead of
#: testing every pair (O(N²)).
CELL_LIST_MIN_ATOMS = 256


def periodic_neighbour_list(positions: np.ndarray, cell: np.ndarray, r_cut: float,
                            method: str = "auto"):
    """Full neighbour list of a fully periodic cell: (i, j, shifts S, vectors D, offsets),
    sorted by i (``offsets``: where each i starts).

    D = R_j − R_i + S·cell for every image within ``r_cut`` (the same content as ASE's
    ``neighbor_list('ijSD')``). ``method``: ``"pairs"`` tests every pair and image (O(N²)),
    ``"cells"`` bins the atoms along the lattice vectors into bins at least r_cut wide (O(N)),
    ``"auto"`` takes cells from ``CELL_LIST_MIN_ATOMS`` atoms on.
    """
    inv = np.linalg.inv(cell)
    frac = positions @ inv
    floor = np.floor(frac)
    frac = frac - floor
    h = r_cut * np.linalg.norm(inv, axis=0)  # r_cut / interplanar spacing per lattice vector
    n = len(positions)
    counts = np.zeros(n, dtype=np.int64)
    dummy_i = np.zeros(1, dtype=np.int64)
    dummy_f = np.zeros((1, 3))
    dummy_s = np.zeros((1, 3), dtype=np.int64)
    r2 = float(r_cut) ** 2
    if method == "auto":
        method = "cells" if n >= CELL_LIST_MIN_ATOMS else "pairs"
    if method == "pairs":
        def run(offsets, jj, shifts, vecs, fill):
            _periodic_pairs(frac, cell, h, r2, counts, offsets, jj, shifts, vecs, fill)
    elif method == "cells":
        n_bins = np.maximum(1, np.floor(1.0 / h)).astype(np.int64)
        reach = np.ceil(h * n_bins - 1e-12).astype(np.int64)
        atom_bin = np.minimum((frac * n_bins).astype(np.int64), n_bins - 1)
        flat = (atom_bin[:, 0] * n_bins[1] + atom_bin[:, 1]) * n_bins[2] + atom_bin[:, 2]
        bin_atoms = np.argsort(flat, kind="stable").astype(np.int64)
        bin_start = np.searchsorted(flat[bin_atoms], np.arange(int(np.prod(n_bins)) + 1))
        bin_start = bin_start.astype(np.int64)

        def run(offsets, jj, shifts, vecs, fill):
            _binned_pairs(frac, cell, r2, n_bins, reach, atom_bin, bin_start, bin_atoms, counts,
                          offsets, jj, shifts, vecs, fill)
    else:
        raise ValueError(f"method {method!r}: 'auto', 'pairs' or 'cells'")
    run(counts, dummy_i, dummy_s, dummy_f, False)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total = int(offsets[-1])
    jj = np.empty(total, dtype=np.int64)
    shifts = np.empty((total, 3), dtype=np.int64)
    vecs = np.empty((total, 3))
    run(offsets, jj, shifts, vecs, True)
    ii = np.repeat(np.arange(n, dtype=np.int64), counts)
    shifts = shifts - floor[jj].astype(np.int64) + floor[ii].astype(np.int64)
    return ii, jj, shifts, vecs, offsets
