"""Several structures in one command: one run each through one executor; a failed run is
named and the others are kept."""

import json
import os

import pytest
from fake_results import fake_result

from superionic.cli.main import main
from superionic.workflows import batch
from superionic.workflows.conductivity import ConductivityConfig


def _known_or_missing(cfg):
    if cfg.material.endswith(".cif"):
        raise FileNotFoundError(f"no such file: {cfg.material}")
    res = fake_result(0.3, 0.15)
    res.material = cfg.material
    res.notes = [f"run_dir {cfg.run_dir}"]
    return res


def test_batch_keeps_going_past_a_failed_structure_and_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(batch, "run_conductivity", _known_or_missing)
    out = tmp_path / "batch.json"
    rc = main(["conductivity", "Li3N", str(tmp_path / "missing.cif"), "Li6PS5Cl",
               "--run-dir", str(tmp_path / "runs"), "--json", str(out)])
    assert rc == 1  # one structure failed
    d = json.loads(out.read_text())["materials"]
    assert [m.get("material") for m in d] == ["Li3N", str(tmp_path / "missing.cif"),
                                              "Li6PS5Cl"]
    assert d[0]["run_dir"] == str(tmp_path / "runs" / "Li3N")
    assert d[2]["notes"] == [f"run_dir {tmp_path / 'runs' / 'Li6PS5Cl'}"]
    for m in (d[0], d[2]):  # the single-run JSON contract, per structure
        assert set(m["sigma_S_per_cm"]) >= {"value", "stderr", "ci95"}
        assert m["sigma_S_per_cm"]["value"] == pytest.approx(0.3, rel=1e-6)
    assert "FileNotFoundError" in d[1]["error"] and "missing.cif" in d[1]["error"]
    text = capsys.readouterr().out
    assert "Batch of 3 structures" in text and "failed: FileNotFoundError" in text


def test_runs_going_at_once_share_workers_and_cores():
    cfg = ConductivityConfig(material="Li3N", workers=4)
    assert batch.concurrent_runs(3, 4) == 3 and batch.concurrent_runs(5, 1) == 1
    s = batch.share(cfg, 2)
    assert s["workers"] == 2 and s["scheduler"] is None
    assert s["threads"] == max(1, (os.cpu_count() or 1) // 2)
    # a user's thread count is kept; on a cluster the worker's cores are its own
    assert batch.share(ConductivityConfig(material="Li3N", threads=3), 2)["threads"] == 3
    assert batch.share(ConductivityConfig(material="Li3N", scheduler="tcp://h:8786"),
                       2)["threads"] is None
    assert batch.share(ConductivityConfig(material="Li3N", scheduler="local-dask"),
                       2)["threads"] == max(1, (os.cpu_count() or 1) // 2)


def test_structures_with_one_name_are_refused(tmp_path, capsys):
    a, b = tmp_path / "a" / "x.cif", tmp_path / "b" / "x.cif"
    rc = main(["conductivity", str(a), str(b), "--run-dir", str(tmp_path)])
    assert rc != 0 and "distinct names" in capsys.readouterr().err


def test_runs_of_a_batch_go_to_dask_workers(monkeypatch):
    """With a scheduler the runs are Dask tasks: made in worker processes, results in order."""
    from fake_results import result_with_pid

    monkeypatch.setattr(batch, "run_conductivity", result_with_pid)
    cfgs = [ConductivityConfig(material=m, scheduler="local-dask", workers=2)
            for m in ("Li3N", "Li6PS5Cl", "Li6PS5Br")]
    out = batch.run_many(cfgs, "local-dask", 2)
    assert [r.material for r in out] == ["Li3N", "Li6PS5Cl", "Li6PS5Br"]
    assert f"pid {os.getpid()}" not in {r.notes[0] for r in out}


def test_a_batch_sent_to_a_scheduler_one_at_a_time_starts_no_cluster_inside_its_runs(
        monkeypatch):
    """One worker and a scheduler: the runs are still Dask tasks, and each arrives without a
    scheduler of its own (inside a worker it would start a cluster again)."""
    from fake_results import result_with_pid

    monkeypatch.setattr(batch, "run_conductivity", result_with_pid)
    cfgs = [ConductivityConfig(material=m, scheduler="local-dask", workers=1)
            for m in ("Li3N", "Li6PS5Cl")]
    out = batch.run_many(cfgs, "local-dask", batch.concurrent_runs(2, 1))
    assert [r.material for r in out] == ["Li3N", "Li6PS5Cl"]
    assert {r.notes[2] for r in out} == {"scheduler None"}
    assert f"pid {os.getpid()}" not in {r.notes[0] for r in out}
