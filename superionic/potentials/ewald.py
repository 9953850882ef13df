"""Electrostatics of Gaussian charges: Ewald summation (periodic) and direct sum (isolated).

Charge i is a normalised Gaussian of width ``sigma_i`` (Å),
``rho_i(r) = q_i (2 pi sigma_i^2)^(-3/2) exp(-r^2 / (2 sigma_i^2))``; ``sigma_i = 0`` is a point
charge. Two Gaussians interact as ``k_e q_i q_j erf(r / (sqrt(2) gamma_ij)) / r`` with
``gamma_ij = sqrt(sigma_i^2 + sigma_j^2)`` (Ko et al., Nat. Commun. 12, 398 (2021), Eq. 4).

The energy is ``E = 1/2 q^T A q`` with the Coulomb matrix ``A`` (eV/e^2). In a periodic cell the
Ewald split with a Gaussian screening width ``eta`` (Å) gives (Ewald, Ann. Phys. 369, 253 (1921);
Kolafa & Perram, Mol. Simul. 9, 351 (1992)):

- real space, all images ``n`` (the ``i = j, n = 0`` term excluded):
  ``k_e [erfc(r/(sqrt2 eta)) - erfc(r/(sqrt2 gamma_ij))] / r``;
- reciprocal space: ``k_e (4 pi / V) sum_{k != 0} exp(-eta^2 k^2 / 2) / k^2 cos(k . r_ij)``;
- diagonal: the Ewald self term ``-2 k_e / (sqrt(2 pi) eta)`` and the Gaussian self energy
  ``k_e / (sqrt(pi) sigma_i)`` (omitted for point charges), i.e.
  ``E_self = sum_i k_e q_i^2 [1 / (2 sqrt(pi) sigma_i) - 1 / (sqrt(2 pi) eta)]``;
- uniform neutralising background (the ``k = 0`` term of the Gaussian charge density removed):
  ``k_e (2 pi / V) (sigma_i^2 + sigma_j^2 - eta^2)`` for every pair ``ij``; it vanishes in the
  energy of a neutral cell.

Without periodicity (``cell`` None or ``pbc`` all False) the direct sum over pairs is used, with
the same Gaussian self energy on the diagonal. The Gaussian self energy IS included in ``A_ii``,
so charge equilibration adds only the hardness ``J_i``.

Entry points: :func:`ewald_parameters`, :func:`coulomb_matrix` (dense ``A``),
:func:`coulomb_energy_forces_stress` (fixed charges), :func:`coulomb_potential` and
:class:`CoulombOperator` (matrix-free ``A q`` for iterative QEq). Torch versions live in
:mod:`superionic.potentials.ewald_torch` and are also importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numba
import numpy as np
import scipy.linalg.blas
import scipy.sparse
import scipy.sparse.linalg

from superionic.core.errors import InputError
from superionic.core.units import COULOMB_EV_A

__all__ = [
    "EwaldParameters",
    "ewald_parameters",
    "coulomb_matrix",
    "coulomb_energy_forces_stress",
    "coulomb_energy",
    "coulomb_potential",
    "CoulombOperator",
    "real_space_pairs",
    "kmesh_half_space",
    "normalise_geometry",
]

#: Default relative cost ``w`` of one (atom, k-vector) reciprocal term to one real-space pair,
#: balancing the two sums when choosing ``eta``; tuned on the kernels here for both the
#: Coulomb matrix and the energy/forces/stress path (100-3000 atoms).
DEFAULT_COST_RATIO: float = 1.0

_SQRT2 = math.sqrt(2.0)
_SQRTPI = math.sqrt(math.pi)


@dataclass(frozen=True)
class EwaldParameters:
    """Ewald splitting parameters: screening width ``eta`` (Å), cutoffs and k-vector cache.

    ``kmesh`` holds the integer reciprocal-lattice indices ``m`` of one half of k-space
    (``k = 2 pi m . cell^-T``, ``|k| <= k_cut`` for ``cell``). It is kept fixed when the cell
    is strained so that energies are smooth functions of the cell; call :meth:`for_cell` to
    rebuild it after a large change of the cell.
    """

    eta: float
    r_cut: float
    k_cut: float
    accuracy: float = 1e-8
    kmesh: np.ndarray | None = field(default=None, compare=False, repr=False)
    cell: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def n_kvectors(self) -> int:
        """Number of k-vectors in the half-space cache (0 if not built)."""
        return 0 if self.kmesh is None else int(self.kmesh.shape[0])

    def for_cell(self, cell: np.ndarray) -> EwaldParameters:
        """Same ``eta`` and cutoffs with the k-vector cache rebuilt for ``cell``."""
        cell = np.asarray(cell, dtype=float)
        return replace(self, kmesh=kmesh_half_space(cell, self.k_cut), cell=cell.copy())

    def kmesh_for(self, cell: np.ndarray) -> np.ndarray:
        """Integer half-space k indices to use with ``cell`` (the cache if present)."""
        if self.kmesh is not None:
            return self.kmesh
        return kmesh_half_space(np.asarray(cell, dtype=float), self.k_cut)

    def real_cutoff(self, sigma_max: float) -> float:
        """Real-space cutoff also long enough for the Gaussian term ``erfc(r/(sqrt2 gamma))``."""
        return max(self.r_cut, _gaussian_cutoff(_exponent(self.accuracy), sigma_max))


def _exponent(accuracy: float) -> float:
    """``p = -ln(accuracy / 100)``. Two decades of margin keep the relative errors of energy
    (~1e-3 accuracy), forces (~1e-2) and stress (~0.1 accuracy; the virial weights the
    truncated tails by r^2) below ``accuracy`` (measured on random triclinic cells)."""
    return -math.log(accuracy / 100.0)


def _gaussian_cutoff(p: float, sigma_max: float) -> float:
    """Distance where ``erfc(r / (sqrt2 gamma_max))`` has decayed like the screened term:
    ``r^2 / (2 gamma_max^2) = p`` with ``gamma_max = sqrt2 sigma_max`` (5 % margin)."""
    return math.sqrt(2.0 * p) * _SQRT2 * sigma_max * 1.05


def kmesh_half_space(cell: np.ndarray, k_cut: float) -> np.ndarray:
    """Integer indices ``m`` (M, 3) of half of the k-vectors with ``0 < |k| <= k_cut``."""
    cell = np.asarray(cell, dtype=float)
    recip = 2.0 * np.pi * np.linalg.inv(cell).T
    mmax = [int(np.floor(k_cut * np.linalg.norm(cell[a]) / (2.0 * np.pi))) + 1 for a in range(3)]
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in mmax], indexing="ij")
    m = np.stack([g.ravel() for g in grids], axis=1)
    half = (m[:, 0] > 0) | ((m[:, 0] == 0) & ((m[:, 1] > 0) | ((m[:, 1] == 0) & (m[:, 2] > 0))))
    m = m[half]
    k2 = np.einsum("ij,ij->i", m @ recip, m @ recip)
    return np.ascontiguousarray(m[k2 <= k_cut * k_cut])


def _volume(cell: np.ndarray) -> float:
    return float(abs(np.linalg.det(cell)))


def ewald_parameters(
    cell: Any,
    n_atoms: int,
    accuracy: float = 1e-8,
    *,
    sigma_max: float = 0.0,
    eta: float | None = None,
    cost_ratio: float = DEFAULT_COST_RATIO,
) -> EwaldParameters:
    """Choose ``eta``, ``r_cut`` and ``k_cut`` for a target relative accuracy.

    The cutoffs follow the leading exponentials of the Kolafa–Perram error estimates
    (Mol. Simul. 9, 351 (1992)): ``exp(-r_cut^2 / (2 eta^2)) = exp(-eta^2 k_cut^2 / 2) = eps``,
    i.e. ``r_cut = eta sqrt(2p)``, ``k_cut = sqrt(2p) / eta`` with ``p = -ln(eps / 100)``. ``eta``
    balances the cost of the two sums, ``eta = (w V^2 / N)^(1/6) / sqrt(2 pi)`` with ``w`` the
    relative cost of a reciprocal term to a real-space pair (``cost_ratio``), unless given.
    ``sigma_max`` (the widest Gaussian charge) lengthens ``r_cut`` so that the Gaussian term has
    decayed too. For a non-periodic system (``cell`` None) only ``r_cut = inf`` matters.
    """
    if not (0.0 < accuracy < 1.0):
        raise InputError(
            f"accuracy {accuracy!r} out of range", field="accuracy", expected="0 < accuracy < 1"
        )
    if n_atoms < 1:
        raise InputError(f"n_atoms = {n_atoms}", field="n_atoms", expected="at least one atom")
    p = _exponent(accuracy)
    if cell is None:
        return EwaldParameters(eta=math.inf, r_cut=math.inf, k_cut=0.0, accuracy=accuracy)
    cell = _check_cell(cell)
    volume = _volume(cell)
    if eta is None:
        eta = (cost_ratio * volume**2 / n_atoms) ** (1.0 / 6.0) / math.sqrt(2.0 * math.pi)
    if eta <= 0.0:
        raise InputError(f"eta = {eta}", field="eta", expected="a positive width in Å")
    r_cut = max(eta * math.sqrt(2.0 * p), _gaussian_cutoff(p, sigma_max))
    k_cut = math.sqrt(2.0 * p) / eta
    return EwaldParameters(
        eta=float(eta),
        r_cut=float(r_cut),
        k_cut=float(k_cut),
        accuracy=accuracy,
        kmesh=kmesh_half_space(cell, k_cut),
        cell=cell.copy(),
    )


# --------------------------------------------------------------------------------------------
# input handling


def _check_cell(cell: Any) -> np.ndarray:
    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3):
        raise InputError(f"cell has shape {cell.shape}", field="cell", expected="shape (3, 3)")
    if abs(np.linalg.det(cell)) < 1e-12:
        raise InputError("cell is singular (zero volume)", field="cell", expected="volume > 0")
    return cell


def normalise_geometry(
    positions: Any, cell: Any, pbc: Any, n_expected: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``positions`` (N, 3) and the cell (3, 3) or None when not periodic.

    Periodicity must be all-or-nothing: 3D periodic or isolated.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise InputError(
            f"positions have shape {positions.shape}", field="positions", expected="shape (N, 3)"
        )
    if not np.all(np.isfinite(positions)):
        raise InputError("positions contain NaN or inf", field="positions")
    if n_expected is not None and positions.shape[0] != n_expected:
        raise InputError(
            f"{positions.shape[0]} positions for {n_expected} charges",
            field="positions",
            expected="one position per atom",
        )
    flags = np.broadcast_to(np.asarray(False if pbc is None else pbc, dtype=bool), (3,))
    if cell is None or not flags.any():
        return positions, None
    if not flags.all():
        raise InputError(
            f"mixed periodicity pbc={flags.tolist()} is not supported",
            field="pbc",
            expected="all True (3D periodic) or all False (isolated)",
        )
    return positions, _check_cell(cell)


def _per_atom(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{name} has shape {arr.shape}", field=name, expected=f"shape ({n},)")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf", field=name)
    return arr


def _sigma(sigma: Any, n: int) -> np.ndarray:
    s = _per_atom(0.0 if sigma is None else sigma, n, "sigma")
    if np.any(s < 0.0):
        raise InputError("negative Gaussian width", field="sigma", expected="sigma >= 0 Å")
    return s


# --------------------------------------------------------------------------------------------
# real-space pairs


_MODE_COUNT, _MODE_FILL, _MODE_EFS, _MODE_MATRIX, _MODE_POTENTIAL, _MODE_SPARSE = 0, 1, 2, 3, 4, 5


@numba.njit(cache=True)
def _shift_range(f: float, h: float) -> tuple[int, int]:  # pragma: no cover - numba
    if h < 0.0:  # not periodic along this axis: the home cell only
        return 0, 0
    return int(math.ceil(-h - f)), int(math.floor(h - f))


@numba.njit(cache=True)
def _real_space_row(
    i, mode, frac, floor, cell, h, r_cut2, q, sigma, inv_ae, x2_max, offsets, counts, jj, shifts,
    amat, e_i, f_i, w_i,
):  # pragma: no cover - numba
    """All pairs (i, j, image n) of atom ``i`` within r_cut (full list, one row).

    mode 0: count pairs of i; 1: fill j and integer shifts; 2: energy, forces and virial of i;
    3: Coulomb-matrix row i; 4: potential sum_j A_ij q_j of i; 5: sparse row (j into ``jj``,
    pair term into ``e_i`` at the pair's slot). ``inv_ae = 1/(sqrt2 eta)`` (0 without
    screening); the Gaussian term ``erfc(x)``, ``x = r/(sqrt2 gamma)``, is dropped beyond
    ``x^2 > x2_max`` as the screened term is beyond ``r_cut``.
    """
    n = frac.shape[0]
    two_over_sqrtpi = 2.0 / math.sqrt(math.pi)
    c = offsets[i]
    for j in range(n):
        f0 = frac[j, 0] - frac[i, 0]
        f1 = frac[j, 1] - frac[i, 1]
        f2 = frac[j, 2] - frac[i, 2]
        lo0, hi0 = _shift_range(f0, h[0])
        lo1, hi1 = _shift_range(f1, h[1])
        lo2, hi2 = _shift_range(f2, h[2])
        g2 = sigma[i] * sigma[i] + sigma[j] * sigma[j]
        inv_ag = 1.0 / math.sqrt(2.0 * g2) if g2 > 0.0 else 0.0
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
                    r2 = x * x + y * y + z * z
                    if r2 >= r_cut2:
                        continue
                    if mode == 0:
                        c += 1
                        continue
                    if mode == 1:
                        jj[c] = j
                        shifts[c, 0] = n0 - floor[j, 0] + floor[i, 0]
                        shifts[c, 1] = n1 - floor[j, 1] + floor[i, 1]
                        shifts[c, 2] = n2 - floor[j, 2] + floor[i, 2]
                        c += 1
                        continue
                    r = math.sqrt(r2)
                    t_e = math.erfc(r * inv_ae) if inv_ae > 0.0 else 1.0
                    xg2 = r2 * inv_ag * inv_ag
                    gauss = inv_ag > 0.0 and xg2 < x2_max
                    t_g = math.erfc(r * inv_ag) if gauss else 0.0
                    phi = (t_e - t_g) / r
                    if mode == 3:
                        amat[i, j] += phi
                        continue
                    if mode == 4:
                        e_i[i] += phi * q[j]
                        continue
                    if mode == 5:
                        jj[c] = j
                        e_i[c] = phi
                        c += 1
                        continue
                    dt = 0.0
                    if inv_ae > 0.0:
                        dt -= two_over_sqrtpi * inv_ae * math.exp(-r2 * inv_ae * inv_ae)
                    if gauss:
                        dt += two_over_sqrtpi * inv_ag * math.exp(-xg2)
                    qq = q[i] * q[j]
                    g = qq * (dt - phi) / r2  # q_i q_j phi'(r) / r
                    e_i[i] += 0.5 * qq * phi
                    f_i[i, 0] += g * x
                    f_i[i, 1] += g * y
                    f_i[i, 2] += g * z
                    w_i[i, 0, 0] += 0.5 * g * x * x
                    w_i[i, 0, 1] += 0.5 * g * x * y
                    w_i[i, 0, 2] += 0.5 * g * x * z
                    w_i[i, 1, 1] += 0.5 * g * y * y
                    w_i[i, 1, 2] += 0.5 * g * y * z
                    w_i[i, 2, 2] += 0.5 * g * z * z
    counts[i] = c - offsets[i]


@numba.njit(cache=True)
def _real_space_serial(*args):  # pragma: no cover - numba
    for i in range(args[0].shape[0]):
        _real_space_row(i, *args[1:])


@numba.njit(cache=True, parallel=True)
def _real_space_parallel(*args):  # pragma: no cover - numba
    for i in numba.prange(args[0].shape[0]):
        _real_space_row(i, *args[1:])


#: Below this many (i, j) candidates the serial kernel is used: thread start-up and OpenMP
#: spin-waiting (shared with torch) cost more than they save on small cells.
PARALLEL_MIN_WORK: int = 250_000


def _real_space(
    mode: int,
    positions: np.ndarray,
    cell: np.ndarray | None,
    r_cut: float,
    q: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    eta: float = math.inf,
    offsets: np.ndarray | None = None,
    n_pairs: int = 0,
    accuracy: float = 1e-8,
):
    """Run :func:`_real_space_kernel` for one geometry (cell None: isolated, all pairs)."""
    n = positions.shape[0]
    if cell is None:
        frac = np.ascontiguousarray(positions, dtype=float)
        floor = np.zeros((n, 3), dtype=np.int64)
        cellc = np.eye(3)
        h = np.full(3, -1.0)
        r_cut2 = math.inf
    else:
        inv = np.linalg.inv(cell)
        frac_raw = positions @ inv
        floor = np.floor(frac_raw).astype(np.int64)
        frac = np.ascontiguousarray(frac_raw - floor)
        cellc = np.ascontiguousarray(cell, dtype=float)
        h = np.ascontiguousarray(r_cut * np.linalg.norm(inv.T, axis=1))  # r_cut / plane spacing
        r_cut2 = r_cut * r_cut
    q = np.zeros(n) if q is None else np.ascontiguousarray(q, dtype=float)
    sigma = np.zeros(n) if sigma is None else np.ascontiguousarray(sigma, dtype=float)
    inv_ae = 0.0 if math.isinf(eta) else 1.0 / (_SQRT2 * eta)
    x2_max = math.inf if cell is None else _exponent(accuracy)
    offsets = np.zeros(n, dtype=np.int64) if offsets is None else offsets
    counts = np.zeros(n, dtype=np.int64)
    jj = np.zeros(n_pairs if mode in (_MODE_FILL, _MODE_SPARSE) else 0, dtype=np.int64)
    shifts = np.zeros((jj.size if mode == _MODE_FILL else 0, 3), dtype=np.int64)
    amat = np.zeros((n, n) if mode == _MODE_MATRIX else (0, 0))
    m = n if mode in (_MODE_EFS, _MODE_POTENTIAL) else 0
    m = n_pairs if mode == _MODE_SPARSE else m
    e_i, f_i, w_i = np.zeros(m), np.zeros((m, 3)), np.zeros((m, 3, 3))
    kernel = _real_space_parallel if n * n >= PARALLEL_MIN_WORK else _real_space_serial
    kernel(
        frac, mode, frac, floor, cellc, h, r_cut2, q, sigma, inv_ae, x2_max, offsets, counts, jj,
        shifts, amat, e_i, f_i, w_i,
    )
    if mode == _MODE_COUNT:
        return counts
    if mode == _MODE_FILL:
        return jj, shifts
    if mode == _MODE_MATRIX:
        return amat
    if mode == _MODE_POTENTIAL:
        return e_i
    if mode == _MODE_SPARSE:
        return jj, e_i
    w = w_i.sum(axis=0)
    w = np.triu(w) + np.triu(w, 1).T
    return float(e_i.sum()), f_i, w


def real_space_pairs(
    positions: np.ndarray, cell: np.ndarray | None, r_cut: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full (both-direction) pair list within ``r_cut``: ``i``, ``j``, integer cell shifts ``S``.

    The separation vector is ``D = r_j - r_i + S . cell``. Without a cell all pairs ``i != j``
    are returned. Periodic images of an atom itself (``i = j``, ``S != 0``) are included.
    """
    positions = np.asarray(positions, dtype=float)
    n = positions.shape[0]
    counts = _real_space(_MODE_COUNT, positions, cell, r_cut)
    offsets = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    jj, shifts = _real_space(
        _MODE_FILL, positions, cell, r_cut, offsets=offsets, n_pairs=int(counts.sum())
    )
    ii = np.repeat(np.arange(n, dtype=np.int64), counts)
    return ii, jj, shifts


