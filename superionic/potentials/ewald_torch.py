"""Torch (autograd, CPU or GPU) versions of the Gaussian-charge Ewald sums of ``ewald.py``.

Same physics and numbers as :mod:`superionic.potentials.ewald` (Ko et al., Nat. Commun. 12,
398 (2021), Eq. 4 with the Ewald split); differentiable with respect to positions, cell,
charges and Gaussian widths. The pair list and k-vector indices are found with numpy on the
detached geometry; distances and k-vectors are rebuilt in torch so gradients are exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from superionic.core.units import COULOMB_EV_A
from superionic.potentials.ewald import (
    EwaldParameters,
    _exponent,
    _setup,
    normalise_geometry,
    real_space_pairs,
)

__all__ = [
    "coulomb_matrix_torch",
    "coulomb_energy_torch",
    "coulomb_energy_forces_stress_torch",
]

_SQRT2 = math.sqrt(2.0)
_SQRTPI = math.sqrt(math.pi)


def _as_tensor(x: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(dtype=like.dtype, device=like.device)
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=like.dtype, device=like.device)


def _per_atom(x: Any, like: torch.Tensor, n: int) -> torch.Tensor:
    t = _as_tensor(0.0 if x is None else x, like)
    if t.ndim == 0:
        t = t.expand(n)
    return t


def _prepare(positions, cell, pbc, sigma, params):
    """Tensors, periodic flag, parameters and the pair list for one geometry."""
    pos = positions if isinstance(positions, torch.Tensor) else torch.as_tensor(
        np.asarray(positions, dtype=float), dtype=torch.float64
    )
    n = pos.shape[0]
    cell_np = None if cell is None else np.asarray(
        cell.detach().cpu().numpy() if isinstance(cell, torch.Tensor) else cell, dtype=float
    )
    pos_np, cell_np = normalise_geometry(pos.detach().cpu().numpy(), cell_np, pbc)
    periodic = cell_np is not None
    sig = _per_atom(sigma, pos, n)
    params, eta, r_cut = _setup(params, cell_np, n, sig.detach().cpu().numpy())
    ii, jj, shifts = real_space_pairs(pos_np, cell_np, r_cut)
    cell_t = _as_tensor(cell, pos) if periodic else None
    dev = pos.device
    pairs = (
        torch.as_tensor(ii, device=dev),
        torch.as_tensor(jj, device=dev),
        torch.as_tensor(shifts, dtype=pos.dtype, device=dev),
    )
    x2_max = _exponent(params.accuracy) if periodic else math.inf
    return pos, cell_t, cell_np, sig, params, eta, x2_max, pairs


def _pair_phi(pos, cell_t, sig, eta, x2_max, pairs):
    """``[erfc(r/(sqrt2 eta)) - erfc(r/(sqrt2 gamma))]/r`` per pair (no k_e), with i, j."""
    ii, jj, shifts = pairs
    d = pos[jj] - pos[ii]
    if cell_t is not None:
        d = d + shifts @ cell_t
    r = torch.linalg.norm(d, dim=1)
    g2 = sig[ii] ** 2 + sig[jj] ** 2
    point = g2 <= 0.0
    gamma = torch.sqrt(torch.where(point, torch.ones_like(g2), g2))
    x_g = r / (_SQRT2 * gamma)
    # same truncation of the Gaussian term as the numpy kernel (x^2 > p beyond the cutoff)
    drop = point | (x_g.detach() ** 2 >= x2_max)
    t_g = torch.where(drop, torch.zeros_like(r), torch.special.erfc(x_g))
    t_e = torch.ones_like(r) if math.isinf(eta) else torch.special.erfc(r / (_SQRT2 * eta))
    return (t_e - t_g) / r, ii, jj


def _diag_self(sig: torch.Tensor, eta: float) -> torch.Tensor:
    pos_sig = sig > 0.0
    safe = torch.where(pos_sig, sig, torch.ones_like(sig))
    d = torch.where(pos_sig, 1.0 / (_SQRTPI * safe), torch.zeros_like(sig))
    if not math.isinf(eta):
        d = d - 2.0 / (math.sqrt(2.0 * math.pi) * eta)
    return d


def _kvectors(params: EwaldParameters, cell_np, cell_t, eta):
    m = torch.as_tensor(params.kmesh_for(cell_np), dtype=cell_t.dtype, device=cell_t.device)
    k = m @ (2.0 * math.pi * torch.linalg.inv(cell_t).T)
    k2 = (k * k).sum(dim=1)
    volume = torch.abs(torch.linalg.det(cell_t))
    w = 8.0 * math.pi / volume * torch.exp(-0.5 * eta**2 * k2) / k2
    return k, w, volume


def _chunks(n_atoms: int, n_k: int, budget: int = 4_000_000):
    step = max(1, budget // max(n_atoms, 1))
    for start in range(0, n_k, step):
        yield slice(start, min(start + step, n_k))


def coulomb_matrix_torch(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: Any,
    sigma: torch.Tensor,
    params: EwaldParameters | None = None,
) -> torch.Tensor:
    """Coulomb matrix ``A`` (N, N) in eV/e^2 (torch), equal to :func:`ewald.coulomb_matrix`."""
    prepared = _prepare(positions, cell, pbc, sigma, params)
    pos, cell_t, cell_np, sig, params, eta, x2_max, pairs = prepared
    n = pos.shape[0]
    phi, ii, jj = _pair_phi(pos, cell_t, sig, eta, x2_max, pairs)
    a = torch.zeros(n * n, dtype=pos.dtype, device=pos.device).index_add(0, ii * n + jj, phi)
    a = a.reshape(n, n) + torch.diag(_diag_self(sig, eta))
    if cell_t is not None:
        k, w, volume = _kvectors(params, cell_np, cell_t, eta)
        for sl in _chunks(n, k.shape[0]):
            phase = pos @ k[sl].T
            c = torch.cos(phase)
            s = torch.sin(phase)
            a = a + (c * w[sl]) @ c.T + (s * w[sl]) @ s.T
        s2 = sig**2
        a = a + 2.0 * math.pi / volume * (s2[:, None] + s2[None, :] - eta**2)
    a = 0.5 * (a + a.T)
    return COULOMB_EV_A * a


def coulomb_energy_torch(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: Any,
    charges: torch.Tensor,
    sigma: torch.Tensor,
    params: EwaldParameters | None = None,
) -> torch.Tensor:
    """Electrostatic energy (eV, scalar tensor) in O(N_pairs + N N_k), differentiable."""
    prepared = _prepare(positions, cell, pbc, sigma, params)
    pos, cell_t, cell_np, sig, params, eta, x2_max, pairs = prepared
    n = pos.shape[0]
    q = _per_atom(charges, pos, n)
    phi, ii, jj = _pair_phi(pos, cell_t, sig, eta, x2_max, pairs)
    energy = 0.5 * (q[ii] * q[jj] * phi).sum() + 0.5 * (q * q * _diag_self(sig, eta)).sum()
    if cell_t is not None:
        k, w, volume = _kvectors(params, cell_np, cell_t, eta)
        for sl in _chunks(n, k.shape[0]):
            phase = pos @ k[sl].T
            s_re = q @ torch.cos(phase)
            s_im = q @ torch.sin(phase)
            energy = energy + 0.5 * (w[sl] * (s_re**2 + s_im**2)).sum()
        total = q.sum()
        energy = energy + math.pi / volume * (
            2.0 * total * (q * sig**2).sum() - eta**2 * total**2
        )
    return COULOMB_EV_A * energy


def coulomb_energy_forces_stress_torch(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: Any,
    charges: torch.Tensor,
    sigma: torch.Tensor,
    params: EwaldParameters | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Energy, forces ``-dE/dR`` and stress ``(1/V) dE/d epsilon`` (ASE sign) by autograd.

    Charges are held fixed (detached); the returned tensors are detached.
    """
    pos = positions.detach() if isinstance(positions, torch.Tensor) else torch.as_tensor(
        np.asarray(positions, dtype=float), dtype=torch.float64
    )
    q = _per_atom(charges, pos, pos.shape[0]).detach()
    sig = _per_atom(sigma, pos, pos.shape[0]).detach()
    periodic = cell is not None and bool(np.all(np.asarray(pbc if pbc is not None else False)))
    eps = torch.zeros(3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True)
    pos = pos.clone().requires_grad_(True)
    if periodic:
        cell_t = _as_tensor(cell, pos).detach()
        strain = torch.eye(3, dtype=pos.dtype, device=pos.device) + eps
        energy = coulomb_energy_torch(pos @ strain, cell_t @ strain, pbc, q, sig, params)
        d_pos, d_eps = torch.autograd.grad(energy, (pos, eps))
        volume = torch.abs(torch.linalg.det(cell_t))
        stress = 0.5 * (d_eps + d_eps.T) / volume
    else:
        energy = coulomb_energy_torch(pos, None, False, q, sig, params)
        (d_pos,) = torch.autograd.grad(energy, (pos,))
        stress = torch.zeros(3, 3, dtype=pos.dtype, device=pos.device)
    return energy.detach(), -d_pos, stress
