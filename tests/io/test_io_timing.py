"""Time step / frame interval: file vs user, and the guard against fs/ps confusion."""

import numpy as np
import pytest
from iofiles import SYMBOLS, random_walk, triclinic_cells, write_lammps_dump

from superionic.core.errors import InputError, UnitsError
from superionic.io import FrameChunk, open_trajectory, write_trajectory
from superionic.io.timing import FileTiming, resolve_timing


@pytest.fixture
def xyz(tmp_path):
    """An extxyz without any time information."""
    import ase.io
    from ase import Atoms

    cells = triclinic_cells(4)
    pos = random_walk(4, 6, seed=1)
    path = tmp_path / "plain.extxyz"
    ase.io.write(path, [Atoms(SYMBOLS, positions=p, cell=c, pbc=True)
                        for p, c in zip(pos, cells, strict=True)])
    return path


def test_no_timing_anywhere_asks_for_timestep(xyz):
    with pytest.raises(InputError, match=r"plain\.extxyz.*pass timestep_fs=.*frame_interval_fs"):
        open_trajectory(xyz)
    r = open_trajectory(xyz, require_timing=False)
    assert r.info.timestep_source == "unknown" and r.info.frame_interval_fs is None


@pytest.mark.parametrize(
    "kw,pattern",
    [
        ({"timestep_fs": 0.002}, r"timestep_fs=0\.002.*looks like ps: pass timestep_fs=2"),
        ({"timestep_fs": 1000.0}, r"timestep_fs=1000.*implausibly large"),
        ({"timestep_fs": 1.0, "frame_interval_fs": 0.01}, r"frame_interval_fs=0\.01.*ps"),
    ],
)
def test_units_guard_on_user_values(xyz, kw, pattern):
    with pytest.raises(UnitsError, match=pattern):
        open_trajectory(xyz, **kw)


def test_interval_must_be_whole_steps(xyz):
    with pytest.raises(InputError, match="not a whole multiple"):
        open_trajectory(xyz, timestep_fs=2.0, frame_interval_fs=5.0)
    r = open_trajectory(xyz, timestep_fs=2.0, frame_interval_fs=10.0)
    assert (r.info.stride, r.info.timestep_source) == (5, "user")


def test_file_value_disagreeing_with_user(tmp_path):
    ch = FrameChunk(0, random_walk(3, 6), triclinic_cells(3))
    path = tmp_path / "t.extxyz"
    write_trajectory(path, ch, SYMBOLS, timestep_fs=1.0, frame_interval_fs=10.0)
    with pytest.raises(UnitsError, match="factor of 1000"):
        open_trajectory(path, frame_interval_fs=10000.0)
    with pytest.raises(InputError, match="frame_interval_fs=10 fs but frame_interval_fs=20"):
        open_trajectory(path, frame_interval_fs=20.0)


def test_lammps_stride_and_ps_confusion(tmp_path):
    cells = triclinic_cells(3)
    write_lammps_dump(tmp_path / "d.dump", random_walk(3, 6), cells, kind="xu",
                      elements=SYMBOLS, steps=[1000, 1500, 2000])
    # LAMMPS metal users often give the time step in ps
    with pytest.raises(UnitsError, match=r"looks like ps: pass timestep_fs=1\b"):
        open_trajectory(tmp_path / "d.dump", timestep_fs=0.001)
    r = open_trajectory(tmp_path / "d.dump", frame_interval_fs=250.0)
    # 500 steps between frames: the integrator step follows from the interval
    assert r.info.timestep_fs == pytest.approx(0.5) and r.info.first_step == 1000
    with pytest.raises(InputError, match="step numbers are 500 apart"):
        open_trajectory(tmp_path / "d.dump", timestep_fs=1.0, frame_interval_fs=100.0)


def test_resolve_timing_table():
    # file time without unit that looks like ps is accepted when the user confirms in fs
    ft = FileTiming(timestep_fs=0.002, stride=10, unit_known=False)
    t = resolve_timing("f", ft, 2.0, None)
    assert (t.timestep_fs, t.frame_interval_fs, t.source) == (2.0, 20.0, "file")
    with pytest.raises(UnitsError, match="looks like ps"):
        resolve_timing("f", ft, None, None)
    # a unit-labelled value is not reinterpreted
    with pytest.raises(UnitsError):
        resolve_timing("f", FileTiming(timestep_fs=0.002, unit_known=True), 2.0, None)
    t = resolve_timing("f", FileTiming(frame_interval_fs=40.0, stride=20), None, None)
    assert (t.timestep_fs, t.stride) == (2.0, 20)
    np.testing.assert_allclose(t.frame_interval_fs, 40.0)


def test_unitless_frame_time_in_ps(tmp_path):
    """extxyz 'time' keys are taken as fs; ps values are caught and confirmed by the user."""
    import ase.io
    from ase import Atoms

    images = []
    for i, (p, c) in enumerate(zip(random_walk(3, 6), triclinic_cells(3), strict=True)):
        a = Atoms(SYMBOLS, positions=p, cell=c, pbc=True)
        a.info["time"] = 0.01 * i  # ps, every 10 fs
        images.append(a)
    ase.io.write(tmp_path / "t.extxyz", images)
    with pytest.raises(UnitsError, match=r"0\.01 per frame.*pass frame_interval_fs=10\b"):
        open_trajectory(tmp_path / "t.extxyz")
    r = open_trajectory(tmp_path / "t.extxyz", frame_interval_fs=10.0)
    assert r.info.frame_interval_fs == pytest.approx(10.0)
    assert r.info.timestep_source == "file"
