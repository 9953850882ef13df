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
from torch.autograd.function import once_differentiable

from superionic.potentials import contraction_kernels, pair_kernels
from superionic.potentials.mtp_torch import TorchProgram, contract_torch, monomials_torch
from superionic.potentials.qmtp import QMTP
from superionic.potentials.radial import chebyshev_radial_torch

#: Most memory (bytes) the tables of one batch may take; larger batches keep autograd forces.
PAIR_TABLE_MAX_BYTES: int = 2 * 1024**3
#: On the CPU the products run in numba kernels (:mod:`.pair_kernels`,
#: :mod:`.contraction_kernels`); elsewhere, or when False, as torch operations with autograd.
CPU_KERNELS: bool = True


@dataclass
class PairTables:
    """Parameter-free per-pair quantities of one batch geometry and one model layout."""

    key: tuple
    positions: torch.Tensor
    cells: torch.Tensor
    #: pairs sorted by centre atom (every per-pair table below is in this order); atom i's
    #: pairs are pair_start[i]:pair_start[i + 1] (numpy, for the CPU kernels)
    pair_i: torch.Tensor
    pair_j: torch.Tensor
    pair_system: torch.Tensor
    pair_start: np.ndarray
    #: the radial tables Q, dQ are in species-pair order, ``groups`` its runs (species-pair
    #: index, start, stop); ``from_species`` maps that order back to the atom order
    from_species: torch.Tensor
    groups: list[tuple[int, int, int]]
    Q: torch.Tensor  # (P, n_beta)
    dQ: torch.Tensor  # (P, n_beta)
    vec: torch.Tensor  # (P, 3)
    unit: torch.Tensor  # (P, 3)
    mono: torch.Tensor  # (P, K)
    dmono: torch.Tensor  # (P, 3, K): ∂m_κ/∂r_a
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

    order = torch.argsort(b.pair_i, stable=True)
    pair_i, pair_j, pair_system = b.pair_i[order], b.pair_j[order], b.pair_system[order]
    counts = torch.bincount(pair_i, minlength=b.positions.shape[0]).cpu().numpy()
    pair_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_sp = len(model.species)
    species_pair = b.species[pair_i] * n_sp + b.species[pair_j]
    by_species = torch.argsort(species_pair, stable=True)
    from_species = torch.empty_like(by_species)
    from_species[by_species] = torch.arange(by_species.numel(), device=by_species.device)
    runs, run_counts = torch.unique_consecutive(species_pair[by_species], return_counts=True)
    stops = torch.cumsum(run_counts, 0).tolist()
    groups = [(int(g), stop - int(n), stop)
              for g, n, stop in zip(runs.tolist(), run_counts.tolist(), stops, strict=True)]
    with torch.no_grad():
        vec = QMTPTorch.pair_vectors(b, b.positions, b.cells)[order]
    r = torch.linalg.norm(vec, dim=1)
    unit = vec / r[:, None]
    ones = torch.ones_like(r)
    Q, dQ = torch.func.jvp(
        lambda x: chebyshev_radial_torch(x, model.r_min, model.r_cut, model.n_beta),
        (r[by_species],), (ones,))

    def mono_of(v):
        return monomials_torch(tp, v / torch.linalg.norm(v, dim=1)[:, None])

    mono = mono_of(vec)
    axes = []
    for a in range(3):
        e = torch.zeros_like(vec)
        e[:, a] = 1.0
        axes.append(torch.func.jvp(mono_of, (vec,), (e,))[1])
    dmono = torch.stack(axes, dim=1).contiguous()
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
    return PairTables(key, b.positions.clone(), b.cells.clone(), pair_i, pair_j, pair_system,
                      pair_start, from_species, groups, Q, dQ, vec, unit, mono,
                      dmono, rep_energy, rep_g_pos, rep_g_eps)


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


def _parallel() -> bool:
    return torch.get_num_threads() > 1


class _Moments(torch.autograd.Function):
    """M_iκ = Σ_p∋i f_pμ(κ) m_pκ by the CPU kernel."""

    @staticmethod
    def forward(ctx, f, t, mu):
        ctx.t, ctx.mu, ctx.n_mu = t, mu, f.shape[1]
        return torch.from_numpy(pair_kernels.moments(
            f.detach().numpy(), t.mono.numpy(), mu, t.pair_start, t.pair_start.size - 1,
            _parallel()))

    @staticmethod
    @once_differentiable
    def backward(ctx, gM):
        t = ctx.t
        return torch.from_numpy(pair_kernels.moments_vjp(
            gM.contiguous().numpy(), t.mono.numpy(), ctx.mu, t.pair_start, ctx.n_mu,
            _parallel())), None, None


