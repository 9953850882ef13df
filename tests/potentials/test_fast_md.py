"""Fast MD path of QMTP (Verlet lists, MD-accuracy Ewald, warm-started CG QEq) against the
dense reference path, finite differences of its own energy and NVE energy conservation."""

import numpy as np
import pytest
from ase import units
from ase.calculators.lj import LennardJones
from ase.calculators.mixing import SumCalculator
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from ase.neighborlist import neighbor_list
from fdiff import fd_force, fd_stress_component

from superionic.materials.reading import prepare_cell
from superionic.potentials import ewald, ewald_md, mtp_numba
from superionic.potentials.calculator import QMTPCalculator
from superionic.potentials.ewald_md import VerletList
from superionic.potentials.md_state import MDState
from superionic.potentials.qmtp import QMTP


def li3ps4(seed=0, strain=0.04, rattle=0.05):
    """32-atom beta-Li3PS4 cell, sheared to triclinic and rattled."""
    atoms, _ = prepare_cell("beta-Li3PS4", min_distance_A=3)
    rng = np.random.default_rng(seed)
    eps = np.eye(3) + rng.uniform(-strain, strain, size=(3, 3))
    atoms.set_cell(atoms.cell.array @ eps, scale_atoms=True)
    atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
    return atoms


def smooth_model(atoms, level=10, seed=0):
    """Random charged QMTP with basis weights scaled to the size of each basis function on
    ``atoms``: energies of ~0.1 eV/atom and electronegativities spread by ~0.5 eV."""
    m = QMTP.random(["Li", "P", "S"], level=level, seed=seed, charges=True, r_cut=5.0)
    scale = 1.0 / (np.abs(m.basis(atoms)).mean(axis=0) + 1e-8)
    rng = np.random.default_rng(seed + 1)
    m.xi_ = 0.05 * rng.normal(size=m.n_basis) * scale / np.sqrt(m.n_basis)
    m.w_chi_ = 0.5 * rng.normal(size=m.w_chi_.shape) * scale / np.sqrt(m.n_basis)
    m.sigma_ = np.array([0.9, 1.1, 1.2])
    m.hardness_ = np.array([8.0, 9.0, 7.0])
    return m


@pytest.fixture(scope="module")
def system():
    atoms = li3ps4()
    return atoms, smooth_model(atoms)


def test_fast_path_equals_reference(system):
    atoms, m = system
    ref = m.compute(atoms)
    fast = m.compute(atoms, md=MDState())
    assert abs(fast["energy"] - ref["energy"]) < 1e-5
    assert np.abs(fast["forces"] - ref["forces"]).max() < 1e-5
    assert np.abs(fast["stress"] - ref["stress"]).max() < 1e-7
    assert np.abs(fast["charges"] - ref["charges"]).max() < 1e-6
    assert abs(fast["charges"].sum()) < 1e-12
    # the CG charges equalise the electronegativity dE/dq_i of the dense reference operator
    sp = m.species_index(atoms)
    sigma = m.sigma_[sp]
    A = ewald.coulomb_matrix(atoms.positions, atoms.cell.array, True, sigma)
    chi = m.chi0_[sp] + np.einsum("ia,ia->i", m.w_chi_[sp], fast["basis"])
    grad = A @ fast["charges"] + m.hardness_[sp] * fast["charges"] + chi
    assert np.ptp(grad) < 1e-4


def test_uncharged_fast_path_equals_reference_to_rounding(system):
    """Without charges the fast path changes only the neighbour search and the kernels'
    threading, never the sums: results agree to rounding, and after atoms moved."""
    atoms, m = system
    m0 = m.copy()
    m0.charges = False
    md = MDState()
    a = atoms.copy()
    rng = np.random.default_rng(2)
    for _ in range(3):
        a.positions += rng.normal(scale=0.2, size=a.positions.shape)
        ref, fast = m0.compute(a), m0.compute(a, md=md)
        assert fast["energy"] == pytest.approx(ref["energy"], abs=1e-10)
        assert np.abs(fast["forces"] - ref["forces"]).max() < 1e-10
        assert np.abs(fast["stress"] - ref["stress"]).max() < 1e-12


