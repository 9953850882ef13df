"""QENS Γ(Q) models: analytic limits, recovery from noisy data, model choice, reader, CLI."""

import json
import math

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.errors import InputError
from superionic.core.units import HBAR_MEV_PS
from superionic.experiment.qens import (
    MODELS,
    LinewidthData,
    chudley_elliott_hwhm_meV,
    compare_models,
    fickian_hwhm_meV,
    fit_linewidths,
    hall_ross_hwhm_meV,
    linewidth_model,
    read_linewidths,
    singwi_sjolander_hwhm_meV,
)

L_A, TAU_PS = 2.5, 5.0
D_A2_PS = L_A**2 / (6 * TAU_PS)
Q = np.linspace(0.2, 2.0, 15)


def test_chudley_elliott_small_q_is_fickian_with_D_l2_over_6tau():
    q = np.array([1e-3, 3e-3]) / L_A
    np.testing.assert_allclose(
        chudley_elliott_hwhm_meV(q, L_A, TAU_PS), HBAR_MEV_PS * D_A2_PS * q**2, rtol=1e-5
    )


def test_chudley_elliott_large_q_averages_to_hbar_over_tau():
    q = np.linspace(50, 5000, 200001) / L_A
    mean = chudley_elliott_hwhm_meV(q, L_A, TAU_PS).mean()
    assert mean == pytest.approx(HBAR_MEV_PS / TAU_PS, rel=1e-3)


def test_other_jump_models_share_both_limits():
    q_small = np.array([1e-3]) / L_A
    fick = HBAR_MEV_PS * D_A2_PS * q_small**2
    np.testing.assert_allclose(hall_ross_hwhm_meV(q_small, L_A, TAU_PS), fick, rtol=1e-5)
    np.testing.assert_allclose(singwi_sjolander_hwhm_meV(q_small, D_A2_PS, TAU_PS), fick,
                               rtol=1e-5)
    q_big = np.array([100.0])
    for g in (hall_ross_hwhm_meV(q_big, L_A, TAU_PS),
              singwi_sjolander_hwhm_meV(q_big, D_A2_PS, TAU_PS)):
        assert g[0] == pytest.approx(HBAR_MEV_PS / TAU_PS, rel=1e-3)
    # the generic dispatcher writes Singwi–Sjölander through l and τ with D = l²/(6τ)
    np.testing.assert_allclose(linewidth_model("singwi-sjolander", Q, l_A=L_A, tau_ps=TAU_PS),
                               singwi_sjolander_hwhm_meV(Q, D_A2_PS, TAU_PS), rtol=1e-12)
    np.testing.assert_allclose(linewidth_model("fickian", Q, D_A2_per_ps=D_A2_PS),
                               fickian_hwhm_meV(Q, D_A2_PS), rtol=1e-12)


def _synthetic(model: str, seed: int, rel: float = 0.03):
    if model == "fickian":
        g = fickian_hwhm_meV(Q, D_A2_PS)
    else:
        g = linewidth_model(model, Q, l_A=L_A, tau_ps=TAU_PS)
    err = rel * g + 0.002
    return LinewidthData(Q, g + np.random.default_rng(seed).normal(0, err), err)


@pytest.mark.parametrize("model", MODELS)
def test_noisy_synthetic_data_recovered_within_intervals(model):
    fit = fit_linewidths(_synthetic(model, seed=11), model)
    d_true = D_A2_PS * 1e-4  # Å²/ps → cm²/s
    assert abs(math.log(fit.D_cm2_per_s.value / d_true)) < 3 * fit.D_cm2_per_s.stderr / \
        fit.D_cm2_per_s.value
    if model != "fickian":
        assert abs(fit.l_A.value - L_A) < 3 * fit.l_A.stderr
        assert abs(fit.tau_ps.value - TAU_PS) < 3 * fit.tau_ps.stderr
        # D = l²/(6τ) from the fitted values (errors propagated through the covariance)
        assert fit.D_cm2_per_s.value == pytest.approx(
            fit.l_A.value**2 / (6 * fit.tau_ps.value) * 1e-4, rel=1e-12
        )
    assert fit.fit.reduced_chi2 < 2.5


def test_noiseless_fit_is_exact():
    g = chudley_elliott_hwhm_meV(Q, L_A, TAU_PS)
    fit = fit_linewidths(LinewidthData(Q, g), "chudley-elliott")
    assert fit.l_A.value == pytest.approx(L_A, rel=1e-7)
    assert fit.tau_ps.value == pytest.approx(TAU_PS, rel=1e-7)


def test_aic_prefers_the_generating_model_between_ce_and_fickian():
    comp = compare_models(_synthetic("chudley-elliott", seed=3), ("chudley-elliott", "fickian"))
    assert comp.best.model == "chudley-elliott"
    assert comp["chudley-elliott"].akaike_weight > 0.99
    comp = compare_models(_synthetic("fickian", seed=3), ("chudley-elliott", "fickian"))
    assert comp.best.model == "fickian"
    w = sum(f.akaike_weight for f in comp.fits)
    assert w == pytest.approx(1.0)


def test_stderr_of_jump_length_matches_monte_carlo_scatter():
    ls, errs = [], []
    for seed in range(60):
        f = fit_linewidths(_synthetic("chudley-elliott", seed=100 + seed), "chudley-elliott")
        ls.append(f.l_A.value)
        errs.append(f.l_A.stderr)
    assert np.std(ls, ddof=1) == pytest.approx(np.mean(errs), rel=0.3)


def test_reader_and_errors(tmp_path):
    p = tmp_path / "gq.txt"
    p.write_text("# Q (1/A), HWHM (meV), err\nQ,Gamma,err\n0.5,0.01,0.001\n1.0,0.03,0.002\n")
    d = read_linewidths(p)
    np.testing.assert_allclose(d.Gamma_err_meV, [0.001, 0.002])
    p.write_text("0.5 0.01 0.001\n1.0 0.03 0\n")
    with pytest.raises(InputError, match=r"gq\.txt.*line 2"):
        read_linewidths(p)
    p.write_text("0.5 0.01\n-1.0 0.03\n")
    with pytest.raises(InputError, match=r"gq\.txt.*line 2"):
        read_linewidths(p)
    p.write_text("# Q = 0.5\n-1 0.2 0.01\n0 1.0 0.02\n")
    with pytest.raises(InputError, match="spectra"):
        read_linewidths(p)


def test_cli_json_contract(tmp_path):
    d = _synthetic("chudley-elliott", seed=5)
    f = tmp_path / "gq.txt"
    np.savetxt(f, np.column_stack([d.Q_per_A, d.Gamma_meV, d.Gamma_err_meV]))
    out = tmp_path / "q.json"
    assert main(["qens", str(f), "--json", str(out), "--plot", str(tmp_path / "q.png")]) == 0
    js = json.loads(out.read_text())
    assert js["model"] == "chudley-elliott"
    for k in ("l_A", "tau_ps", "D_cm2_per_s"):
        assert {"value", "stderr"} <= set(js[k])
    assert abs(js["l_A"]["value"] - L_A) < 3 * js["l_A"]["stderr"]
    assert set(js["comparison"]) == set(MODELS)
    # two-column file, single model, Fickian has no jump length: strict JSON nulls
    np.savetxt(f, np.column_stack([d.Q_per_A, d.Gamma_meV]))
    assert main(["qens", str(f), "--model", "fickian", "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    assert js["model"] == "fickian" and js["l_A"]["value"] is None
    assert js["D_cm2_per_s"]["value"] > 0
