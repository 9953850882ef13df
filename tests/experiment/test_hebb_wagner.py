"""Hebb–Wagner polarisation: Yokota series, transient fits, Wagner I–V fits, readers, CLI."""

import json
import math

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.errors import InputError
from superionic.core.units import FARADAY_C_PER_MOL, R_J_PER_MOL_K
from superionic.experiment.hebb_wagner import (
    analyse_transient,
    chemical_diffusion_cm2_per_s,
    fit_wagner_iv,
    lithium_activity,
    local_electronic_conductivity,
    read_iv_curve,
    read_transient,
    relaxation_shape,
    transient_current,
    wagner_current,
)

I_SS, I_0, TAU, V = 2.0e-8, 5.0e-6, 300.0, 0.5
L_CM, A_CM2 = 0.1, 0.5


def _brute_series(s: np.ndarray, n_terms: int = 4000) -> np.ndarray:
    n = (2 * np.arange(n_terms) + 1.0)[:, None]
    return (np.exp(-(n**2) * s) / n**2).sum(axis=0) * 8 / math.pi**2


def test_relaxation_shape_matches_brute_force_series_and_limits():
    s = np.array([0.003, 0.02, 0.0999, 0.1, 0.5, 2.0, 6.0])
    np.testing.assert_allclose(relaxation_shape(s), _brute_series(s), rtol=0, atol=1e-9)
    assert relaxation_shape(np.array([0.0]))[0] == 1.0
    # long-time limit: single slowest term (8/π²) exp(−s)
    assert math.isclose(relaxation_shape(np.array([8.0]))[0], 8 / math.pi**2 * math.exp(-8),
                        rel_tol=1e-9)


def _diffusion_solution(n: int, D: float, dx: float, b: np.ndarray, t: np.ndarray,
                        dirichlet_left: bool = False) -> np.ndarray:
    """Exact time integration of the finite-volume system dc/dt = A c + b from c = 0 (zero-flux
    stencil; optionally a Dirichlet face at x = 0 at half-cell distance)."""
    A = (np.diag(np.full(n - 1, 1.0), 1) + np.diag(np.full(n - 1, 1.0), -1)
         - np.diag(np.r_[1.0, np.full(n - 2, 2.0), 1.0])) * D / dx**2
    if dirichlet_left:
        A[0, 0] -= 2 * D / dx**2
    lam, vec = np.linalg.eigh(A)
    # V diag((e^{λt} − 1)/λ) Vᵀ b, with the λ = 0 mode integrating to b·t
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(np.abs(lam[:, None]) > 1e-12 * abs(lam).max(),
                     np.expm1(lam[:, None] * t) / lam[:, None], t)
    return vec @ (g * (vec.T @ b)[:, None])  # (n, times)


def test_series_is_the_solution_of_the_diffusion_equation_with_tau_L2_over_pi2_D():
    """Finite volumes for ∂c/∂t = D ∂²c/∂x² with the same flux in at x=0 and out at x=L
    (ion-blocking electrodes): Δc = c(0) − c(L) relaxes as 1 − series(t/τ), τ = L²/(π² D)."""
    D, L, n = 1.0e-6, 0.1, 200  # cm²/s, cm
    dx = L / n
    J = 1.0
    b = np.zeros(n)
    b[0], b[-1] = J / dx, -J / dx
    tau = L**2 / (math.pi**2 * D)
    t = np.linspace(0, 3 * tau, 60)
    y = _diffusion_solution(n, D, dx, b, t)
    # cell-centre values extrapolated to the faces with the imposed gradient −J/D
    dc = (y[0] - y[-1]) + J / D * dx  # c(0) − c(L)
    dc_ss = J * L / D
    np.testing.assert_allclose(dc[1:] / dc_ss, 1 - relaxation_shape(t[1:] / tau), atol=2e-3)
    # a transient built from the PDE gives back D through τ
    current = I_SS + (I_0 - I_SS) * (1 - dc / dc_ss)
    res = analyse_transient(t, current, V, thickness_cm=L)
    assert math.isclose(res.D_chem_cm2_per_s.value, D, rel_tol=0.02)
    assert math.isclose(chemical_diffusion_cm2_per_s(res.tau_s.value, L), D, rel_tol=0.02)


