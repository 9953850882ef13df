"""Numba CPU engine of MTP: basis values per atom and analytic reverse-mode forces and virial.

Forward: basic moments M_{μ,ν}(i) = Σ_j f_μ(r_ij) r̂_ij^{⊗ν} accumulated per neighbour, then the
contraction program (:mod:`superionic.potentials.mtp_basis`). Backward: given per-atom weights
g_i = ∂E/∂B(i), the program is run in reverse (adjoint) to ∂E/∂M, then to ∂E/∂r_ij per pair.
Same scheme as mlip-2 (Novikov et al., Mach. Learn.: Sci. Technol. 2, 025002 (2021)). The radial
functions come from :func:`~superionic.potentials.radial.chebyshev_radial` (saturating below
r_min); these kernels compile it in, so they are cached with it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from superionic.potentials.ewald import _shift_range
from superionic.potentials.mtp_basis import ContractionProgram
from superionic.potentials.radial import chebyshev_radial


@njit(cache=True, inline="always")
def _pair_setup(vec, zi, zj, radial_coeffs, r_min, r_cut, nu_max, Q, dQ, f, df, pw):
    r = np.sqrt(vec[0] * vec[0] + vec[1] * vec[1] + vec[2] * vec[2])
    chebyshev_radial(r, r_min, r_cut, Q, dQ)
    n_mu = f.shape[0]
    n_beta = Q.shape[0]
    for m in range(n_mu):
        s = 0.0
        ds = 0.0
        for b in range(n_beta):
            c = radial_coeffs[zi, zj, m, b]
            s += c * Q[b]
            ds += c * dQ[b]
        f[m] = s
        df[m] = ds
    for d in range(3):
        u = vec[d] / r
        pw[d, 0] = 1.0
        for p in range(1, nu_max + 1):
            pw[d, p] = pw[d, p - 1] * u
    return r


@njit(cache=True, parallel=True)
def mtp_forward(
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
    """All program values per atom, shape (N, n_values); pairs sorted by centre atom."""
    n_atoms = species.shape[0]
    n_basic = basic_mu.shape[0]
    n_mu = radial_coeffs.shape[2]
    n_beta = radial_coeffs.shape[3]
    nu_max = 0
    for k in range(n_basic):
        nu = basic_pows[k, 0] + basic_pows[k, 1] + basic_pows[k, 2]
        nu_max = max(nu_max, nu)
    vals = np.zeros((n_atoms, n_values))
    for i in prange(n_atoms):
        Q = np.empty(n_beta)
        dQ = np.empty(n_beta)
        f = np.empty(n_mu)
        df = np.empty(n_mu)
        pw = np.empty((3, nu_max + 1))
        v = vals[i]
        for p in range(pair_start[i], pair_start[i + 1]):
            _pair_setup(pair_vec[p], species[i], species[pair_j[p]], radial_coeffs, r_min, r_cut,
                        nu_max, Q, dQ, f, df, pw)
            for k in range(n_basic):
                v[k] += f[basic_mu[k]] * pw[0, basic_pows[k, 0]] * pw[1, basic_pows[k, 1]] * \
                    pw[2, basic_pows[k, 2]]
        for t in range(ia.shape[0]):
            v[ic[t]] += coeff[t] * v[ia[t]] * v[ib[t]]
    return vals


@njit(cache=True, parallel=True)
def mtp_backward(
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
    """∂E/∂r_ij per pair for K weight sets: g (N, K, n_basis) -> (K, P, 3), r_ij = R_j − R_i."""
    n_atoms = species.shape[0]
    n_basic = basic_mu.shape[0]
    n_mu = radial_coeffs.shape[2]
    n_beta = radial_coeffs.shape[3]
    n_k = g.shape[1]
    n_values = vals.shape[1]
    nu_max = 0
    for k in range(n_basic):
        nu = basic_pows[k, 0] + basic_pows[k, 1] + basic_pows[k, 2]
        nu_max = max(nu_max, nu)
    out = np.zeros((n_k, pair_vec.shape[0], 3))
    for i in prange(n_atoms):
        Q = np.empty(n_beta)
        dQ = np.empty(n_beta)
        f = np.empty(n_mu)
        df = np.empty(n_mu)
        pw = np.empty((3, nu_max + 1))
        grad = np.empty(n_values)
        v = vals[i]
        gb = np.empty((n_k, n_basic))
        dm = np.empty((n_basic, 3))
        for kk in range(n_k):
            grad[:] = 0.0
            for a in range(basis_index.shape[0]):
                grad[basis_index[a]] += g[i, kk, a]
            for t in range(ia.shape[0] - 1, -1, -1):
                gc = coeff[t] * grad[ic[t]]
                if gc != 0.0:
                    grad[ia[t]] += gc * v[ib[t]]
                    grad[ib[t]] += gc * v[ia[t]]
            for k in range(n_basic):
                gb[kk, k] = grad[k]
        for p in range(pair_start[i], pair_start[i + 1]):
            r = _pair_setup(pair_vec[p], species[i], species[pair_j[p]], radial_coeffs, r_min,
                            r_cut, nu_max, Q, dQ, f, df, pw)
            ux = pw[0, 1]
            uy = pw[1, 1]
            uz = pw[2, 1]
            inv_r = 1.0 / r
            for k in range(n_basic):
                a = basic_pows[k, 0]
                b = basic_pows[k, 1]
                c = basic_pows[k, 2]
                m = pw[0, a] * pw[1, b] * pw[2, c]
                fm = f[basic_mu[k]]
                # d(f m)/dr_vec = f' m u + f (∂m/∂u − ν m u) / r
                rad = df[basic_mu[k]] * m - fm * (a + b + c) * m * inv_r
                fr = fm * inv_r
                dx = rad * ux
                dy = rad * uy
                dz = rad * uz
                if a > 0:
                    dx += fr * a * pw[0, a - 1] * pw[1, b] * pw[2, c]
                if b > 0:
                    dy += fr * b * pw[0, a] * pw[1, b - 1] * pw[2, c]
                if c > 0:
                    dz += fr * c * pw[0, a] * pw[1, b] * pw[2, c - 1]
                dm[k, 0] = dx
                dm[k, 1] = dy
                dm[k, 2] = dz
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


def basis_values(
    program: ContractionProgram,
    species: np.ndarray,
    pair_start: np.ndarray,
    pair_j: np.ndarray,
    pair_vec: np.ndarray,
    radial_coeffs: np.ndarray,
    r_min: float,
    r_cut: float,
) -> np.ndarray:
    """All program values per atom (N, n_values); basis B = values[:, program.basis_index]."""
    return mtp_forward(
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
) -> np.ndarray:
    """∂(Σ_i g_i·B(i))/∂r_ij per pair, g of shape (N, K, n_basis) -> (K, P, 3)."""
    return mtp_backward(
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
