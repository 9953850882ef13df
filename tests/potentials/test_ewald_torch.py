"""Torch Ewald path: equal to the numpy path and differentiable (checked by finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from superionic.potentials.ewald import (  # noqa: E402
    coulomb_energy_forces_stress,
    coulomb_matrix,
    coulomb_matrix_torch,
    ewald_parameters,
)
from superionic.potentials.ewald_torch import (  # noqa: E402
    coulomb_energy_forces_stress_torch,
    coulomb_energy_torch,
)

pytestmark = pytest.mark.usefixtures("single_thread")


CELL = np.array([[6.2, 0.4, -0.3], [1.3, 5.8, 0.5], [-0.7, 0.9, 6.9]])


def system(n=8, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 3)) @ CELL + rng.normal(scale=1.5, size=(n, 3))
    q = rng.normal(size=n)
    sigma = rng.uniform(0.7, 1.3, n)
    sigma[0] = 0.0  # one point charge among the Gaussians
    return pos, q, sigma


def t(x):
    return torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64)


@pytest.mark.parametrize("periodic", [True, False])
def test_torch_equals_numpy(periodic):
    pos, q, sigma = system()
    cell = CELL if periodic else None
    params = ewald_parameters(cell, len(q), sigma_max=sigma.max())
    a_np = coulomb_matrix(pos, cell, periodic, sigma, params)
    cell_t = None if cell is None else t(cell)
    a_t = coulomb_matrix_torch(t(pos), cell_t, periodic, t(sigma), params)
    np.testing.assert_allclose(a_t.numpy(), a_np, rtol=0, atol=1e-10 * np.abs(a_np).max())
    e, f, s = coulomb_energy_forces_stress(pos, cell, periodic, q, sigma, params)
    e_t, f_t, s_t = coulomb_energy_forces_stress_torch(
        t(pos), cell_t, periodic, t(q), t(sigma), params
    )
    assert float(e_t) == pytest.approx(e, rel=1e-10)
    np.testing.assert_allclose(f_t.numpy(), f, rtol=0, atol=1e-10 * np.abs(f).max())
    np.testing.assert_allclose(s_t.numpy(), s, rtol=0, atol=1e-10 * max(np.abs(s).max(), 1e-12))
    e_mat = 0.5 * t(q) @ a_t @ t(q)
    assert float(e_mat) == pytest.approx(e, rel=1e-10)


def test_gradients_by_finite_differences():
    """Autograd w.r.t. positions, cell, charges and Gaussian widths (torch.autograd.gradcheck)."""
    pos, q, sigma = system(4, seed=3)
    sigma[0] = 0.9
    params = ewald_parameters(CELL, 4, 1e-10, sigma_max=1.4)
    inputs = tuple(t(x).requires_grad_(True) for x in (pos, CELL, q, sigma))

    def energy(p, c, qq, s):
        return coulomb_energy_torch(p, c, True, qq, s, params)

    assert torch.autograd.gradcheck(energy, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)

    def matrix_row(p, c, qq, s):  # the matrix path, through a charge-weighted contraction
        return coulomb_matrix_torch(p, c, True, s, params) @ qq

    assert torch.autograd.gradcheck(matrix_row, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("periodic", [True, False])
def test_matrix_derivatives_equal_autograd_jacobian(periodic):
    """Closed-form dA/dR_i and dA/d eps equal the full autograd Jacobians of the matrix path,
    and the fixed-charge forces and stress they give equal the numpy Ewald kernel."""
    from superionic.potentials.ewald_torch import coulomb_matrix_derivatives_torch

    pos, q, sigma = system(6, seed=2)
    cell = CELL if periodic else None
    params = ewald_parameters(cell, len(q), sigma_max=sigma.max())
    cell_t = None if cell is None else t(cell)
    a, da_dr, da_deps = coulomb_matrix_derivatives_torch(t(pos), cell_t, periodic, t(sigma),
                                                         params)
    a_ref = coulomb_matrix_torch(t(pos), cell_t, periodic, t(sigma), params)
    scale = float(a_ref.abs().max())
    assert float((a - a_ref).abs().max()) < 1e-13 * scale

    def of_positions(p):
        return coulomb_matrix_torch(p, cell_t, periodic, t(sigma), params)

    def of_strain(e):
        strain = torch.eye(3, dtype=torch.float64) + e
        return coulomb_matrix_torch(t(pos) @ strain, None if cell is None else cell_t @ strain,
                                    periodic, t(sigma), params)

    jac = torch.autograd.functional.jacobian(of_positions, t(pos))  # (N, N, N, 3)
    n = len(q)
    own = torch.stack([jac[i, :, i, :] for i in range(n)])  # dA_ij / dR_i
    assert float((da_dr - own).abs().max()) < 1e-13 * float(own.abs().max())
    # A_ij depends on R_i and R_j only (diagonal: on neither)
    others = jac.clone()
    for i in range(n):
        others[i, :, i, :] = 0.0
        others[:, i, i, :] = 0.0
    assert float(others.abs().max()) == 0.0
    jac_eps = torch.autograd.functional.jacobian(of_strain, torch.zeros(3, 3,
                                                                        dtype=torch.float64))
    assert float((da_deps - jac_eps).abs().max()) < 1e-13 * float(jac_eps.abs().max())
    # forces -q_i sum_j q_j dA_ij/dR_i and virial 1/2 q^T dA/d eps q against the numpy kernel
    _, f, s = coulomb_energy_forces_stress(pos, cell, periodic, q, sigma, params)
    qt = t(q)
    f_dense = -(qt[:, None] * torch.einsum("j,ija->ia", qt, da_dr)).numpy()
    np.testing.assert_allclose(f_dense, f, rtol=0, atol=1e-10 * np.abs(f).max())
    if periodic:
        vol = abs(np.linalg.det(CELL))
        s_dense = 0.5 * torch.einsum("i,j,ijab->ab", qt, qt, da_deps).numpy() / vol
        np.testing.assert_allclose(s_dense, s, rtol=0, atol=1e-10 * np.abs(s).max())
