"""H5MD: exact round trips, chunked reading, resume after a kill, files from other codes."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from iofiles import SYMBOLS, random_walk, triclinic_cells, wrap

from superionic.core.errors import InputError, UnitsError
from superionic.io import FrameChunk, H5MDWriter, open_trajectory


def _frames(n=9, seed=0):
    rng = np.random.default_rng(seed)
    cells = triclinic_cells(n)
    wrapped, images = wrap(random_walk(n, 6, seed=seed), cells)
    return FrameChunk(
        start=0, positions=wrapped, cells=cells, velocities=rng.normal(0, 0.01, (n, 6, 3)),
        image_flags=images, forces=rng.normal(0, 1, (n, 6, 3)), energies=rng.normal(-50, 1, n),
    )


def test_roundtrip_identical_arrays_and_metadata(tmp_path):
    ch = _frames()
    path = tmp_path / "t.h5md"
    charges = [1, 1, 1, 5, -2, -2]
    with H5MDWriter(path, SYMBOLS, timestep_fs=2.0, frame_interval_fs=20.0, charges=charges,
                    wrapped=True) as w:
        w.append(FrameChunk(0, ch.positions[:4], ch.cells[:4], ch.velocities[:4],
                            ch.image_flags[:4], ch.forces[:4], ch.energies[:4]))
        assert w.append({"positions": ch.positions[4:], "cells": ch.cells[4:],
                         "velocities": ch.velocities[4:], "image_flags": ch.image_flags[4:],
                         "forces": ch.forces[4:], "energies": ch.energies[4:]}) == 9
    r = open_trajectory(path)
    info = r.info
    assert info.symbols == SYMBOLS and info.n_frames == 9 and info.format == "h5md"
    assert (info.timestep_fs, info.frame_interval_fs, info.stride) == (2.0, 20.0, 10)
    assert info.timestep_source == "file" and info.wrapped is True
    assert info.variable_cell is True and info.has_velocities and info.has_image_flags
    np.testing.assert_array_equal(info.charges, charges)
    np.testing.assert_allclose(info.masses, [6.94, 6.94, 6.94, 30.973762, 32.06, 32.06])
    a = r.read_all()
    for name in ("positions", "cells", "velocities", "image_flags", "forces", "energies"):
        np.testing.assert_array_equal(getattr(a, name), getattr(ch, name), err_msg=name)
    np.testing.assert_array_equal(a.steps, 10 * np.arange(9))
    np.testing.assert_array_equal(a.times_fs, 20.0 * np.arange(9))
    # H5MD time datasets hold step * timestep in fs
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["particles/all/position/time"][:], 20.0 * np.arange(9))
        assert f["particles/all/position/time"].attrs["unit"] == "fs"
        assert tuple(f["h5md"].attrs["version"]) == (1, 1)
    # a user value that agrees is accepted, one that disagrees is refused
    assert open_trajectory(path, timestep_fs=2.0).info.timestep_source == "file"
    with pytest.raises(InputError, match="timestep_fs=2 fs but timestep_fs=1"):
        open_trajectory(path, timestep_fs=1.0)


def test_chunked_equals_read_all(tmp_path):
    ch = _frames(n=11)
    path = tmp_path / "c.h5"
    with H5MDWriter(path, SYMBOLS, timestep_fs=1.0, frame_interval_fs=1.0) as w:
        w.append(ch)
    r = open_trajectory(path)
    parts = list(r.chunks(4))
    assert [(p.start, len(p)) for p in parts] == [(0, 4), (4, 4), (8, 3)]
    for name in ("positions", "cells", "velocities", "forces"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in parts]),
                                      getattr(ch, name))


_KILLED_WRITER = """
import os, sys
import numpy as np
from superionic.io import H5MDWriter
rng = np.random.default_rng(5)
w = H5MDWriter(sys.argv[1], ["Li", "S"], timestep_fs=2.0, frame_interval_fs=10.0)
for i in range(6):
    w.append(positions=rng.uniform(0, 5, (1, 2, 3)), cells=np.eye(3) * 5)
