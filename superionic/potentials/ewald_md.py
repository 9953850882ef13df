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
- structure factors ``exp(i k.r_i)`` from per-axis phase tables (products of three complex
  numbers per atom and k-vector instead of a sine and a cosine);
- QEq by matrix-free projected preconditioned conjugate gradients on ``A + diag(J)``
  (Gould, Hribar & Nocedal, SIAM J. Sci. Comput. 23, 1376 (2001)), warm-started from a quadratic
  extrapolation of the charges of the three previous steps, converged until the electronegativity
  is equal on every atom to ``qeq_tol`` eV/e, so forces stay the gradient of the energy.

The Coulomb operator is that of :mod:`superionic.potentials.ewald` (Gaussian charges, Ewald
self term, neutralising background); only truncation differs, controlled by ``accuracy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from ase.neighborlist import neighbor_list

from superionic.core.errors import ConvergenceError, InputError
from superionic.core.units import COULOMB_EV_A
from superionic.potentials.ewald import _diag_self, _exponent, ewald_parameters
from superionic.potentials.mtp_numba import periodic_neighbour_list

__all__ = ["VerletList", "MDElectrostatics", "QEqResult", "DEFAULT_MD_ACCURACY",
           "DEFAULT_SKIN_A"]

#: Default Ewald accuracy along MD (measured: electrostatic forces within ~2e-7 eV/Å of the
#: 1e-8 reference on Li3PS4 cells).
DEFAULT_MD_ACCURACY: float = 1e-5
#: Default Verlet skin (Å).
DEFAULT_SKIN_A: float = 1.0
#: Largest periodic cell for the O(N²) numba pair search; ASE's O(N) cell list beyond.
BRUTE_FORCE_MAX_ATOMS: int = 1500
#: Relative cost ``w`` of one (atom, k-vector) term to one real-space pair in the choice of
#: ``eta`` (measured on 100-1000-atom cells: setting up a pair costs two erfc and two exp, a
#: k-vector term a few multiplications even though conjugate-gradient steps revisit it).
MD_COST_RATIO: float = 0.1
#: Smallest loop (pairs, or atoms × k-vectors / 8) run on several threads.
PARALLEL_MIN_WORK: int = 200_000


def _pairs_full(positions: np.ndarray, cell: np.ndarray, r_list: float):
    """Full periodic pair list ``(i, j, S)`` within ``r_list``, sorted by ``i``."""
    if len(positions) <= BRUTE_FORCE_MAX_ATOMS:
        i, j, S, _, _ = periodic_neighbour_list(positions, cell, float(r_list))
        return i, j, S
    from ase import Atoms

    atoms = Atoms(positions=positions, cell=cell, pbc=True)
    i, j, S = neighbor_list("ijS", atoms, float(r_list))
    order = np.argsort(i, kind="stable")
    return i[order].astype(np.int64), j[order].astype(np.int64), S[order].astype(np.int64)


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
        keep, D = _select_pairs(np.asarray(positions, dtype=float), np.asarray(cell, dtype=float),
                                self.i, self.j, self.S, self.r_cut * self.r_cut)
        i = self.i[keep]
        start = np.searchsorted(i, np.arange(len(positions) + 1)).astype(np.int64)
        return i, self.j[keep], self.S[keep], np.ascontiguousarray(D[keep]), start


def _pair_vectors_py(pos, cell, pi, pj, S, D, r2):  # pragma: no cover - numba
    for p in numba.prange(pi.shape[0]):  # noqa: B007 - prange is range when serial
        i = pi[p]
        j = pj[p]
        s = 0.0
        for a in range(3):
            v = pos[j, a] - pos[i, a] + S[p, 0] * cell[0, a] + S[p, 1] * cell[1, a] \
                + S[p, 2] * cell[2, a]
            D[p, a] = v
            s += v * v
        r2[p] = s


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


@numba.njit(cache=True)
def _real_matvec(pi, pj, phi, q, out):  # pragma: no cover - numba
    for p in range(pi.shape[0]):
        i = pi[p]
        j = pj[p]
        out[i] += phi[p] * q[j]
        out[j] += phi[p] * q[i]


@numba.njit(cache=True)
def _real_forces(pi, pj, D, phi, dphi_r, q, forces, virial):  # pragma: no cover - numba
    """Real-space forces and virial at charges q; returns the real-space energy (no k_e)."""
    energy = 0.0
    for p in range(pi.shape[0]):
        i = pi[p]
        j = pj[p]
        energy += q[i] * q[j] * phi[p]
        g = q[i] * q[j] * dphi_r[p]
        for a in range(3):
            forces[i, a] += g * D[p, a]
            forces[j, a] -= g * D[p, a]
            for b in range(3):
                virial[a, b] += g * D[p, a] * D[p, b]
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