def test_electrostatics_operator_equals_dense_matrix(system):
    atoms, m = system
    sigma = m.sigma_[m.species_index(atoms)]
    q = np.random.default_rng(3).normal(size=len(atoms))
    q -= q.mean() - 0.2  # a charged cell: the neutralising background matters
    elec = ewald_md.MDElectrostatics(sigma, atoms.cell.array, accuracy=1e-7)
    elec.prepare(atoms.positions, atoms.cell.array)
    A = ewald.coulomb_matrix(atoms.positions, atoms.cell.array, True, sigma)
    assert np.abs(elec.coulomb_potential(q) - A @ q).max() < 1e-7
    assert np.abs(elec._diag - np.diag(A)).max() < 1e-7
    e, f, s = elec.energy_forces_stress(q)
    e_ref, f_ref, s_ref = ewald.coulomb_energy_forces_stress(atoms.positions, atoms.cell.array,
                                                             True, q, sigma)
    assert e == pytest.approx(e_ref, abs=1e-7)
    assert np.abs(f - f_ref).max() < 1e-7
    assert np.abs(s - s_ref).max() < 1e-9


def test_fast_forces_stress_are_gradients_of_fast_energy(system):
    atoms, m = system
    md = MDState(qeq_tol=1e-11)
    r = m.compute(atoms, md=md)
    h = 1e-4

    def energy(a):
        return m.compute(a, md=md)["energy"]

    for i, d in [(0, 0), (13, 1), (30, 2)]:
        assert fd_force(energy, atoms, i, d, h) == pytest.approx(r["forces"][i, d], abs=2e-6)
    for x, y in [(0, 0), (0, 1), (2, 1)]:
        assert fd_stress_component(energy, atoms, x, y, h) == pytest.approx(r["stress"][x, y],
                                                                             abs=1e-8)


def test_verlet_list_equals_ase_neighbour_list(system, monkeypatch):
    atoms, _ = system
    rng = np.random.default_rng(5)
    # O(N^2) pair search with the compiled selection, then the cell list with the numpy one
    for threshold, min_work in ((10_000, 200_000), (0, 0)):
        monkeypatch.setattr(mtp_numba, "CELL_LIST_MIN_ATOMS", threshold)
        monkeypatch.setattr(ewald_md, "PARALLEL_MIN_WORK", min_work)
        vl = VerletList(4.5, skin=0.6)
        a = atoms.copy()
        for _ in range(6):
            a.positions += rng.normal(scale=0.08, size=a.positions.shape)
            i, j, S, D, start = vl.pairs(a.positions, a.cell.array)
            ii, jj, DD = neighbor_list("ijD", a, 4.5)
            got = sorted(zip(i, j, np.round(np.linalg.norm(D, axis=1), 9), strict=True))
            want = sorted(zip(ii, jj, np.round(np.linalg.norm(DD, axis=1), 9), strict=True))
            assert got == want
            assert np.array_equal(start, np.searchsorted(i, np.arange(len(a) + 1)))
        assert 1 <= vl.n_builds < 6  # the skin saved rebuilds


