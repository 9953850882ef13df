"""The ensemble of independently trained potentials: members, budget split, combination."""

import json
import math

import numpy as np
import pytest
from fake_results import fake_result

from superionic.workflows import ensemble as ens
from superionic.workflows.conductivity import ConductivityConfig


def test_members_are_independent_and_combined_by_random_effects(tmp_path, monkeypatch):
    # sigma(300 K), Ea, conduction at 300 K per member
    truth = {0: (0.3, 0.15, "2D"), 1: (1.2, 0.12, "1D"), 2: (0.6, 0.14, "2D")}
    seen = []
    clock = [0.0]

    def fake_run(cfg):  # each member uses half of the budget it is given
        k = len(seen)
        seen.append(cfg)
        clock[0] += 0.5 * cfg.budget_s
        return fake_result(*truth[k])

    monkeypatch.setattr(ens, "run_conductivity", fake_run)
    monkeypatch.setattr(ens, "_now", lambda: clock[0])
    cfg = ConductivityConfig(material="Li3N", run_dir=str(tmp_path), budget_s=900.0,
                             ensemble=3, seed=5, progress=False)
    res = ens.run_ensemble(cfg)
    # three members, one potential each, own seed and directory, budget shared
    assert [c.ensemble for c in seen] == [1, 1, 1]
    assert len({c.seed for c in seen}) == 3 and len({c.run_dir for c in seen}) == 3
    # an equal share of what is left each; time a member leaves unused goes to the next
    assert [c.budget_s for c in seen] == pytest.approx([300.0, 375.0, 562.5])
    # members with equal errors: the combined value is the geometric mean of their sigmas
    # and the mean of their Ea
    assert res.sigma_S_per_cm.value == pytest.approx(
        math.exp(np.mean(np.log([0.3, 1.2, 0.6]))), rel=1e-6)
    assert res.Ea_eV.value == pytest.approx(np.mean([0.15, 0.12, 0.14]), abs=1e-9)
    # a scatter of 4x between members widens the interval past every member's own
    for m in res.members:
        lo, hi = m["sigma_S_per_cm"]["ci95"]
        assert res.sigma_S_per_cm.ci95[1] / res.sigma_S_per_cm.ci95[0] > hi / lo
    assert res.sigma_S_per_cm.extra["tau"] > 0.3
    # conduction: all members 3D at the MD temperatures; two of three 2D at 300 K
    assert res.dimensionality == "3D" and res.dimensionality_at_target == "2D"
    assert [m["dimensionality_at_target"] for m in res.members] == ["2D", "1D", "2D"]
    # the JSON contract and the report
    d = json.loads((tmp_path / "results.json").read_text())
    for key in ("sigma_S_per_cm", "Ea_eV", "haven_ratio"):
        assert set(d[key]) >= {"value", "stderr", "ci95"}
    assert d["temperatures_K"] == [600.0, 700.0, 800.0, 900.0]
    assert len(d["members"]) == 3
    assert d["per_temperature"][0]["sigma_NE_S_per_cm"]["n_runs"] == 3
    assert "3 potentials" in (tmp_path / "report.html").read_text()


def test_one_member_is_the_plain_workflow(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ens, "run_conductivity", lambda cfg: calls.append(cfg) or "plain")
    cfg = ConductivityConfig(material="Li3N", run_dir=str(tmp_path))
    assert ens.run_ensemble(cfg) == "plain" and calls == [cfg]


def test_dimensionality_without_a_majority_names_every_answer():
    assert ens._consensus(["1D", "2D"]) == "1D or 2D (members differ)"
    assert ens._consensus(["3D", "3D", "2D", "2D"]) == "2D or 3D (members differ)"
    assert ens._consensus(["3D", "2D", "3D"]) == "3D"


#: members of the parallel test: sigma(300 K), Ea by member seed offset
_PARALLEL_TRUTH = {0: (0.3, 0.15), 1: (1.2, 0.12)}


def _waiting_member(cfg):
    """A member that says it started, then waits (up to 60 s) for the other one to start: it
    comes back with ``overlapped`` True only if both ran at the same time."""
    import os
    import time
    from pathlib import Path

    k = (cfg.seed - 5) // ens.SEED_STRIDE
    root = Path(cfg.run_dir).parent
    (root / f"started{k}").write_text(str(os.getpid()))
    t0 = time.time()
    while time.time() - t0 < 60 and not (root / f"started{1 - k}").exists():
        time.sleep(0.05)
    res = fake_result(*_PARALLEL_TRUTH[k])
    res.notes = [f"pid {os.getpid()}", f"overlapped {(root / f'started{1 - k}').exists()}",
                 f"workers {cfg.workers} threads {cfg.threads} budget {cfg.budget_s:g} "
                 f"scheduler {cfg.scheduler}"]
    return res


def test_members_run_at_once_as_tasks_of_one_executor(tmp_path, monkeypatch):
    """With two workers the two members run at the same time, in two processes, each with
    one worker, its share of the cores and the whole budget; the combination is the one of
    members run one after another."""
    import os

    from superionic.workflows import batch

    monkeypatch.setattr(batch, "run_conductivity", _waiting_member)
    cfg = ConductivityConfig(material="Li3N", run_dir=str(tmp_path), budget_s=900.0,
                             ensemble=2, seed=5, workers=2, progress=False)
    res = ens.run_ensemble(cfg)
    notes = {n.split(": ", 1)[1] for n in res.notes if n.startswith("member")}
    pids = {n for n in notes if n.startswith("pid")}
    assert len(pids) == 2 and f"pid {os.getpid()}" not in pids
    assert "overlapped True" in notes and "overlapped False" not in notes
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert f"workers 1 threads {threads} budget 900 scheduler None" in notes
    assert res.sigma_S_per_cm.value == pytest.approx(math.sqrt(0.3 * 1.2), rel=1e-6)
    assert res.Ea_eV.value == pytest.approx(0.135, abs=1e-9)
