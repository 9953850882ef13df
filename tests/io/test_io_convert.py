"""Conversion to H5MD (function and ``superionic convert``) keeps every number."""

import numpy as np
import pytest
from iofiles import random_walk, triclinic_cells, wrap, write_lammps_dump

from superionic.cli.main import main
from superionic.core.errors import InputError
from superionic.io import convert, open_trajectory


@pytest.fixture
def dump(tmp_path):
    cells = triclinic_cells(7)
    truth = random_walk(7, 6, seed=11)
    wrapped, images = wrap(truth, cells)
    path = tmp_path / "in.lammpstrj"
    write_lammps_dump(path, wrapped, cells, images=images, types=[1, 1, 1, 2, 3, 3],
                      steps=[500 + 20 * i for i in range(7)])
    return path, truth, wrapped, images, cells


def test_convert_lammps_dump_to_h5md(tmp_path, dump):
    path, truth, wrapped, images, cells = dump
    out = tmp_path / "out.h5md"
    info = convert(path, out, timestep_fs=0.5, chunk_size=3, symbols={1: "Li", 2: "P", 3: "S"})
    assert info.n_frames == 7 and info.symbols == ["Li", "Li", "Li", "P", "S", "S"]
    assert (info.timestep_fs, info.frame_interval_fs, info.stride) == (0.5, 10.0, 20)
    assert info.first_step == 500 and info.wrapped is True
    a = open_trajectory(out).read_all()
    np.testing.assert_allclose(a.positions, wrapped, atol=1e-9)
    np.testing.assert_array_equal(a.image_flags, images)
    np.testing.assert_allclose(a.unwrapped_positions(), truth, atol=1e-8)
    np.testing.assert_array_equal(a.steps, 500 + 20 * np.arange(7))
    with pytest.raises(InputError, match="already exists"):
        convert(path, out, timestep_fs=0.5, symbols={1: "Li", 2: "P", 3: "S"})


def test_cli_convert(tmp_path, dump, capsys):
    path, truth, *_ = dump
    out = tmp_path / "cli.h5"
    rc = main(["convert", str(path), str(out), "--timestep", "0.5", "--symbols",
               "1:Li,2:P,3:S", "--no-progress"])
    assert rc == 0
    assert "frame interval (fs)  10" in capsys.readouterr().out
    a = open_trajectory(out).read_all()
    np.testing.assert_allclose(a.unwrapped_positions(), truth, atol=1e-8)
    # a user error is reported cleanly with exit code 1
    rc = main(["convert", str(path), str(tmp_path / "x.h5"), "--timestep", "0.001",
               "--symbols", "1:Li,2:P,3:S"])
    assert rc == 1
    assert "looks like ps" in capsys.readouterr().err