def test_nve_energy_conservation_fast_path(system):
    """NVE with the fast path; a Lennard-Jones wall (exact analytic forces) keeps the random
    model's atoms apart (it has no short-range repulsion of its own)."""
    atoms, m = system
    a = atoms.copy()
    qmtp = QMTPCalculator(m, fast_md=True)
    a.calc = SumCalculator([qmtp, LennardJones(sigma=1.6, epsilon=0.05, rc=4.0, smooth=True)])
    MaxwellBoltzmannDistribution(a, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(a)
    dt_fs = 1.0
    dyn = VelocityVerlet(a, dt_fs * units.fs)
    etot, its = [], []
    for _ in range(150):
        dyn.run(2)
        etot.append(a.get_total_energy())
        its.append(qmtp._md._elec.last_iterations)
    t_ps = np.arange(len(etot)) * 2 * dt_fs * 1e-3
    drift = np.polyfit(t_ps, np.array(etot) / len(a), 1)[0]
    assert abs(drift) < 1e-3  # eV/atom/ps; measured 1e-6
    assert np.ptp(etot) / len(a) < 2e-4  # Verlet fluctuation, eV/atom; measured 9e-6
    assert neighbor_list("d", a, 3.0).min() > 1.3  # the trajectory stayed physical
    # warm start from extrapolated charges, long-wave preconditioner: measured 1-2 iterations
    assert np.median(its[5:]) <= 2 and max(its[5:]) <= 4


def test_kernel_table_matches_erfc_kernel():
    """The cubic Hermite table reproduces [erfc(r/√2eta) − erfc(r/√2gamma)]/r and its slope
    from math.erfc/math.exp at random distances (independent closed form)."""
    import math

    eta, r_cut, widths = 1.7, 9.6, np.array([0.7, 1.2])
    h = ewald_md.table_spacing(widths.min(), ewald_md.DEFAULT_MD_ACCURACY)
    table = ewald_md.kernel_table(widths, eta, r_cut, h)
    rng = np.random.default_rng(7)
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        gamma = math.hypot(widths[a], widths[b])
        for r in rng.uniform(1.0, r_cut, 200):
            ae, ag = math.sqrt(2) * eta, math.sqrt(2) * gamma
            f = (math.erfc(r / ae) - math.erfc(r / ag)) / r
            df = (2 / math.sqrt(math.pi) * (math.exp(-(r / ag) ** 2) / ag
                                            - math.exp(-(r / ae) ** 2) / ae) - f) / r
            k = int(r / h)
            u = r / h - k
            c = table[a * 2 + b, k]
            assert c[0] + u * (c[1] + u * (c[2] + u * c[3])) == pytest.approx(f, abs=1e-10)
            assert (c[1] + u * (2 * c[2] + 3 * u * c[3])) / h == pytest.approx(df, abs=2e-8)
    assert np.array_equal(table[1], table[2])  # symmetric in the pair of widths


def test_tabulated_and_direct_real_space_agree(system, monkeypatch):
    """Energy, forces and stress of the tabulated real-space kernel against the same sums with
    math.erfc per pair (the path taken for point charges or many distinct widths)."""
    atoms, m = system
    sigma = m.sigma_[m.species_index(atoms)]
    q = np.random.default_rng(4).normal(size=len(atoms))
    q -= q.mean()
    tab = ewald_md.MDElectrostatics(sigma, atoms.cell.array)
    monkeypatch.setattr(ewald_md, "TABLE_MAX_WIDTHS", 0)
    direct = ewald_md.MDElectrostatics(sigma, atoms.cell.array)
    assert tab._table is not None and direct._table is None
    for el in (tab, direct):
        el.prepare(atoms.positions, atoms.cell.array)
    (e1, f1, s1), (e2, f2, s2) = (el.energy_forces_stress(q) for el in (tab, direct))
    assert e1 == pytest.approx(e2, abs=1e-9)
    assert np.abs(f1 - f2).max() < 1e-7
    assert np.abs(s1 - s2).max() < 1e-9
    assert np.abs(tab.coulomb_potential(q) - direct.coulomb_potential(q)).max() < 1e-9


def test_preconditioned_qeq_equals_dense_solution(monkeypatch):
    """Charges of the long-wave-preconditioned CG against the dense constrained solve of the
    reference Coulomb matrix; the preconditioner needs fewer iterations than Jacobi alone."""
    atoms = li3ps4(seed=3).repeat((2, 2, 1))
    m = smooth_model(atoms)
    sp = m.species_index(atoms)
    sigma, J = m.sigma_[sp], m.hardness_[sp]
    chi = m.chi0_[sp] + np.einsum("ia,ia->i", m.w_chi_[sp], m.basis(atoms))
    n = len(atoms)
    A = ewald.coulomb_matrix(atoms.positions, atoms.cell.array, True, sigma)
    kkt = np.block([[A + np.diag(J), np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    q_ref = np.linalg.solve(kkt, np.concatenate([-chi, [0.0]]))[:n]
    iterations = {}
    big = ewald_md.LONGWAVE_MAX
    for n_long in (big, 0):
        monkeypatch.setattr(ewald_md, "LONGWAVE_MAX", n_long)
        el = ewald_md.MDElectrostatics(sigma, atoms.cell.array, accuracy=1e-8, qeq_tol=1e-9)
        res = el.solve(atoms.positions, atoms.cell.array, chi, J)
        assert np.abs(res.charges - q_ref).max() < 1e-8
        assert abs(res.charges.sum()) < 1e-12
        iterations[n_long] = (res.iterations, el.n_longwave)
    assert iterations[0][1] == 0 and iterations[big][1] > 0
    assert iterations[big][0] < iterations[0][0]


def test_charge_predictor_is_exact_for_polynomial_histories():
    """Lagrange extrapolation of order p reproduces charges that are polynomials of degree p in
    time exactly (the next value of a known polynomial)."""
    el = ewald_md.MDElectrostatics(np.ones(3), 10.0 * np.eye(3), predictor_order=4)
    coef = np.random.default_rng(8).normal(size=(5, 3))

    def charges(t):
        return sum(c * t**k for k, c in enumerate(coef))

    el._history = [charges(t) for t in range(5)]
    assert np.abs(el._guess(0.0) - charges(5)).max() < 1e-9
    el._history = el._history[-2:]  # short history: linear extrapolation
    assert np.abs(el._guess(0.0) - (2 * charges(4) - charges(3))).max() < 1e-12
