"""ZBL repulsive baseline and the bounded radial basis below r_min."""

import functools

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.stress import full_3x3_to_voigt_6_stress
from fdiff import fd_force, fd_stress_component
from test_training_qmtp import _evaluate, _label_with, _rattled

from superionic.potentials.qmtp import QMTP
from superionic.potentials.qmtp_torch import QMTPTorch, make_batch
from superionic.potentials.radial import (
    SATURATION_A,
    chebyshev_radial,
    chebyshev_radial_torch,
)
from superionic.potentials.repulsion import (
    COULOMB_EV_A,
    OUTER_FRACTION,
    SWITCH_FRACTION,
    pair_tables,
    repulsion_pairs,
)
from superionic.potentials.training import train


def _pair_energy(z1, z2, r, r_outer):
    """Baseline energy of one isolated pair through the full-list kernel (both directions)."""
    zz, a, r_in, r_out = pair_tables([z1, z2], np.array([[0, r_outer], [r_outer, 0]]))
    vec = np.array([[r, 0.0, 0.0], [-r, 0.0, 0.0]])
    g = np.zeros((2, 3))
    e = repulsion_pairs(np.array([0, 1]), np.array([0, 1]), np.array([1, 0]), vec, zz, a,
                        r_in, r_out, g)
    return e, g


def test_zbl_limits_and_switch():
    # r -> 0: the screening function tends to 1 (its four weights sum to 1), the bare
    # nuclear Coulomb repulsion Z1 Z2 e^2 / r
    r = 1e-4
    e, _ = _pair_energy(3, 16, r, 2.0)
    assert e * r / (COULOMB_EV_A * 3 * 16) == pytest.approx(1.0, abs=1e-3)
    # switched off at and beyond r_outer, untouched below r_inner
    assert _pair_energy(3, 16, 2.0, 2.0)[0] == 0.0
    assert _pair_energy(3, 16, 2.5, 2.0)[0] == 0.0
    r_in = (1 - SWITCH_FRACTION) * 2.0
    far = _pair_energy(3, 16, r_in - 0.01, 10.0)[0]
    assert _pair_energy(3, 16, r_in - 0.01, 2.0)[0] == pytest.approx(far, rel=1e-12)
    # dE/dr equals the finite difference everywhere, including across both switch radii
    for x in (0.5, r_in - 1e-3, r_in + 1e-3, 1.7, 2.0 - 1e-3):
        h = 1e-6
        fd = (_pair_energy(3, 16, x + h, 2.0)[0] - _pair_energy(3, 16, x - h, 2.0)[0]) / (2 * h)
        g = _pair_energy(3, 16, x, 2.0)[1]
        assert 2 * g[0, 0] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # C2 switch: the force is continuous at r_outer (vanishes) and at r_inner
    assert abs(_pair_energy(3, 16, 2.0 - 1e-6, 2.0)[1][0, 0]) < 1e-9
    g_lo = _pair_energy(3, 16, r_in - 1e-8, 2.0)[1][0, 0]
    g_hi = _pair_energy(3, 16, r_in + 1e-8, 2.0)[1][0, 0]
    assert g_lo == pytest.approx(g_hi, rel=1e-6)