def test_reversible_blocking_cell_long_time_constant_is_4L2_over_pi2_D():
    """Fixed activity at the reversible electrode (x = 0), no ion flux at the blocking one:
    the flux into the sample decays at long times as exp(−t/τ), τ = 4L²/(π² D)."""
    D, L, n = 1.0e-6, 0.1, 200
    dx = L / n
    c_step = 1.0
    b = np.zeros(n)
    b[0] = 2 * D * c_step / dx**2
    tau1 = 4 * L**2 / (math.pi**2 * D)
    t = np.linspace(0, 5 * tau1, 200)
    y = _diffusion_solution(n, D, dx, b, t, dirichlet_left=True)
    flux = 2 * D * (c_step - y[0]) / dx  # into the sample at x = 0
    current = I_SS + 1e-4 * flux
    res = analyse_transient(t, current, V, thickness_cm=L, model="long-time",
                            t_min_s=0.6 * tau1, geometry="reversible-blocking")
    assert res.tau_s.value == pytest.approx(tau1, rel=0.01)
    assert res.D_chem_cm2_per_s.value == pytest.approx(D, rel=0.01)
    assert res.I_ss_A.value == pytest.approx(I_SS, rel=1e-3)


def test_noiseless_transient_gives_exact_t_ion_and_parameters():
    t = np.linspace(0, 3000, 300)
    res = analyse_transient(
        t, transient_current(t, I_SS, I_0, TAU), V, thickness_cm=L_CM, area_cm2=A_CM2
    )
    assert math.isclose(res.t_ion.value, 1 - I_SS / I_0, rel_tol=1e-9)
    assert math.isclose(res.t_e.value, I_SS / I_0, rel_tol=1e-6)
    assert math.isclose(res.tau_s.value, TAU, rel_tol=1e-8)
    assert math.isclose(res.sigma_e_S_per_cm.value, I_SS / V * L_CM / A_CM2, rel_tol=1e-6)
    assert math.isclose(res.D_chem_cm2_per_s.value, L_CM**2 / (math.pi**2 * TAU), rel_tol=1e-8)
    # σ_ion + σ_e = I_0/V · L/A (conservation of the total current at t = 0)
    tot = res.sigma_ion_S_per_cm.value + res.sigma_e_S_per_cm.value
    assert math.isclose(tot, I_0 / V * L_CM / A_CM2, rel_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_transient_recovers_parameters_within_intervals(seed):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 3000, 400)
    cur = transient_current(t, I_SS, I_0, TAU) + rng.normal(0, 1e-9, t.size)
    res = analyse_transient(t, cur, V, thickness_cm=L_CM, area_cm2=A_CM2)
    for est, truth in (
        (res.I_ss_A, I_SS),
        (res.I_0_fit_A, I_0),
        (res.tau_s, TAU),
        (res.t_ion, 1 - I_SS / I_0),
        (res.sigma_e_S_per_cm, I_SS / V * L_CM / A_CM2),
    ):
        assert abs(est.value - truth) < 3.5 * est.stderr, (est, truth)
    assert res.fit.reduced_chi2 == pytest.approx(1e-18, rel=0.25)  # residual variance = σ²


def test_transient_stderr_matches_monte_carlo_scatter():
    """The covariance-based stderr of I_ss equals the scatter over repeated noisy data."""
    rng = np.random.default_rng(7)
    t = np.linspace(0, 2000, 200)
    clean = transient_current(t, I_SS, I_0, TAU)
    vals, errs = [], []
    for _ in range(60):
        r = analyse_transient(t, clean + rng.normal(0, 2e-9, t.size), V)
        vals.append(r.I_ss_A.value)
        errs.append(r.I_ss_A.stderr)
    assert np.std(vals, ddof=1) == pytest.approx(np.mean(errs), rel=0.3)


def test_long_time_model_and_r_total():
    rng = np.random.default_rng(4)
    t = np.linspace(0, 3000, 400)
    cur = transient_current(t, I_SS, I_0, TAU) + rng.normal(0, 1e-9, t.size)
    res = analyse_transient(t, cur, V, model="long-time", t_min_s=TAU)
    assert abs(res.tau_s.value - TAU) < 3.5 * res.tau_s.stderr
    # I_0 from impedance: V / R_total replaces the extrapolated current
    r_total = V / I_0
    res2 = analyse_transient(t, cur, V, r_total_ohm=r_total, r_total_stderr_ohm=0.01 * r_total)
    assert res2.i0_source == "r_total"
    assert math.isclose(res2.I_0_A.value, I_0, rel_tol=1e-12)
    assert math.isclose(res2.t_ion.value, 1 - res2.I_ss_A.value / I_0, rel_tol=1e-12)
    # relative error of t_e: I_ss and R_total errors in quadrature
    rel = math.hypot(res2.I_ss_A.stderr / res2.I_ss_A.value, 0.01)
    assert math.isclose(res2.t_e.stderr, res2.t_e.value * rel, rel_tol=1e-9)