os._exit(9)  # killed: no close, no cleanup
"""


def test_append_after_kill_continues_steps_and_time(tmp_path):
    path = tmp_path / "run.h5md"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], check=False)
    assert proc.returncode == 9
    r = open_trajectory(path)
    assert r.info.n_frames == 6  # every flushed frame survived the kill
    first = r.read_all()
    # simulate a kill inside append: position got one more row than box/edges
    with h5py.File(path, "a") as f:
        for k in ("value", "step", "time"):
            ds = f[f"particles/all/position/{k}"]
            ds.resize(7, axis=0)
    assert open_trajectory(path).info.n_frames == 6
    with H5MDWriter(path, ["Li", "S"], timestep_fs=2.0, frame_interval_fs=10.0,
                    append=True) as w:
        assert w.n_frames == 6
        w.append(positions=np.full((3, 2, 3), 1.0), cells=np.eye(3) * 5)
    a = open_trajectory(path).read_all()
    np.testing.assert_array_equal(a.steps, 5 * np.arange(9))
    np.testing.assert_array_equal(a.times_fs, 10.0 * np.arange(9))
    np.testing.assert_array_equal(a.positions[:6], first.positions)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["particles/all/position/time"][:], 10.0 * np.arange(9))
    with pytest.raises(InputError, match="frame_interval_fs=20 differs"):
        H5MDWriter(path, ["Li", "S"], timestep_fs=2.0, frame_interval_fs=20.0, append=True)


def _foreign(path, time_unit, species, n=5, n_atoms=4, step=(0, 50), fixed_box=None):
    """An H5MD file laid out as LAMMPS' dump h5md writes it: rectangular edges (f, 3) per
    frame, fixed-increment step/time scalars, integer species, no superionic parameters."""
    rng = np.random.default_rng(2)
    pos = rng.uniform(0, 10, (n, n_atoms, 3))
    edges = 10.0 + 0.1 * np.arange(n)[:, None] * np.ones((1, 3))
    with h5py.File(path, "w") as f:
        f.create_group("h5md").attrs["version"] = [1, 1]
        g = f.create_group("particles/all")
        p = g.create_group("position")
        p.create_dataset("value", data=pos / 10.0).attrs["unit"] = "nm"
        s = p.create_dataset("step", data=step[1])
        s.attrs["offset"] = step[0]
        t = p.create_dataset("time", data=0.05)
        t.attrs["offset"] = 0.0
        if time_unit:
            t.attrs["unit"] = time_unit
        if fixed_box is not None:  # time-independent triclinic box
            g.create_group("box").create_dataset("edges", data=fixed_box)
        else:
            e = g.create_group("box").create_group("edges")
            e.create_dataset("value", data=edges)
            e.create_dataset("step", data=step[0] + step[1] * np.arange(n))
        g.create_dataset("species", data=species)
    return pos, edges


def test_reads_another_codes_layout(tmp_path):
    path = tmp_path / "lmp.h5"
    pos, edges = _foreign(path, "ps", [1, 1, 2, 2])
    r = open_trajectory(path, symbols={1: "Li", 2: "Cl"})
    # time 0.05 ps per 50 steps: 1 fs steps, 50 fs between frames
    assert r.info.timestep_fs == pytest.approx(1.0)
    assert r.info.frame_interval_fs == pytest.approx(50.0)
    assert r.info.symbols == ["Li", "Li", "Cl", "Cl"] and r.info.variable_cell is True
    a = r.read_all()
    np.testing.assert_allclose(a.positions, pos, rtol=1e-12)  # nm -> Å
    np.testing.assert_allclose(a.cells, np.einsum("fi,ij->fij", edges, np.eye(3)))
    with pytest.raises(InputError, match=r"species are numbers \[1, 2\]"):
        open_trajectory(path)
    box = triclinic_cells(1)[0]
    _foreign(tmp_path / "fixed.h5", "ps", np.array([b"Li", b"Li", b"Cl", b"Cl"]),
             fixed_box=box)
    r = open_trajectory(tmp_path / "fixed.h5")
    assert r.info.variable_cell is False and r.info.symbols == ["Li", "Li", "Cl", "Cl"]
    np.testing.assert_array_equal(r.read_all().cells, np.broadcast_to(box, (5, 3, 3)))


def test_time_in_ps_labelled_fs_is_caught(tmp_path):
    _foreign(tmp_path / "bad.h5", "fs", [1, 1, 2, 2])
    # 0.001 'fs' per step: a labelled unit is not reinterpreted, even if the user confirms
    with pytest.raises(UnitsError, match="looks like ps"):
        open_trajectory(tmp_path / "bad.h5", symbols={1: "Li", 2: "Cl"}, timestep_fs=1.0)


def test_unitless_time_in_ps_is_caught(tmp_path):
    path = tmp_path / "ps.h5"
    _foreign(path, None, [1, 1, 2, 2], step=(0, 50))
    # 0.05 per 50 steps = 0.001 per step: implausible as fs, looks like ps
    with pytest.raises(UnitsError, match="looks like ps.*timestep_fs=1"):
        open_trajectory(path, symbols={1: "Li", 2: "Cl"})
    r = open_trajectory(path, symbols={1: "Li", 2: "Cl"}, timestep_fs=1.0)
    assert r.info.frame_interval_fs == pytest.approx(50.0)


def test_append_ase_atoms_keeps_kinetic_energy(tmp_path):
    from ase.build import bulk
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.RandomState(0))
    with H5MDWriter(tmp_path / "a.h5", atoms.get_chemical_symbols(), timestep_fs=1.0,
                    frame_interval_fs=1.0) as w:
        w.append(atoms)
    r = open_trajectory(tmp_path / "a.h5")
    v = r.read_all().velocities[0]  # Å/fs
    # E_kin = sum m v^2 / 2 with 1 amu Å²/fs² = 103.6427 eV (CODATA: 1e10 u / e)
    ekin_eV = 0.5 * np.sum(r.info.masses[:, None] * v**2) * 1.66053906660e-27 * 1e10 / (
        1.602176634e-19)
    assert ekin_eV == pytest.approx(atoms.get_kinetic_energy(), rel=1e-7)  # ASE: CODATA 2014


def test_velocity_sampled_at_other_steps(tmp_path):
    path = tmp_path / "v.h5"
    _foreign(path, "ps", [1, 1, 2, 2])  # positions at steps 0, 50, ..., 200
    with h5py.File(path, "a") as f:
        v = f["particles/all"].create_group("velocity")
        v.create_dataset("value", data=np.ones((5, 4, 3)))
        v.create_dataset("step", data=[0, 50, 100, 150, 200])
        v["value"].attrs["unit"] = "nm ps-1"
    a = open_trajectory(path, symbols={1: "Li", 2: "Cl"}).read_all()
    np.testing.assert_allclose(a.velocities, 1e-2)  # 1 nm/ps = 0.01 Å/fs
    with h5py.File(path, "a") as f:
        del f["particles/all/velocity/step"]
        f["particles/all/velocity/step"] = [0, 100, 200, 300, 400]
    with pytest.raises(InputError, match=r"v\.h5, frame 1.*velocity/value.*not stored at step 50"):
        open_trajectory(path, symbols={1: "Li", 2: "Cl"})
