"""Circuit language: parser safety and impedances against analytic formulas."""

import numpy as np
import pytest

from superionic.core.errors import InputError
from superionic.experiment.eis.circuits import Circuit

F = np.array([0.1, 3.0, 1e3, 2.5e5])
W = 2 * np.pi * F


@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__('os').system('ls')", "R0; import os", "R0-", "p(R1)",
    "R0--R1", "X1", "R", "p(R1,C1", "R1-R1", "eval(R1)", "",
])
def test_parser_rejects_bad_text(text):
    with pytest.raises(InputError):
        Circuit(text)


def test_randles_with_cpe_matches_analytic():
    c = Circuit("R0-p(R1,CPE1)-p(R2,C2)-L3")
    assert c.param_names == ["R0", "R1", "CPE1_Q", "CPE1_alpha", "R2", "C2", "L3"]
    R0, R1, Q, a, R2, C2, L3 = 12.0, 340.0, 2e-7, 0.82, 1500.0, 3e-9, 1e-6
    z_cpe = 1 / (Q * (1j * W) ** a)
    expected = (R0 + 1 / (1 / R1 + 1 / z_cpe) + R2 / (1 + 1j * W * R2 * C2) + 1j * W * L3)
    got = c.impedance(F, [R0, R1, Q, a, R2, C2, L3])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_distributed_elements_limits_and_aliases():
    R, tau = 100.0, 0.5
    wo = Circuit("Wo1").impedance(F, {"Wo1_R": R, "Wo1_tau": tau})
    ws = Circuit("Ws1").impedance(F, {"Ws1_R": R, "Ws1_tau": tau})
    s = np.sqrt(1j * W * tau)
    np.testing.assert_allclose(wo, R / (s * np.tanh(s)), rtol=1e-12)
    np.testing.assert_allclose(ws, R * np.tanh(s) / s, rtol=1e-12)
    # transmissive element -> R at low frequency; reflective -> capacitor C = tau/R (+R/3)
    f_low = np.array([1e-6])
    assert Circuit("Ws1").impedance(f_low, [R, tau])[0] == pytest.approx(R, abs=1e-3)
    zlow = Circuit("Wo1").impedance(f_low, [R, tau])[0]
    assert zlow.real == pytest.approx(R / 3, rel=1e-4)
    assert zlow.imag == pytest.approx(-R / (2 * np.pi * 1e-6 * tau), rel=1e-4)
    # Zarc(R, tau, alpha) equals p(R, CPE) with Q = tau^alpha / R; Q is an alias of CPE
    a = 0.77
    zarc = Circuit("Zarc1").impedance(F, [R, tau, a])
    rq = Circuit("p(R1,Q1)").impedance(F, [R, tau**a / R, a])
    np.testing.assert_allclose(zarc, rq, rtol=1e-12)
    hn = Circuit("HN1").impedance(F, [R, tau, a, 1.0])
    np.testing.assert_allclose(hn, zarc, rtol=1e-12)
    w = Circuit("W1").impedance(F, [7.0])
    np.testing.assert_allclose(w, 7.0 * (1 - 1j) / np.sqrt(W), rtol=1e-12)


def test_fixed_and_bounds_validation():
    c = Circuit("R0-p(R1,CPE1)", fixed={"R0": 5.0}, bounds={"CPE1_alpha": (0.5, 1.0)})
    assert c.param_names == ["R1", "CPE1_Q", "CPE1_alpha"]
    assert c.bound("CPE1_alpha") == (0.5, 1.0)
    assert c.bound("R1") == (0.0, np.inf)
    z = c.impedance([1e3], [100.0, 1e-6, 1.0])
    assert z[0] == pytest.approx(5.0 + 100.0 / (1 + 1j * 2 * np.pi * 1e3 * 1e-4))
    with pytest.raises(InputError, match="unknown parameter"):
        Circuit("R0", fixed={"R9": 1.0})