def test_radial_basis_saturates_below_r_min():
    r_min, r_cut, n = 1.5, 5.0, 8
    Q0, dQ0 = np.zeros(n), np.zeros(n)
    chebyshev_radial(r_min, r_min, r_cut, Q0, dQ0)
    Q, dQ = np.zeros(n), np.zeros(n)
    # continuous value and slope at r_min (one-sided limits)
    chebyshev_radial(r_min - 1e-9, r_min, r_cut, Q, dQ)
    assert np.allclose(Q, Q0, rtol=1e-7) and np.allclose(dQ, dQ0, rtol=1e-7)
    # bounded far below: the limit Q(r_min) - Q'(r_min) delta, and no slope left
    chebyshev_radial(0.0, r_min, r_cut, Q, dQ)
    assert np.allclose(Q, Q0 - dQ0 * SATURATION_A, rtol=1e-3, atol=1e-6 * np.abs(Q0).max())
    assert np.abs(dQ).max() < 1e-3 * np.abs(dQ0).max()
    # the polynomials themselves would have grown by orders of magnitude there
    x = (2 * 0.0 - r_min - r_cut) / (r_cut - r_min)
    assert abs(np.polynomial.chebyshev.chebval(x, [0] * (n - 1) + [1])) > 100
    # dQ/dr is the derivative of Q below r_min too
    h = 1e-6
    Qp, Qm, d = np.zeros(n), np.zeros(n), np.zeros(n)
    chebyshev_radial(1.2 + h, r_min, r_cut, Qp, d)
    chebyshev_radial(1.2 - h, r_min, r_cut, Qm, d)
    chebyshev_radial(1.2, r_min, r_cut, Q, dQ)
    assert np.allclose((Qp - Qm) / (2 * h), dQ, rtol=1e-6, atol=1e-8)
    # the torch basis (used in training and on GPUs) agrees, including its derivative
    r = torch.tensor([0.7, 1.2, 1.5, 2.5], dtype=torch.float64, requires_grad=True)
    Qt = chebyshev_radial_torch(r, r_min, r_cut, n)
    for k, x in enumerate(r.detach().numpy()):
        chebyshev_radial(float(x), r_min, r_cut, Q, dQ)
        assert np.allclose(Qt[k].detach().numpy(), Q, rtol=1e-12, atol=1e-12)
        grad = torch.autograd.grad(Qt[k].sum(), r, retain_graph=True)[0][k]
        assert float(grad) == pytest.approx(dQ.sum(), rel=1e-10)


def _compressed_cell(seed=0):
    """An 8-atom Li/S cell with one Li-S pair at 1.1 Å, inside both switch radii and r_min."""
    rng = np.random.default_rng(seed)
    a = bulk("Li", "bcc", a=3.6, cubic=True).repeat((2, 2, 1))
    a.numbers[[1, 4, 6]] = 16
    a.positions += rng.normal(scale=0.1, size=a.positions.shape)
    d = a.get_distance(0, 1, mic=True, vector=True)
    a.positions[1] = a.positions[0] + 1.1 * d / np.linalg.norm(d)
    return a


@pytest.mark.parametrize("charges", [False, True])
def test_forces_stress_with_baseline(charges, single_thread):
    m = QMTP.random(["Li", "S"], level=10, seed=2, charges=charges, r_cut=4.2, r_min=1.6)
    m.repulsion_r_outer_ = np.array([[2.4, 2.2], [2.2, 3.2]])
    a = _compressed_cell()
    r = m.compute(a)

    def energy(b):
        return m.compute(b)["energy"]

    fd = np.array([[fd_force(energy, a, i, d, 1e-5) for d in range(3)] for i in (0, 1, 5)])
    assert np.abs(fd - r["forces"][[0, 1, 5]]).max() < 1e-7 * max(1.0, np.abs(fd).max())
    fd_s = np.array([[fd_stress_component(energy, a, x, y, 1e-5) for y in range(3)]
                     for x in range(3)])
    assert np.abs(fd_s - r["stress"]).max() < 1e-8 * max(1.0, np.abs(fd_s).max())
    assert np.abs(r["forces"].sum(axis=0)).max() < 1e-9
    # the baseline is on in this cell: ZBL(Li-S, 1.1 Å) is several eV
    bare = m.copy()
    bare.repulsion_r_outer_[:] = 0.0
    assert r["energy"] - bare.compute(a)["energy"] > 5.0
    # the torch engine gives the same numbers
    out = QMTPTorch(m)(make_batch(m, [a], labels=False))
    assert float(out["energy"][0].detach()) == pytest.approx(r["energy"], rel=1e-12, abs=1e-10)
    assert np.abs(out["forces"].detach().numpy() - r["forces"]).max() < 1e-9
    assert np.abs(out["stress"][0].detach().numpy() - r["stress"]).max() < 1e-11


