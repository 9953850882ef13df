"""QMTP forces and stress: finite differences of the energy; numba engine equals torch engine."""

import numpy as np
import pytest
from ase.build import bulk
from fdiff import fd_force, fd_stress_component

from superionic.potentials.qmtp import QMTP
from superionic.potentials.qmtp_torch import QMTPTorch, make_batch


def lips_cell(seed=0, rattle=0.12):
    """A small rattled Li-P-S-like periodic cell (8 atoms)."""
    rng = np.random.default_rng(seed)
    a = bulk("Li", "bcc", a=3.6, cubic=True).repeat((2, 2, 1))
    a.numbers[[1, 4]] = 16
    a.numbers[6] = 15
    a.positions += rng.normal(scale=rattle, size=a.positions.shape)
    a.set_cell(a.cell.array + rng.normal(scale=0.05, size=(3, 3)), scale_atoms=True)
    return a


def _energy(m):
    return lambda b: m.compute(b)["energy"]


def _fd_forces(m, a, atoms_idx, h=1e-5):
    return np.array([[fd_force(_energy(m), a, i, d, h) for d in range(3)] for i in atoms_idx])


def _fd_stress(m, a, h=1e-5):
    return np.array([[fd_stress_component(_energy(m), a, x, y, h) for y in range(3)]
                     for x in range(3)])


@pytest.mark.parametrize("charges", [False, True])
def test_forces_stress_finite_difference(charges):
    m = QMTP.random(["Li", "P", "S"], level=12, seed=1, charges=charges, r_cut=4.2)
    a = lips_cell()
    r = m.compute(a)
    idx = [0, 1, 6]
    fd = _fd_forces(m, a, idx)
    assert np.abs(fd - r["forces"][idx]).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(_fd_stress(m, a) - r["stress"]).max() < 1e-8
    # Newton's third law: total force vanishes
    assert np.abs(r["forces"].sum(axis=0)).max() < 1e-10
    if charges:
        assert abs(r["charges"].sum()) < 1e-10
        assert np.abs(r["charges"]).max() > 1e-3


@pytest.mark.parametrize("charges", [False, True])
def test_numba_equals_torch(charges):
    m = QMTP.random(["Li", "P", "S"], level=16, seed=5, charges=charges, r_cut=4.2)
    cells = [lips_cell(seed=s) for s in (1, 2, 3)]
    out = QMTPTorch(m)(make_batch(m, cells, labels=False))
    for k, a in enumerate(cells):
        r = m.compute(a)
        sl = slice(8 * k, 8 * k + 8)
        scale_e = abs(r["energy"]) + 1.0
        assert abs(out["energy"][k].item() - r["energy"]) < 1e-10 * scale_e
        f_t = out["forces"][sl].detach().numpy()
        assert np.abs(f_t - r["forces"]).max() < 1e-10 * (np.abs(r["forces"]).max() + 1.0)
        s_t = out["stress"][k].detach().numpy()
        assert np.abs(s_t - r["stress"]).max() < 1e-10 * (np.abs(r["stress"]).max() + 1e-2)
        q_t = out["charges"][sl].detach().numpy()
        assert np.abs(q_t - r["charges"]).max() < 1e-10


def test_torch_engine_finite_difference_with_charges():
    import torch

    m = QMTP.random(["Li", "P", "S"], level=10, seed=7, charges=True, r_cut=4.0)
    a = lips_cell(seed=4)
    tm = QMTPTorch(m)
    out = tm(make_batch(m, [a], labels=False))
    b = make_batch(m, [a], labels=False)
    h = 1e-5
    for i, d in [(0, 0), (3, 2)]:
        e = []
        for s in (1, -1):
            b.positions = b.positions.clone()
            b.positions[i, d] += s * h
            e.append(tm(b, forces=False, stress=False)["energy"].item())
            b.positions[i, d] -= s * h
        assert out["forces"][i, d].item() == pytest.approx(-(e[0] - e[1]) / (2 * h), abs=1e-7)
    assert isinstance(out["energy"], torch.Tensor)


@pytest.mark.parametrize("level", [10, 16, 20])
def test_kernel_paths_agree(level):
    """The single-weight-set force kernel (MD) and the many-set kernel (training), serial and
    threaded, give the same pair gradients; the forward kernel is the same both ways."""
    from superionic.potentials.mtp_numba import basis_gradients, basis_values
    from superionic.potentials.qmtp import find_neighbours

    m = QMTP.random(["Li", "P", "S"], level=level, seed=3, r_cut=4.2)
    a = lips_cell(seed=4).repeat((2, 1, 1))
    nb = find_neighbours(a, m.r_cut)
    args = (m.program, m.species_index(a), nb.start, nb.pair_j, nb.vectors, m.radial_coeffs_,
            m.r_min, m.r_cut)
    vals = basis_values(*args)
    assert np.abs(basis_values(*args, parallel=False) - vals).max() <= 1e-13 * np.abs(vals).max()
    g = np.random.default_rng(0).normal(size=(len(a), 3, m.n_basis))
    many = basis_gradients(*args, vals, g)
    scale = np.abs(many).max()
    for k in range(3):
        for parallel in (True, False):
            one = basis_gradients(*args, vals, g[:, k:k + 1], parallel=parallel)
            assert np.abs(one[0] - many[k]).max() < 1e-12 * scale


def test_basic_moments_equal_direct_sum_below_r_min():
    """Basic moments from the kernel equal Σ_j f_μ(r) x̂^a ŷ^b ẑ^c summed pair by pair with the
    scalar radial basis, with r_min set so that some pairs lie in the saturated range; forces
    there are still the energy's gradient."""
    from superionic.potentials.mtp_numba import basis_values
    from superionic.potentials.qmtp import find_neighbours
    from superionic.potentials.radial import chebyshev_radial

    m = QMTP.random(["Li", "P", "S"], level=16, seed=2, r_cut=4.2, r_min=2.9)
    a = lips_cell(seed=6, rattle=0.2)
    nb = find_neighbours(a, m.r_cut)
    r = np.linalg.norm(nb.vectors, axis=1)
    assert (r < m.r_min).sum() >= 4
    sp = m.species_index(a)
    prog = m.program
    vals = basis_values(prog, sp, nb.start, nb.pair_j, nb.vectors, m.radial_coeffs_, m.r_min,
                        m.r_cut)
    Q, dQ = np.empty(m.n_beta), np.empty(m.n_beta)
    direct = np.zeros((len(a), prog.n_basic))
    for p in range(len(r)):
        i, j = nb.pair_i[p], nb.pair_j[p]
        chebyshev_radial(r[p], m.r_min, m.r_cut, Q, dQ)
        f = m.radial_coeffs_[sp[i], sp[j]] @ Q
        u = nb.vectors[p] / r[p]
        direct[i] += f[prog.basic_mu] * np.prod(u[None, :] ** prog.basic_pows, axis=1)
    assert np.abs(vals[:, :prog.n_basic] - direct).max() < 1e-12 * np.abs(direct).max()
    res = m.compute(a)
    fd = _fd_forces(m, a, [0, 3])
    assert np.abs(fd - res["forces"][[0, 3]]).max() < 1e-7 * max(1.0, np.abs(fd).max())
