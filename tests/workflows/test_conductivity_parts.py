"""Pure parts of the conductivity workflow: default temperatures and the teacher check."""

import math

import numpy as np
import pytest

from superionic.core.estimate import Estimate
from superionic.core.executor import Executor
from superionic.core.units import KB_EV_PER_K
from superionic.workflows.conductivity import (
    ConductivityConfig,
    _dimensionality_over_temperatures,
    default_temperatures,
    teacher_check,
    teacher_check_note,
)


def test_lowest_default_temperature_gives_one_hop_per_t_hop():
    Ea, t_hop_ps, nu0 = 0.25, 20.0, 1e13
    temps = sorted(default_temperatures(Ea, t_hop_ps=t_hop_ps, nu0_Hz=nu0))
    # transition-state rate at the lowest T: one hop per t_hop (to the 1 K rounding)
    rate = nu0 * math.exp(-Ea / (KB_EV_PER_K * temps[0]))
    assert rate * t_hop_ps * 1e-12 == pytest.approx(1.0, rel=0.02)
    # evenly spaced in 1/T, 350 K wide, below the cap
    inv = [1 / t for t in temps]
    steps = [a - b for a, b in zip(inv, inv[1:], strict=False)]
    assert max(steps) == pytest.approx(min(steps), rel=0.02)
    assert temps[-1] - temps[0] == pytest.approx(350, abs=1) and temps[-1] <= 1000


def test_teacher_check_ratio_and_verdicts():
    teacher = {"T_K": 900.0, "steps": 5000,
               "D_teacher_cm2_per_s": Estimate.from_log(math.log(4e-5), 0.1)}
    close = teacher_check(teacher, Estimate.from_log(math.log(5e-5), 0.1))
    r = close["ratio_qmtp_over_teacher"]
    assert r["value"] == pytest.approx(1.25)
    # log-scale errors add in quadrature: sqrt(0.1^2 + 0.1^2)
    assert math.log(r["ci95"][1] / r["value"]) == pytest.approx(1.959964 * math.sqrt(0.02),
                                                                rel=1e-5)
    assert close["within_factor"] and close["interval_overlaps_factor"]
    far = teacher_check(teacher, Estimate.from_log(math.log(1.2e-4), 0.05))
    assert far["ratio_qmtp_over_teacher"]["value"] == pytest.approx(3.0)
    assert not far["within_factor"] and not far["interval_overlaps_factor"]
    # the verdict a user reads in the notes
    assert teacher_check_note(close) is None
    assert "3.00 [" in teacher_check_note(far) and "over all its 95 %" in teacher_check_note(far)
    unsure = teacher_check(teacher, Estimate.from_log(math.log(7.2e-5), 0.3))  # 1.8, wide
    assert not unsure["within_factor"] and unsure["interval_overlaps_factor"]
    assert "not significantly" in teacher_check_note(unsure)
    # a 6-ps teacher run against a student whose cage time there is 7.5 ps cannot decide it
    caged = Estimate.from_log(math.log(1.2e-4), 0.05, rattling_time_fs=7500.0)
    short = teacher_check(teacher | {"steps": 3000}, caged, timestep_fs=2.0)
    assert short["teacher_run_ps"] == pytest.approx(6.0)
    assert not short["teacher_run_resolves_cage"]
    assert "cage time" in teacher_check_note(short)
    long = teacher_check(teacher | {"steps": 20_000}, caged, timestep_fs=2.0)  # 40 ps > 5 x 7.5
    assert long["teacher_run_resolves_cage"] and "over all its 95 %" in teacher_check_note(long)


def test_teacher_check_temperature_choices():
    from superionic.core.errors import InputError
    from superionic.workflows.conductivity import ConductivityConfig, teacher_check_temperature

    temps = [657.0, 1000.0, 742.0, 852.0]
    assert teacher_check_temperature(temps, "highest") == 1000.0
    assert teacher_check_temperature(temps, "Lowest") == 657.0
    assert teacher_check_temperature(temps, "742") == 742.0
    assert teacher_check_temperature(temps, 852.2) == 852.0
    with pytest.raises(InputError, match="one of the MD temperatures 657, 742, 852, 1000"):
        teacher_check_temperature(temps, 700)
    # refused when the config is made, before any work
    with pytest.raises(InputError, match="teacher_check_at"):
        ConductivityConfig(material="Li3N", teacher_check_at="coldest")
    with pytest.raises(InputError, match="600, 900"):
        ConductivityConfig(material="Li3N", temperatures_K=[600, 900], teacher_check_at=700)
    assert ConductivityConfig(material="Li3N", teacher_check_at="650").teacher_check_at == "650"


