"""Circuit fits from automatic (DRT) starting values recover known parameters."""

import numpy as np
import pytest

from superionic.experiment.eis import Spectrum, analyse, auto_circuit, compute_drt, fit
from superionic.experiment.eis.circuits import Circuit

F = np.logspace(7, -1, 71)


def _noisy(text, values, rel=0.003, seed=0, f=F, proportional=False):
    Z = Circuit(text).impedance(f, values)
    rng = np.random.default_rng(seed)
    n1, n2 = rng.normal(size=Z.size), rng.normal(size=Z.size)
    if proportional:  # noise proportional to each component
        return Spectrum(f, Z + rel * (np.abs(Z.real) * n1 + 1j * np.abs(Z.imag) * n2))
    return Spectrum(f, Z + rel * np.abs(Z) * (n1 + 1j * n2))


def _within(res, truth, k=3.0):
    for name, true in truth.items():
        est = res.params[name]
        assert abs(est.value - true) <= k * est.stderr, (name, est, true)


def test_drt_of_ideal_rc_arcs_gives_R_and_tau():
    truth = {"R0": 10.0, "R1": 1000.0, "C1": 1e-10, "R2": 3000.0, "C2": 1e-7}
    s = _noisy("R0-p(R1,C1)-p(R2,C2)", truth, rel=0.001, seed=3)
    d = compute_drt(s)
    peaks = sorted([p for p in d.peaks if p.in_range], key=lambda p: p.tau_s)
    assert len(peaks) == 2
    # analytic: a Debye arc is a delta in the DRT with area R at tau = R C
    assert peaks[0].R_ohm == pytest.approx(1000.0, rel=0.1)
    assert peaks[1].R_ohm == pytest.approx(3000.0, rel=0.1)
    assert peaks[0].tau_s == pytest.approx(1e-7, rel=0.25)
    assert peaks[1].tau_s == pytest.approx(3e-4, rel=0.25)
    assert d.R_inf_ohm == pytest.approx(10.0, abs=3.0)


def test_single_arc_recovered_within_three_stderr():
    tau, a, R = 2e-6, 0.87, 4.2e3
    truth = {"R0": 25.0, "R1": R, "CPE1_Q": tau**a / R, "CPE1_alpha": a}
    s = _noisy("R0-p(R1,CPE1)", truth, seed=1)
    res = fit(s)  # automatic circuit and starting values
    assert res.circuit == "R0-p(R1,CPE1)"
    _within(res, truth)
    assert res.chi2_reduced < 5 * 2 * 0.003**2  # at the noise floor
    corr = res.correlation
    np.testing.assert_allclose(np.diag(corr), 1.0, atol=1e-9)


def test_overlapping_bulk_gb_arcs_with_spike_auto_start_and_assignment():
    # pellet t = 0.1 cm, A = 0.5 cm²; bulk C = 2e-11 F, gb C = 8e-10 F (Brug), tau ratio ~16
    t, A = 0.1, 0.5
    Rb, ab, Cb = 2000.0, 0.95, 2e-11
    Rg, ag, Cg = 800.0, 0.85, 8e-10
    truth = {
        "R0": 5.0,
        "R1": Rb, "CPE1_Q": Cb**ab / Rb ** (1 - ab), "CPE1_alpha": ab,
        "R2": Rg, "CPE2_Q": Cg**ag / Rg ** (1 - ag), "CPE2_alpha": ag,
        "CPE3_Q": 3e-6, "CPE3_alpha": 0.88,
    }
    text = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
    tau_b = (truth["R1"] * truth["CPE1_Q"]) ** (1 / ab)
    tau_g = (truth["R2"] * truth["CPE2_Q"]) ** (1 / ag)
    assert 10 < tau_g / tau_b < 30
    s = _noisy(text, truth, rel=0.003, seed=7)
    assert auto_circuit(s) == text
    res = fit(s, text)
    _within(res, truth)
    an = analyse(res, t, A)
    assert [a.assignment for a in an.arcs] == ["bulk", "grain_boundary"]
    assert an.arcs[0].C_F.value == pytest.approx(Cb, rel=0.1)
    assert an.arcs[1].C_F.value == pytest.approx(Cg, rel=0.1)
    # sigma = t/(R A) exactly, from the fitted resistances
    assert an.sigma_bulk_S_per_cm.value == pytest.approx(t / (res.values["R1"] * A), rel=1e-12)
    assert an.sigma_gb_S_per_cm.value == pytest.approx(t / (res.values["R2"] * A), rel=1e-12)
    assert an.sigma_total_S_per_cm.value == pytest.approx(
        t / ((res.values["R1"] + res.values["R2"]) * A), rel=1e-9)
    assert an.sigma_bulk_S_per_cm.contains(t / (Rb * A))
    assert an.sigma_gb_S_per_cm.contains(t / (Rg * A))


def test_fixed_parameter_and_weightings():
    truth = {"R0": 15.0, "R1": 900.0, "C1": 5e-9}
    for w in ("modulus", "proportional", "unit"):
        s = _noisy("R0-p(R1,C1)", truth, seed=4, proportional=(w == "proportional"))
        res = fit(s, "R0-p(R1,C1)", weighting=w, fixed={"R0": 15.0})
        assert res.param_names == ["R1", "C1"]
        _within(res, {"R1": 900.0, "C1": 5e-9}, k=4.0)


@pytest.mark.parametrize("text,truth", [
    ("R0-Zarc1-Zarc2", {"R0": 10.0, "Zarc1_R": 1500.0, "Zarc1_tau": 3e-7, "Zarc1_alpha": 0.9,
                        "Zarc2_R": 800.0, "Zarc2_tau": 2e-5, "Zarc2_alpha": 0.8}),
    ("R0-p(R1,CPE1)-Wo1", {"R0": 10.0, "R1": 1500.0, "CPE1_Q": 1e-9, "CPE1_alpha": 0.9,
                           "Wo1_R": 5000.0, "Wo1_tau": 10.0}),
    ("R0-p(R1,CPE1)-Ws1", {"R0": 10.0, "R1": 1500.0, "CPE1_Q": 1e-9, "CPE1_alpha": 0.9,
                           "Ws1_R": 5000.0, "Ws1_tau": 1.0}),
    ("R0-HN1-CPE2", {"R0": 10.0, "HN1_R": 1500.0, "HN1_tau": 1e-5, "HN1_alpha": 0.9,
                     "HN1_beta": 0.7, "CPE2_Q": 1e-6, "CPE2_alpha": 0.9}),
    ("L0-R0-p(R1,C1)-W1", {"L0": 1e-6, "R0": 10.0, "R1": 1500.0, "C1": 1e-9,
                           "W1_sigma": 3000.0}),
])
def test_every_element_fitted_from_automatic_starts(text, truth):
    f = np.logspace(7, -2, 73)
    res = fit(_noisy(text, truth, f=f), text)
    _within(res, truth)


def test_automatic_circuit_with_cable_inductance_selected_by_bic():
    text = "L0-R0-p(R1,CPE1)-CPE2"
    truth = {"L0": 2e-6, "R0": 10.0, "R1": 500.0, "CPE1_Q": 1e-9, "CPE1_alpha": 0.9,
             "CPE2_Q": 1e-6, "CPE2_alpha": 0.9}
    res = fit(_noisy(text, truth, seed=0))
    assert res.circuit == text
    _within(res, truth)
