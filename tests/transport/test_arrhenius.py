"""Arrhenius fits against synthetic data with known Ea, against numpy.polyfit, and the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.units import KB_EV_PER_K
from superionic.transport.arrhenius import arrhenius_from_results, fit_arrhenius

EA, D0 = 0.28, 2.0e-3  # eV, cm²/s
T = np.array([500.0, 600.0, 700.0, 800.0, 900.0, 1000.0])


def d_true(t):
    return D0 * np.exp(-EA / (KB_EV_PER_K * np.asarray(t)))


def noisy(rng, rel=0.1):
    return d_true(T) * np.exp(rng.normal(0.0, rel, T.size))


def test_recovers_Ea_and_D300_within_interval():
    rng = np.random.default_rng(7)
    d = noisy(rng)
    fit = fit_arrhenius(T, d, 0.1 * d)
    assert fit.Ea_eV.contains(EA)
    assert abs(fit.Ea_eV.value - EA) < 0.03
    assert fit.predict(300.0).contains(float(d_true(300.0)))
    assert fit.curvature_warning is None and not fit.inflated


def test_sigma_times_T_fit_predicts_sigma():
    # sigma T = A exp(-Ea/kT): predict() must divide T back out and return sigma itself
    rng = np.random.default_rng(4)
    A = 5.0e4  # S K / cm
    sig_true = lambda t: A / t * np.exp(-EA / (KB_EV_PER_K * t))  # noqa: E731
    sig = sig_true(T) * np.exp(rng.normal(0.0, 0.05, T.size))
    fit = fit_arrhenius(T, sig, 0.05 * sig, multiply_by_T=True, quantity="sigma")
    assert fit.Ea_eV.contains(EA)
    assert fit.predict(300.0).contains(sig_true(300.0))
    assert fit.prefactor.contains(A)
    assert fit.predict(300.0).unit == "S/cm"


def test_covariance_matches_numpy_polyfit():
    rng = np.random.default_rng(11)
    d = noisy(rng)
    s = np.full(T.size, 0.1)
    fit = fit_arrhenius(T, d, log_stderr=s)
    coef, cov = np.polyfit(1.0 / T, np.log(d), 1, w=1.0 / s, cov="unscaled")
    assert fit.Ea_eV.value == pytest.approx(-coef[0] * KB_EV_PER_K, rel=1e-10)
    assert fit.ln_prefactor.value == pytest.approx(coef[1], rel=1e-10)
    assert fit.Ea_eV.stderr == pytest.approx(np.sqrt(cov[0, 0]) * KB_EV_PER_K, rel=1e-8)
    assert fit.cov[0, 1] == pytest.approx(-cov[0, 1] * KB_EV_PER_K, rel=1e-8)


@pytest.mark.parametrize("stated, expect_inflation", [(0.1, False), (0.02, True)])
def test_interval_coverage_of_Ea(stated, expect_inflation):
    # true log-scatter 0.1; stating 0.02 (5x too small) must trigger Birge inflation and
    # still give honest intervals
    rng = np.random.default_rng(2024)
    n, hits, inflated = 600, 0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            fit = fit_arrhenius(T, noisy(rng), log_stderr=np.full(T.size, stated))
            hits += fit.Ea_eV.contains(EA)
            inflated += fit.inflated
    assert 0.90 <= hits / n <= 0.98
    assert (inflated / n > 0.9) if expect_inflation else (inflated / n < 0.1)


def test_curvature_warning_on_two_mechanism_data():
    # two parallel mechanisms (0.2 eV and 0.6 eV): ln D is convex in 1/T
    Ts = np.linspace(400.0, 1200.0, 8)
    d = 1e-4 * np.exp(-0.2 / (KB_EV_PER_K * Ts)) + 1e-1 * np.exp(-0.6 / (KB_EV_PER_K * Ts))
    rng = np.random.default_rng(5)
    d = d * np.exp(rng.normal(0, 0.05, Ts.size))
    with pytest.warns(UserWarning, match="non-Arrhenius"):
        warnings.filterwarnings("ignore", message="Arrhenius residuals")  # also inflated
        fit = fit_arrhenius(Ts, d, 0.05 * d)
    assert fit.curvature_warning is not None and fit.curvature_p_value < 1e-3


def test_no_curvature_warning_on_straight_data():
    rng = np.random.default_rng(5)
    Ts = np.linspace(400.0, 1200.0, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = d_true(Ts) * np.exp(rng.normal(0, 0.05, Ts.size))
        fit = fit_arrhenius(Ts, d, 0.05 * d)
    assert fit.curvature_warning is None
    # false-alarm rate of the F-test equals its nominal level (1 %)
    flagged = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(500):
            d = d_true(Ts) * np.exp(rng.normal(0, 0.05, Ts.size))
            flagged += fit_arrhenius(Ts, d, 0.05 * d).curvature_warning is not None
    assert flagged / 500 < 0.03


def _result_json(t, rng, path):
    """A file shaped like `superionic diffusion --json` output at temperature t."""
    n_per_cm3 = 2.0e22
    sig_factor = n_per_cm3 * (1.602176634e-19) ** 2 / (1.380649e-23 * t)  # n q² / kT, SI-ish
    noise = np.exp(rng.normal(0, 0.08))
    d = float(d_true(t) * noise)
    s = d * 1e-4 * sig_factor * 1e2  # cm²/s -> S/cm, Nernst–Einstein with H_R = 1
    est = lambda v, r: {"value": v, "stderr": v * r,  # noqa: E731
                        "ci95": [v * np.exp(-1.96 * r), v * np.exp(1.96 * r)]}
    path.write_text(json.dumps({
        "temperature_K": t,
        "D_tracer_cm2_per_s": est(d, 0.08),
        "D_sigma_cm2_per_s": est(d, 0.2),
        "sigma_S_per_cm": est(float(s), 0.08),
        "sigma_NE_S_per_cm": est(float(s) * 2.0, 0.08),  # Haven ratio 0.5
        "haven_ratio": {"value": 1.0, "stderr": 0.2, "ci95": [0.6, 1.4]},
    }))
    return path


def test_cli_arrhenius_reproduces_known_Ea(tmp_path, capsys):
    rng = np.random.default_rng(42)
    files = [str(_result_json(t, rng, tmp_path / f"d{int(t)}.json")) for t in T]
    out, png = tmp_path / "arr.json", tmp_path / "arr.png"
    assert main(["arrhenius", *files, "--at", "300", "--json", str(out),
                 "--plot", str(png)]) == 0
    res = json.loads(out.read_text())
    # sigma ∝ D / T, so the sigma·T fit has the Ea of D
    assert res["Ea_eV"]["ci95"][0] <= EA <= res["Ea_eV"]["ci95"][1]
    assert abs(res["Ea_eV"]["value"] - EA) < 0.03
    assert res["T_K"] == 300.0
    lo, hi = res["D_at_T_cm2_per_s"]["ci95"]
    assert lo <= d_true(300.0) <= hi
    assert set(res["sigma_at_T_S_per_cm"]) >= {"value", "stderr", "ci95"}
    assert res["Ea_from_D_eV"]["ci95"][0] <= EA <= res["Ea_from_D_eV"]["ci95"][1]
    assert png.stat().st_size > 10_000
    # the library call gives the same numbers as the command
    direct = arrhenius_from_results([json.loads(open(f).read()) for f in files])
    assert direct["Ea_eV"]["value"] == pytest.approx(res["Ea_eV"]["value"])


def test_cli_arrhenius_names_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["arrhenius", str(bad)]) == 1
    assert "bad.json" in capsys.readouterr().err


def test_cli_sigma_key_selects_the_nernst_einstein_entry(tmp_path):
    rng = np.random.default_rng(42)
    files = [str(_result_json(t, rng, tmp_path / f"d{int(t)}.json")) for t in T]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["arrhenius", *files, "--json", str(a)]) == 0
    assert main(["arrhenius", *files, "--json", str(b), "--sigma-key",
                 "sigma_NE_S_per_cm"]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    # the NE entry is exactly twice the collective one: same Ea, sigma(300 K) doubled
    assert rb["Ea_eV"]["value"] == pytest.approx(ra["Ea_eV"]["value"], rel=1e-9)
    assert rb["sigma_at_T_S_per_cm"]["value"] == pytest.approx(
        2.0 * ra["sigma_at_T_S_per_cm"]["value"], rel=1e-9)
    assert rb["Ea_source"] == "sigma_NE_S_per_cm"