@pytest.mark.parametrize("field,value", [("target_sigma_factor", 1.0),
                                         ("target_sigma_factor", 0.5),
                                         ("teacher_check_steps", -1)])
def test_unreachable_stopping_settings_are_refused(field, value):
    from superionic.core.errors import InputError
    from superionic.workflows.conductivity import ConductivityConfig

    with pytest.raises(InputError, match=field):
        ConductivityConfig(material="Li3N", **{field: value})


def test_log_stderr_of_open_and_closed_intervals():
    from superionic.core.estimate import log_stderr as _log_stderr

    # a closed log-normal interval: exp(±1.96 s) around the value gives back s
    s = 0.3
    est = Estimate(2.0, 0.6, ci95=(2.0 * math.exp(-1.959964 * s), 2.0 * math.exp(1.959964 * s)))
    assert _log_stderr(est) == pytest.approx(s, rel=1e-9)
    # open above (a short run): the wider of the lower side and the relative stderr
    short = Estimate(0.068, 0.27, ci95=(0.0062, math.inf))
    assert _log_stderr(short) == pytest.approx(0.27 / 0.068, rel=1e-12)
    tight = Estimate(0.068, 0.001, ci95=(0.0062, math.inf))
    assert _log_stderr(tight) == pytest.approx(math.log(0.068 / 0.0062) / 1.959964, rel=1e-12)
    # nothing finite: no weight can be given
    assert _log_stderr(Estimate(-1.0, 1.0, ci95=(-3.0, math.inf))) == math.inf


def test_default_temperatures_stay_inside_the_phase():
    from superionic.materials.library import get_material
    from superionic.workflows.conductivity import ConductivityConfig, run_temperatures

    # beta-Li3PS4 turns into alpha at 746 K (Homma et al., Solid State Ionics 182, 53 (2011))
    beta = get_material("beta-Li3PS4")
    temps = run_temperatures(ConductivityConfig(material="beta-Li3PS4"), beta)
    assert len(temps) == 4 and temps == sorted(temps) and max(temps) < 746.0
    # no transition known: the hop-rate defaults as before (548-898 K for LGPS's 0.25 eV)
    lgps = get_material("Li10GeP2S12")
    t = run_temperatures(ConductivityConfig(material="Li10GeP2S12"), lgps)
    assert (t[0], t[-1]) == (548.0, 898.0)
    # evenly spaced in 1/T up to the rounding to whole kelvin
    assert np.allclose(np.diff(1 / np.array(t)), (1 / 898 - 1 / 548) / 3, rtol=2e-2)
    # the user's list wins
    cfg = ConductivityConfig(material="beta-Li3PS4", temperatures_K=[900.0, 800.0])
    assert run_temperatures(cfg, beta) == [800.0, 900.0]


def test_dimensionality_over_temperatures_names_ties():
    # the most common answer over the MD temperatures; a tie is reported, not broken
    assert _dimensionality_over_temperatures([3, 3, 2, 1]) == "3D"
    assert _dimensionality_over_temperatures([3, 3, 2, 2]) == "2D or 3D (temperatures differ)"
    assert _dimensionality_over_temperatures([1]) == "1D"


def test_audit_frames_spread_over_the_steps_since_the_last_audit(tmp_path):
    from ase.build import bulk

    from superionic.io.h5md import H5MDWriter
    from superionic.workflows.conductivity import _audit_frames

    atoms = bulk("Li", "bcc", a=3.5, cubic=True).repeat(2)
    rng = np.random.default_rng(0)
    pos = atoms.positions + rng.normal(0, 0.1, (10, len(atoms), 3))
    path = tmp_path / "md.h5"
    w = H5MDWriter(path, atoms.get_chemical_symbols(), timestep_fs=2.0, frame_interval_fs=20.0)
    w.append(positions=pos, cells=np.repeat(atoms.cell.array[None], 10, axis=0))
    w.close()
    # frames at steps 0, 10, ..., 90; after step 40: 50..90, three of them evenly spread
    got = _audit_frames(path, 3, after_step=40, T=600.0)
    assert [a.info["audit_step"] for a in got] == [50, 70, 90]
    for a, k in zip(got, (5, 7, 9), strict=True):
        want = atoms.copy()
        want.positions = pos[k]
        want.wrap()
        assert np.allclose(a.positions, want.positions, atol=1e-12)
        assert a.info["audit_T_K"] == 600.0 and a.calc is None
    assert _audit_frames(path, 3, after_step=90, T=600.0) == []
    # a file that has grown past the audited stretch: only the stretch's frames
    upto = _audit_frames(path, 2, after_step=10, T=600.0, upto_step=50)
    assert [a.info["audit_step"] for a in upto] == [20, 50]
    assert len(_audit_frames(path, 50, after_step=-1, T=600.0)) == 10


