"""Ewald sums of Gaussian and point charges against published and analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from scipy.special import erf

from superionic.core.errors import InputError
from superionic.core.units import COULOMB_EV_A as KE
from superionic.potentials.ewald import (
    CoulombOperator,
    coulomb_energy,
    coulomb_energy_forces_stress,
    coulomb_matrix,
    coulomb_potential,
    ewald_parameters,
    real_space_pairs,
)

# a triclinic cell with random Gaussian charges, shared by several tests
TRICLINIC = np.array([[6.2, 0.4, -0.3], [1.3, 5.8, 0.5], [-0.7, 0.9, 6.9]])


def random_system(n: int = 10, seed: int = 0, neutral: bool = True):
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 3)) @ TRICLINIC + rng.normal(scale=2.0, size=(n, 3))  # some outside
    q = rng.normal(size=n)
    if neutral:
        q -= q.mean()
    sigma = rng.uniform(0.7, 1.3, n)
    return pos, q, sigma


def madelung(atoms, charges, r0: float, zz: float, n_formula: int) -> float:
    """``M = -E r0 / (k_e z+ z- N_f)`` for point charges."""
    e = coulomb_energy(atoms.positions, atoms.cell.array, True, charges, 0.0)
    return -e * r0 / (KE * zz * n_formula)


# Madelung constants referred to the shortest cation-anion distance r0, E = -M z+ z- e^2 / r0 per
# formula unit (Johnson & Templeton, J. Chem. Phys. 34, 2004 (1962); Kittel, Introduction to Solid
# State Physics, ch. 3). For fluorite z+ z- = 2 x 1 gives M = 2.519392 (5.038784 per r0 for e^2).
@pytest.mark.parametrize("cubic", [True, False])
def test_madelung_nacl(cubic):
    """Conventional cube and the 2-atom primitive cell (60 degree rhombohedron)."""
    a = 5.64
    atoms = bulk("NaCl", "rocksalt", a=a, cubic=cubic)
    q = np.where(atoms.numbers == 11, 1.0, -1.0)
    n_formula = len(atoms) // 2
    assert madelung(atoms, q, a / 2, 1.0, n_formula) == pytest.approx(1.747564594633, abs=1e-6)


def test_madelung_cscl():
    a = 4.12
    atoms = bulk("CsCl", "cesiumchloride", a=a)
    q = np.where(atoms.numbers == 55, 1.0, -1.0)
    r0 = math.sqrt(3.0) * a / 2
    assert madelung(atoms, q, r0, 1.0, 1) == pytest.approx(1.762674773070, abs=1e-6)


def test_madelung_fluorite():
    a = 5.46
    atoms = bulk("CaF2", "fluorite", a=a, cubic=True)
    q = np.where(atoms.numbers == 20, 2.0, -1.0)
    r0 = math.sqrt(3.0) * a / 4
    assert madelung(atoms, q, r0, 2.0, 4) == pytest.approx(2.519392, abs=1e-6)


def test_wigner_lattice_with_background():
    """One point charge in a cubic box with a neutralising background: E = k_e q^2 xi / (2L),
    xi = -2.837297479 (Nijboer & De Wette, Physica 23, 309 (1957); Hummer et al.,
    J. Phys. Chem. A 102, 7885 (1998))."""
    length = 7.0
    e = coulomb_energy(np.zeros((1, 3)), np.eye(3) * length, True, [1.0], 0.0)
    assert e == pytest.approx(-KE * 2.837297479 / (2 * length), rel=1e-8)


@pytest.mark.parametrize("neutral", [True, False])
def test_gaussian_ewald_equals_reciprocal_sum(neutral):
    """Wide Gaussians: the full energy is (2pi/V) sum_{k!=0} |rho(k)|^2/k^2 with
    rho(k) = sum_i q_i exp(-sigma_i^2 k^2/2 + i k.r_i) (background = k=0 term removed)."""
    pos, q, _ = random_system(6, seed=3, neutral=neutral)
    sigma = np.random.default_rng(4).uniform(1.0, 1.5, 6)
    e = coulomb_energy(pos, TRICLINIC, True, q, sigma)
    recip = 2 * np.pi * np.linalg.inv(TRICLINIC).T
    g = np.arange(-14, 15)
    m = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    k = m[np.any(m != 0, axis=1)] @ recip
    k2 = np.einsum("ij,ij->i", k, k)
    k, k2 = k[k2 < 49.0], k2[k2 < 49.0]  # exp(-k^2) < 1e-21 beyond
    rho = (q * np.exp(-0.5 * np.outer(k2, sigma**2) + 1j * k @ pos.T)).sum(axis=1)
    e_ref = KE * 2 * np.pi / abs(np.linalg.det(TRICLINIC)) * np.sum(np.abs(rho) ** 2 / k2)
    assert e == pytest.approx(e_ref, rel=1e-8)


def test_two_isolated_gaussians():
    r, s1, s2 = 2.3, 0.8, 1.1
    pos = np.array([[0.0, 0.0, 0.0], [r * 0.6, r * 0.8, 0.0]])
    q = np.array([0.7, -1.2])
    gamma = math.hypot(s1, s2)
    self_e = KE * (q[0] ** 2 / s1 + q[1] ** 2 / s2) / (2 * math.sqrt(math.pi))
    pair = KE * q[0] * q[1] * erf(r / (math.sqrt(2) * gamma)) / r
    e, f, s = coulomb_energy_forces_stress(pos, None, False, q, [s1, s2])
    assert e == pytest.approx(pair + self_e, rel=1e-13)
    a = coulomb_matrix(pos, None, False, [s1, s2])
    assert a[0, 1] == pytest.approx(KE * erf(r / (math.sqrt(2) * gamma)) / r, rel=1e-13)
    assert a[0, 0] == pytest.approx(KE / (math.sqrt(math.pi) * s1), rel=1e-13)
    # analytic force on atom 2 along the bond: -d/dr [k_e q1 q2 erf(r/(sqrt2 gamma))/r]
    x = r / (math.sqrt(2) * gamma)
    dpair = KE * q[0] * q[1] * (
        2 / math.sqrt(math.pi) * math.exp(-x * x) / (math.sqrt(2) * gamma * r) - erf(x) / r**2
    )
    unit = pos[1] / r
    np.testing.assert_allclose(f[1], -dpair * unit, rtol=1e-12)
    np.testing.assert_allclose(f[0], dpair * unit, rtol=1e-12)
    assert np.all(s == 0.0)


def test_energy_is_half_qAq():
    pos, q, sigma = random_system(9, seed=5, neutral=False)
    for cell, pbc in ((TRICLINIC, True), (None, False)):
        a = coulomb_matrix(pos, cell, pbc, sigma)
        e = coulomb_energy(pos, cell, pbc, q, sigma)
        np.testing.assert_allclose(a, a.T, rtol=0, atol=1e-12)
        assert 0.5 * q @ a @ q == pytest.approx(e, rel=1e-12)


@pytest.mark.parametrize("periodic", [True, False])
def test_matrix_free_potential_and_operator(periodic):
    """A q from the potential path and the sparse operator equal the dense matrix product."""
    pos, q, sigma = random_system(9, seed=6, neutral=False)
    cell = TRICLINIC if periodic else None
    a = coulomb_matrix(pos, cell, periodic, sigma)
    scale = np.abs(a @ q).max()
    np.testing.assert_allclose(coulomb_potential(pos, cell, periodic, q, sigma), a @ q,
                               rtol=0, atol=1e-12 * scale)
    for max_bytes in (2**30, 0):  # stored and recomputed structure factors
        op = CoulombOperator(pos, cell, periodic, sigma, max_bytes=max_bytes)
        np.testing.assert_allclose(op @ q, a @ q, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(op.diagonal(), np.diag(a), rtol=1e-12)


@pytest.mark.parametrize("neutral", [True, False])
def test_invariance_to_eta(neutral):
    pos, q, sigma = random_system(10, seed=1, neutral=neutral)
    results = []
    for eta in (1.1, 1.7, 2.5):
        params = ewald_parameters(TRICLINIC, len(q), 1e-8, sigma_max=sigma.max(), eta=eta)
        results.append(coulomb_energy_forces_stress(pos, TRICLINIC, True, q, sigma, params))
    e0, f0, s0 = results[0]
    for e, f, s in results[1:]:
        assert abs(e - e0) <= 1e-8 * abs(e0)
        assert np.abs(f - f0).max() <= 1e-8 * np.abs(f0).max()
        assert np.abs(s - s0).max() <= 1e-8 * np.abs(s0).max()


def finite_difference(energy, pos, cell, h=1e-5):
    """Central differences: -dE/dR (N, 3) and (1/V) dE/d eps (3, 3) at x -> x (1 + eps)."""
    forces = np.zeros_like(pos)
    for i in range(pos.shape[0]):
        for a in range(3):
            p1, p2 = pos.copy(), pos.copy()
            p1[i, a] += h
            p2[i, a] -= h
            forces[i, a] = -(energy(p1, cell) - energy(p2, cell)) / (2 * h)
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            x1, x2 = np.eye(3), np.eye(3)
            x1[a, b] += h
            x2[a, b] -= h
            stress[a, b] = energy(pos @ x1, cell @ x1) - energy(pos @ x2, cell @ x2)
    stress /= 2 * h * abs(np.linalg.det(cell))
    return forces, 0.5 * (stress + stress.T)


@pytest.mark.parametrize("neutral", [True, False])
def test_forces_and_stress_are_derivatives(neutral):
    pos, q, sigma = random_system(8, seed=2, neutral=neutral)
    params = ewald_parameters(TRICLINIC, len(q), 1e-10, sigma_max=sigma.max())
    e, f, s = coulomb_energy_forces_stress(pos, TRICLINIC, True, q, sigma, params)
    f_fd, s_fd = finite_difference(
        lambda p, c: coulomb_energy(p, c, True, q, sigma, params), pos, TRICLINIC
    )
    assert np.abs(f - f_fd).max() < 1e-7 * np.abs(f).max() + 1e-9
    assert np.abs(s - s_fd).max() < 1e-7 * np.abs(s).max() + 1e-11
    assert np.abs(f.sum(axis=0)).max() < 1e-10  # Newton's third law


def test_isolated_forces_are_derivatives():
    pos, q, sigma = random_system(6, seed=7)
    _, f, _ = coulomb_energy_forces_stress(pos, None, False, q, sigma)
    f_fd, _ = finite_difference(
        lambda p, c: coulomb_energy(p, None, False, q, sigma), pos, np.eye(3)
    )
    np.testing.assert_allclose(f, f_fd, atol=1e-7 * np.abs(f).max())


def test_translation_and_wrapping_invariance():
    pos, q, sigma = random_system(7, seed=8)
    e, f, s = coulomb_energy_forces_stress(pos, TRICLINIC, True, q, sigma)
    shifted = pos + np.array([2, -1, 3]) @ TRICLINIC + 0.37
    e2, f2, s2 = coulomb_energy_forces_stress(shifted, TRICLINIC, True, q, sigma)
    assert e2 == pytest.approx(e, rel=1e-10)
    np.testing.assert_allclose(f2, f, atol=1e-9 * np.abs(f).max())
    np.testing.assert_allclose(s2, s, atol=1e-9 * np.abs(s).max())


def test_pair_list_against_brute_force():
    pos, _, _ = random_system(5, seed=9)
    r_cut = 9.0
    ii, jj, shifts = real_space_pairs(pos, TRICLINIC, r_cut)
    found = {(i, j, tuple(s)) for i, j, s in zip(ii, jj, shifts, strict=True)}
    ref = set()
    rng = range(-4, 5)
    for i in range(5):
        for j in range(5):
            for s in ((a, b, c) for a in rng for b in rng for c in rng):
                if i == j and s == (0, 0, 0):
                    continue
                d = pos[j] - pos[i] + np.array(s) @ TRICLINIC
                if d @ d < r_cut**2:
                    ref.add((i, j, s))
    assert found == ref


def test_bad_input_is_named():
    pos, q, sigma = random_system(4)
    with pytest.raises(InputError, match="pbc"):
        coulomb_matrix(pos, TRICLINIC, [True, True, False], sigma)
    with pytest.raises(InputError, match="charges"):
        coulomb_energy(pos, TRICLINIC, True, q[:3], sigma)
    with pytest.raises(InputError, match="sigma"):
        coulomb_matrix(pos, TRICLINIC, True, -sigma)
    with pytest.raises(InputError, match="cell"):
        coulomb_matrix(pos, np.zeros((3, 3)), True, sigma)
