"""QENS from MD: F_s(Q, t) of lattice random walks and Brownian motion against analytic forms."""

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad

from superionic.cli.main import main
from superionic.core.units import HBAR_MEV_PS
from superionic.experiment.qens import (
    chudley_elliott_hwhm_meV,
    fit_linewidths,
    read_linewidths,
    write_linewidths,
)
from superionic.experiment.qens_md import (
    fit_decay,
    md_linewidths,
    md_linewidths_from_trajectory,
    self_intermediate_scattering,
)
from superionic.report.qens_plots import plot_linewidths

L_A, TAU_PS, DT_FS = 2.0, 1.0, 100.0


def lattice_walk(n_frames, n_atoms, dt_fs, l_A, tau_ps, seed):
    """Independent walkers on a simple cubic lattice: Poisson jumps (mean residence τ) of
    length l to one of the 6 neighbours; positions sampled every dt."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(dt_fs * 1e-3 / tau_ps, (n_frames - 1, n_atoms))
    m = int(counts.sum())
    jumps = np.zeros((m, 3))
    jumps[np.arange(m), rng.integers(0, 3, m)] = rng.choice([-l_A, l_A], m)
    steps = np.zeros(((n_frames - 1) * n_atoms, 3))
    np.add.at(steps, np.repeat(np.arange(counts.size), counts.ravel()), jumps)
    steps = steps.reshape(n_frames - 1, n_atoms, 3)
    return np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])


@pytest.fixture(scope="module")
def walk():
    return lattice_walk(1000, 300, DT_FS, L_A, TAU_PS, seed=0)


Q_WALK = np.array([0.5, 0.8, 1.1, 1.4, 1.6])  # Ql from 1 to 3.2


@pytest.fixture(scope="module")
def walk_md(walk):
    return md_linewidths(walk, DT_FS, Q_WALK, fit_amplitude=False, floor=0.2, n_lags=60,
                         max_origins=300)


def test_lattice_walk_linewidths_match_chudley_elliott(walk_md):
    q, md = Q_WALK, walk_md
    ce = chudley_elliott_hwhm_meV(q, L_A, TAU_PS)
    np.testing.assert_allclose(md.data.Gamma_meV, ce, rtol=0.05)
    # block standard errors are honest: deviations within 4σ
    assert np.all(np.abs(md.data.Gamma_meV - ce) < 4 * md.data.Gamma_err_meV)
    fit = fit_linewidths(md.data, "chudley-elliott")
    assert fit.l_A.value == pytest.approx(L_A, rel=0.05)
    assert fit.tau_ps.value == pytest.approx(TAU_PS, rel=0.05)
    # the comparison plot carries exactly these MD points
    fig = plot_linewidths(None, [fit], md=md.data)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), fit.predict(ax.lines[0].get_xdata()))
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_cli_compares_experiment_and_md_on_one_plot(walk_md, tmp_path):
    exp_q = np.linspace(0.3, 1.8, 10)
    g = chudley_elliott_hwhm_meV(exp_q, L_A, TAU_PS)
    err = 0.02 * g
    exp_file = tmp_path / "exp.txt"
    np.savetxt(exp_file, np.column_stack([exp_q, g + np.random.default_rng(1).normal(0, err),
                                          err]))
    md_file = write_linewidths(walk_md.data, tmp_path / "md.txt")
    assert np.allclose(read_linewidths(md_file).Gamma_meV, walk_md.data.Gamma_meV)
    out = tmp_path / "q.json"
    assert main(["qens", str(exp_file), "--md", str(md_file), "--model", "chudley-elliott",
                 "--json", str(out), "--plot", str(tmp_path / "q.png")]) == 0
    js = json.loads(out.read_text())
    np.testing.assert_allclose(js["md"]["Gamma_over_best_model"], 1.0, atol=0.05)
    assert (tmp_path / "q.png").stat().st_size > 0


def test_fft_directions_match_exact_lattice_result_along_axes(walk):
    """Along the cube axes F_s = exp(−(t/τ)[1 − (cos Ql + 2)/3]) exactly (lattice walk)."""
    q = np.array([0.6, 1.2])
    fs = self_intermediate_scattering(walk, DT_FS, q, method="directions",
                                      directions=np.eye(3), max_lag=40)
    exact = np.exp(-fs.t_ps[None, :] / TAU_PS * (1 - (np.cos(q[:, None] * L_A) + 2) / 3))
    np.testing.assert_allclose(fs.F, exact, atol=0.02)
    assert fs.F[:, 0] == pytest.approx(1.0)


def test_isotropic_average_equals_many_direction_average(walk):
    q = np.array([0.8, 1.5])
    sub = walk[:400, :100]
    iso = self_intermediate_scattering(sub, DT_FS, q, n_lags=None, max_lag=30,
                                       max_origins=10**6)
    dirs = self_intermediate_scattering(sub, DT_FS, q, method="directions", directions=60,
                                        max_lag=30)
    np.testing.assert_allclose(iso.F, dirs.F, atol=0.005)


def test_brownian_motion_gives_fickian_linewidths():
    """Gaussian displacements: F_s = exp(−Q²Dt) exactly, so Γ = ħDQ²."""
    rng = np.random.default_rng(2)
    D = 0.05  # Å²/ps
    dt_ps = 0.1
    steps = rng.normal(0, math.sqrt(2 * D * dt_ps), (1500, 200, 3))
    pos = np.concatenate([np.zeros((1, 200, 3)), np.cumsum(steps, axis=0)])
    q = np.array([0.6, 1.0, 1.5])
    md = md_linewidths(pos, dt_ps * 1e3, q, fit_amplitude=False, floor=0.2, n_lags=60,
                       max_origins=300)
    np.testing.assert_allclose(md.data.Gamma_meV, HBAR_MEV_PS * D * q**2, rtol=0.04)
    fick = fit_linewidths(md.data, "fickian")
    assert fick.D_cm2_per_s.value == pytest.approx(D * 1e-4, rel=0.04)


def test_stretched_decay_fit_and_mean_relaxation_time():
    t = np.linspace(0, 20, 400)
    tau, beta = 3.0, 0.6
    F = 0.9 * np.exp(-((t / tau) ** beta))
    d = fit_decay(t, F, 1.0, kind="stretched", floor=0.01)
    assert d.beta.value == pytest.approx(beta, rel=1e-6)
    assert d.amplitude.value == pytest.approx(0.9, rel=1e-6)
    # ⟨τ⟩ = ∫ exp(−(t/τ)^β) dt, by quadrature
    mean_tau = quad(lambda x: math.exp(-((x / tau) ** beta)), 0, np.inf)[0]
    assert d.tau_ps.value == pytest.approx(mean_tau, rel=1e-5)
    assert d.Gamma_meV.value == pytest.approx(HBAR_MEV_PS / mean_tau, rel=1e-5)


def test_trajectory_file_with_wrapped_positions_gives_same_linewidths(tmp_path):
    """extxyz of Li walkers (wrapped into a 40 Å cell) beside fixed S atoms: streaming,
    unwrapping and species selection reproduce the result from the raw positions."""
    from ase import Atoms
    from ase.io import write

    pos = lattice_walk(300, 60, DT_FS, L_A, TAU_PS, seed=5) + 20.0
    box = 40.0
    host = np.random.default_rng(0).uniform(0, box, (4, 3))
    frames = [
        Atoms(["Li"] * 60 + ["S"] * 4, positions=np.vstack([p % box, host]),
              cell=[box] * 3, pbc=True)
        for p in pos
    ]
    traj = tmp_path / "walk.extxyz"
    write(traj, frames, format="extxyz")
    q = np.array([0.6, 1.0, 1.4])
    kw = dict(fit_amplitude=False, floor=0.2, n_lags=40, max_origins=100)
    direct = md_linewidths(pos, DT_FS, q, **kw)
    from_file = md_linewidths_from_trajectory(traj, q, species="Li", frame_interval_fs=DT_FS,
                                              chunk_size=70, **kw)
    np.testing.assert_allclose(from_file.data.Gamma_meV, direct.data.Gamma_meV, rtol=1e-9)
    # the CLI computes the same MD points at the Q values of the experiment file
    exp_file = tmp_path / "exp.txt"
    np.savetxt(exp_file, np.column_stack([q, chudley_elliott_hwhm_meV(q, L_A, TAU_PS)]))
    out = tmp_path / "q.json"
    assert main(["qens", str(exp_file), "--trajectory", str(traj), "--species", "Li",
                 "--frame-interval-fs", str(DT_FS), "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    assert js["md_trajectory"]["Q_per_A"] == pytest.approx(q.tolist())
    np.testing.assert_allclose(js["md_trajectory"]["Gamma_over_best_model"], 1.0, atol=0.1)
