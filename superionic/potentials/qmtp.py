"""QMTP: a moment tensor potential coupled to environment-dependent charges (numpy/numba side).

Short range: E_MTP = Σ_i [E0_{z_i} + Σ_α ξ_α B_α(i)] (Shapeev, Multiscale Model. Simul. 14, 1153
(2016), Eq. 3). Charges: electronegativity linear in the MTP basis,
χ_i = χ0_{z_i} + Σ_α w_{z_i,α} B_α(i), charge equilibration with hardness J_z and Gaussian widths
σ_z (Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991); Ko et al., Nat. Commun. 12, 398 (2021)):
E = E_MTP + Σ_i (χ_i q_i + ½ J_i q_i²) + ½ qᵀ A q, with q minimising it at fixed total charge.
At the minimum, forces are −∂E/∂R|_q = −Σ_i q_i ∂χ_i/∂R − ∂E_elec/∂R|_q − ∂E_MTP/∂R.
A ZBL repulsive baseline, zero on the training data, guards the short distances the data never
reached (:mod:`superionic.potentials.repulsion`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from ase.neighborlist import neighbor_list

from superionic.core.errors import InputError
from superionic.potentials.mtp_basis import ContractionProgram, compile_program
from superionic.potentials.mtp_numba import (
    basis_gradients,
    basis_values,
    pair_forces_virial,
    periodic_neighbour_list,
)
from superionic.potentials.repulsion import pair_tables, repulsion_pairs

#: Default Gaussian charge width (Å) and hardness (eV/e²) of every species.
DEFAULT_SIGMA_A = 1.0
DEFAULT_HARDNESS_EV = 10.0
#: Scale (eV per Pauling unit) of the initial electronegativity χ0 from Pauling values.
CHI_PER_PAULING_EV = 2.0


@dataclass
class Neighbours:
    """Pairs within the cutoff, sorted by centre atom: r_ij = R_j − R_i + S_ij · cell."""

    pair_i: np.ndarray
    pair_j: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    start: np.ndarray


#: Names of the learned (and fixed-from-data) parameter arrays of :class:`QMTP`.
PARAMETERS = ("radial_coeffs_", "xi_", "e0_", "chi0_", "w_chi_", "hardness_", "sigma_",
              "repulsion_r_outer_")


def find_neighbours(atoms: Atoms, r_cut: float) -> Neighbours:
    """Neighbour pairs within ``r_cut``, periodic images included, sorted by centre atom."""
    if bool(np.all(atoms.pbc)):
        i, j, S, D, _ = periodic_neighbour_list(atoms.positions, atoms.cell.array, float(r_cut))
    else:
        i, j, S, D = neighbor_list("ijSD", atoms, float(r_cut))
        order = np.argsort(i, kind="stable")
        i, j, S, D = i[order], j[order], S[order], D[order]
    if i.size and np.min(np.einsum("ij,ij->i", D, D)) < 1e-12:
        raise InputError("two atoms sit on top of each other", field="positions",
                         expected="distinct atomic positions")
    start = np.searchsorted(i, np.arange(len(atoms) + 1)).astype(np.int64)
    return Neighbours(i.astype(np.int64), j.astype(np.int64), S.astype(float),
                      np.ascontiguousarray(D, dtype=float), start)


def _pauling(z: int) -> float:
    import warnings

    try:
        from pymatgen.core import Element

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = Element.from_Z(int(z)).X
        return float(x) if np.isfinite(x) else 2.0
    except Exception:  # noqa: BLE001 - unknown element data: neutral default
        return 2.0


@dataclass
class QMTP:
    """Moment tensor potential of level ``level`` with optional equilibrated charges.

    Parameters (trailing underscore = learned): ``radial_coeffs_`` (S, S, n_mu, n_beta) =
    c^{(β)}_{μ, z_i, z_j}; ``xi_`` (n_basis,); ``e0_`` (S,) reference energies (eV);
    ``chi0_`` (S,) eV; ``w_chi_`` (S, n_basis) eV; ``hardness_`` (S,) eV/e²;
    ``sigma_`` (S,) Å Gaussian widths; ``repulsion_r_outer_`` (S, S) Å, the distance below which
    each species pair's ZBL baseline switches on (0: no baseline for that pair).
    """

    species: tuple[int, ...]
    level: int = 16
    r_cut: float = 5.0
    r_min: float = 1.0
    n_beta: int = 8
    charges: bool = True
    radial_coeffs_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    xi_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    e0_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    chi0_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    w_chi_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    hardness_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    sigma_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    repulsion_r_outer_: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    ewald_accuracy: float = 1e-8
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        zs = [atomic_numbers[s] if isinstance(s, str) else int(s) for s in self.species]
        if len(set(zs)) != len(zs) or not zs:
            raise InputError(f"species {self.species!r}", field="species",
                             expected="a non-empty list of distinct elements")
        self.species = tuple(zs)
        if not (0.0 <= self.r_min < self.r_cut):
            raise InputError(f"r_min={self.r_min}, r_cut={self.r_cut}", field="cutoff",
                             expected="0 <= r_min < r_cut (Å)")
        if self.level < 2 or self.level > 28:
            raise InputError(f"level {self.level}", field="level", expected="2 <= level <= 28")
        prog = self.program
        S = len(self.species)
        rng = np.random.default_rng(0)
        if self.radial_coeffs_ is None:
            self.radial_coeffs_ = self.random_radial_coeffs(rng)
        if self.xi_ is None:
            self.xi_ = np.zeros(prog.n_basis)
        if self.e0_ is None:
            self.e0_ = np.zeros(S)
        if self.chi0_ is None:
            self.chi0_ = np.array([CHI_PER_PAULING_EV * _pauling(z) for z in self.species])
        if self.w_chi_ is None:
            self.w_chi_ = np.zeros((S, prog.n_basis))
        if self.hardness_ is None:
            self.hardness_ = np.full(S, DEFAULT_HARDNESS_EV)
        if self.sigma_ is None:
            self.sigma_ = np.full(S, DEFAULT_SIGMA_A)
        if self.repulsion_r_outer_ is None:
            self.repulsion_r_outer_ = np.zeros((S, S))
        for name in PARAMETERS:
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=float))
        expected = {
            "radial_coeffs_": (S, S, prog.n_mu, self.n_beta),
            "xi_": (prog.n_basis,),
            "e0_": (S,),
            "chi0_": (S,),
            "w_chi_": (S, prog.n_basis),
            "hardness_": (S,),
            "sigma_": (S,),
            "repulsion_r_outer_": (S, S),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise InputError(f"parameter {name} has shape {getattr(self, name).shape}",
                                 field=name, expected=str(shape))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also models pickled before the ZBL baseline existed (no baseline)."""
        self.__dict__.update(state)
        if state.get("repulsion_r_outer_") is None:
            S = len(self.species)
            self.repulsion_r_outer_ = np.zeros((S, S))

    # ---------------------------------------------------------------- construction helpers
    def random_radial_coeffs(self, rng: np.random.Generator) -> np.ndarray:
        """Random radial coefficients, scaled so each f_μ is O(1) per neighbour."""
        S = len(self.species)
        shape = (S, S, self.program.n_mu, self.n_beta)
        scale = 1.0 / (self.r_cut - self.r_min) ** 2
        c = rng.uniform(-1.0, 1.0, size=shape) * scale / np.sqrt(self.n_beta)
        c[..., 0] += scale
        return c

    @classmethod
    def random(cls, species, level: int = 16, seed: int = 0, **kwargs: Any) -> QMTP:
        """A model with random radial and linear coefficients (tests, teachers of teachers)."""
        m = cls(tuple(species), level=level, **kwargs)
        rng = np.random.default_rng(seed)
        m.radial_coeffs_ = m.random_radial_coeffs(rng)
        # smaller weights for the later (higher-level) basis functions
        m.xi_ = 0.05 * rng.normal(size=m.n_basis) / (1.0 + np.arange(m.n_basis)) ** 0.5
        m.e0_ = rng.normal(size=len(m.species))
        if m.charges:
            m.w_chi_ = rng.normal(size=m.w_chi_.shape) * 0.02
        return m

    @property
    def program(self) -> ContractionProgram:
        return compile_program(self.level)

    @property
    def n_basis(self) -> int:
        return self.program.n_basis

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.species]

    def species_index(self, atoms: Atoms, source: str | None = None) -> np.ndarray:
        """Index of every atom's species in ``self.species``; unknown elements raise."""
        lookup = {z: k for k, z in enumerate(self.species)}
        zs = atoms.get_atomic_numbers()
        missing = sorted({chemical_symbols[z] for z in zs if z not in lookup})
        if missing:
            raise InputError(f"elements {missing} are not in the model", source=source,
                             field="numbers", expected=f"only {self.symbols}")
        return np.array([lookup[z] for z in zs], dtype=np.int64)

    @property
    def has_repulsion(self) -> bool:
        """Whether any species pair carries the ZBL baseline."""
        return bool(np.any(self.repulsion_r_outer_ > 0))

    def repulsion_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Z_i Z_j, screening lengths and switch radii per species pair (see
        :func:`superionic.potentials.repulsion.pair_tables`)."""
        return pair_tables(self.species, self.repulsion_r_outer_)

    def copy(self) -> QMTP:
        import copy

        return copy.deepcopy(self)

    # ---------------------------------------------------------------- numba evaluation
    def basis(self, atoms: Atoms, nb: Neighbours | None = None) -> np.ndarray:
        """MTP basis values B_α(i), shape (N, n_basis)."""
        nb = nb or find_neighbours(atoms, self.r_cut)
        sp = self.species_index(atoms)
        vals = basis_values(self.program, sp, nb.start, nb.pair_j, nb.vectors,
                            self.radial_coeffs_, self.r_min, self.r_cut)
        return vals[:, self.program.basis_index]

    def compute(self, atoms: Atoms, total_charge: float = 0.0, stress: bool = True,
                md: Any = None) -> dict:
        """Energy (eV), forces (N, 3), stress (3, 3, ASE sign, eV/Å³), charges (e), basis.

        Numba engine with analytic forces; see the module docstring for the force expression.
        ``md``: an :class:`superionic.potentials.md_state.MDState` kept along a trajectory
        (Verlet lists, MD-accuracy Ewald sums, warm-started iterative QEq, serial kernels on
        small cells); None for the reference path.
        """
        periodic = bool(np.all(atoms.pbc))
        if md is not None and not periodic:
            md = None
        if md is not None:
            nb = Neighbours(*md.neighbours(atoms.positions, atoms.cell.array, atoms.numbers,
                                           self.r_cut))
        else:
            nb = find_neighbours(atoms, self.r_cut)
        sp = self.species_index(atoms)
        prog = self.program
        n = len(atoms)
        forward = md.basis_values if md is not None else basis_values
        backward = md.basis_gradients if md is not None else basis_gradients
        vals = forward(prog, sp, nb.start, nb.pair_j, nb.vectors, self.radial_coeffs_,
                       self.r_min, self.r_cut)
        B = vals[:, prog.basis_index]
        energy = float(np.sum(B @ self.xi_) + np.sum(self.e0_[sp]))
        g = np.broadcast_to(self.xi_, (n, prog.n_basis))
        out: dict[str, Any] = {"basis": B}
        volume = abs(np.linalg.det(atoms.cell.array)) if periodic else None
        if self.charges:
            q, e_q, f_el, s_el = self._charges(atoms, sp, B, total_charge, md)
            energy += e_q
            g = self.xi_[None, :] + q[:, None] * self.w_chi_[sp]
            out["charges"] = q
        else:
            out["charges"] = np.zeros(n)
        dE_dr = backward(prog, sp, nb.start, nb.pair_j, nb.vectors, self.radial_coeffs_,
                         self.r_min, self.r_cut, vals, g[:, None, :])
        if self.has_repulsion:
            energy += repulsion_pairs(sp, nb.pair_i, nb.pair_j, nb.vectors,
                                      *self.repulsion_tables(), dE_dr[0])
        reduce = md.pair_forces_virial if md is not None else pair_forces_virial
        forces, virial = reduce(dE_dr, nb.pair_i, nb.pair_j, nb.vectors, n)
        forces = forces[0]
        if self.charges:
            forces = forces + f_el
        out["energy"] = energy
        out["forces"] = forces
        if stress and periodic:
            s = virial[0] / volume
            s = 0.5 * (s + s.T)
            if self.charges:
                s = s + s_el
            out["stress"] = s
        return out

    def _charges(self, atoms: Atoms, sp: np.ndarray, B: np.ndarray, total_charge: float,
                 md: Any = None):
        from superionic.potentials.ewald import (
            coulomb_energy_forces_stress,
            coulomb_matrix,
            ewald_parameters,
        )
        from superionic.potentials.qeq import solve_qeq

        periodic = bool(np.all(atoms.pbc))
        cell = atoms.cell.array if periodic else None
        sigma = self.sigma_[sp]
        chi = self.chi0_[sp] + np.einsum("ia,ia->i", self.w_chi_[sp], B)
        J = self.hardness_[sp]
        if md is not None:
            res = md.electrostatics(sigma, cell, atoms.numbers).solve(
                atoms.positions, cell, chi, J, total_charge)
            return res.charges, res.energy, res.forces, res.stress
        params = ewald_parameters(cell, len(atoms), self.ewald_accuracy,
                                  sigma_max=float(sigma.max()))
        A = coulomb_matrix(atoms.positions, cell, atoms.pbc, sigma, params)
        q, _ = solve_qeq(chi, J, A, total_charge)
        e_el, f_el, s_el = coulomb_energy_forces_stress(atoms.positions, cell, atoms.pbc, q,
                                                         sigma, params)
        e_q = float(chi @ q + 0.5 * np.sum(J * q * q) + e_el)
        return q, e_q, f_el, s_el

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path, active_set: Any = None) -> Path:
        """Write the versioned model file (see :mod:`superionic.potentials.model_file`),
        optionally with a fitted active set for extrapolation grades."""
        from superionic.potentials.model_file import save_model

        return save_model(self, path, active_set=active_set)

    @classmethod
    def load(cls, path: str | Path) -> QMTP:
        """Read a model file written by :meth:`save`."""
        from superionic.potentials.model_file import load_model

        return load_model(path)
