"""Torch engine of QMTP: batches of systems, autograd forces and stress, trainable parameters.

A batch concatenates independent systems (atoms, pairs) and sums per system with ``index_add``;
positions and a per-system strain ε enter as R(I+ε), cell(I+ε), so forces are −∂E/∂R and the
stress (1/V) ∂E/∂ε (ASE sign) come from autograd (float64, CPU or CUDA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ase import Atoms

from superionic.core.errors import InputError
from superionic.potentials.mtp_torch import TorchProgram, basis_torch
from superionic.potentials.pair_tables import basis_from_tables, mtp_gradients, pair_tables
from superionic.potentials.qmtp import QMTP, find_neighbours


def _reference(atoms: Atoms, name: str) -> np.ndarray | float | None:
    """Reference labels stored on ``atoms`` (SinglePointCalculator or arrays/info)."""
    calc = atoms.calc
    if calc is not None and name in getattr(calc, "results", {}):
        return calc.results[name]
    if name == "charges":
        for key in ("charges", "initial_charges"):
            if key in atoms.arrays and np.any(atoms.arrays[key] != 0):
                return np.asarray(atoms.arrays[key], dtype=float)
        return None
    if name in atoms.info:
        return atoms.info[name]
    return None


@dataclass
class Batch:
    """Concatenated systems on one device, with optional reference labels."""

    n_systems: int
    n_atoms: torch.Tensor
    species: torch.Tensor
    positions: torch.Tensor
    system: torch.Tensor
    cells: torch.Tensor
    periodic: list[bool]
    volumes: torch.Tensor
    pair_i: torch.Tensor
    pair_j: torch.Tensor
    pair_shift: torch.Tensor
    pair_system: torch.Tensor
    total_charge: torch.Tensor
    ewald: list
    atom_slices: list[slice]
    energy: torch.Tensor | None = None
    energy_mask: torch.Tensor | None = None
    forces: torch.Tensor | None = None
    forces_mask: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    stress_mask: torch.Tensor | None = None
    charges: torch.Tensor | None = None
    charges_mask: torch.Tensor | None = None
    #: Coulomb matrices and their geometric derivatives, filled on first use by QMTPTorch
    coulomb_cache: dict | None = None
    #: fixed-geometry pair tables (:mod:`superionic.potentials.pair_tables`), filled on first use
    pair_tables: Any = None


def make_batch(model: QMTP, structures: Sequence[Atoms], device: str = "cpu",
               labels: bool = True, total_charges: Sequence[float] | None = None,
               neighbours: Sequence[Any] | None = None) -> Batch:
    """Build a :class:`Batch` of ``structures`` (neighbour lists on the CPU).

    The total charge of each system is ``total_charges[k]`` or, by default, the sum of its
    initial charges. ``neighbours``: the structures' :func:`find_neighbours` lists at
    ``model.r_cut`` if already known.
    """
    dev = torch.device(device)
    f64 = dict(dtype=torch.float64, device=dev)
    lng = dict(dtype=torch.long, device=dev)
    species, positions, system, cells, periodic, volumes = [], [], [], [], [], []
    pi, pj, ps, psys, totq, ewald, slices = [], [], [], [], [], [], []
    e_ref, e_mask, f_ref, f_mask, s_ref, s_mask, q_ref, q_mask = ([] for _ in range(8))
    offset = 0
    for k, atoms in enumerate(structures):
        n = len(atoms)
        sp = model.species_index(atoms, source=f"structure {k}")
        nb = neighbours[k] if neighbours is not None else find_neighbours(atoms, model.r_cut)
        per = bool(np.all(atoms.pbc))
        species.append(sp)
        positions.append(atoms.positions)
        system.append(np.full(n, k))
        cells.append(atoms.cell.array if per else np.eye(3))
        periodic.append(per)
        volumes.append(abs(np.linalg.det(atoms.cell.array)) if per else 1.0)
        pi.append(nb.pair_i + offset)
        pj.append(nb.pair_j + offset)
        ps.append(nb.shifts)
        psys.append(np.full(nb.pair_i.size, k))
        if total_charges is not None:
            totq.append(float(total_charges[k]))
        else:
            totq.append(float(np.round(atoms.get_initial_charges().sum(), 8)))
        if model.charges:
            from superionic.potentials.ewald import ewald_parameters

            ewald.append(ewald_parameters(atoms.cell.array if per else None, n,
                                          model.ewald_accuracy,
                                          sigma_max=float(model.sigma_[sp].max())))
        else:
            ewald.append(None)
        slices.append(slice(offset, offset + n))
        offset += n
        if labels:
            e = _reference(atoms, "energy")
            e_ref.append(float(e) if e is not None else 0.0)
            e_mask.append(e is not None)
            f = _reference(atoms, "forces")
            f_ref.append(np.asarray(f, float) if f is not None else np.zeros((n, 3)))
            f_mask.append(np.full(n, f is not None))
            s = _reference(atoms, "stress")
            if s is not None and per:
                s = np.asarray(s, float)
                if s.shape == (6,):
                    xx, yy, zz, yz, xz, xy = s
                    s = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
                s_ref.append(s)
                s_mask.append(True)
            else:
                s_ref.append(np.zeros((3, 3)))
                s_mask.append(False)
            q = _reference(atoms, "charges")
            q_ref.append(np.asarray(q, float) if q is not None else np.zeros(n))
            q_mask.append(np.full(n, q is not None))
    cat = np.concatenate
    b = Batch(
        n_systems=len(structures),
        n_atoms=torch.tensor([len(a) for a in structures], **lng),
        species=torch.as_tensor(cat(species), **lng),
        positions=torch.as_tensor(cat(positions), **f64),
        system=torch.as_tensor(cat(system), **lng),
        cells=torch.as_tensor(np.array(cells), **f64),
        periodic=periodic,
        volumes=torch.as_tensor(volumes, **f64),
        pair_i=torch.as_tensor(cat(pi), **lng),
        pair_j=torch.as_tensor(cat(pj), **lng),
        pair_shift=torch.as_tensor(cat(ps), **f64),
        pair_system=torch.as_tensor(cat(psys), **lng),
        total_charge=torch.as_tensor(totq, **f64),
        ewald=ewald,
        atom_slices=slices,
    )
    if labels:
        b.energy = torch.as_tensor(e_ref, **f64)
        b.energy_mask = torch.as_tensor(e_mask, dtype=torch.bool, device=dev)
        b.forces = torch.as_tensor(cat(f_ref), **f64)
        b.forces_mask = torch.as_tensor(cat(f_mask), dtype=torch.bool, device=dev)
        b.stress = torch.as_tensor(np.array(s_ref), **f64)
        b.stress_mask = torch.as_tensor(s_mask, dtype=torch.bool, device=dev)
        b.charges = torch.as_tensor(cat(q_ref), **f64)
        b.charges_mask = torch.as_tensor(cat(q_mask), dtype=torch.bool, device=dev)
    return b


#: Largest structure (atoms) for which the dense Coulomb derivatives (13 N² numbers) are cached,
#: and the most memory (bytes) they may take for one batch; beyond either, the charge part is
#: differentiated through the Ewald sums by autograd.
DENSE_COULOMB_MAX_ATOMS: int = 1000
DENSE_COULOMB_MAX_BYTES: int = 2 * 1024**3

_ELECTROSTATICS = ("auto", "dense", "autograd")
_MTP_FORCES = ("auto", "tables", "autograd")


@dataclass
class _CoulombGroup:
    """Structures of one size stacked: systems (G,), atoms (G n,), A, dA/dR_i, dA/d eps."""

    systems: torch.Tensor
    atoms: torch.Tensor
    total_charge: torch.Tensor
    A: torch.Tensor
    dA_dR: torch.Tensor
    dA_deps: torch.Tensor


def _coulomb_groups(b: Batch, sigma: torch.Tensor) -> list[_CoulombGroup]:
    """Per-size groups of dense Coulomb matrices and derivatives of the batch geometry, cached on
    ``b`` and rebuilt when positions, cells or Gaussian widths change."""
    from superionic.potentials.ewald_torch import coulomb_matrix_derivatives_torch

    cache = b.coulomb_cache
    if (cache is not None and torch.equal(cache["positions"], b.positions)
            and torch.equal(cache["cells"], b.cells) and torch.equal(cache["sigma"], sigma)):
        return cache["groups"]
    by_size: dict[int, list[int]] = {}
    for k, sl in enumerate(b.atom_slices):
        by_size.setdefault(sl.stop - sl.start, []).append(k)
    dev = b.positions.device
    groups = []
    for members in by_size.values():
        mats = [coulomb_matrix_derivatives_torch(
            b.positions[b.atom_slices[k]], b.cells[k] if b.periodic[k] else None,
            b.periodic[k], sigma[b.atom_slices[k]], b.ewald[k]) for k in members]
        atoms = torch.cat([torch.arange(b.atom_slices[k].start, b.atom_slices[k].stop,
                                        device=dev) for k in members])
        idx = torch.as_tensor(members, dtype=torch.long, device=dev)
        groups.append(_CoulombGroup(idx, atoms, b.total_charge[idx],
                                    *(torch.stack(m) for m in zip(*mats, strict=True))))
    b.coulomb_cache = {"positions": b.positions.clone(), "cells": b.cells.clone(),
                       "sigma": sigma.clone(), "groups": groups}
    return groups


def _qeq_dense(groups: list[_CoulombGroup], chi: torch.Tensor, J: torch.Tensor,
               n_systems: int) -> tuple[torch.Tensor, ...]:
    """QEq charges, energies and the fixed-charge Coulomb gradients ``dE/dR``, ``dE/d eps``.

    Bordered solve per structure (Rappé & Goddard, J. Phys. Chem. 95, 3358 (1991)), batched
    over structures of one size; at the constrained minimum ``dE/dq = mu 1`` and the total
    charge is fixed, so the gradients of ``E_qeq`` need no derivative of the charges
    (Hellmann-Feynman).
    """
    n_atoms = chi.shape[0]
    like = dict(dtype=chi.dtype, device=chi.device)
    charges = torch.zeros(n_atoms, **like)
    energy = torch.zeros(n_systems, **like)
    g_pos = torch.zeros(n_atoms, 3, **like)
    g_eps = torch.zeros(n_systems, 3, 3, **like)
    for g in groups:
        n_sys, n = g.A.shape[0], g.A.shape[1]
        chi_g = chi[g.atoms].reshape(n_sys, n)
        J_g = J[g.atoms].reshape(n_sys, n)
        border = torch.zeros(n_sys, n + 1, n + 1, **like)
        border[:, :n, :n] = g.A + torch.diag_embed(J_g)
        border[:, :n, n] = 1.0
        border[:, n, :n] = 1.0
        rhs = torch.cat([-chi_g, g.total_charge[:, None]], dim=1)
        q = torch.linalg.solve(border, rhs)[:, :n]
        Aq = (g.A @ q[:, :, None])[:, :, 0]
        e_q = (chi_g * q + 0.5 * J_g * q * q + 0.5 * q * Aq).sum(dim=1)
        # dE/dR_i = q_i sum_j q_j dA_ij/dR_i ; dE/d eps = 1/2 q^T (dA/d eps) q
        gp = q[:, :, None] * torch.einsum("sj,sija->sia", q, g.dA_dR)
        ge = 0.5 * torch.einsum("si,sj,sijab->sab", q, q, g.dA_deps)
        charges = charges.index_put((g.atoms,), q.reshape(-1))
        energy = energy.index_put((g.systems,), e_q)
        g_pos = g_pos.index_put((g.atoms,), gp.reshape(-1, 3))
        g_eps = g_eps.index_put((g.systems,), ge)
    return charges, energy, g_pos, g_eps


class QMTPTorch(torch.nn.Module):
    """Trainable torch twin of a :class:`QMTP` (hardness as log J to stay positive).

    ``electrostatics``: ``"dense"`` caches each structure's Coulomb matrix and its geometric
    derivatives on the batch and takes the charge part of forces and stress from the
    Hellmann-Feynman property of the QEq minimum (no differentiation through the Ewald sums or
    the solve; several times faster for training, where the geometry is fixed); ``"autograd"``
    differentiates through the Ewald sums and the solve (cheaper for a single evaluation of a
    large cell, as in MD); ``"auto"`` is dense for labelled batches (training and validation
    sets, evaluated many times) and ``create_graph`` calls, up to ``DENSE_COULOMB_MAX_ATOMS``
    atoms per structure, else autograd. Both give the same numbers to rounding.

    ``mtp_forces``: ``"tables"`` takes the MTP forces and stress in closed form from per-pair
    tables of the fixed batch geometry (:mod:`superionic.potentials.pair_tables`; the loss
    gradient of a force fit then differentiates twice only through the per-atom contraction);
    ``"autograd"`` differentiates the basis with respect to positions and strain; ``"auto"``
    uses tables where dense electrostatics is used (or there are no charges) for labelled
    batches and ``create_graph`` calls, within ``PAIR_TABLE_MAX_BYTES``. Same numbers to
    rounding.
    """

    def __init__(self, model: QMTP, device: str = "cpu", electrostatics: str = "auto",
                 mtp_forces: str = "auto") -> None:
        super().__init__()
        for name, value, allowed in (("electrostatics", electrostatics, _ELECTROSTATICS),
                                     ("mtp_forces", mtp_forces, _MTP_FORCES)):
            if value not in allowed:
                raise InputError(f"{name} {value!r}", field=name,
                                 expected=" or ".join(repr(x) for x in allowed))
        self.electrostatics = electrostatics
        self.mtp_forces = mtp_forces
        self.model = model
        dev = torch.device(device)
        self.tp = TorchProgram.build(model.program, dev)

        def p(x):
            return torch.nn.Parameter(torch.as_tensor(np.array(x), dtype=torch.float64,
                                                      device=dev))

        self.radial_coeffs = p(model.radial_coeffs_)
        self.xi = p(model.xi_)
        self.e0 = p(model.e0_)
        self.chi0 = p(model.chi0_)
        self.w_chi = p(model.w_chi_)
        self.log_hardness = p(np.log(model.hardness_))
        self.register_buffer("sigma", torch.as_tensor(model.sigma_, dtype=torch.float64,
                                                      device=dev))
        # per-basis scale: the optimiser sees ξ_α / scale_α (set by the trainer for conditioning)
        self.register_buffer("basis_scale", torch.ones(model.n_basis, dtype=torch.float64,
                                                       device=dev))
        if not model.charges:
            for q in (self.chi0, self.w_chi, self.log_hardness):
                q.requires_grad_(False)

    def to_model(self) -> QMTP:
        """Copy the current parameters back into a new :class:`QMTP`."""
        m = self.model.copy()
        m.radial_coeffs_ = self.radial_coeffs.detach().cpu().numpy().copy()
        m.xi_ = (self.xi * self.basis_scale).detach().cpu().numpy().copy()
        m.e0_ = self.e0.detach().cpu().numpy().copy()
        m.chi0_ = self.chi0.detach().cpu().numpy().copy()
        m.w_chi_ = (self.w_chi * self.basis_scale).detach().cpu().numpy().copy()
        m.hardness_ = np.exp(self.log_hardness.detach().cpu().numpy())
        return m

    def set_basis_scale(self, scale: np.ndarray) -> None:
        """Re-parametrise ξ and w as ξ_α = ξ'_α · scale_α without changing the model."""
        new = torch.as_tensor(scale, dtype=torch.float64, device=self.xi.device)
        with torch.no_grad():
            self.xi.mul_(self.basis_scale / new)
            self.w_chi.mul_(self.basis_scale / new)
            self.basis_scale.copy_(new)

    @staticmethod
    def pair_vectors(b: Batch, positions: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """r_ij = R_j − R_i + S_ij · cell of every directed pair (P, 3)."""
        return positions[b.pair_j] - positions[b.pair_i] + torch.einsum(
            "pa,pab->pb", b.pair_shift, cells[b.pair_system])

    def basis(self, b: Batch, positions: torch.Tensor, cells: torch.Tensor,
              vec: torch.Tensor | None = None) -> torch.Tensor:
        vec = self.pair_vectors(b, positions, cells) if vec is None else vec
        return basis_torch(self.tp, b.species, b.pair_i, b.pair_j, vec, self.radial_coeffs,
                           self.model.r_min, self.model.r_cut)

    def repulsion(self, b: Batch, vec: torch.Tensor) -> torch.Tensor | None:
        """ZBL baseline energy per system (S,), or None without a baseline."""
        if not self.model.has_repulsion:
            return None
        from superionic.potentials.repulsion import repulsion_torch

        e = repulsion_torch(vec, b.species[b.pair_i], b.species[b.pair_j], self.model.species,
                            self.model.repulsion_r_outer_)
        return torch.zeros(b.n_systems, dtype=vec.dtype, device=vec.device).index_add(
            0, b.pair_system, e)

    def forward(self, b: Batch, forces: bool = True, stress: bool = True,
                create_graph: bool = False) -> dict[str, torch.Tensor]:
        """Energies (S,), forces (N, 3), stress (S, 3, 3), charges (N,), basis (N, n_basis)."""
        need_grad = forces or stress
        dense = self.model.charges and self._dense(b, create_graph)
        tables = (self._tables(b, create_graph)
                  if need_grad and (dense or not self.model.charges) else None)
        if tables is not None:
            B, state = basis_from_tables(tables, self.tp, self.radial_coeffs)
            e_rep = tables.rep_energy
        else:
            pos = b.positions.clone().requires_grad_(need_grad)
            eps = torch.zeros_like(b.cells).requires_grad_(need_grad)
            strain = torch.eye(3, dtype=pos.dtype, device=pos.device) + eps
            pos_s = torch.einsum("na,nab->nb", pos, strain[b.system])
            cells_s = b.cells @ strain
            vec = self.pair_vectors(b, pos_s, cells_s)
            B = self.basis(b, pos_s, cells_s, vec)
            e_rep = self.repulsion(b, vec)
        xi = self.xi * self.basis_scale
        e_atom = B @ xi + self.e0[b.species]
        energy = torch.zeros(b.n_systems, dtype=B.dtype, device=B.device)
        energy = energy.index_add(0, b.system, e_atom)
        if e_rep is not None:
            energy = energy + e_rep
        charges = torch.zeros_like(e_atom)
        if self.model.charges:
            w = self.w_chi * self.basis_scale
            chi = self.chi0[b.species] + (w[b.species] * B).sum(dim=1)
            J = torch.exp(self.log_hardness)[b.species]
            sig = self.sigma[b.species]
        if dense:
            groups = _coulomb_groups(b, sig)
            charges, e_q, g_pos_q, g_eps_q = _qeq_dense(groups, chi, J, b.n_systems)
            energy = energy + e_q
        elif self.model.charges:
            from superionic.potentials.ewald_torch import coulomb_matrix_torch
            from superionic.potentials.qeq import solve_qeq_torch

            e_q, qs = [], []
            for k, sl in enumerate(b.atom_slices):
                cell = cells_s[k] if b.periodic[k] else None
                A = coulomb_matrix_torch(pos_s[sl], cell, b.periodic[k], sig[sl], b.ewald[k])
                q, _ = solve_qeq_torch(chi[sl], J[sl], A, float(b.total_charge[k]))
                e_q.append(chi[sl] @ q + 0.5 * (J[sl] * q * q).sum() + 0.5 * q @ (A @ q))
                qs.append(q)
            energy = energy + torch.stack(e_q)
            charges = torch.cat(qs)
        out = {"energy": energy, "charges": charges, "basis": B}
        if not need_grad:
            return out
        # dE/dB at fixed charges: xi + q w (the charges enter through chi = chi0 + w.B)
        cot = xi.expand_as(B) + (charges[:, None] * w[b.species] if dense else 0.0)
        if tables is not None:
            g_pos, g_eps = mtp_gradients(tables, self.tp, b, state, B, cot, create_graph)
            if e_rep is not None:
                g_pos = g_pos + tables.rep_g_pos
                g_eps = g_eps + tables.rep_g_eps
        elif dense:
            outs, cots = [B], [cot]
            if e_rep is not None:
                outs.append(e_rep)
                cots.append(torch.ones_like(e_rep))
            g_pos, g_eps = torch.autograd.grad(outs, (pos, eps), grad_outputs=cots,
                                               create_graph=create_graph)
        else:
            g_pos, g_eps = torch.autograd.grad(energy.sum(), (pos, eps),
                                               create_graph=create_graph)
        if dense:
            g_pos = g_pos + g_pos_q
            g_eps = g_eps + g_eps_q
        out["forces"] = -g_pos
        s = g_eps / b.volumes[:, None, None]
        out["stress"] = 0.5 * (s + s.transpose(1, 2))
        return out

    def _tables(self, b: Batch, create_graph: bool):
        if self.mtp_forces == "autograd" or (
                self.mtp_forces == "auto" and not (create_graph or b.energy is not None)):
            return None
        return pair_tables(self.model, self.tp, b)

    def _dense(self, b: Batch, create_graph: bool) -> bool:
        if self.electrostatics == "auto":
            sizes = [sl.stop - sl.start for sl in b.atom_slices]
            small = (max(sizes) <= DENSE_COULOMB_MAX_ATOMS
                     and 13 * 8 * sum(n * n for n in sizes) <= DENSE_COULOMB_MAX_BYTES)
            return small and (create_graph or b.energy is not None)
        return self.electrostatics == "dense"


def default_device() -> str:
    """'cuda' when a GPU is available, else 'cpu'."""
    return "cuda" if torch.cuda.is_available() else "cpu"


__all__ = ["Batch", "QMTPTorch", "make_batch", "default_device"]
