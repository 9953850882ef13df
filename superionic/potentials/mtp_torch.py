"""Torch engine of MTP (float64, autograd): batched basis values for many systems at once.

Evaluates the same contraction program as :mod:`superionic.potentials.mtp_numba`, vectorised over
all atoms of a batch of independent systems (pairs concatenated, per-atom sums by ``index_add``),
so gradients with respect to positions, strain and every parameter come from autograd
(Shapeev, Multiscale Model. Simul. 14, 1153 (2016)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from superionic.potentials.mtp_basis import ContractionProgram
from superionic.potentials.radial import chebyshev_radial_torch


@dataclass
class TorchProgram:
    """A :class:`ContractionProgram` as index tensors on one device."""

    program: ContractionProgram
    device: torch.device
    basic_mu: torch.Tensor
    pows: torch.Tensor
    ia: list[torch.Tensor]
    ib: list[torch.Tensor]
    ic: list[torch.Tensor]
    coeff: list[torch.Tensor]
    widths: list[int]
    basis_index: torch.Tensor
    #: one-hot (n_mu, n_basic) and (3, nu_max + 1, n_basic): column gathers as matrix products,
    #: exact and cheaper to differentiate (twice) than indexing
    mu_select: torch.Tensor
    pow_select: torch.Tensor

    @classmethod
    def build(cls, program: ContractionProgram, device: str | torch.device = "cpu"):
        dev = torch.device(device)

        def t(x, dtype=torch.long):
            return torch.as_tensor(x, dtype=dtype, device=dev)

        ia, ib, ic, co, widths = [], [], [], [], []
        db, vb = program.depth_bounds, program.value_bounds
        for d in range(len(db) - 1):
            sl = slice(int(db[d]), int(db[d + 1]))
            ia.append(t(program.ia[sl]))
            ib.append(t(program.ib[sl]))
            ic.append(t(program.ic[sl] - vb[d + 1]))
            co.append(t(program.coeff[sl], torch.float64))
            widths.append(int(vb[d + 2] - vb[d + 1]))
        n_basic = len(program.basic_mu)
        cols = np.arange(n_basic)
        mu_select = np.zeros((program.n_mu, n_basic))
        mu_select[program.basic_mu, cols] = 1.0
        pow_select = np.zeros((3, program.nu_max + 1, n_basic))
        for a in range(3):
            pow_select[a, program.basic_pows[:, a], cols] = 1.0
        return cls(program, dev, t(program.basic_mu), t(program.basic_pows), ia, ib, ic, co,
                   widths, t(program.basis_index), t(mu_select, torch.float64),
                   t(pow_select, torch.float64))


def monomials_torch(tp: TorchProgram, u: torch.Tensor) -> torch.Tensor:
    """Angular monomials x̂^a ŷ^b ẑ^c of every basic moment (P, n_basic) for unit vectors u."""
    powers = [torch.ones_like(u)]
    for _ in range(tp.program.nu_max):
        powers.append(powers[-1] * u)
    pw = torch.stack(powers, dim=2)  # (P, 3, nu_max+1)
    sel = tp.pow_select
    return (pw[:, 0] @ sel[0]) * (pw[:, 1] @ sel[1]) * (pw[:, 2] @ sel[2])


def contract_torch(tp: TorchProgram, basic: torch.Tensor) -> torch.Tensor:
    """Basis values (N, n_basis) from the basic moments (N, n_basic) by the contraction
    program (contractions of moment tensors, Shapeev 2016)."""
    values = basic
    n_atoms = basic.shape[0]
    for ia, ib, ic, co, width in zip(tp.ia, tp.ib, tp.ic, tp.coeff, tp.widths, strict=True):
        prod = co * values[:, ia] * values[:, ib]
        new = torch.zeros(n_atoms, width, dtype=values.dtype, device=values.device)
        values = torch.cat([values, new.index_add(1, ic, prod)], dim=1)
    return values[:, tp.basis_index]


def basis_torch(
    tp: TorchProgram,
    species: torch.Tensor,
    pair_i: torch.Tensor,
    pair_j: torch.Tensor,
    pair_vec: torch.Tensor,
    radial_coeffs: torch.Tensor,
    r_min: float,
    r_cut: float,
) -> torch.Tensor:
    """Basis values B (N, n_basis) for concatenated systems; r_ij = ``pair_vec`` (P, 3)."""
    n_atoms = species.shape[0]
    r = torch.linalg.norm(pair_vec, dim=1)
    u = pair_vec / r[:, None]
    Q = chebyshev_radial_torch(r, r_min, r_cut, radial_coeffs.shape[3])
    c = radial_coeffs[species[pair_i], species[pair_j]]  # (P, n_mu, n_beta)
    f = torch.einsum("pmb,pb->pm", c, Q)
    per_pair = (f @ tp.mu_select) * monomials_torch(tp, u)
    basic = torch.zeros(n_atoms, per_pair.shape[1], dtype=per_pair.dtype,
                        device=per_pair.device).index_add(0, pair_i, per_pair)
    return contract_torch(tp, basic)
