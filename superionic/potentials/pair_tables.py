"""Fixed-geometry pair tables: MTP forces and stress in closed form for training batches.

The basic moments of atom i are M_iκ = Σ_j f_μ(κ)(r_ij) m_κ(r̂_ij), with radial functions
f_μ = Σ_β c_μβ Q_β(r) and angular monomials m_κ = x̂^a ŷ^b ẑ^c (Shapeev, Multiscale Model.
Simul. 14, 1153 (2016)). In a training set the geometry never changes, so Q_β, dQ_β/dr, m_κ
and ∇m_κ of every pair are computed once. With G_iκ = ∂E/∂M_iκ (from the per-atom contraction
only) the pair derivative is

    ∂E/∂r_p = r̂_p Σ_κ G_iκ f'_μ(κ) m_κ + Σ_κ G_iκ f_μ(κ) ∇m_κ,

forces are −∂E/∂R_i = Σ_p∋i ±∂E/∂r_p and the virial Σ_p r_p ⊗ ∂E/∂r_p. The loss gradient then
needs one backward pass through these products, and the second-order part of the force loss
runs through the small per-atom contraction instead of through every pair. The ZBL baseline
does not depend on the parameters, so its energy, forces and virial are tabulated too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from superionic.potentials.mtp_torch import TorchProgram, contract_torch, monomials_torch
from superionic.potentials.qmtp import QMTP
from superionic.potentials.radial import chebyshev_radial_torch

#: Most memory (bytes) the tables of one batch may take; larger batches keep autograd forces.
PAIR_TABLE_MAX_BYTES: int = 2 * 1024**3


@dataclass
class PairTables:
    """Parameter-free per-pair quantities of one batch geometry and one model layout."""

    key: tuple
    positions: torch.Tensor
    cells: torch.Tensor
    #: pairs sorted by species pair: (species-pair index, start, stop) of each run
    groups: list[tuple[int, int, int]]
    pair_i: torch.Tensor  # (P,), in the sorted order, as every table below
    pair_j: torch.Tensor
    pair_system: torch.Tensor
    vec: torch.Tensor  # (P, 3)
    unit: torch.Tensor  # (P, 3)
    Q: torch.Tensor  # (P, n_beta)
    dQ: torch.Tensor  # (P, n_beta)
    mono: torch.Tensor  # (P, n_basic)
    dmono: torch.Tensor  # (3, P, n_basic): ∂m_κ/∂r_a
    rep_energy: torch.Tensor | None  # (S,)
    rep_g_pos: torch.Tensor | None  # (N, 3): ∂E_rep/∂R
    rep_g_eps: torch.Tensor | None  # (S, 3, 3): ∂E_rep/∂ε


def table_bytes(n_pairs: int, n_basic: int, n_beta: int) -> int:
    """Memory of the tables for ``n_pairs`` pairs (float64)."""
    return 8 * n_pairs * (4 * n_basic + 2 * n_beta + 7)


def _key(model: QMTP, tp: TorchProgram) -> tuple:
    return (model.r_min, model.r_cut, model.n_beta, tuple(model.species),
            tp.program.basic_pows.tobytes(), tp.program.basic_mu.tobytes(),
            model.has_repulsion, np.asarray(model.repulsion_r_outer_).tobytes())


def _build(model: QMTP, tp: TorchProgram, b, key: tuple) -> PairTables:
    from superionic.potentials.qmtp_torch import QMTPTorch

    n_sp = len(model.species)
    species_pair = b.species[b.pair_i] * n_sp + b.species[b.pair_j]
    order = torch.argsort(species_pair, stable=True)
    species_pair = species_pair[order]
    pair_i, pair_j, pair_system = b.pair_i[order], b.pair_j[order], b.pair_system[order]
    runs, counts = torch.unique_consecutive(species_pair, return_counts=True)
    stops = torch.cumsum(counts, 0).tolist()
    groups = [(int(g), stop - int(n), stop)
              for g, n, stop in zip(runs.tolist(), counts.tolist(), stops, strict=True)]
    with torch.no_grad():
        vec = QMTPTorch.pair_vectors(b, b.positions, b.cells)[order]
    r = torch.linalg.norm(vec, dim=1)
    unit = vec / r[:, None]
    ones = torch.ones_like(r)
    Q, dQ = torch.func.jvp(
        lambda x: chebyshev_radial_torch(x, model.r_min, model.r_cut, model.n_beta), (r,),
        (ones,))

    def mono_of(v):
        return monomials_torch(tp, v / torch.linalg.norm(v, dim=1)[:, None])

    mono = mono_of(vec)
    axes = []
    for a in range(3):
        e = torch.zeros_like(vec)
        e[:, a] = 1.0
        axes.append(torch.func.jvp(mono_of, (vec,), (e,))[1])
    dmono = torch.stack(axes)
    rep_energy = rep_g_pos = rep_g_eps = None
    if model.has_repulsion:
        from superionic.potentials.repulsion import repulsion_torch

        v = vec.clone().requires_grad_(True)
        e_pair = repulsion_torch(v, b.species[pair_i], b.species[pair_j], model.species,
                                 model.repulsion_r_outer_)
        (dv,) = torch.autograd.grad(e_pair.sum(), v)
        rep_g_pos, rep_g_eps = _assemble(b, pair_i, pair_j, pair_system, vec, dv)
        rep_energy = torch.zeros(b.n_systems, dtype=r.dtype, device=r.device).index_add(
            0, pair_system, e_pair.detach())
    return PairTables(key, b.positions.clone(), b.cells.clone(), groups, pair_i, pair_j,
                      pair_system, vec, unit,
                      Q, dQ, mono, dmono, rep_energy, rep_g_pos, rep_g_eps)


def _assemble(b, pair_i: torch.Tensor, pair_j: torch.Tensor, pair_system: torch.Tensor,
              vec: torch.Tensor, dE_dr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∂E/∂R (N, 3) and ∂E/∂ε (S, 3, 3) from the pair derivatives ∂E/∂r_p (r_p = R_j − R_i + …)."""
    g_pos = torch.zeros(b.positions.shape, dtype=vec.dtype, device=vec.device)
    g_pos = g_pos.index_add(0, pair_j, dE_dr).index_add(0, pair_i, -dE_dr)
    g_eps = torch.zeros(b.n_systems, 3, 3, dtype=vec.dtype, device=vec.device).index_add(
        0, pair_system, vec[:, :, None] * dE_dr[:, None, :])
    return g_pos, g_eps