@numba.njit(cache=True)
def _reciprocal_forces(cos, sin, a_re, a_im, k, q, forces):  # pragma: no cover - numba
    """F_i = q_i Σ_k k [sin(k.r_i) a_re_k − cos(k.r_i) a_im_k], a = w S(k) (one pass)."""
    for i in range(cos.shape[0]):
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        for m in range(cos.shape[1]):
            t = sin[i, m] * a_re[m] - cos[i, m] * a_im[m]
            f0 += t * k[m, 0]
            f1 += t * k[m, 1]
            f2 += t * k[m, 2]
        forces[i, 0] += q[i] * f0
        forces[i, 1] += q[i] * f1
        forces[i, 2] += q[i] * f2


def _structure_phases_py(frac, kmesh, mmax, cos_out, sin_out):  # pragma: no cover - numba
    """cos and sin of 2π m·f for every atom (rows) and integer k-vector m (columns)."""
    n = frac.shape[0]
    nk = kmesh.shape[0]
    for i in numba.prange(n):
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
        for k in range(nk):
            i0 = kmesh[k, 0] + mmax
            i1 = kmesh[k, 1] + mmax
            i2 = kmesh[k, 2] + mmax
            re01 = tab_re[0, i0] * tab_re[1, i1] - tab_im[0, i0] * tab_im[1, i1]
            im01 = tab_re[0, i0] * tab_im[1, i1] + tab_im[0, i0] * tab_re[1, i1]
            cos_out[i, k] = re01 * tab_re[2, i2] - im01 * tab_im[2, i2]
            sin_out[i, k] = re01 * tab_im[2, i2] + im01 * tab_re[2, i2]