def test_refining_with_audited_frames_learns_them_without_the_teacher(tmp_path):
    from ase.calculators.singlepoint import SinglePointCalculator

    from superionic.potentials.qmtp import QMTP
    from superionic.potentials.training import evaluate, train
    from superionic.workflows.conductivity import ConductivityConfig, _refine

    ref = QMTP.random(["Li", "P", "S"], level=6, seed=11, charges=False, r_cut=4.0)
    from ase.build import bulk

    def frame(seed, scale):
        a = bulk("Li", "bcc", a=3.6, cubic=True).repeat((2, 2, 2))
        a.numbers[[1, 4, 9]] = 16
        a.numbers[[6, 12]] = 15
        a.positions += np.random.default_rng(seed).normal(scale=scale, size=a.positions.shape)
        r = ref.compute(a)
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"],
                                       stress=r["stress"])
        return a

    data = [frame(k, 0.05) for k in range(6)]
    audited = [frame(100 + k, 0.25) for k in range(6)]  # a region the data does not cover
    model = train(data, level=6, r_cut=4.0, charges=False, seed=0, epochs=20,
                  progress=False, threads=1).model

    def no_teacher():
        raise AssertionError("the audited frames are labelled already")

    cfg = ConductivityConfig(material="Li3N", teacher=no_teacher, train_epochs=20,
                             run_dir=str(tmp_path))
    before = evaluate(model, audited)["force_rmse_eV_per_A"]
    out = _refine(model, data, [], cfg, deadline=1e18, ex=Executor(workers=1),
                  labelled=audited)
    assert out["n_new"] == len(audited) and len(out["data"]) == len(data) + len(audited)
    after = evaluate(out["model"], audited)["force_rmse_eV_per_A"]
    assert after < 0.7 * before
    # the reference errors of the next round are the new model's on its whole training set
    want = evaluate(out["model"], out["data"])
    assert out["errors"]["force_rmse_eV_per_A"] == pytest.approx(want["force_rmse_eV_per_A"])


def _lj():
    from ase.calculators.lj import LennardJones

    return LennardJones(sigma=2.3, epsilon=0.1, rc=5.0, smooth=True)


def test_initial_data_labels_go_through_the_runs_executor(tmp_path):
    """The teacher labels of a stage are tasks of the run's one executor (a Dask cluster where
    the run has one), and equal the teacher evaluated directly."""
    from ase.build import bulk

    from superionic.workflows.conductivity import _stage_initial_data

    atoms = bulk("Ar", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
    cfg = ConductivityConfig(material="Li3N", teacher=_lj, n_rattled=3, n_strained=1,
                             teacher_md_steps=4, workers=2, run_dir=str(tmp_path))
    tasks = []

    class Recording(Executor):
        def map(self, fn, items, **kw):
            items = list(items)
            tasks.append((fn.__name__, len(items)))
            return super().map(fn, items, **kw)

    with Recording(workers=2) as ex:
        out = _stage_initial_data(atoms, cfg, 300.0, tmp_path, deadline=1e18, ex=ex)
    assert tasks == [("_label_job", 2)]
    labelled = out["data"][:4]  # the rattled and strained copies, in order
    for a in labelled:
        ref = a.copy()
        ref.calc = _lj()
        assert a.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-13)
        assert np.allclose(a.get_forces(), ref.get_forces(), rtol=0, atol=1e-12)


def test_trainings_ended_by_their_time_limit_are_named():
    from superionic.workflows.conductivity import time_limited_trainings

    assert time_limited_trainings([("initial fit", "epochs"),
                                   ("active learning iteration 0", "patience")]) == ([], None)
    names, note = time_limited_trainings([
        ("initial fit", "time limit"), ("active learning iteration 0", "epochs"),
        ("active learning iteration 1", None),  # stored before stopping reasons were kept
        ("refinement after round 2", "time limit")])
    assert names == ["initial fit", "refinement after round 2"]
    assert "initial fit, refinement after round 2" in note and "--budget" in note