def test_trained_model_repels_below_its_data(single_thread):
    lj = LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)
    data = _label_with(_rattled("Ar", 3.7, 8, seed=0), functools.partial(_evaluate, lj))
    res = train(data, level=8, r_cut=5.0, charges=False, epochs=0, val_fraction=0.25, seed=0,
                progress=False)
    m = res.model
    d_all = np.concatenate([a.get_all_distances(mic=True)[np.triu_indices(len(a), 1)]
                            for a in data])
    # r_outer lies below the shortest distance of the data (train and validation), so the
    # baseline is zero on every one of them and the fit is the fit without it
    assert m.repulsion_r_outer_[0, 0] == pytest.approx(OUTER_FRACTION * d_all.min(), rel=1e-12)
    bare = m.copy()
    bare.repulsion_r_outer_[:] = 0.0
    for a in data:
        assert m.compute(a)["energy"] == bare.compute(a)["energy"]
    # pushing two atoms together below anything in the data meets a wall, as the
    # Lennard-Jones teacher does: the energy rises monotonically and by tens of eV
    base = data[0].copy()
    u = base.get_distance(0, 1, mic=True, vector=True)
    u /= np.linalg.norm(u)
    dists = np.linspace(0.75 * d_all.min(), 0.9, 25)
    energies = []
    for r in dists:
        b = base.copy()
        b.positions[1] = b.positions[0] + r * u
        energies.append(m.compute(b)["energy"])
    assert np.all(np.diff(energies) > 0)
    assert energies[-1] - m.compute(base)["energy"] > 20.0
    # without the baseline the same model has no such wall
    e_bare = bare.compute(b)["energy"] - bare.compute(base)["energy"]
    assert e_bare < energies[-1] - m.compute(base)["energy"] - 20.0


def _closest_pair(a):
    d = a.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def test_continued_training_keeps_its_wall(single_thread):
    # the wall is placed from the data a model is first fitted to; frames added later that
    # come closer (as those its own MD finds do) must not pull it inwards
    lj = LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)
    first = _label_with(_rattled("Ar", 3.7, 6, seed=0), functools.partial(_evaluate, lj))
    d_first = min(_closest_pair(a) for a in first)
    close = _rattled("Ar", 3.7, 2, seed=5)
    for a in close:  # one pair pushed to 92 % of the closest distance of the first data
        u = a.get_distance(0, 1, mic=True, vector=True)
        a.positions[1] = a.positions[0] + 0.92 * d_first * u / np.linalg.norm(u)
    close = _label_with(close, functools.partial(_evaluate, lj))
    d_all = min(d_first, *(_closest_pair(a) for a in close))
    assert d_all < 0.93 * d_first
    kw = dict(charges=False, epochs=0, val_fraction=0.0, seed=0, progress=False)
    m = train(first, level=8, r_cut=5.0, **kw).model
    assert m.repulsion_r_outer_[0, 0] == pytest.approx(OUTER_FRACTION * d_first, rel=1e-12)
    cont = train(first + close, model=m, **kw).model
    assert cont.repulsion_r_outer_[0, 0] == pytest.approx(OUTER_FRACTION * d_first, rel=1e-12)
    fresh = train(first + close, level=8, r_cut=5.0, **kw).model
    assert fresh.repulsion_r_outer_[0, 0] == pytest.approx(OUTER_FRACTION * d_all, rel=1e-12)


def test_linear_fit_subtracts_a_baseline_the_data_reach(single_thread):
    # labels from a known model whose wall lies inside the data: the linear solve for
    # (xi, E0) at the same radial functions must recover that model exactly, which it can
    # only do by subtracting the baseline from the labels
    from superionic.potentials.training import linear_fit

    truth = QMTP((18,), level=8, r_cut=5.0, r_min=2.0, n_beta=4, charges=False)
    truth.radial_coeffs_ = truth.random_radial_coeffs(np.random.default_rng(1))
    truth.xi_ = np.random.default_rng(2).normal(scale=0.05, size=truth.n_basis)
    truth.e0_ = np.array([-0.3])
    data = _rattled("Ar", 3.7, 6, seed=4, rattle=0.15)
    d_min = min(_closest_pair(a) for a in data)
    truth.repulsion_r_outer_ = np.array([[1.1 * d_min]])
    bare = truth.copy()
    bare.repulsion_r_outer_[:] = 0.0
    baseline = [truth.compute(a)["energy"] - bare.compute(a)["energy"] for a in data]
    assert max(baseline) > 0.05  # the baseline is not negligible on these data

    def label(a):
        r = truth.compute(a)
        return r["energy"], r["forces"], full_3x3_to_voigt_6_stress(r["stress"])

    data = _label_with(data, label)
    fit = truth.copy()
    fit.xi_ = np.zeros_like(truth.xi_)
    fit.e0_ = np.zeros_like(truth.e0_)
    linear_fit(fit, data)
    for a in data:  # (xi itself is not unique: one basis function is collinear with E0)
        r = fit.compute(a)
        assert r["energy"] == pytest.approx(a.get_potential_energy(), rel=1e-9)
        assert np.abs(r["forces"] - a.get_forces()).max() < 1e-7 * np.abs(a.get_forces()).max()
