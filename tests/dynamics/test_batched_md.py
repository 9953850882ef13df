"""Batched torch MD: neighbour lists, NVE against ASE's velocity Verlet on the numba engine,
Langevin temperatures, per-system trajectories, checkpoint and resume."""

import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk
from ase.md.verlet import VelocityVerlet

from superionic.core.errors import InputError
from superionic.dynamics.batched import BatchedMD, run_batched_md, verlet_pairs
from superionic.io.h5md import H5MDReader
from superionic.potentials.calculator import QMTPCalculator
from superionic.potentials.qmtp import QMTP, find_neighbours


def _cell(seed, repeat=(2, 2, 2), distort=0.2):
    rng = np.random.default_rng(seed)
    a = bulk("Li", "bcc", a=3.5, cubic=True).repeat(repeat)
    a.numbers[::4] = 16
    a.positions += rng.normal(scale=0.08, size=a.positions.shape)
    a.set_cell(a.cell.array + rng.normal(scale=distort, size=(3, 3)), scale_atoms=True)
    return a


def _model(charges=False):
    m = QMTP.random(["Li", "S"], level=8, seed=4, charges=charges, r_cut=4.5, r_min=1.5)
    m.repulsion_r_outer_ = np.array([[1.9, 1.7], [1.7, 2.6]])
    return m


def _soft_spheres():
    """A stable model for long runs: the ZBL baseline alone (a purely repulsive fluid)."""
    m = QMTP.random(["Li", "S"], level=8, seed=4, charges=False, r_cut=4.5, r_min=1.5)
    m.xi_[:] = 0.0
    m.repulsion_r_outer_ = np.full((2, 2), 2.8)
    return m


def test_verlet_pairs_equal_reference_neighbour_list():
    # a skewed cell narrower than the cutoff in one direction, one atom far outside the cell
    a = _cell(1, repeat=(2, 1, 2))
    a.positions[3] += 2.3 * a.cell[0] - 1.1 * a.cell[2]
    ref = find_neighbours(a, 5.0)
    i, j, s = verlet_pairs(torch.tensor(a.positions), torch.tensor(a.cell.array), 5.0)
    vec = (torch.tensor(a.positions)[j] - torch.tensor(a.positions)[i]
           + s @ torch.tensor(a.cell.array)).numpy()
    key = sorted(zip(i.tolist(), j.tolist(), np.round(vec, 9).tolist(), strict=True))
    key_ref = sorted(zip(ref.pair_i.tolist(), ref.pair_j.tolist(),
                         np.round(ref.vectors, 9).tolist(), strict=True))
    assert len(key) == len(key_ref) > 0
    assert key == key_ref
    assert np.allclose(s.numpy(), np.round(s.numpy()))  # integer image shifts


@pytest.mark.parametrize("charges", [False, True])
def test_nve_equals_ase_velocity_verlet_on_numba_engine(charges, single_thread):
    m = _model(charges)
    systems = [_cell(2), _cell(3, repeat=(2, 2, 3))]
    # a thin skin makes the Verlet lists rebuild during the run; a random model stays
    # physical for a few dozen femtoseconds only
    md = BatchedMD(m, systems, temperatures_K=300.0, timestep_fs=1.0, friction_per_fs=0.0,
                   skin_A=0.05)
    md.maxwell_boltzmann()
    v0 = md.velocities.numpy().copy()
    for _ in range(12):
        md.step()
    for k, a in enumerate(systems):
        sl = slice(int(md.slices[k]), int(md.slices[k + 1]))
        b = a.copy()
        b.calc = QMTPCalculator(m)
        b.set_velocities(v0[sl])
        VelocityVerlet(b, timestep=1.0 * units.fs).run(12)
        assert np.abs(md.positions[sl].numpy() - b.positions).max() < 1e-9
        assert np.abs(md.velocities[sl].numpy() - b.get_velocities()).max() < 1e-9
        assert float(md.energies[k]) == pytest.approx(b.get_potential_energy(), abs=1e-8)
    assert md.n_rebuilds >= 3
    assert np.abs(md.positions.numpy() - np.concatenate([a.positions for a in systems])).max() \
        > 0.05


def test_langevin_temperatures_and_trajectories(tmp_path, single_thread):
    # two systems at two temperatures in one batch: equipartition gives each its own mean
    # temperature; the H5MD files hold each system's frames with its velocities
    m = _soft_spheres()
    systems = [_cell(5), _cell(6)]
    res = run_batched_md(m, systems, temperatures_K=[300.0, 900.0], steps=1500,
                         timestep_fs=1.0, friction_per_fs=0.05, sample_every=10,
                         out_dir=tmp_path, seed=1)
    # measured over seeds 1-3: 297-304 K and 855-923 K (16 atoms: ~25 % per frame)
    ekin = np.array(res.log["ekin_eV"])[50:]
    t_mean = ekin.mean(axis=0) / (1.5 * units.kB * 16)
    assert t_mean[0] == pytest.approx(300.0, rel=0.12)
    assert t_mean[1] == pytest.approx(900.0, rel=0.12)
    for k, path in enumerate(res.trajectories):
        r = H5MDReader(path)
        frames = list(r.chunks(1000))
        pos = np.concatenate([c.positions for c in frames])
        assert pos.shape == (151, 16, 3)
        assert np.allclose(pos[0], systems[k].positions)
    assert res.atom_steps_per_s > 0 and res.n_systems == 2