def _real_space_csr(positions, cell, r_cut, sigma, eta, accuracy) -> scipy.sparse.csr_matrix:
    """Real-space pair terms (no k_e) as a sparse (N, N) matrix; images of a pair are summed."""
    n = positions.shape[0]
    counts = _real_space(_MODE_COUNT, positions, cell, r_cut)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    jj, vals = _real_space(
        _MODE_SPARSE, positions, cell, r_cut, sigma=sigma, eta=eta, offsets=indptr[:-1].copy(),
        n_pairs=int(indptr[-1]), accuracy=accuracy,
    )
    mat = scipy.sparse.csr_matrix((vals, jj, indptr), shape=(n, n))
    mat.sum_duplicates()
    return mat


def _diag_self(sigma: np.ndarray, eta: float) -> np.ndarray:
    """Diagonal terms (no k_e): Gaussian ``1/(sqrt(pi) sigma)``, Ewald ``-2/(sqrt(2pi) eta)``."""
    d = np.where(sigma > 0.0, 1.0 / (_SQRTPI * np.where(sigma > 0.0, sigma, 1.0)), 0.0)
    if not math.isinf(eta):
        d = d - 2.0 / (math.sqrt(2.0 * math.pi) * eta)
    return d


def _setup(params, cell, n, sigma) -> tuple[EwaldParameters, float, float]:
    """Parameters, screening width (inf if isolated) and real-space cutoff for one call."""
    sigma_max = float(sigma.max(initial=0.0))
    params = _resolve_params(params, cell, n, sigma_max)
    if cell is None:
        return params, math.inf, math.inf
    return params, params.eta, params.real_cutoff(sigma_max)