def test_first_point_initial_current():
    """An instrument that starts at t = 5 s misses the true I_0: the first point gives the
    analytic I(5 s), the fit extrapolates back to I_0."""
    t = np.linspace(5, 3000, 300)
    cur = transient_current(t, I_SS, I_0, TAU)
    first = analyse_transient(t, cur, V, initial_current="first-point")
    assert first.I_0_A.value == cur[0]
    assert first.t_ion.value == pytest.approx(1 - I_SS / cur[0], rel=1e-9)
    fit = analyse_transient(t, cur, V)
    assert fit.I_0_A.value == pytest.approx(I_0, rel=1e-7)
    assert first.t_ion.value < fit.t_ion.value


# ---------------------------------------------------------------------------- I–V


def test_wagner_equation_limits_and_local_conductivities():
    T = 350.0
    f = FARADAY_C_PER_MOL / (R_J_PER_MOL_K * T)
    # small E: ohmic with the total electronic conductance (σ_e0 + σ_h0) A/L
    E = np.array([1e-7])
    i = wagner_current(E, 1e-9, 3e-9, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T)
    assert math.isclose(i[0], E[0] * 4e-9 * A_CM2 / L_CM, rel_tol=1e-5)
    # large negative E: electron current saturates at −(ART/FL)σ_e0... sign: 1 − e^{−fE}
    E = np.array([2.0])
    i = wagner_current(E, 1e-9, 0.0, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T)
    assert math.isclose(i[0], A_CM2 / (f * L_CM) * 1e-9, rel_tol=1e-12)
    # σ_e = σ_h where E* = (RT/2F) ln(σ_e0/σ_h0); a_Li = exp(−FE/RT)
    se0, sh0 = 1e-9, 1e-17
    e_star = math.log(se0 / sh0) / (2 * f)
    s_e, s_h = local_electronic_conductivity(np.array([e_star]), se0, sh0, T)
    assert math.isclose(s_e[0], s_h[0], rel_tol=1e-12)
    assert math.isclose(s_e[0], math.sqrt(se0 * sh0), rel_tol=1e-12)
    assert math.isclose(lithium_activity(math.log(10) / f, T), 0.1, rel_tol=1e-12)


def _iv_data(seed, rel_noise=0.02):
    se0, sh0, T = 1e-9, 1e-17, 298.15
    E = np.linspace(0.02, 0.7, 30)
    clean = wagner_current(E, se0, sh0, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T)
    err = rel_noise * np.abs(clean)
    noisy = clean + np.random.default_rng(seed).normal(0, 1, E.size) * err
    return E, clean, noisy, err, (se0, sh0, T)


def test_iv_fit_noiseless_exact_and_noisy_within_intervals():
    E, clean, noisy, err, (se0, sh0, T) = _iv_data(0)
    r = fit_wagner_iv(E, clean, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T)
    assert math.isclose(r.sigma_e0_S_per_cm.value, se0, rel_tol=1e-8)
    assert math.isclose(r.sigma_h0_S_per_cm.value, sh0, rel_tol=1e-8)
    r = fit_wagner_iv(E, noisy, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T,
                      current_err_A=err)
    assert r.sigma_e0_S_per_cm.contains(se0) and r.sigma_h0_S_per_cm.contains(sh0)
    c = r.curves(np.array([0.0, 0.3]))
    np.testing.assert_allclose(c["a_Li"][0], 1.0)
    np.testing.assert_allclose(c["sigma_eon_S_per_cm"][0], r.sigma_e0_S_per_cm.value
                               + r.sigma_h0_S_per_cm.value)


def test_iv_stderr_matches_monte_carlo_scatter():
    vals, errs = [], []
    for seed in range(200):
        E, _, noisy, err, (_, _, T) = _iv_data(seed)
        r = fit_wagner_iv(E, noisy, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T,
                          current_err_A=err)
        vals.append(r.sigma_h0_S_per_cm.value)
        errs.append(r.sigma_h0_S_per_cm.stderr)
    assert np.std(vals, ddof=1) == pytest.approx(np.mean(errs), rel=0.15)


def test_plots_draw_the_fitted_models():
    import matplotlib.pyplot as plt

    from superionic.report.hebb_wagner_plots import plot_iv, plot_transient

    t = np.linspace(0, 3000, 200)
    res = analyse_transient(t, transient_current(t, I_SS, I_0, TAU), V)
    fig = plot_transient(res)
    line = fig.axes[0].lines[1]
    np.testing.assert_allclose(line.get_ydata() * 1e-6, transient_current(line.get_xdata(),
                               I_SS, I_0, TAU), rtol=1e-6, atol=1e-14)
    plt.close(fig)
    E, clean, _, err, (se0, sh0, T) = _iv_data(0)
    r = fit_wagner_iv(E, clean, thickness_cm=L_CM, area_cm2=A_CM2, temperature_K=T)
    fig = plot_iv(r)
    hole = fig.axes[1].lines[1]  # σ_h versus a_Li: σ_h0 / a_Li
    np.testing.assert_allclose(hole.get_ydata(), sh0 / hole.get_xdata(), rtol=1e-6)
    plt.close(fig)


