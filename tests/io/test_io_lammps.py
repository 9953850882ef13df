"""LAMMPS text dumps: image flags, triclinic variable boxes, wrapped/unwrapped/scaled columns."""

import numpy as np
import pytest
from iofiles import random_walk, triclinic_cells, wrap, write_lammps_dump

from superionic.core.errors import InputError
from superionic.io import open_trajectory

TYPES = [1, 1, 1, 2, 3, 3]
TYPE_MAP = {1: "Li", 2: "P", 3: "S"}


@pytest.fixture
def walk():
    cells = triclinic_cells(12)
    truth = random_walk(12, 6, seed=3)
    wrapped, images = wrap(truth, cells)
    return truth, wrapped, images, cells


def test_image_flags_restore_known_unwrapped_truth(tmp_path, walk):
    truth, wrapped, images, cells = walk
    assert np.abs(images).max() >= 1  # the walk does cross the boundaries
    path = tmp_path / "dump.lammpstrj"
    write_lammps_dump(path, wrapped, cells, images=images, types=TYPES, shuffle_seed=1)
    r = open_trajectory(path, timestep_fs=2.0, symbols=TYPE_MAP)
    assert r.info.format == "lammps-dump-text"
    assert r.info.wrapped is True and r.info.has_image_flags
    assert r.info.symbols == ["Li", "Li", "Li", "P", "S", "S"]
    # TIMESTEP values 0, 100, 200 ... give the stride: 100 steps of 2 fs
    assert r.info.stride == 100 and r.info.frame_interval_fs == pytest.approx(200.0)
    assert r.info.timestep_source == "user"
    a = r.read_all()
    np.testing.assert_array_equal(a.image_flags, images)
    np.testing.assert_allclose(a.cells, cells, atol=1e-9)
    np.testing.assert_allclose(a.positions, wrapped, atol=1e-9)
    np.testing.assert_allclose(a.unwrapped_positions(), truth, atol=1e-8)
    np.testing.assert_array_equal(a.steps, 100 * np.arange(12))
    np.testing.assert_allclose(a.times_fs, 200.0 * np.arange(12))


def test_unwrapped_and_scaled_columns(tmp_path, walk):
    truth, wrapped, _, cells = walk
    write_lammps_dump(tmp_path / "u.dump", truth, cells, kind="xu", elements=list("AAABCC"))
    r = open_trajectory(tmp_path / "u.dump", timestep_fs=1.0)
    assert r.info.wrapped is False and not r.info.has_image_flags
    assert r.info.symbols == list("AAABCC")
    np.testing.assert_allclose(r.read_all().positions, truth, atol=1e-8)

    write_lammps_dump(tmp_path / "s.dump", wrapped, cells, kind="xs", types=TYPES)
    r = open_trajectory(tmp_path / "s.dump", timestep_fs=1.0, symbols=TYPE_MAP)
    assert r.info.wrapped is True
    # scaled coordinates: r = origin + s @ cell, origin = (xlo, ylo, zlo) of the box
    np.testing.assert_allclose(r.read_all().positions, wrapped, atol=1e-8)


def test_chunks_equal_read_all(tmp_path, walk):
    truth, wrapped, images, cells = walk
    write_lammps_dump(tmp_path / "d.dump", wrapped, cells, images=images, types=TYPES)
    r = open_trajectory(tmp_path / "d.dump", timestep_fs=2.0, symbols=TYPE_MAP)
    parts = list(r.chunks(5))
    assert [p.start for p in parts] == [0, 5, 10] and [len(p) for p in parts] == [5, 5, 2]
    whole = r.read_all()
    np.testing.assert_array_equal(np.concatenate([p.positions for p in parts]), whole.positions)
    np.testing.assert_array_equal(np.concatenate([p.image_flags for p in parts]),
                                  whole.image_flags)


def test_metal_velocities_converted_to_A_per_fs(tmp_path, walk):
    truth, _, _, cells = walk
    v_ps = np.random.default_rng(1).normal(0, 5.0, truth.shape)  # Å/ps as in metal units
    write_lammps_dump(tmp_path / "v.dump", truth, cells, kind="xu", types=TYPES,
                      velocities=v_ps, units="metal")
    r = open_trajectory(tmp_path / "v.dump", timestep_fs=1.0, symbols=TYPE_MAP)
    assert r.info.has_velocities and r.info.extra["lammps_units"] == "metal"
    np.testing.assert_allclose(r.read_all().velocities, v_ps * 1e-3, atol=1e-12)
    # without a unit style the velocities are not guessed
    write_lammps_dump(tmp_path / "w.dump", truth, cells, kind="xu", types=TYPES,
                      velocities=v_ps)
    r = open_trajectory(tmp_path / "w.dump", timestep_fs=1.0, symbols=TYPE_MAP)
    assert not r.info.has_velocities and "ignored" in r.info.extra


def test_types_without_elements_need_a_map(tmp_path, walk):
    truth, _, _, cells = walk
    write_lammps_dump(tmp_path / "t.dump", truth, cells, kind="xu", types=TYPES)
    with pytest.raises(InputError, match=r"t\.dump.*frame 0.*types \[1, 2, 3\]"):
        open_trajectory(tmp_path / "t.dump", timestep_fs=1.0)


def test_uneven_steps_rejected(tmp_path, walk):
    truth, _, _, cells = walk
    steps = [0, 10, 20, 30, 40, 45, 60, 70, 80, 90, 100, 110]
    write_lammps_dump(tmp_path / "j.dump", truth, cells, kind="xu", types=TYPES, steps=steps)
    r = open_trajectory(tmp_path / "j.dump", timestep_fs=1.0, symbols=TYPE_MAP)
    with pytest.raises(InputError, match=r"j\.dump, frame 5.*step 50"):
        r.read_all()


def test_gzip_compressed_dump(tmp_path, walk):
    import gzip

    truth, _, _, cells = walk
    write_lammps_dump(tmp_path / "d.lammpstrj", truth, cells, kind="xu", types=TYPES)
    raw = (tmp_path / "d.lammpstrj").read_bytes()
    (tmp_path / "d.lammpstrj.gz").write_bytes(gzip.compress(raw))
    r = open_trajectory(tmp_path / "d.lammpstrj.gz", timestep_fs=1.0, symbols=TYPE_MAP)
    assert r.info.format == "lammps-dump-text"
    np.testing.assert_allclose(r.read_all().positions, truth, atol=1e-8)
