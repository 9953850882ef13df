"""The numba periodic neighbour list, both searches, against ASE's neighbour list."""

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

from superionic.potentials.mtp_numba import periodic_neighbour_list


def _key(i, j, S):
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, np.asarray(S).tolist()), strict=True))


@pytest.mark.parametrize("repeat, r_cut, skew", [
    ((4, 4, 4), 5.0, 0.0),   # 128 atoms, several bins per axis
    ((6, 6, 6), 9.0, 0.3),   # skewed, bins as wide as the cell allows
    ((2, 1, 3), 6.0, 0.5),   # one axis narrower than the cutoff: several images
    ((1, 1, 1), 7.0, 0.2),   # two atoms, many images of each
])
def test_cell_list_and_pair_search_equal_ase(repeat, r_cut, skew):
    rng = np.random.default_rng(3)
    a = bulk("Li", "bcc", 3.5, cubic=True).repeat(repeat)
    a.set_cell(a.cell.array + skew * rng.normal(size=(3, 3)), scale_atoms=True)
    a.positions += rng.normal(scale=0.3, size=a.positions.shape)
    a.positions[0] += 3.2 * a.cell[1] - 1.7 * a.cell[2]  # far outside the cell
    ref = _key(*neighbor_list("ijS", a, r_cut))
    out = {m: periodic_neighbour_list(a.positions, a.cell.array, r_cut, method=m)
           for m in ("pairs", "cells")}
    for m, (i, j, S, D, offsets) in out.items():
        assert _key(i, j, S) == ref, m
        assert np.allclose(D, a.positions[j] - a.positions[i] + S @ a.cell.array, atol=1e-10)
        assert np.array_equal(offsets, np.searchsorted(i, np.arange(len(a) + 1)))
    assert len(ref) > len(a)