def _resolve_params(params, cell, n, sigma_max) -> EwaldParameters:
    if params is None:
        return ewald_parameters(cell, n, sigma_max=sigma_max)
    if not isinstance(params, EwaldParameters):
        raise InputError(
            f"params is a {type(params).__name__}", field="params", expected="EwaldParameters"
        )
    return params


# --------------------------------------------------------------------------------------------
# reciprocal space


def _kvectors(params: EwaldParameters, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian half-space k-vectors (M, 3) and weights ``(4pi/V) 2 exp(-eta^2 k^2/2)/k^2``."""
    m = params.kmesh_for(cell)
    k = m @ (2.0 * np.pi * np.linalg.inv(cell).T)
    k2 = np.einsum("ij,ij->i", k, k)
    w = 8.0 * np.pi / _volume(cell) * np.exp(-0.5 * params.eta**2 * k2) / k2
    return k, w


def _k_chunks(n_atoms: int, n_k: int, budget: int = 4_000_000):
    step = max(1, budget // max(n_atoms, 1))
    for start in range(0, n_k, step):
        yield slice(start, min(start + step, n_k))


def _reciprocal_matrix(positions, cell, params) -> np.ndarray:
    """``sum_k w_k [cos(k.r_i) cos(k.r_j) + sin(k.r_i) sin(k.r_j)]`` as one symmetric rank-k
    update (BLAS syrk) per chunk; returns the lower triangle filled, upper mirrored by caller."""
    n = positions.shape[0]
    k, w = _kvectors(params, cell)
    out = np.zeros((n, n), order="F")
    sw = np.sqrt(w)
    for sl in _k_chunks(n, 2 * k.shape[0]):
        phase = positions @ k[sl].T
        cs = np.concatenate([np.cos(phase) * sw[sl], np.sin(phase) * sw[sl]], axis=1)
        out = scipy.linalg.blas.dsyrk(1.0, cs, beta=1.0, c=out, lower=1, overwrite_c=1)
    return np.tril(out) + np.tril(out, -1).T


def _reciprocal_efs(positions, cell, charges, params, eta):
    """Reciprocal energy, forces and virial ``dE/d eps`` (no k_e)."""
    n = positions.shape[0]
    k, w = _kvectors(params, cell)
    energy = 0.0
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    for sl in _k_chunks(n, k.shape[0]):
        kk = k[sl]
        phase = positions @ kk.T
        c = np.cos(phase)
        s = np.sin(phase)
        s_re = charges @ c
        s_im = charges @ s
        s2 = s_re**2 + s_im**2
        ws2 = 0.5 * w[sl] * s2
        energy += float(ws2.sum())
        # F_i = sum_k w_k q_i k [S_re sin(k.r_i) - S_im cos(k.r_i)]
        forces += charges[:, None] * ((s * (w[sl] * s_re) - c * (w[sl] * s_im)) @ kk)
        k2 = np.einsum("ij,ij->i", kk, kk)
        fac = ws2 * 2.0 * (0.5 * eta**2 + 1.0 / k2)
        virial += (kk * fac[:, None]).T @ kk - np.eye(3) * float(ws2.sum())
    return energy, forces, virial


# --------------------------------------------------------------------------------------------
# public numpy API


def coulomb_matrix(
    positions: Any,
    cell: Any,
    pbc: Any,
    sigma: Any,
    params: EwaldParameters | None = None,
) -> np.ndarray:
    """Coulomb matrix ``A`` (N, N), eV/e^2, with ``E_elec = 1/2 q^T A q``.

    Includes the Gaussian self energy ``k_e / (sqrt(pi) sigma_i)`` on the diagonal (zero for
    point charges), the Ewald self term and the neutralising background (module docstring).
    """
    positions, cell = normalise_geometry(positions, cell, pbc)
    n = positions.shape[0]
    sigma = _sigma(sigma, n)
    periodic = cell is not None
    params, eta, r_cut = _setup(params, cell, n, sigma)
    a = _real_space(
        _MODE_MATRIX, positions, cell, r_cut, sigma=sigma, eta=eta, accuracy=params.accuracy
    )
    a[np.diag_indices(n)] += _diag_self(sigma, eta)
    if periodic:
        a += _reciprocal_matrix(positions, cell, params)
        s2 = sigma**2
        a += 2.0 * np.pi / _volume(cell) * (s2[:, None] + s2[None, :] - eta**2)
    a = 0.5 * (a + a.T)
    return COULOMB_EV_A * a


def coulomb_energy_forces_stress(
    positions: Any,
    cell: Any,
    pbc: Any,
    charges: Any,
    sigma: Any,
    params: EwaldParameters | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Electrostatic energy (eV), forces (N, 3, eV/Å) and stress (3, 3, eV/Å^3) at fixed charges.

    Stress follows ASE's convention ``stress = (1/V) dE/d epsilon`` (zero without a cell).
    Cost O(N_pairs + N N_k); the same energy as ``1/2 q^T coulomb_matrix(...) q``.
    """
    positions, cell = normalise_geometry(positions, cell, pbc)
    n = positions.shape[0]
    q = _per_atom(charges, n, "charges")
    sigma = _sigma(sigma, n)
    periodic = cell is not None
    params, eta, r_cut = _setup(params, cell, n, sigma)
    energy, forces, virial = _real_space(
        _MODE_EFS, positions, cell, r_cut, q, sigma, eta, accuracy=params.accuracy
    )
    energy += 0.5 * float(np.dot(q * q, _diag_self(sigma, eta)))
    if periodic:
        e_k, f_k, w_k = _reciprocal_efs(positions, cell, q, params, eta)
        volume = _volume(cell)
        total = float(q.sum())
        e_bg = np.pi / volume * (2.0 * total * float(np.dot(q, sigma**2)) - eta**2 * total**2)
        energy += e_k + e_bg
        forces += f_k
        virial += w_k - e_bg * np.eye(3)
        stress = virial / volume
    else:
        stress = np.zeros((3, 3))
    stress = 0.5 * (stress + stress.T)
    return COULOMB_EV_A * energy, COULOMB_EV_A * forces, COULOMB_EV_A * stress


def coulomb_energy(
    positions: Any,
    cell: Any,
    pbc: Any,
    charges: Any,
    sigma: Any,
    params: EwaldParameters | None = None,
) -> float:
    """Electrostatic energy (eV) only; see :func:`coulomb_energy_forces_stress`."""
    return coulomb_energy_forces_stress(positions, cell, pbc, charges, sigma, params)[0]


def _reciprocal_potential(positions, cell, charges, params) -> np.ndarray:
    """``sum_j A^rec_ij q_j = sum_k w_k [cos(k.r_i) Re S(k) + sin(k.r_i) Im S(k)]`` (no k_e)."""
    n = positions.shape[0]
    k, w = _kvectors(params, cell)
    out = np.zeros(n)
    for sl in _k_chunks(n, k.shape[0]):
        phase = positions @ k[sl].T
        c = np.cos(phase)
        s = np.sin(phase)
        out += c @ (w[sl] * (charges @ c)) + s @ (w[sl] * (charges @ s))
    return out


def coulomb_potential(
    positions: Any,
    cell: Any,
    pbc: Any,
    charges: Any,
    sigma: Any,
    params: EwaldParameters | None = None,
) -> np.ndarray:
    """Electrostatic potential at each charge, ``A q`` (N,) in eV/e, without forming ``A``.

    ``dE_elec/dq_i``; cost O(N_pairs + N N_k) and memory O(N), for iterative QEq on large cells.
    """
    positions, cell = normalise_geometry(positions, cell, pbc)
    n = positions.shape[0]
    q = _per_atom(charges, n, "charges")
    sigma = _sigma(sigma, n)
    params, eta, r_cut = _setup(params, cell, n, sigma)
    pot = _real_space(
        _MODE_POTENTIAL, positions, cell, r_cut, q, sigma, eta, accuracy=params.accuracy
    )
    pot += _diag_self(sigma, eta) * q
    if cell is not None:
        pot += _reciprocal_potential(positions, cell, q, params)
        pot += _background_potential(sigma, q, eta, _volume(cell))
    return COULOMB_EV_A * pot


def _background_potential(sigma, q, eta, volume) -> np.ndarray:
    """``sum_j (2 pi / V) (sigma_i^2 + sigma_j^2 - eta^2) q_j`` (no k_e)."""
    s2 = sigma**2
    return 2.0 * np.pi / volume * ((s2 - eta**2) * q.sum() + float(s2 @ q))


class CoulombOperator(scipy.sparse.linalg.LinearOperator):
    """Matrix-free Coulomb matrix ``A`` (eV/e^2) for iterative QEq on large cells.

    Stores the real-space part as a sparse matrix and, if it fits in ``max_bytes``, the
    weighted structure-factor matrices; ``A @ q`` then costs O(N_pairs + N N_k) and memory stays
    O(N_pairs + N N_k) instead of O(N^2). ``diagonal()`` feeds the Jacobi preconditioner of
    :func:`superionic.potentials.qeq.solve_qeq`. Equals :func:`coulomb_matrix` applied to ``q``.
    """

    def __init__(
        self,
        positions: Any,
        cell: Any,
        pbc: Any,
        sigma: Any,
        params: EwaldParameters | None = None,
        *,
        max_bytes: int = 512 * 2**20,
    ) -> None:
        positions, cell = normalise_geometry(positions, cell, pbc)
        n = positions.shape[0]
        sigma = _sigma(sigma, n)
        params, eta, r_cut = _setup(params, cell, n, sigma)
        self.params = params
        self._sigma, self._eta, self._cell, self._positions = sigma, eta, cell, positions
        self._real = _real_space_csr(positions, cell, r_cut, sigma, eta, params.accuracy)
        self._self = _diag_self(sigma, eta)
        self._cs: np.ndarray | None = None
        if cell is not None:
            k, w = _kvectors(params, cell)
            if 16 * n * k.shape[0] <= max_bytes:
                phase = positions @ k.T
                self._cs = np.concatenate([np.cos(phase), np.sin(phase)], axis=1)
                self._cs *= np.sqrt(np.concatenate([w, w]))
        super().__init__(dtype=np.float64, shape=(n, n))

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        q = np.ravel(x).astype(float)
        pot = self._real @ q + self._self * q
        if self._cell is not None:
            if self._cs is not None:
                pot += self._cs @ (self._cs.T @ q)
            else:
                pot += _reciprocal_potential(self._positions, self._cell, q, self.params)
            pot += _background_potential(self._sigma, q, self._eta, _volume(self._cell))
        return COULOMB_EV_A * pot

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        return self._matvec(x)  # symmetric

    def diagonal(self) -> np.ndarray:
        """``A_ii`` in eV/e^2."""
        diag = self._real.diagonal() + self._self
        if self._cell is not None:
            diag = diag + float(_kvectors(self.params, self._cell)[1].sum())
            diag += 2.0 * np.pi / _volume(self._cell) * (2.0 * self._sigma**2 - self._eta**2)
        return COULOMB_EV_A * diag


def __getattr__(name: str):  # torch versions are imported on first use (torch is heavy)
    if name in (
        "coulomb_matrix_torch",
        "coulomb_energy_torch",
        "coulomb_energy_forces_stress_torch",
    ):
        from superionic.potentials import ewald_torch

        return getattr(ewald_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
