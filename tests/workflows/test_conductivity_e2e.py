"""End to end: Li3N with a Li vacancy, CHGNet teacher, QMTP, two temperatures.

One vacancy in 35 atoms hops rarely: 8 ps per temperature (cheap at level 6) keep D* at
600 K well resolved and below D* at 900 K whatever the trajectory's chaotic details.

The resume test kills a second run in the middle of production MD and checks that the
restarted run recomputes nothing that had finished and ends with the numbers of the
uninterrupted one. The two runs go side by side from the start (a watcher kills the second one
at its first production checkpoint and restarts it), so the pair costs one run's wall time on
two cores; both tests sit in one xdist group so that one worker owns the pair.
"""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from superionic.core.units import KB_EV_PER_K

CONFIG = dict(
    material="Li3N", vacancies=1, min_distance_A=7.0, temperatures_K=[600.0, 900.0],
    level=6, charges=False, budget_s=1e5, n_rattled=8, n_strained=2, teacher_md_steps=20,
    relax_steps=5, train_epochs=10, al_iterations=2, al_md_steps=100, segment_steps=1000,
    max_production_steps=4000, target_rel_precision=0.0, max_refinements=4,
    max_audit_refinements=1, progress=False,
    seed=0,
)

SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
from superionic.workflows.conductivity import ConductivityConfig, run_conductivity
cfg = ConductivityConfig(**json.loads(sys.argv[1]))
res = run_conductivity(cfg)
print("RESULT", json.dumps(res.to_dict()))
"""


def _start(run_dir: Path, **changes) -> subprocess.Popen:
    cfg = dict(CONFIG, run_dir=str(run_dir), **changes)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(p: subprocess.Popen) -> dict:
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-3000:]
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


pytestmark = pytest.mark.xdist_group("conductivity_e2e")


def _kill_at_first_checkpoint(run_dir: Path, state: dict) -> None:
    """Start a run, SIGKILL it once production MD has written a checkpoint, start it again."""
    p = _start(run_dir)
    md_dir = run_dir / "md"
    t0 = time.time()
    while time.time() - t0 < 900 and p.poll() is None:
        if md_dir.exists() and any(md_dir.glob("*.ckpt")):
            break
        time.sleep(0.5)
    state["killed_mid_run"] = p.poll() is None
    state["run_dir"] = run_dir
    p.send_signal(signal.SIGKILL)
    p.wait()
    state["restarted"] = _start(run_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The uninterrupted run and, beside it, the killed-and-restarted one."""
    state: dict = {}
    watcher = threading.Thread(target=_kill_at_first_checkpoint,
                               args=(tmp_path_factory.mktemp("killed") / "run", state))
    ref = _start(tmp_path_factory.mktemp("ref"))
    watcher.start()
    yield {"reference": ref, "watcher": watcher, "state": state}
    watcher.join(timeout=900)
    for q in (ref, state.get("restarted")):
        if q is not None and q.poll() is None:
            q.kill()


@pytest.fixture(scope="module")
def reference(runs) -> dict:
    return _finish(runs["reference"])


@pytest.fixture(scope="module")
def resumed(runs) -> dict:
    """The killed-and-restarted run's result, with the state of its watcher."""
    runs["watcher"].join(timeout=900)
    state = runs["state"]
    return {"state": state, "result": _finish(state["restarted"])}


def test_end_to_end_gives_physical_transport_numbers(reference):
    r = reference
    assert r["temperatures_K"] == [600.0, 900.0]
    for key in ("sigma_S_per_cm", "Ea_eV", "haven_ratio"):
        assert {"value", "stderr", "ci95"} <= set(r[key])
    # diffusion grows with temperature, and sigma(300 K) lies inside its own interval
    d = [row["D_tracer_cm2_per_s"]["value"] for row in r["per_temperature"]]
    assert d[1] > d[0] > 0
    s = r["sigma_S_per_cm"]
    assert s["ci95"][0] <= s["value"] <= s["ci95"][1]
    assert r["Ea_eV"]["value"] > 0
    # the ordered cell keeps Li3N stoichiometry less the one vacancy
    comp = r["structure"]["ordering"]["ordered_composition"]
    assert comp["Li"] == 3 * comp["N"] - 1
    assert Path(r["report"]).exists()
    # the report and the JSON name the teacher whose labels the potential reproduces
    assert r["training"]["teacher"] == "chgnet"
    assert "Teacher (labels of every training structure): chgnet" in \
        Path(r["report"]).read_text()
    # and the report tabulates every audit (one row per round, pass and temperature)
    html = Path(r["report"]).read_text()
    assert "ratio to training (E / F)" in html
    for a in r["audits"]:
        for row in a["per_temperature"]:
            assert f"<td>{row['steps'][0]}–{row['steps'][1]}</td>" in html
    # with a budget of 1e5 s every training ends on its epochs or patience, and says so
    assert r["training"]["stopped_by"] in ("epochs", "patience")
    assert r["training"]["stopped_by_time_limit"] == []
    assert all(h["training_stopped_by"] in ("epochs", "patience")
               for h in r["active_learning"] if "training_stopped_by" in h)
    assert not any("time limit" in n for n in r["notes"])
    # every stage records the wall time it took, production segments included
    prod = [t for stage, t in r["stages"] if stage == "production"]
    assert prod and all(t > 0 for t in prod)
    # per-axis Arrhenius fits through two temperatures equal the two-point formula
    # Ea_a = k_B ln(D_a(900) / D_a(600)) / (1/600 - 1/900)
    directional = r["directional"]
    assert r["dimensionality_at_target"] in ("1D", "2D", "3D")
    lo, hi = (row["D_tracer_xyz_cm2_per_s"] for row in r["per_temperature"])
    for a, ea in enumerate(directional["Ea_eV"]):
        if ea is None:
            continue
        two_point = KB_EV_PER_K * math.log(hi[a]["value"] / lo[a]["value"]) / (1 / 600 - 1 / 900)
        assert ea["value"] == pytest.approx(two_point, rel=1e-6)


