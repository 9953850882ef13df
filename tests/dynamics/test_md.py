import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from superionic.dynamics.md import SimulationError, run_md
from superionic.io import open_trajectory


def _cu():
    return bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))


class _Kill(Exception):
    pass


def test_resume_after_kill_reproduces_uninterrupted_run(tmp_path):
    kw = dict(temperature_K=600, timestep_fs=2.0, steps=60, sample_every=5,
              checkpoint_every=20, seed=7, ensemble="nvt-langevin")
    ref = run_md(_cu(), EMT(), out=tmp_path / "ref.h5", **kw)

    def killer(atoms, step):
        if step == 45:
            raise _Kill()
        return None

    with pytest.raises(_Kill):
        run_md(_cu(), EMT(), out=tmp_path / "run.h5", stop_if=killer, **kw)
    res = run_md(_cu(), EMT(), out=tmp_path / "run.h5", **kw)
    assert res.resumed_from_step == 40  # last checkpoint before the kill
    a = open_trajectory(tmp_path / "ref.h5").read_all()
    b = open_trajectory(tmp_path / "run.h5").read_all()
    assert a.positions.shape == b.positions.shape == (13, 32, 3)
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-10)
    np.testing.assert_allclose(b.velocities, a.velocities, atol=1e-12)
    assert ref.steps == res.steps == 60


def test_a_run_killed_after_a_stop_meets_the_same_stop_again(tmp_path):
    # a stop at step 47 (after the checkpoint at 40), then a kill before the caller could use
    # it: without a checkpoint at the stop, the restarted run replays steps 40-47 and stops
    # there again with the positions of the uninterrupted run
    seen = []

    def stop_at_47(atoms, step):
        if step == 47:
            seen.append(atoms.positions.copy())
            return "event"
        return None

    kw = dict(temperature_K=600, timestep_fs=2.0, steps=60, sample_every=5,
              checkpoint_every=20, seed=3, check_every=1, checkpoint_on_stop=False)
    first = run_md(_cu(), EMT(), out=tmp_path / "s.h5", stop_if=stop_at_47, **kw)
    again = run_md(_cu(), EMT(), out=tmp_path / "s.h5", stop_if=stop_at_47, **kw)
    assert first.stopped_early == again.stopped_early == "event"
    assert again.resumed_from_step == 40 and first.steps == again.steps == 47
    np.testing.assert_allclose(seen[1], seen[0], atol=1e-10)
    assert len(open_trajectory(tmp_path / "s.h5").read_all()) == 10  # frames 0, 5, ..., 45
    # with the default, the stop state itself is checkpointed and a rerun starts there
    run_md(_cu(), EMT(), out=tmp_path / "d.h5", stop_if=stop_at_47,
           **(kw | {"checkpoint_on_stop": True}))
    assert run_md(_cu(), EMT(), out=tmp_path / "d.h5",
                  **(kw | {"checkpoint_on_stop": True})).resumed_from_step == 47


def test_nve_energy_drift_below_1_meV_per_atom_per_ps(tmp_path):
    res = run_md(_cu(), EMT(), temperature_K=300, timestep_fs=2.0, steps=500,
                 sample_every=10, ensemble="nve", out=tmp_path / "nve.h5", seed=1)
    assert abs(res.energy_drift_meV_per_atom_per_ps) < 1.0
    etot = np.array(res.log["epot_eV"]) + np.array(res.log["ekin_eV"])
    assert np.ptp(etot) / res.n_atoms < 2e-3  # fluctuation of the conserved quantity


def test_trajectory_metadata_read_back(tmp_path):
    res = run_md(_cu(), EMT(), temperature_K=300, timestep_fs=1.5, steps=20, sample_every=4,
                 out=tmp_path / "t.h5", seed=0)
    r = open_trajectory(tmp_path / "t.h5")
    assert r.info.timestep_fs == pytest.approx(1.5)
    assert r.info.frame_interval_fs == pytest.approx(6.0)
    assert res.atom_steps_per_s > 0


class _NaNAfter(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self, n):
        super().__init__()
        self.calls, self.n, self.emt = 0, n, EMT()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        self.emt.calculate(atoms, ["energy", "forces"], system_changes)
        self.results = dict(self.emt.results)
        if self.calls > self.n:
            self.results["forces"] = self.results["forces"] * np.nan


def test_nan_forces_raise_naming_step_and_keep_frames(tmp_path):
    with pytest.raises(SimulationError, match="step"):
        run_md(_cu(), _NaNAfter(25), temperature_K=300, steps=100, sample_every=5,
               checkpoint_every=10, out=tmp_path / "n.h5")
    r = open_trajectory(tmp_path / "n.h5").read_all()
    assert len(r) >= 3 and np.all(np.isfinite(r.positions))


def test_stop_check_every_step_catches_events_between_samples(tmp_path):
    # an event at step 13 (between samples every 5 steps) stops the run there when checked
    # every step, and only at the next sample (15) when checked at samples
    def at_13(atoms, step):
        return "event" if step >= 13 else None

    kw = dict(temperature_K=300, timestep_fs=2.0, steps=40, sample_every=5, seed=2)
    every = run_md(_cu(), EMT(), out=tmp_path / "a.h5", stop_if=at_13, check_every=1, **kw)
    sampled = run_md(_cu(), EMT(), out=tmp_path / "b.h5", stop_if=at_13, **kw)
    assert every.stopped_early == sampled.stopped_early == "event"
    assert every.steps == 13 and sampled.steps == 15


def test_blas_thread_limit_applies_and_refuses_nonsense():
    import threadpoolctl

    from superionic.core.errors import InputError
    from superionic.core.threads import blas_limit

    with blas_limit(1):
        assert all(d["num_threads"] == 1 for d in threadpoolctl.threadpool_info()
                   if d["user_api"] == "blas")
    with pytest.raises(InputError, match="blas_threads"):
        blas_limit(0)
