"""Training forces from fixed-geometry pair tables: the same energies, forces, stress, loss and
loss gradient as autograd through the basis; forces equal to finite differences of the numba
engine's energy; tables rebuilt when the geometry changes; the memory cap falls back."""

import numpy as np
import pytest
import torch
from training_data import assert_same_training, labelled, loss_and_grad, start_model

from superionic.potentials import pair_tables
from superionic.potentials.qmtp import QMTP
from superionic.potentials.qmtp_torch import QMTPTorch, make_batch
from superionic.potentials.training import train

pytestmark = pytest.mark.usefixtures("single_thread")


def _model(charges: bool) -> QMTP:
    m = start_model() if charges else QMTP.random(["Li", "P", "S"], level=8, seed=4,
                                                    charges=False, r_cut=4.0)
    # a ZBL baseline that acts on the closest pairs of the rattled cells
    m.repulsion_r_outer_ = np.full_like(m.repulsion_r_outer_, 3.3)
    return m


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("charges", [False, True])
def test_tables_equal_autograd_forces_and_loss_gradient(charges, kernels, monkeypatch):
    # kernels=False: the torch products of the tables (the path on a GPU)
    monkeypatch.setattr(pair_tables, "CPU_KERNELS", kernels)
    data = labelled(seed=5)  # two cell sizes and an isolated cluster
    m = _model(charges)
    b = make_batch(m, data)
    tables, auto = QMTPTorch(m, mtp_forces="tables"), QMTPTorch(m, mtp_forces="autograd")
    out_t, out_a = tables(b), auto(b)
    assert b.pair_tables is not None
    assert float(b.pair_tables.rep_energy.abs().min()) > 0.05  # the baseline is in play
    for key in ("energy", "forces", "stress", "charges", "basis"):
        x, y = out_t[key].detach(), out_a[key].detach()
        assert float((x - y).abs().max()) <= 1e-12 * max(float(y.abs().max()), 1.0), key
    loss_t, g_t = loss_and_grad(tables, b)
    loss_a, g_a = loss_and_grad(auto, b)
    assert loss_t > 1e-3
    assert loss_t == pytest.approx(loss_a, rel=1e-12)
    for x, y in zip(g_t, g_a, strict=True):
        assert float((x - y).abs().max()) <= 1e-12 * max(float(y.abs().max()), 1e-300)


def test_table_forces_equal_finite_differences_of_numba_energy():
    atoms = labelled(seed=6)[1]
    m = _model(charges=True)
    forces = QMTPTorch(m, mtp_forces="tables")(make_batch(m, [atoms]))["forces"].detach()
    h = 1e-5
    rng = np.random.default_rng(1)
    for i in rng.choice(len(atoms), 4, replace=False):
        for a in range(3):
            e = []
            for s in (h, -h):
                x = atoms.copy()
                x.positions[i, a] += s
                e.append(m.compute(x, stress=False)["energy"])
            fd = -(e[0] - e[1]) / (2 * h)
            assert float(forces[i, a]) == pytest.approx(fd, abs=2e-7)


def test_tables_follow_the_geometry_and_respect_the_memory_cap(monkeypatch):
    data = labelled(seed=7)
    m = _model(charges=False)
    b = make_batch(m, data)
    tm, ref = QMTPTorch(m, mtp_forces="auto"), QMTPTorch(m, mtp_forces="autograd")
    tm(b)
    first = b.pair_tables
    with torch.no_grad():
        b.positions += 0.01  # same pairs, new geometry: the tables must be rebuilt
    f_t, f_a = tm(b)["forces"].detach(), ref(b)["forces"].detach()
    assert b.pair_tables is not first
    assert float((f_t - f_a).abs().max()) <= 1e-12 * float(f_a.abs().max())
    # an unlabelled batch evaluated once ("auto") keeps autograd forces
    unlabelled = make_batch(m, data, labels=False)
    tm(unlabelled)
    assert unlabelled.pair_tables is None
    monkeypatch.setattr(pair_tables, "PAIR_TABLE_MAX_BYTES", 0)
    fresh = make_batch(m, data)
    f_cap = tm(fresh)["forces"].detach()
    assert fresh.pair_tables is None
    assert float((f_cap - ref(fresh)["forces"].detach()).abs().max()) == 0.0


@pytest.mark.parametrize("fit_radial", [True, False])
def test_training_on_tables_equals_autograd_training(monkeypatch, fit_radial):
    data = labelled(seed=8)
    kw = dict(level=8, r_cut=4.0, charges=False, epochs=2, val_fraction=0.2, seed=0,
              progress=False, threads=1, fit_radial=fit_radial)
    fast = train(data, **kw)
    monkeypatch.setattr(pair_tables, "PAIR_TABLE_MAX_BYTES", 0)  # "auto" -> autograd
    slow = train(data, **kw)
    assert len(fast.history) == 2
    assert_same_training(fast, slow, ("xi_", "radial_coeffs_", "e0_"), rel_loss=1e-9,
                         rel_params=1e-8)


def test_thread_parallel_kernels_equal_serial_ones_and_settings_are_restored():
    import numba

    data = labelled(seed=9)
    before = (torch.get_num_threads(), numba.get_num_threads())
    kw = dict(level=8, r_cut=4.0, charges=True, epochs=2, val_fraction=0.2, seed=0,
              progress=False)
    # each atom's rows are written by one kernel thread only; torch's own two-thread
    # reductions round differently, which the line search amplifies a little
    two = train(data, threads=2, **kw)
    one = train(data, threads=1, **kw)
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    assert_same_training(two, one, ("xi_", "radial_coeffs_", "w_chi_"), rel_loss=1e-10,
                         rel_params=1e-8)
