"""QENS spectra S(Q, ω): resolution convolution, Lorentzian fits, reader, end-to-end Γ(Q)."""

import json
import math

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.errors import InputError
from superionic.experiment.qens import chudley_elliott_hwhm_meV, fit_linewidths
from superionic.experiment.qens_spectra import (
    Resolution,
    Spectrum,
    fit_spectra,
    fit_spectrum,
    read_spectra,
    spectrum_model,
)

W = np.linspace(-1.5, 1.5, 241)
FWHM = 0.1


def test_voigt_equals_numerical_convolution_of_lorentzian_and_measured_gaussian():
    gauss = Resolution.gaussian(FWHM)
    we = np.linspace(-0.5, 0.5, 801)
    measured = Resolution.measured(we, 7.0 * gauss.elastic(we))  # any scale: renormalised
    g = 0.2
    np.testing.assert_allclose(measured.lorentzian(W, g), gauss.lorentzian(W, g), rtol=2e-3,
                               atol=2e-4)
    # unit area of the convolved line (Lorentzian tails integrated analytically outside W)
    area = np.trapezoid(gauss.lorentzian(W, g), W)
    tails = 1 - 2 / math.pi * math.atan(W[-1] / g)
    assert area + tails == pytest.approx(1.0, abs=2e-3)
    # a Gaussian resolution of FWHM: half maximum at ±FWHM/2
    r = gauss.elastic(np.array([0.0, FWHM / 2]))
    assert r[1] / r[0] == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_recovers_lorentzian_hwhm_through_gaussian_resolution(seed):
    res = Resolution.gaussian(FWHM)
    g_true, eisf_true = 0.15, 0.4
    clean = spectrum_model(W, res, eisf_true, [1 - eisf_true], [g_true], [0.01])
    err = np.full(W.size, 0.01 * clean.max())
    noisy = clean + np.random.default_rng(seed).normal(0, err)
    fit = fit_spectrum(Spectrum(1.0, W, noisy, err), res)
    gam = fit.gammas_meV[0]
    assert abs(gam.value - g_true) < 3 * gam.stderr
    assert abs(fit.eisf.value - eisf_true) < 3 * fit.eisf.stderr
    assert fit.fit.reduced_chi2 == pytest.approx(1.0, abs=0.35)


def test_noiseless_two_lorentzian_fit_is_exact():
    res = Resolution.gaussian(FWHM)
    clean = spectrum_model(W, res, 0.3, [0.4, 0.3], [0.05, 0.5], [0.01])
    fit = fit_spectrum(Spectrum(1.0, W, clean), res, n_lorentzians=2)
    assert [g.value for g in fit.gammas_meV] == pytest.approx([0.05, 0.5], rel=1e-5)
    assert fit.eisf.value == pytest.approx(0.3, rel=1e-5)


def _write_blocks(path, qs, l_A=2.5, tau_ps=5.0, seed=0):
    rng = np.random.default_rng(seed)
    res = Resolution.gaussian(FWHM)
    gam = chudley_elliott_hwhm_meV(qs, l_A, tau_ps)
    with open(path, "w") as f:
        f.write("# synthetic QENS, energy (meV), S, error\n")
        for q, g in zip(qs, gam, strict=True):
            s = spectrum_model(W, res, 0.3, [1.0], [g], [0.01])
            e = np.full(W.size, 0.005 * s.max())
            f.write(f"# Q = {q}\n")
            for row in zip(W, s + rng.normal(0, e), e, strict=True):
                f.write(" ".join(f"{x:.8g}" for x in row) + "\n")
    return gam


def test_reader_blocks_and_four_column_table(tmp_path):
    p = tmp_path / "sqw.txt"
    qs = np.array([0.5, 1.0])
    _write_blocks(p, qs)
    sp = read_spectra(p)
    assert [s.Q_per_A for s in sp] == [0.5, 1.0]
    assert all(s.energy_meV.size == W.size and s.S_err is not None for s in sp)
    p4 = tmp_path / "sqw4.csv"
    rows = [(q, w, 1.0, 0.1) for q in qs for w in W[:5]]
    p4.write_text("Q,E,S,err\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    sp4 = read_spectra(p4)
    assert [s.Q_per_A for s in sp4] == [0.5, 1.0]
    np.testing.assert_allclose(sp4[1].energy_meV, W[:5])


def test_reader_errors_name_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("# Q = 0.5\n-1 1 0.1\n0 2 0.1\n-0.5 1 0.1\n")
    with pytest.raises(InputError, match=r"bad\.txt.*line 4.*does not increase"):
        read_spectra(p)
    p.write_text("-1 1 0.1\n0 2 0.1\n")
    with pytest.raises(InputError, match=r"bad\.txt.*Q = "):
        read_spectra(p)


def test_spectra_to_linewidths_to_chudley_elliott(tmp_path):
    p = tmp_path / "sqw.txt"
    qs = np.linspace(0.3, 1.9, 6)
    gam = _write_blocks(p, qs, seed=4)
    data, fits = fit_spectra(read_spectra(p), Resolution.gaussian(FWHM))
    assert np.all(np.abs(data.Gamma_meV - gam) < 3.5 * data.Gamma_err_meV)
    ce = fit_linewidths(data, "chudley-elliott")
    assert abs(ce.l_A.value - 2.5) < 3 * ce.l_A.stderr
    assert abs(ce.tau_ps.value - 5.0) < 3 * ce.tau_ps.stderr
    out = tmp_path / "s.json"
    assert main(["qens", str(p), "--spectra", "--resolution-fwhm", str(FWHM),
                 "--model", "chudley-elliott", "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    assert js["l_A"]["value"] == pytest.approx(ce.l_A.value, rel=1e-6)
    assert len(js["spectra"]) == qs.size