def test_resume_after_kill_gives_the_same_trajectory(tmp_path, single_thread):
    m = _soft_spheres()
    systems = [_cell(7), _cell(8)]
    kw = dict(temperatures_K=700.0, timestep_fs=1.0, sample_every=5, checkpoint_every=20,
              seed=3)
    full = run_batched_md(m, systems, steps=60, out_dir=tmp_path / "full", **kw)
    # a run stopped at step 40 (checkpointed), then continued to 60
    run_batched_md(m, systems, steps=40, out_dir=tmp_path / "cut", **kw)
    resumed = run_batched_md(m, systems, steps=60, out_dir=tmp_path / "cut", **kw)
    assert resumed.resumed_from_step == 40
    for a, b in zip(full.trajectories, resumed.trajectories, strict=True):
        pa = np.concatenate([c.positions for c in H5MDReader(a).chunks(100)])
        pb = np.concatenate([c.positions for c in H5MDReader(b).chunks(100)])
        assert pa.shape == pb.shape == (13, 16, 3)
        assert np.array_equal(pa, pb)
    with pytest.raises(InputError, match="other settings"):
        run_batched_md(m, systems, steps=60, out_dir=tmp_path / "cut",
                       **{**kw, "temperatures_K": 800.0})


def test_bad_input_is_refused():
    m = _model()
    a = _cell(1)
    a.pbc = False
    with pytest.raises(InputError, match="periodic"):
        BatchedMD(m, [a], temperatures_K=300.0)
    b = _cell(1)
    b.numbers[0] = 8
    with pytest.raises(InputError, match="not in the model"):
        BatchedMD(m, [b], temperatures_K=300.0)
    with pytest.raises(InputError, match="temperatures"):
        BatchedMD(m, [_cell(1)], temperatures_K=[300.0, -5.0][1])


def test_cli_md_single_and_replicas(tmp_path, capsys):
    import json

    from ase.io import write

    from superionic.cli.main import main

    model = tmp_path / "m.qmtp"
    _soft_spheres().save(model)
    poscar = tmp_path / "POSCAR"
    li2s = _cell(9, repeat=(3, 2, 1), distort=0.0)
    li2s.numbers[:] = 3
    li2s.numbers[::3] = 16  # charge-balanced Li8S4
    write(poscar, li2s, format="vasp")
    common = ["--potential", str(model), "--temperature", "500", "--steps", "30",
              "--sample-every", "10", "--min-distance", "5"]
    assert main(["md", str(poscar), *common, "--out", str(tmp_path / "one.h5"), "--json",
                 str(tmp_path / "one.json")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())
    n = one["n_atoms"]
    assert n % 12 == 0 and one["steps"] == 30 and one["atom_steps_per_s"] > 0
    assert main(["md", str(poscar), *common, "--out", str(tmp_path / "rep.h5"), "--json",
                 str(tmp_path / "rep.json"), "--replicas", "3"]) == 0
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["n_replicas"] == 3 and rep["n_atoms"] == n and rep["steps"] == 30
    assert rep["n_atoms_total"] == 3 * n and rep["atom_steps_per_s"] > 0
    finals = []
    for k in range(3):
        path = tmp_path / f"rep_r{k:03d}.h5"
        pos = np.concatenate([c.positions for c in H5MDReader(path).chunks(100)])
        assert pos.shape == (4, n, 3)
        finals.append(pos[-1])
    # independent replicas: same start, different velocities and noise
    assert np.abs(finals[0] - finals[1]).max() > 1e-3
    assert main(["md", str(poscar), *common[2:], "--potential", "chgnet", "--out",
                 str(tmp_path / "x.h5"), "--replicas", "2"]) != 0
    assert "expected a QMTP model file" in capsys.readouterr().err


def test_extrapolation_grade_stops_the_batch(tmp_path, single_thread):
    from superionic.potentials.active_learning import ActiveSet

    m = _soft_spheres()
    m.xi_[:] = 1e-9  # same forces; a basis for the grades
    base = _cell(11, distort=0.0)
    train = []
    for k in range(12):
        a = base.copy()
        a.rattle(0.05, seed=k)
        train.append(a)
    act = ActiveSet(m).fit(train)
    # grades on the configurations the set was fitted on are <= 1 (D-optimality)
    assert max(act.grade(a)[0] for a in train) <= 1.0 + 1e-9
    cold = run_batched_md(m, [base, base], temperatures_K=[20.0, 20.0], steps=30,
                          timestep_fs=1.0, out_dir=tmp_path / "cold", active_set=act,
                          break_grade=1e6)
    assert cold.stopped_early is None and cold.steps == 30
    assert len(cold.max_extrapolation_grades) == 2
    # one hot system in the batch leaves the fitted neighbourhoods: the run stops, naming it
    hot = run_batched_md(m, [base, base], temperatures_K=[20.0, 3000.0], steps=400,
                         timestep_fs=1.0, out_dir=tmp_path / "hot", active_set=act,
                         break_grade=5.0, names=["cold", "hot"])
    assert hot.stopped_early is not None and "system hot" in hot.stopped_early
    assert hot.steps < 400 and hot.max_extrapolation_grades[1] > 5.0
    assert hot.max_extrapolation_grades[0] < hot.max_extrapolation_grades[1]
