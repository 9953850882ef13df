"""extxyz, ASE .traj, XDATCAR and vasprun.xml read back to the numbers written."""

import ase.io
import numpy as np
import pytest
from ase import Atoms
from iofiles import SYMBOLS, random_walk, triclinic_cells, wrap, write_vasprun, write_xdatcar

from superionic.io import FrameChunk, open_trajectory, write_trajectory


@pytest.fixture
def npt():
    """A triclinic variable-cell trajectory with velocities, forces and energies."""
    rng = np.random.default_rng(4)
    cells = triclinic_cells(8)
    wrapped, _ = wrap(random_walk(8, 6, seed=4), cells)
    return FrameChunk(0, wrapped, cells, velocities=rng.normal(0, 0.01, (8, 6, 3)),
                      forces=rng.normal(0, 1, (8, 6, 3)), energies=rng.normal(-40, 1, 8))


@pytest.mark.parametrize("name,atol", [("t.traj", 0.0), ("t.extxyz", 1e-8)])
def test_ase_formats_roundtrip_triclinic_variable_cell(tmp_path, npt, name, atol):
    path = tmp_path / name
    write_trajectory(path, npt, SYMBOLS, timestep_fs=0.5, frame_interval_fs=5.0, first_step=30)
    r = open_trajectory(path)
    info = r.info
    assert info.symbols == SYMBOLS and info.variable_cell is True
    assert (info.timestep_fs, info.frame_interval_fs, info.stride) == (0.5, 5.0, 10)
    assert info.timestep_source == "file" and info.first_step == 30
    a = r.read_all()
    assert len(a) == 8
    np.testing.assert_allclose(a.positions, npt.positions, rtol=0, atol=atol)
    np.testing.assert_allclose(a.cells, npt.cells, rtol=0, atol=atol)
    np.testing.assert_allclose(a.velocities, npt.velocities, rtol=0, atol=max(atol, 1e-15))
    np.testing.assert_allclose(a.forces, npt.forces, rtol=0, atol=max(atol, 1e-12))
    np.testing.assert_allclose(a.energies, npt.energies, rtol=1e-12)
    np.testing.assert_array_equal(a.steps, 30 + 10 * np.arange(8))
    parts = list(r.chunks(3))
    np.testing.assert_array_equal(np.concatenate([p.positions for p in parts]), a.positions)


def test_plain_ase_file_needs_user_timing(tmp_path, npt):
    images = [Atoms(SYMBOLS, positions=p, cell=c, pbc=True)
              for p, c in zip(npt.positions, npt.cells, strict=True)]
    ase.io.write(tmp_path / "plain.xyz", images, format="extxyz")
    r = open_trajectory(tmp_path / "plain.xyz", timestep_fs=2.0, frame_interval_fs=50.0)
    assert r.info.timestep_source == "user" and r.info.stride == 25
    np.testing.assert_allclose(r.read_all().times_fs, 50.0 * np.arange(8))


def test_xdatcar_written_by_ase(tmp_path, npt):
    images = [Atoms(SYMBOLS, positions=p, cell=c, pbc=True)
              for p, c in zip(npt.positions, npt.cells, strict=True)]
    ase.io.write(tmp_path / "XDATCAR", images, format="vasp-xdatcar")
    r = open_trajectory(tmp_path / "XDATCAR", timestep_fs=1.0)
    assert r.info.format == "vasp-xdatcar" and r.info.wrapped is True
    assert r.info.extra.get("stride_assumed") is True
    a = r.read_all()
    np.testing.assert_allclose(a.cells, npt.cells, atol=1e-6)
    np.testing.assert_allclose(a.positions, npt.positions, atol=1e-6)  # 8 fractional digits


def test_xdatcar_npt_with_volume_scale_and_incar_timing(tmp_path, npt):
    write_xdatcar(tmp_path / "XDATCAR", npt.positions, npt.cells, SYMBOLS, volume_scale=True)
    (tmp_path / "INCAR").write_text("IBRION = 0 ; POTIM = 1.5\nNBLOCK = 4  # sampling\n")
    r = open_trajectory(tmp_path / "XDATCAR")
    assert r.info.variable_cell is True and r.info.timestep_source == "file"
    assert (r.info.timestep_fs, r.info.stride, r.info.frame_interval_fs) == (1.5, 4, 6.0)
    a = r.read_all()
    np.testing.assert_allclose(a.cells, npt.cells, atol=1e-10)
    np.testing.assert_allclose(a.positions, npt.positions, atol=1e-10)
    # the same frames with a plain scale factor, read by ASE as an independent parser
    (tmp_path / "b").mkdir()
    write_xdatcar(tmp_path / "b" / "XDATCAR", npt.positions, npt.cells, SYMBOLS)
    ref = ase.io.read(tmp_path / "b" / "XDATCAR", index=":", format="vasp-xdatcar")
    mine = open_trajectory(tmp_path / "b" / "XDATCAR", timestep_fs=1.5).read_all()
    np.testing.assert_allclose(mine.positions, [x.positions for x in ref], atol=1e-12)
    np.testing.assert_allclose(mine.positions, a.positions, atol=1e-10)


def test_vasprun_potim_and_frames_match_ase(tmp_path, npt):
    path = tmp_path / "vasprun.xml"
    write_vasprun(path, npt.positions, npt.cells, SYMBOLS, npt.forces, npt.energies, potim=2.0)
    r = open_trajectory(path)
    assert r.info.format == "vasp-xml" and r.info.timestep_source == "file"
    assert (r.info.timestep_fs, r.info.frame_interval_fs) == (2.0, 2.0)
    a = r.read_all()
    np.testing.assert_allclose(a.positions, npt.positions, atol=1e-10)
    np.testing.assert_allclose(a.cells, npt.cells, atol=1e-12)
    np.testing.assert_allclose(a.forces, npt.forces, atol=1e-12)
    ref = ase.io.read(path, index=":", format="vasp-xml")
    assert len(ref) == len(a)
    np.testing.assert_allclose(a.energies, [x.get_potential_energy() for x in ref], atol=1e-9)
    np.testing.assert_allclose(a.positions, [x.positions for x in ref], atol=1e-10)
