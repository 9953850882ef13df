"""Charge equilibration: constraint, minimum, a hand-solved dimer and the torch path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse.linalg
from scipy.special import erf

from superionic.core.units import COULOMB_EV_A as KE
from superionic.potentials.ewald import CoulombOperator, coulomb_matrix
from superionic.potentials.qeq import qeq_energy, solve_qeq

CELL = np.array([[8.1, 0.3, -0.2], [0.9, 7.6, 0.4], [-0.5, 0.7, 8.8]])


def random_problem(n=16, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 3)) @ CELL
    sigma = rng.uniform(0.8, 1.3, n)
    a = coulomb_matrix(pos, CELL, True, sigma)
    chi = rng.normal(scale=2.0, size=n)
    hardness = rng.uniform(4.0, 9.0, n)
    return chi, hardness, a


@pytest.mark.parametrize("method", ["cholesky", "lu", "cg"])
@pytest.mark.parametrize("total", [0.0, 1.5])
def test_charge_conserved_and_stationary(method, total):
    chi, hardness, a = random_problem()
    q, mu = solve_qeq(chi, hardness, a, total, method=method)
    assert abs(q.sum() - total) < 1e-12
    # stationarity: dE_qeq/dq_i = chi_i + J_i q_i + (A q)_i = mu for every atom
    np.testing.assert_allclose(chi + hardness * q + a @ q, mu, rtol=0, atol=1e-9)


def test_solution_is_the_constrained_minimum():
    chi, hardness, a = random_problem(seed=1)
    q, _ = solve_qeq(chi, hardness, a, 0.0)
    e0 = qeq_energy(q, chi, hardness, a)
    rng = np.random.default_rng(2)
    for _ in range(20):
        d = rng.normal(size=q.size)
        d -= d.mean()  # keeps sum(q) fixed
        d *= 1e-3 / np.linalg.norm(d)
        rise = qeq_energy(q + d, chi, hardness, a) - e0
        assert rise > 0.0
        # exactly quadratic: the rise is 1/2 d^T (A + J) d (no linear term at the minimum)
        assert rise == pytest.approx(0.5 * d @ (a + np.diag(hardness)) @ d, rel=1e-5)


def test_dimer_by_hand():
    """Two isolated Gaussians, Q = 0: q1 = -q2 = -(chi1 - chi2) / (J1 + J2 + a11 + a22 - 2 a12)."""
    r, s1, s2 = 2.4, 0.9, 1.2
    chi = np.array([-1.0, 3.0])
    hardness = np.array([6.0, 8.0])
    a11 = KE / (math.sqrt(math.pi) * s1)
    a22 = KE / (math.sqrt(math.pi) * s2)
    a12 = KE * erf(r / (math.sqrt(2.0) * math.hypot(s1, s2))) / r
    q1 = -(chi[0] - chi[1]) / (hardness.sum() + a11 + a22 - 2.0 * a12)
    mu = chi[0] + (hardness[0] + a11) * q1 - a12 * q1
    a = coulomb_matrix([[0.0, 0.0, 0.0], [0.0, 0.0, r]], None, False, [s1, s2])
    q, mu_solved = solve_qeq(chi, hardness, a, 0.0)
    np.testing.assert_allclose(q, [q1, -q1], rtol=1e-12)
    assert mu_solved == pytest.approx(mu, rel=1e-12)
    # charge flows from the low-electronegativity atom to the high one
    assert q[0] > 0.0 > q[1]


def test_electronegativity_orders_charges_in_rocksalt():
    from ase.build import bulk

    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    is_na = atoms.numbers == 11
    a = coulomb_matrix(atoms.positions, atoms.cell.array, True, np.where(is_na, 1.0, 1.3))
    chi = np.where(is_na, -2.0, 4.0)
    q, _ = solve_qeq(chi, np.where(is_na, 6.0, 8.0), a, 0.0)
    assert np.all(q[is_na] > 0.0) and np.all(q[~is_na] < 0.0)
    np.testing.assert_allclose(q[is_na], q[is_na][0], rtol=1e-10)  # symmetry-equivalent sites


def test_cg_on_linear_operator_matches_dense():
    chi, hardness, a = random_problem(seed=3)
    op = scipy.sparse.linalg.aslinearoperator(a)
    q_dense, mu_dense = solve_qeq(chi, hardness, a, -0.5)
    q_cg, mu_cg = solve_qeq(chi, hardness, op, -0.5)
    np.testing.assert_allclose(q_cg, q_dense, atol=1e-9)
    assert mu_cg == pytest.approx(mu_dense, abs=1e-9)


def test_cg_with_matrix_free_coulomb_operator():
    rng = np.random.default_rng(5)
    n = 40
    pos = rng.random((n, 3)) @ CELL
    sigma = rng.uniform(0.8, 1.3, n)
    chi, hardness = rng.normal(scale=2.0, size=n), rng.uniform(4.0, 9.0, n)
    q_dense, mu_dense = solve_qeq(chi, hardness, coulomb_matrix(pos, CELL, True, sigma), 0.2)
    q_cg, mu_cg = solve_qeq(chi, hardness, CoulombOperator(pos, CELL, True, sigma), 0.2)
    assert abs(q_cg.sum() - 0.2) < 1e-12
    np.testing.assert_allclose(q_cg, q_dense, atol=1e-9)
    assert mu_cg == pytest.approx(mu_dense, abs=1e-9)


def test_torch_solve_and_envelope_gradients():
    """torch == numpy; by the envelope theorem dE*/dchi_i = q_i, dE*/dJ_i = q_i^2/2, dE*/dQ = mu."""
    torch = pytest.importorskip("torch")
    from superionic.potentials.qeq import qeq_energy_torch, solve_qeq_torch

    chi, hardness, a = random_problem(seed=4)
    q_np, mu_np = solve_qeq(chi, hardness, a, 0.7)
    chi_t = torch.tensor(chi, requires_grad=True)
    total = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    a_t, j_t = torch.tensor(a), torch.tensor(hardness, requires_grad=True)
    q_t, mu_t = solve_qeq_torch(chi_t, j_t, a_t, total)
    np.testing.assert_allclose(q_t.detach().numpy(), q_np, atol=1e-12)
    assert float(mu_t.detach()) == pytest.approx(mu_np, abs=1e-10)
    energy = qeq_energy_torch(q_t, chi_t, j_t, a_t)
    g_chi, g_hard, g_total = torch.autograd.grad(energy, (chi_t, j_t, total))
    np.testing.assert_allclose(g_chi.numpy(), q_np, atol=1e-10)
    np.testing.assert_allclose(g_hard.numpy(), 0.5 * q_np**2, atol=1e-10)
    assert float(g_total) == pytest.approx(mu_np, abs=1e-9)
