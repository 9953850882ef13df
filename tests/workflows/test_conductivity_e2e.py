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
    max_production_steps=4000, target_rel_precision=0.0, max_refinements=4, progress=False,
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


def _start(run_dir: Path) -> subprocess.Popen:
    cfg = dict(CONFIG, run_dir=str(run_dir))
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


def test_resume_after_kill_recomputes_nothing_finished(runs, reference):
    runs["watcher"].join(timeout=900)
    state = runs["state"]
    assert state["killed_mid_run"], "the run ended before production MD could be interrupted"
    res = _finish(state["restarted"])
    assert not {"structure", "relax", "initial_data", "train", "active_learning"} & set(
        res["stages_computed"])
    for key in ("sigma_S_per_cm", "Ea_eV"):
        assert res[key]["value"] == pytest.approx(reference[key]["value"], rel=1e-9)
    for a, b in zip(res["per_temperature"], reference["per_temperature"], strict=True):
        assert a["D_tracer_cm2_per_s"]["value"] == pytest.approx(
            b["D_tracer_cm2_per_s"]["value"], rel=1e-9)
