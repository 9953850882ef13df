"""MTP basis: enumeration against mlip-2's published basis sizes, invariances, cutoff smoothness."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from superionic.potentials.mtp_basis import basis_functions, compile_program, connected_scalars
from superionic.potentials.qmtp import QMTP


@pytest.mark.parametrize("level,n_mlip", [(2, 1), (4, 2), (6, 5), (8, 9)])
def test_basis_size_matches_mlip(level, n_mlip):
    # mlip-2 untrained_mtps/06.mtp: alpha_scalar_moments = 5; 08.mtp: 9
    assert len(basis_functions(level)) == n_mlip
    assert compile_program(level).n_basis == n_mlip


def test_level_definition_and_growth():
    # every connected scalar respects lev = sum(2 + 4 mu + nu) <= lev_max; level 16 has more
    for g in connected_scalars(16):
        assert g.level <= 16
        degrees = [sum(row) for row in g.adjacency]
        assert degrees == [nu for _, nu in g.labels]
    sizes = [compile_program(lev).n_basis for lev in (8, 10, 12, 14, 16)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 5


def _cell(seed=0):
    rng = np.random.default_rng(seed)
    a = bulk("Li", "bcc", a=3.5, cubic=True).repeat((2, 1, 1))
    a.numbers[[1, 2]] = 16
    a.numbers[3] = 15
    a.positions += rng.normal(scale=0.15, size=a.positions.shape)
    return a


def test_contraction_matches_explicit_tensor_formula():
    # B = M_{0,1} . M_{0,1} (level 6) computed from its definition with numpy
    m = QMTP(("Li",), level=6, r_cut=4.0, r_min=1.0, charges=False)
    rng = np.random.default_rng(1)
    while True:  # all pairs inside the Chebyshev range [r_min, r_cut) or beyond the cutoff
        atoms = Atoms("Li5", positions=rng.uniform(0, 3, (5, 3)), pbc=False)
        if atoms.get_all_distances()[np.triu_indices(5, 1)].min() > 1.0:
            break
    B = m.basis(atoms)
    prog = m.program
    from superionic.potentials.mtp_basis import basis_functions as bf
    from superionic.potentials.mtp_basis import connected_scalars as cs

    idx = [k for k, b in enumerate(bf(6)) if len(b) == 1 and cs(6)[b[0]].labels == ((0, 1), (0, 1))]
    assert len(idx) == 1 and prog.n_basis == 5
    c = m.radial_coeffs_[0, 0, 0]
    for i in range(5):
        M = np.zeros(3)
        for j in range(5):
            if i == j:
                continue
            d = atoms.positions[j] - atoms.positions[i]
            r = np.linalg.norm(d)
            if r >= 4.0:
                continue
            x = (2 * r - 1.0 - 4.0) / 3.0
            T = np.polynomial.chebyshev.chebvander(x, m.n_beta - 1)[0]
            M += (c @ T) * (4.0 - r) ** 2 * d / r
        assert B[i, idx[0]] == pytest.approx(M @ M, rel=1e-12)


@pytest.mark.parametrize("level", [10, 16])
def test_invariances(level):
    m = QMTP.random(["Li", "P", "S"], level=level, seed=2, charges=False, r_cut=4.0)
    a = _cell()
    e0 = m.compute(a)["energy"]
    # rotation of positions and cell
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    b = a.copy()
    b.set_cell(a.cell.array @ R.T)
    b.positions = a.positions @ R.T
    assert m.compute(b)["energy"] == pytest.approx(e0, rel=1e-12)
    # translation
    b = a.copy()
    b.positions += [0.37, -1.2, 5.1]
    assert m.compute(b)["energy"] == pytest.approx(e0, rel=1e-12)
    # permutation of atoms
    perm = np.random.default_rng(3).permutation(len(a))
    assert m.compute(a[perm])["energy"] == pytest.approx(e0, rel=1e-12)


def test_smooth_at_cutoff():
    # a dimer: energy contribution and force go to zero continuously as r -> r_cut
    m = QMTP.random(["Li"], level=10, seed=4, charges=False, r_cut=4.0)
    def efs(r):
        d = Atoms("Li2", positions=[[0, 0, 0], [r, 0, 0]], pbc=False)
        out = m.compute(d)
        return out["energy"] - 2 * m.e0_[0], out["forces"][1, 0]
    e_far, f_far = efs(4.5)
    assert e_far == 0.0 and f_far == 0.0
    e1, f1 = efs(4.0 - 1e-4)
    e2, f2 = efs(4.0 - 1e-3)
    assert abs(e1) < 1e-6 and abs(f1) < 1e-3
    # quadratic approach of the energy, linear of the force: (r_cut - r)^2 envelope
    assert abs(e2 / e1) == pytest.approx(100, rel=0.05)
    assert abs(f2 / f1) == pytest.approx(10, rel=0.05)
