"""``superionic diffusion`` end to end: file in, table, JSON with the contract keys, plot."""

import json

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.estimate import Estimate
from superionic.io import write_trajectory
from superionic.transport.analysis import DiffusionResult, analyse_diffusion
from superionic.transport.synthetic import random_walk_trajectory


@pytest.fixture(scope="module")
def traj_file(tmp_path_factory):
    tr = random_walk_trajectory(24, 600, npt_amplitude=0.01, n_framework=24,
                                framework_vibration_A=0.05, seed=31)
    path = tmp_path_factory.mktemp("cli") / "walk.h5"
    write_trajectory(path, {"positions": tr.positions, "cells": tr.cells}, tr.symbols,
                     timestep_fs=2.0, frame_interval_fs=tr.frame_interval_fs)
    return tr, path


def test_cli_writes_contract_json_and_plot(traj_file, tmp_path, capsys):
    tr, path = traj_file
    out, png = tmp_path / "d.json", tmp_path / "msd.png"
    rc = main(["diffusion", str(path), "--species", "Li", "--temperature", "650",
               "--json", str(out), "--plot", str(png), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Haven ratio" in text and "source: file" in text
    d = json.loads(out.read_text())
    for key in ("D_tracer_cm2_per_s", "D_sigma_cm2_per_s", "haven_ratio", "sigma_S_per_cm"):
        assert {"value", "stderr", "ci95"} <= set(d[key])
        assert len(d[key]["ci95"]) == 2
    assert len(d["fit_window_fs"]) == 2 and d["timestep_fs"] == 2.0
    assert d["temperature_K"] == 650.0 and d["species"] == ["Li"]
    # the file route gives the same numbers as the in-memory route (same data, second path)
    ref = analyse_diffusion(tr.as_source(), "Li", temperature_K=650.0)
    assert np.isclose(d["D_tracer_cm2_per_s"]["value"], ref.D_tracer_cm2_per_s.value,
                      rtol=1e-6)
    lo, hi = d["D_tracer_cm2_per_s"]["ci95"]
    assert lo <= tr.D_tracer_cm2_per_s <= hi
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_cli_fit_window_override_and_round_trip(traj_file, tmp_path):
    _, path = traj_file
    out = tmp_path / "w.json"
    assert main(["diffusion", str(path), "--temperature", "650", "--fit-start", "400",
                 "--fit-end", "2400", "--json", str(out), "--no-progress"]) == 0
    d = json.loads(out.read_text())
    assert d["fit_window_fs"] == [400.0, 2400.0]
    r = DiffusionResult.from_dict(d)
    assert isinstance(r.haven_ratio, Estimate)
    assert r.to_dict()["D_sigma_cm2_per_s"] == d["D_sigma_cm2_per_s"]


def test_cli_reports_missing_species_cleanly(traj_file, capsys):
    _, path = traj_file
    assert main(["diffusion", str(path), "--species", "Na", "--temperature", "300",
                 "--no-progress"]) == 1
    assert "species" in capsys.readouterr().err