def pair_tables(model: QMTP, tp: TorchProgram, b) -> PairTables | None:
    """The batch's tables (built on first use, cached on ``b``, rebuilt when its positions,
    cells or the model layout change), or None when they would exceed
    ``PAIR_TABLE_MAX_BYTES``."""
    if table_bytes(b.pair_i.numel(), tp.mu_select.shape[1], model.n_beta) > PAIR_TABLE_MAX_BYTES:
        return None
    key = _key(model, tp)
    t = b.pair_tables
    if (t is not None and t.key == key and torch.equal(t.positions, b.positions)
            and torch.equal(t.cells, b.cells)):
        return t
    b.pair_tables = _build(model, tp, b, key)
    return b.pair_tables


def basis_from_tables(t: PairTables, tp: TorchProgram, radial_coeffs: torch.Tensor,
                      n_atoms: int):
    """Basis values (N, n_basis), basic moments M (N, n_basic), the radial function of each
    pair's basic moments F (P, n_basic) and the radial derivatives f' (P, n_mu) for the current
    radial coefficients (one small matrix product per species pair)."""
    c = radial_coeffs.reshape(-1, *radial_coeffs.shape[2:])  # (S², n_mu, n_beta)
    F = torch.cat([t.Q[lo:hi] @ (c[g].T @ tp.mu_select) for g, lo, hi in t.groups])
    fp = torch.cat([t.dQ[lo:hi] @ c[g].T for g, lo, hi in t.groups])
    M = torch.zeros(n_atoms, F.shape[1], dtype=F.dtype, device=F.device).index_add(
        0, t.pair_i, F * t.mono)
    if not M.requires_grad:  # parameters frozen: G = ∂E/∂M still needs a graph from M
        M = M.detach().requires_grad_(True)
    return contract_torch(tp, M), M, F, fp


def mtp_gradients(t: PairTables, tp: TorchProgram, b, G: torch.Tensor, F: torch.Tensor,
                  fp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∂E/∂R (N, 3) and ∂E/∂ε (S, 3, 3) of the MTP part from G = ∂E/∂M (N, n_basic)."""
    Gp = G[t.pair_i]
    radial = ((Gp * t.mono) @ tp.mu_select.T * fp).sum(dim=1)
    X = Gp * F
    angular = torch.stack([(X * t.dmono[a]).sum(dim=1) for a in range(3)], dim=1)
    return _assemble(b, t.pair_i, t.pair_j, t.pair_system, t.vec,
                     t.unit * radial[:, None] + angular)


__all__ = ["PAIR_TABLE_MAX_BYTES", "PairTables", "basis_from_tables", "mtp_gradients",
           "pair_tables", "table_bytes"]
