"""TorchSim trajectory files (layout of torch_sim.trajectory.TorchSimTrajectory)."""

import h5py
import numpy as np
import pytest
from iofiles import random_walk, triclinic_cells

from superionic.core.errors import InputError
from superionic.io import open_trajectory


def _write(path, positions, cells_rows, steps, variable_cell=True):
    """As TorchSimTrajectory.write_state: float32 data, cell as column vectors."""
    n = len(positions)
    with h5py.File(path, "w") as f:
        f.create_group("header").attrs["program"] = "TorchSim"
        data, st = f.create_group("data"), f.create_group("steps")
        data["positions"] = positions.astype(np.float32)
        st["positions"] = np.asarray(steps, dtype=np.int32)
        cols = np.swapaxes(cells_rows, 1, 2).astype(np.float32)
        data["cell"] = cols if variable_cell else cols[:1]
        st["cell"] = np.asarray(steps if variable_cell else [0], dtype=np.int32)
        data["atomic_numbers"] = np.array([[3, 3, 15, 16]], dtype=np.int32)
        data["masses"] = np.array([[6.94, 6.94, 30.97, 32.06]])
        data["forces"] = np.ones((n, 4, 3), dtype=np.float32)
        for k in ("atomic_numbers", "masses"):
            st[k] = np.array([0], dtype=np.int32)


def test_torchsim_layout(tmp_path):
    pos = random_walk(6, 4, seed=2)
    cells = triclinic_cells(6)
    _write(tmp_path / "ts.h5", pos, cells, steps=[10, 20, 30, 40, 50, 60])
    r = open_trajectory(tmp_path / "ts.h5", timestep_fs=2.0)
    assert r.info.format == "torchsim" and r.info.symbols == ["Li", "Li", "P", "S"]
    assert (r.info.stride, r.info.frame_interval_fs, r.info.first_step) == (10, 20.0, 10)
    assert r.info.variable_cell is True
    a = r.read_all()
    np.testing.assert_allclose(a.positions, pos, rtol=1e-6)  # stored as float32
    np.testing.assert_allclose(a.cells, cells, rtol=1e-6)  # lattice vectors back as rows
    np.testing.assert_array_equal(a.forces, 1.0)
    _write(tmp_path / "fixed.h5", pos, cells, steps=[0, 5, 10, 15, 20, 25], variable_cell=False)
    b = open_trajectory(tmp_path / "fixed.h5", timestep_fs=1.0).read_all()
    np.testing.assert_allclose(b.cells, np.broadcast_to(cells[0], (6, 3, 3)), rtol=1e-6)
    with pytest.raises(InputError, match=r"ts\.h5.*pass timestep_fs"):
        open_trajectory(tmp_path / "ts.h5")