class _Derivative(torch.autograd.Function):
    """Pair derivatives ∂E/∂r_p from G = ∂E/∂M, f and f' by the CPU kernel."""

    @staticmethod
    def forward(ctx, G, f, fp, t, mu):
        G, f, fp = (x.detach().contiguous() for x in (G, f, fp))
        ctx.save_for_backward(G, f, fp)
        ctx.t, ctx.mu = t, mu
        return torch.from_numpy(pair_kernels.derivative(
            G.numpy(), f.numpy(), fp.numpy(), t.mono.numpy(), t.dmono.numpy(), t.unit.numpy(),
            mu, t.pair_start, _parallel()))

    @staticmethod
    @once_differentiable
    def backward(ctx, lam):
        G, f, fp = ctx.saved_tensors
        t = ctx.t
        gG, gf, gfp = pair_kernels.derivative_vjp(
            lam.contiguous().numpy(), G.numpy(), f.numpy(), fp.numpy(), t.mono.numpy(),
            t.dmono.numpy(), t.unit.numpy(), ctx.mu, t.pair_start, _parallel())
        return torch.from_numpy(gG), torch.from_numpy(gf), torch.from_numpy(gfp), None, None


class _Contract(torch.autograd.Function):
    """B = contraction(M) at precomputed values V; backward by the reverse sweep."""

    @staticmethod
    def forward(ctx, M, V, program):
        ctx.V, ctx.program = V, program
        return torch.from_numpy(np.ascontiguousarray(V[:, program.basis_index]))

    @staticmethod
    @once_differentiable
    def backward(ctx, gB):
        return torch.from_numpy(contraction_kernels.reverse(
            ctx.program, ctx.V, gB.contiguous().numpy(), _parallel())), None, None


class _ContractAdjoint(torch.autograd.Function):
    """G = ∂(s·B)/∂M; backward by forward-over-reverse sweeps (gradients for M and s)."""

    @staticmethod
    def forward(ctx, M, seed, V, program):
        seed = seed.detach().contiguous()
        ctx.save_for_backward(seed)
        ctx.V, ctx.program = V, program
        return torch.from_numpy(contraction_kernels.reverse(program, V, seed.numpy(),
                                                            _parallel()))

    @staticmethod
    @once_differentiable
    def backward(ctx, gG):
        (seed,) = ctx.saved_tensors
        gM, gseed = contraction_kernels.reverse_tangent(
            ctx.program, ctx.V, seed.numpy(), gG.contiguous().numpy(), _parallel())
        return torch.from_numpy(gM), torch.from_numpy(gseed), None, None


@dataclass
class TableState:
    """What one evaluation on the tables keeps for its forces: basic moments M (N, K), the
    pairs' radial functions f and f' (P, n_mu) and, on the CPU, all program values V."""

    M: torch.Tensor
    f: torch.Tensor
    fp: torch.Tensor
    V: np.ndarray | None


def basis_from_tables(t: PairTables, tp: TorchProgram, radial_coeffs: torch.Tensor
                      ) -> tuple[torch.Tensor, TableState]:
    """Basis values (N, n_basis) for the current radial coefficients (the radial functions by
    one small matrix product per species pair) and the state :func:`mtp_gradients` needs."""
    c = radial_coeffs.reshape(-1, *radial_coeffs.shape[2:])  # (S², n_mu, n_beta)

    def radial(table: torch.Tensor) -> torch.Tensor:
        if not t.groups:  # no pair within the cutoff
            return table.new_zeros((0, c.shape[1])) + 0.0 * c.sum()
        return torch.cat([table[lo:hi] @ c[g].T for g, lo, hi in t.groups])[t.from_species]

    f, fp = radial(t.Q), radial(t.dQ)
    n_atoms = t.pair_start.size - 1
    if CPU_KERNELS and f.device.type == "cpu":
        M = _Moments.apply(f, t, tp.program.basic_mu)
        V = contraction_kernels.values(tp.program, M.detach().numpy(), _parallel())
        return _Contract.apply(M, V, tp.program), TableState(M, f, fp, V)
    M = torch.zeros(n_atoms, t.mono.shape[1], dtype=f.dtype, device=f.device).index_add(
        0, t.pair_i, (f @ tp.mu_select) * t.mono)
    if not M.requires_grad:  # parameters frozen: G = ∂E/∂M still needs a graph from M
        M = M.detach().requires_grad_(True)
    return contract_torch(tp, M), TableState(M, f, fp, None)


def mtp_gradients(t: PairTables, tp: TorchProgram, b, state: TableState, B: torch.Tensor,
                  cot: torch.Tensor, create_graph: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """∂E/∂R (N, 3) and ∂E/∂ε (S, 3, 3) of the MTP part for ∂E/∂B = ``cot`` (N, n_basis);
    ``create_graph`` keeps them differentiable with respect to the parameters."""
    f, fp = state.f, state.fp
    if state.V is not None:
        with torch.set_grad_enabled(create_graph and torch.is_grad_enabled()):
            G = _ContractAdjoint.apply(state.M, cot, state.V, tp.program)
            d = _Derivative.apply(G, f, fp, t, tp.program.basic_mu)
    else:
        (G,) = torch.autograd.grad(B, state.M, grad_outputs=cot, create_graph=create_graph)
        Gp = G[t.pair_i]
        radial = (Gp * t.mono * (fp @ tp.mu_select)).sum(dim=1)
        X = Gp * (f @ tp.mu_select)
        d = t.unit * radial[:, None] + (t.dmono * X[:, None, :]).sum(dim=2)
    return _assemble(b, t.pair_i, t.pair_j, t.pair_system, t.vec, d)


__all__ = ["CPU_KERNELS", "PAIR_TABLE_MAX_BYTES", "PairTables", "TableState",
           "basis_from_tables", "mtp_gradients", "pair_tables", "table_bytes"]