# ---------------------------------------------------------------------------- readers, CLI


def test_reader_accepts_header_comments_commas(tmp_path):
    p = tmp_path / "dc.csv"
    p.write_text("# DC polarisation at 0.5 V\ntime_s, current_A\n0, 1e-6\n1.5,8e-7 # note\n"
                 "\n3;6e-7\n4\t5e-7\n")
    tr = read_transient(p)
    np.testing.assert_allclose(tr.t_s, [0, 1.5, 3, 4])
    np.testing.assert_allclose(tr.current_A, [1e-6, 8e-7, 6e-7, 5e-7])


@pytest.mark.parametrize(
    "body, line, fragment",
    [
        ("0 1e-6\n1 abc\n", 2, "abc"),
        ("0 1e-6\n2 9e-7\n1 8e-7\n", 3, "does not increase"),
        ("# c\n0 1e-6\n1 nan\n", 3, "not finite"),
        ("0 1e-6\n1 9e-7 3\n", 2, "columns"),
    ],
)
def test_reader_errors_name_file_and_line(tmp_path, body, line, fragment):
    p = tmp_path / "bad.txt"
    p.write_text(body)
    with pytest.raises(InputError) as exc:
        read_transient(p)
    msg = str(exc.value)
    assert "bad.txt" in msg and f"line {line}" in msg and fragment in msg


def test_iv_reader_third_column(tmp_path):
    p = tmp_path / "iv.txt"
    p.write_text("E_V I_A err\n0.1 1e-9 1e-11\n0.2 2e-9 2e-11\n")
    iv = read_iv_curve(p)
    np.testing.assert_allclose(iv.current_err_A, [1e-11, 2e-11])
    p.write_text("0.1 1e-9 1e-11\n0.2 2e-9 -2e-11\n")
    with pytest.raises(InputError, match="line 2"):
        read_iv_curve(p)


def test_cli_transient_json_contract(tmp_path):
    t = np.linspace(0, 3000, 300)
    f = tmp_path / "dc.txt"
    np.savetxt(f, np.column_stack([t, transient_current(t, I_SS, I_0, TAU)]))
    out = tmp_path / "hw.json"
    rc = main(["hebb-wagner", str(f), "--voltage", str(V), "--thickness", str(L_CM),
               "--area", str(A_CM2), "--json", str(out), "--plot", str(tmp_path / "hw.png")])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["t_ion"]["value"] == pytest.approx(1 - I_SS / I_0, rel=1e-9)
    assert d["sigma_e_S_per_cm"]["value"] == pytest.approx(I_SS / V * L_CM / A_CM2, rel=1e-6)
    assert d["tau_s"]["value"] == pytest.approx(TAU, rel=1e-8)
    assert d["D_chem_cm2_per_s"]["value"] == pytest.approx(L_CM**2 / math.pi**2 / TAU, rel=1e-8)
    for k in ("t_ion", "sigma_e_S_per_cm", "I_0_A", "I_ss_A", "tau_s"):
        assert {"value", "stderr"} <= set(d[k])
    assert (tmp_path / "hw.png").stat().st_size > 0


def test_cli_iv_json_contract(tmp_path):
    E, clean, _, err, (se0, sh0, T) = _iv_data(0)
    f = tmp_path / "iv.txt"
    np.savetxt(f, np.column_stack([E, clean, err]))
    out = tmp_path / "iv.json"
    assert main(["hebb-wagner", str(f), "--iv", "--thickness", str(L_CM), "--area", str(A_CM2),
                 "--temperature", str(T), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["sigma_e0_S_per_cm"]["value"] == pytest.approx(se0, rel=1e-8)
    assert d["sigma_h0_S_per_cm"]["value"] == pytest.approx(sh0, rel=1e-8)
    assert d["sigma_e_S_per_cm"]["value"] == pytest.approx(se0 + sh0, rel=1e-8)
    assert d["t_ion"]["value"] is None


def test_cli_reports_bad_file_cleanly(tmp_path, capsys):
    f = tmp_path / "dc.txt"
    f.write_text("0 1\n1 x\n")
    assert main(["hebb-wagner", str(f), "--voltage", "0.5"]) == 1
    assert "dc.txt" in capsys.readouterr().err