def test_teacher_audit_errors_equal_a_direct_recomputation(reference):
    """The audit's errors on the final round's frames equal those of the student model file
    against CHGNet called directly on the same frames of the trajectory; every refinement
    made after an audit names a failed audit of that round and temperature."""
    import numpy as np
    from ase import Atoms

    from superionic.io.h5md import H5MDReader
    from superionic.potentials.model_file import load_model
    from superionic.potentials.teachers import chgnet_calculator

    r = reference
    audits = r["audits"]
    final = max(a["round"] for a in audits)
    run_dir = Path(r["report"]).parent
    rows = [(a, row) for a in audits if a["round"] == final for row in a["per_temperature"]]
    assert {row["T_K"] for _, row in rows} == {600.0, 900.0}
    audit, row = rows[-1]
    assert Path(audit["model"]).parent == run_dir
    model = load_model(audit["model"])
    reader = H5MDReader(row["trajectory"])
    ch = reader.read_all()
    calc = chgnet_calculator()
    de, df = [], []
    for step in row["frame_steps"]:
        i = int(np.flatnonzero(ch.steps == step)[0])
        frame = Atoms(reader.info.symbols, positions=ch.positions[i], cell=ch.cells[i],
                      pbc=True)
        frame.wrap()
        frame.calc = calc
        e_t, f_t = frame.get_potential_energy(), frame.get_forces()
        s = model.compute(frame)
        de.append((s["energy"] - e_t) / len(frame))
        df.append((s["forces"] - f_t).ravel())
    e = row["errors"]  # CHGNet computes in float32: energies agree to ~1e-7 relative
    assert e["energy_rmse_eV_per_atom"] == pytest.approx(np.sqrt(np.mean(np.square(de))),
                                                         rel=1e-3)
    assert e["force_rmse_eV_per_A"] == pytest.approx(np.sqrt(np.mean(np.square(df))), rel=1e-3)
    failed = {(a["round"], row["T_K"]) for a in audits for row in a["per_temperature"]
              if not row["faithful"]}
    for ref in r["refinements"]:
        if ref["reason"].startswith("teacher audit"):
            assert (ref["round"], ref["T_K"]) in failed


def _assert_same_numbers(res: dict, reference: dict) -> None:
    """Same sigma, Ea, D* per temperature, and the same audits (frames, errors, verdicts)."""
    for key in ("sigma_S_per_cm", "Ea_eV"):
        assert res[key]["value"] == pytest.approx(reference[key]["value"], rel=1e-9)
    for a, b in zip(res["per_temperature"], reference["per_temperature"], strict=True):
        assert a["D_tracer_cm2_per_s"]["value"] == pytest.approx(
            b["D_tracer_cm2_per_s"]["value"], rel=1e-9)
    assert len(res["audits"]) == len(reference["audits"])
    for a, b in zip(res["audits"], reference["audits"], strict=True):
        for x, y in zip(a["per_temperature"], b["per_temperature"], strict=True):
            assert x["frame_steps"] == y["frame_steps"] and x["faithful"] == y["faithful"]
            assert x["force_ratio"] == pytest.approx(y["force_ratio"], rel=1e-9)


def test_resume_after_kill_recomputes_nothing_finished(resumed, reference):
    state, res = resumed["state"], resumed["result"]
    assert state["killed_mid_run"], "the run ended before production MD could be interrupted"
    assert not {"structure", "relax", "initial_data", "train", "active_learning"} & set(
        res["stages_computed"])
    # the teacher audits replay from the store: the same frames, errors and verdicts
    _assert_same_numbers(res, reference)


def test_rerun_of_a_finished_run_with_a_smaller_budget_returns_what_is_stored(resumed,
                                                                              reference):
    """A finished run directory started again with a budget too small for any work (say, to
    add a teacher check) replays every stored production pass and refinement: nothing is
    computed and the numbers are the stored run's, not those of an earlier pass or model."""
    res = _finish(_start(resumed["state"]["run_dir"], budget_s=1.0))
    assert res["stages_computed"] == []
    assert res["refinements"] == reference["refinements"]
    _assert_same_numbers(res, reference)
