"""Bad input: each case raises InputError naming the file and the frame (or recovers the
complete frames of a cut file with a warning that says how many were read)."""

import numpy as np
import pytest
from iofiles import (
    SYMBOLS,
    random_walk,
    triclinic_cells,
    wrap,
    write_lammps_dump,
    write_vasprun,
    write_xdatcar,
)

from superionic.core.errors import InputError
from superionic.io import (
    FrameChunk,
    TruncatedTrajectoryWarning,
    open_trajectory,
    species_indices,
    write_trajectory,
)


@pytest.fixture
def traj():
    cells = triclinic_cells(5)
    wrapped, images = wrap(random_walk(5, 6, seed=9), cells)
    return wrapped, images, cells


def _cut(path, fraction):
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    keep = int(len(lines) * fraction)
    path.write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])


@pytest.mark.parametrize("kind", ["extxyz", "lammps", "xdatcar", "vasprun"])
def test_truncated_last_frame_keeps_complete_frames(tmp_path, traj, kind):
    wrapped, images, cells = traj
    if kind == "extxyz":
        path = tmp_path / "t.extxyz"
        write_trajectory(path, FrameChunk(0, wrapped, cells), SYMBOLS, timestep_fs=1.0)
        kw = {}
    elif kind == "lammps":
        path = tmp_path / "t.dump"
        write_lammps_dump(path, wrapped, cells, images=images, types=[1, 1, 1, 2, 3, 3])
        kw = {"timestep_fs": 1.0, "symbols": {1: "Li", 2: "P", 3: "S"}}
    elif kind == "xdatcar":
        path = tmp_path / "XDATCAR"
        write_xdatcar(path, wrapped, cells, SYMBOLS)
        kw = {"timestep_fs": 1.0}
    else:
        path = tmp_path / "vasprun.xml"
        write_vasprun(path, wrapped, cells, SYMBOLS, np.zeros_like(wrapped), np.zeros(5))
        kw = {}
    _cut(path, 0.93)  # inside the last of 5 frames
    r = open_trajectory(path, **kw)
    with pytest.warns(TruncatedTrajectoryWarning, match=r"frame 4 is incomplete.*read 4 complete"):
        a = r.read_all()
    assert len(a) == 4
    np.testing.assert_allclose(a.positions, wrapped[:4], atol=1e-8)


def test_corrupt_middle_frame_is_an_error(tmp_path, traj):
    wrapped, _, cells = traj
    path = tmp_path / "m.extxyz"
    write_trajectory(path, FrameChunk(0, wrapped, cells), SYMBOLS, timestep_fs=1.0)
    lines = path.read_text().splitlines(keepends=True)
    lines[2 * 8 + 3] = "Li 1.0 2.0\n"  # frame 2, atom line with a coordinate missing
    path.write_text("".join(lines))
    with pytest.raises(InputError, match=r"m\.extxyz, frame 2: cannot be parsed"):
        open_trajectory(path).read_all()


def test_changing_atom_count(tmp_path, traj):
    wrapped, _, cells = traj
    path = tmp_path / "n.extxyz"
    write_trajectory(path, FrameChunk(0, wrapped[:3], cells[:3]), SYMBOLS, timestep_fs=1.0)
    write_trajectory(path, FrameChunk(3, wrapped[3:, :5], cells[3:]), SYMBOLS[:5],
                     timestep_fs=1.0, append=True)
    with pytest.raises(InputError, match=r"n\.extxyz, frame 3.*has 5 atoms.*first frame has 6"):
        open_trajectory(path).read_all()


@pytest.mark.parametrize("kind", ["extxyz", "lammps", "h5md"])
def test_nan_coordinates(tmp_path, traj, kind):
    wrapped, images, cells = traj
    bad = wrapped.copy()
    bad[3, 2, 1] = np.nan
    if kind == "lammps":
        path = tmp_path / "nan.dump"
        write_lammps_dump(path, bad, cells, elements=SYMBOLS)
    else:
        path = tmp_path / f"nan.{kind}"
        write_trajectory(path, FrameChunk(0, wrapped, cells), SYMBOLS, timestep_fs=1.0)
        if kind == "h5md":
            import h5py

            with h5py.File(path, "a") as f:
                f["particles/all/position/value"][3, 2, 1] = np.nan
        else:
            write_trajectory(path, FrameChunk(0, bad, cells), SYMBOLS, timestep_fs=1.0)
    r = open_trajectory(path, timestep_fs=1.0)
    with pytest.raises(InputError, match=r"nan\.\w+, frame 3.*NaN or infinite"):
        list(r.chunks(2))


def test_h5md_writer_refuses_nan(tmp_path, traj):
    wrapped, _, cells = traj
    from superionic.io import H5MDWriter

    bad = wrapped.copy()
    bad[1, 0, 0] = np.inf
    with H5MDWriter(tmp_path / "w.h5", SYMBOLS, timestep_fs=1.0, frame_interval_fs=1.0) as w:
        with pytest.raises(InputError, match=r"w\.h5, frame 1.*NaN or infinite"):
            w.append(positions=bad, cells=cells)
        assert w.n_frames == 0


def test_missing_species_lists_present(tmp_path, traj):
    wrapped, _, cells = traj
    path = tmp_path / "s.extxyz"
    write_trajectory(path, FrameChunk(0, wrapped, cells), SYMBOLS, timestep_fs=1.0)
    info = open_trajectory(path).info
    np.testing.assert_array_equal(species_indices(info, "Li"), [0, 1, 2])
    np.testing.assert_array_equal(species_indices(info, ["P", "S"]), [3, 4, 5])
    with pytest.raises(InputError, match=r"s\.extxyz.*\['Na'\].*\['Li', 'P', 'S'\]"):
        species_indices(info, ["Li", "Na"])


def test_empty_unknown_and_missing_files(tmp_path):
    (tmp_path / "empty.extxyz").write_text("")
    with pytest.raises(InputError, match=r"empty\.extxyz, frame 0: file is empty"):
        open_trajectory(tmp_path / "empty.extxyz", timestep_fs=1.0)
    (tmp_path / "blank.dump").write_text("\n\n")
    with pytest.raises(InputError, match=r"blank\.dump, frame 0: holds no complete frame"):
        open_trajectory(tmp_path / "blank.dump", timestep_fs=1.0)
    (tmp_path / "x.dat").write_text("hello\n")
    with pytest.raises(InputError, match=r"x\.dat.*unknown format 'nonsense'"):
        open_trajectory(tmp_path / "x.dat", "nonsense")
    with pytest.raises(InputError, match=r"x\.dat, frame 0: holds no complete frame when read"):
        open_trajectory(tmp_path / "x.dat")
    with pytest.raises(InputError, match="no such file"):
        open_trajectory(tmp_path / "absent.xyz")
    (tmp_path / "cut.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InputError, match=r"cut\.h5.*not a readable HDF5"):
        open_trajectory(tmp_path / "cut.h5")