_real_terms = _compiled(_real_terms_py)
_reciprocal_potential = _compiled(_reciprocal_potential_py, fastmath=True)
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
    atoms' electronegativities ``∂E/∂q_i`` at the returned charges (eV/e). Call
    :meth:`solve` with the geometry and the QEq parameters of each step.
    """

    def __init__(self, sigma: Any, cell: Any, accuracy: float = DEFAULT_MD_ACCURACY,
                 skin: float = DEFAULT_SKIN_A, qeq_tol: float = 1e-6, eta: float | None = None,
                 cost_ratio: float = MD_COST_RATIO, max_iter: int = 500) -> None:
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
        self.verlet = VerletList(self.r_cut, skin, half=True)
        self._history: list[np.ndarray] = []
        self.last_iterations = 0

    # ---------------------------------------------------------------- geometry of one step
    def _prepare(self, positions: np.ndarray, cell: np.ndarray) -> None:
        n = self.sigma.size
        if positions.shape != (n, 3):
            raise InputError(f"positions have shape {positions.shape}", field="positions",
                             expected=f"shape ({n}, 3)")
        self.verlet.update(positions, cell)
        _, D = _select_pairs(positions, cell, self.verlet.i, self.verlet.j, self.verlet.S,
                             math.inf)
        self._pi, self._pj, self._D = self.verlet.i, self.verlet.j, D
        self._phi = np.empty(D.shape[0])
        self._dphi_r = np.empty(D.shape[0])
        inv_ae = 1.0 / (math.sqrt(2.0) * self.eta)
        _pick(_real_terms, D.shape[0])(D, self._pi, self._pj, self.sigma, inv_ae, self.r_cut**2,
                                       self._phi, self._dphi_r)
        self._volume = float(abs(np.linalg.det(cell)))
        recip = 2.0 * np.pi * np.linalg.inv(cell).T
        k = self.kmesh @ recip
        k2 = np.einsum("ij,ij->i", k, k)
        self._k, self._k2 = k, k2
        self._w = 8.0 * np.pi / self._volume * np.exp(-0.5 * self.eta**2 * k2) / k2
        nk = k.shape[0]
        self._cos = np.empty((n, nk))
        self._sin = np.empty((n, nk))
        frac = np.ascontiguousarray(positions @ np.linalg.inv(cell))
        _pick(_structure_phases, n * nk // 8)(frac, self.kmesh, self._mmax, self._cos, self._sin)
        self._self = _diag_self(self.sigma, self.eta)
        self_images = np.zeros(n)
        mask = self._pi == self._pj
        np.add.at(self_images, self._pi[mask], 2.0 * self._phi[mask])
        s2 = self.sigma**2
        self._diag = COULOMB_EV_A * (self_images + self._self + self._w.sum()
                                     + 2.0 * np.pi / self._volume * (2.0 * s2 - self.eta**2))

    def coulomb_potential(self, q: np.ndarray) -> np.ndarray:
        """``A q`` (eV/e) at the geometry of the last :meth:`solve`/:meth:`prepare` call."""
        out = self._self * q
        _real_matvec(self._pi, self._pj, self._phi, q, out)
        s_re, s_im = _structure_factors(self._cos, self._sin, q)
        _pick(_reciprocal_potential, q.size * self._w.size // 4)(
            self._cos, self._sin, self._w * s_re, self._w * s_im, out)
        s2 = self.sigma**2
        out += 2.0 * np.pi / self._volume * ((s2 - self.eta**2) * q.sum() + float(s2 @ q))
        return COULOMB_EV_A * out

    def prepare(self, positions: Any, cell: Any) -> None:
        """Set up the Coulomb operator at this geometry (called by :meth:`solve`)."""
        self._prepare(np.asarray(positions, dtype=float), np.asarray(cell, dtype=float))

    # ---------------------------------------------------------------- QEq
    def _guess(self, total_charge: float) -> np.ndarray:
        n = self.sigma.size
        h = self._history
        if len(h) >= 3:  # quadratic extrapolation of the charges in time
            return 3.0 * h[-1] - 3.0 * h[-2] + h[-3]
        if len(h) == 2:
            return 2.0 * h[-1] - h[-2]
        if len(h) == 1:
            return h[-1].copy()
        return np.full(n, total_charge / n)

    def _pcg(self, chi, hardness, total_charge):
        """Projected Jacobi-preconditioned CG from the extrapolated charges (warm start)."""
        diag = self._diag + hardness
        if np.any(diag <= 0.0):
            raise InputError("non-positive diagonal of A + diag(J)", field="hardness",
                             expected="A + diag(J) positive definite")
        minv = 1.0 / diag
        denom = minv.sum()
        q = self._guess(total_charge)
        q += minv * ((total_charge - q.sum()) / denom)
        r = self.coulomb_potential(q) + hardness * q + chi

        def project(v):
            z = minv * v
            return z - minv * (z.sum() / denom)

        g = project(r)
        rg = float(g @ (diag * g))
        d = -g
        it = 0
        while True:
            spread = np.abs(diag * g).max()  # |∂E/∂q_i − mu| with mu the weighted mean
            if spread <= self.qeq_tol:
                break
            if it >= self.max_iter:
                raise ConvergenceError(
                    f"QEq conjugate gradients stopped at an electronegativity spread of "
                    f"{spread:.3g} eV/e after {it} iterations (target {self.qeq_tol:g})")
            hd = self.coulomb_potential(d) + hardness * d
            curvature = float(d @ hd)
            if curvature <= 0.0:
                raise ConvergenceError("QEq matrix A + diag(J) is not positive definite on the "
                                       "charge-conserving plane")
            alpha = rg / curvature
            q += alpha * d
            r += alpha * hd
            g = project(r)
            rg_new = float(g @ (diag * g))
            d = -g + (rg_new / rg) * d
            rg = rg_new
            it += 1
        q += minv * ((total_charge - q.sum()) / denom)
        mu = float(minv @ r) / denom
        return q, mu, it

    def solve(self, positions: Any, cell: Any, chi: Any, hardness: Any,
              total_charge: float = 0.0, stress: bool = True) -> QEqResult:
        """Equilibrated charges and ``E = Σ χ_i q_i + ½ J_i q_i² + ½ qᵀAq`` with its forces
        and stress at fixed charges (Hellmann–Feynman: ∂E/∂q = μ is uniform at the minimum)."""
        positions = np.asarray(positions, dtype=float)
        cell = np.asarray(cell, dtype=float)
        chi = np.asarray(chi, dtype=float)
        hardness = np.broadcast_to(np.asarray(hardness, dtype=float), chi.shape)
        self._prepare(positions, cell)
        q, mu, it = self._pcg(chi, hardness, float(total_charge))
        self.last_iterations = it
        self._history = (self._history + [q.copy()])[-3:]
        e_el, forces, st = self.energy_forces_stress(q, stress=stress)
        energy = float(chi @ q + 0.5 * np.sum(hardness * q * q) + e_el)
        return QEqResult(q, energy, forces, st, mu, it)

    def reset(self) -> None:
        """Forget the charge history (call after a jump in the trajectory)."""
        self._history = []

    # ---------------------------------------------------------------- fixed-charge terms
    def energy_forces_stress(self, q: np.ndarray, stress: bool = True):
        """Electrostatic energy (eV), forces (N, 3) and stress (3, 3, ASE sign) at charges ``q``
        for the prepared geometry; the same terms as
        :func:`superionic.potentials.ewald.coulomb_energy_forces_stress`."""
        n = q.size
        forces = np.zeros((n, 3))
        virial = np.zeros((3, 3))
        energy = _real_forces(self._pi, self._pj, self._D, self._phi, self._dphi_r, q, forces,
                              virial)
        energy += 0.5 * float(self._self @ (q * q))
        s_re, s_im = _structure_factors(self._cos, self._sin, q)
        w = self._w
        _reciprocal_forces(self._cos, self._sin, w * s_re, w * s_im, self._k, q, forces)
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
