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
    "coulomb_matrix_derivatives_torch",
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


def _separations(pos, cell_t, pairs):
    """Pair separation vectors ``D = r_j - r_i + S . cell`` (P, 3)."""
    ii, jj, shifts = pairs
    d = pos[jj] - pos[ii]
    if cell_t is not None:
        d = d + shifts @ cell_t
    return d


def _pair_phi(pos, cell_t, sig, eta, x2_max, pairs):
    """``[erfc(r/(sqrt2 eta)) - erfc(r/(sqrt2 gamma))]/r`` per pair (no k_e), with i, j."""
    ii, jj, _ = pairs
    return _phi_of_separation(_separations(pos, cell_t, pairs), sig[ii], sig[jj], eta,
                              x2_max), ii, jj


def _phi_of_separation(d, sig_i, sig_j, eta, x2_max):
    """Screened pair kernel of :func:`_pair_phi` for separation vectors ``d`` (P, 3)."""
    r = torch.linalg.norm(d, dim=1)
    g2 = sig_i**2 + sig_j**2
    point = g2 <= 0.0
    gamma = torch.sqrt(torch.where(point, torch.ones_like(g2), g2))
    x_g = r / (_SQRT2 * gamma)
    # same truncation of the Gaussian term as the numpy kernel (x^2 > p beyond the cutoff)
    drop = point | (x_g.detach() ** 2 >= x2_max)
    t_g = torch.where(drop, torch.zeros_like(r), torch.special.erfc(x_g))
    t_e = torch.ones_like(r) if math.isinf(eta) else torch.special.erfc(r / (_SQRT2 * eta))
    return (t_e - t_g) / r


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


def coulomb_matrix_derivatives_torch(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: Any,
    sigma: torch.Tensor,
    params: EwaldParameters | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coulomb matrix ``A`` (N, N), ``dA_ij/dR_i`` (N, N, 3) and ``dA_ij/d eps_ab`` (N, N, 3, 3).

    Geometric derivatives of :func:`coulomb_matrix_torch` at one fixed geometry, in closed form
    (no graph is kept): under the homogeneous strain ``R -> R (I + eps)`` the separations obey
    ``dD_b/d eps_ab = D_a`` while ``k . r`` is invariant, so only the reciprocal weights
    ``w(k) = 8 pi exp(-eta^2 k^2 / 2) / (V k^2)`` and the background ``2 pi / V`` change
    (``dk^2/d eps_ab = -2 k_a k_b``, ``dV/d eps_ab = V delta_ab``). Off the diagonal ``A_ij``
    depends on ``R_i - R_j`` only and ``A_ii`` on the cell only, so for fixed charges
    ``-dE/dR_i = -q_i sum_j q_j dA_ij/dR_i`` and ``dE/d eps = 1/2 q^T (dA/d eps) q`` with
    ``E = 1/2 q^T A q``. Costs ``13 N^2`` numbers.
    """
    pos = positions.detach() if isinstance(positions, torch.Tensor) else positions
    cell = cell.detach() if isinstance(cell, torch.Tensor) else cell
    sig_in = sigma.detach() if isinstance(sigma, torch.Tensor) else sigma
    prepared = _prepare(pos, cell, pbc, sig_in, params)
    pos, cell_t, cell_np, sig, params, eta, x2_max, pairs = prepared
    n = pos.shape[0]
    ii, jj, _ = pairs
    with torch.enable_grad():  # per-pair derivative of the kernel, one small backward pass
        d = _separations(pos, cell_t, pairs).detach().requires_grad_(True)
        phi = _phi_of_separation(d, sig[ii], sig[jj], eta, x2_max)
        (g,) = torch.autograd.grad(phi.sum(), d)
    d, phi = d.detach(), phi.detach()
    flat = ii * n + jj
    zeros = torch.zeros(n * n, dtype=pos.dtype, device=pos.device)
    a = zeros.index_add(0, flat, phi).reshape(n, n)
    # pair p = (i, j, S) has D = R_j - R_i + S.cell: dphi_p/dR_i = -g_p, dphi_p/dR_j = +g_p
    gsum = torch.zeros(n * n, 3, dtype=pos.dtype, device=pos.device).index_add(0, flat, g)
    gsum = gsum.reshape(n, n, 3)
    grad = 0.5 * (gsum.transpose(0, 1) - gsum)
    vir = torch.zeros(n * n, 3, 3, dtype=pos.dtype, device=pos.device)
    vir = vir.index_add(0, flat, d[:, :, None] * g[:, None, :]).reshape(n, n, 3, 3)
    strain = 0.5 * (vir + vir.transpose(0, 1))
    a = 0.5 * (a + a.T) + torch.diag(_diag_self(sig, eta))
    if cell_t is not None:
        eye = torch.eye(3, dtype=pos.dtype, device=pos.device)
        k, w, volume = _kvectors(params, cell_np, cell_t, eta)
        k2 = (k * k).sum(dim=1)
        u = w * (eta**2 + 2.0 / k2)  # dw/d eps_ab = -w delta_ab + u k_a k_b
        kk = (k[:, :, None] * k[:, None, :]).reshape(-1, 9)
        for sl in _chunks(n, k.shape[0]):
            phase = pos @ k[sl].T
            c = torch.cos(phase)
            s = torch.sin(phase)
            a_rec = (c * w[sl]) @ c.T + (s * w[sl]) @ s.T
            # d/dR_i sum_k w cos(k.(R_i - R_j)) = sum_k w k (c_i s_j - s_i c_j)
            cw = c[:, :, None] * (w[sl, None] * k[sl])
            sw = s[:, :, None] * (w[sl, None] * k[sl])
            grad = grad + torch.einsum("ika,jk->ija", cw, s) - torch.einsum("ika,jk->ija", sw, c)
            cu = c[:, :, None] * (u[sl, None] * kk[sl])
            su = s[:, :, None] * (u[sl, None] * kk[sl])
            dk = torch.einsum("ikx,jk->ijx", cu, c) + torch.einsum("ikx,jk->ijx", su, s)
            strain = strain + dk.reshape(n, n, 3, 3) - a_rec[:, :, None, None] * eye
            a = a + a_rec
        s2 = sig**2
        background = 2.0 * math.pi / volume * (s2[:, None] + s2[None, :] - eta**2)
        a = a + background
        strain = strain - background[:, :, None, None] * eye
    return COULOMB_EV_A * a, COULOMB_EV_A * grad, COULOMB_EV_A * strain


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
