"""Spring layer, shear lag, SEI, viscoelastic pad and creep against closed forms."""

import numpy as np
import pytest

from superionic.interface import decay, fracture


def test_spring_layer_pure_modes_and_mixity():
    s = fracture.SpringLayer(k_n=1e15, k_t=4e15, G_Ic=1.0, G_IIc=4.0)
    assert s.critical_traction(0.0) == pytest.approx(np.sqrt(2 * 1e15 * 1.0), rel=1e-9)
    assert s.critical_traction(np.pi / 2) == pytest.approx(np.sqrt(2 * 4e15 * 4.0), rel=1e-9)
    p, tau = 2e7, 3e7
    assert s.mode_mixity(p, tau) == pytest.approx(np.arctan(tau * np.sqrt(1e15) /
                                                            (p * np.sqrt(4e15))))


def test_bk_and_linear_power_law_agree_when_toughness_equal():
    bk = fracture.SpringLayer(1e15, 1e15, 2.0, 2.0, "bk")
    pw = fracture.SpringLayer(1e15, 1e15, 2.0, 2.0, "power")
    psi = np.linspace(0, np.pi / 2, 5)
    np.testing.assert_allclose(bk.critical_traction(psi), pw.critical_traction(psi), rtol=1e-9)


def test_shear_lag_force_balance_and_slow_gradient_limit():
    L, w, beta, Ef, hf = 1e-5, 1e-6, 0.01, 1e11, 1e-7
    c = lambda x: 0.5 * (1 - np.tanh((x - L / 2) / w))
    dc = lambda x: -0.5 / w / np.cosh((x - L / 2) / w) ** 2
    r = fracture.shear_lag_profile(c, dc, L, hf, Ef, 1e19, beta, n=20001)  # 1/lambda << w
    from scipy.integrate import cumulative_trapezoid

    N_from_tau = cumulative_trapezoid(r.tau, r.x, initial=0.0)  # N(x) = ∫0^x tau (N(0) = 0)
    scale = np.max(np.abs(r.N))
    assert np.max(np.abs(N_from_tau - r.N)) < 1e-4 * scale
    assert abs(np.trapezoid(r.tau, r.x)) < 1e-4 * scale
    mid = len(r.x) // 2
    assert r.tau[mid] == pytest.approx(-Ef * hf * beta * dc(r.x[mid]), rel=0.01)


def test_sei_contact_loss_closed_form_vs_numeric():
    s = decay.SEIGrowth(h0=1e-8, k=1e-20, E_prime=1e9, delta=1e-9, sigma_SEI=1e-6, j=10)
    t_c = s.contact_loss_time(1e7)
    assert t_c == pytest.approx(((1e9 * 1e-9 / 1e7) ** 2 - 1e-16) / 1e-20)
    assert s.contact_loss_time_numeric(1e7) == pytest.approx(t_c, rel=1e-7)
    assert s.pressure(t_c) == pytest.approx(1e7)
    assert s.overpotential(0.0) == pytest.approx(10 * 1e-8 / 1e-6)


def test_sls_limits_and_one_term_prony():
    sls = decay.standard_linear_solid(4e6, 2e6, 100.0)
    assert sls.pressure(0.0, 0.1) == pytest.approx(6e5)
    assert sls.pressure(1e5, 0.1) == pytest.approx(2e5, rel=1e-12)
    t = np.linspace(0, 500, 11)
    pr = decay.Prony(2e6, (4e6,), (100.0,))
    np.testing.assert_allclose(pr.pressure(t, 0.1), (2e6 + 4e6 * np.exp(-t / 100)) * 0.1)
    assert pr.contact_loss_time(0.1, 3e5) == pytest.approx(
        decay.sls_contact_loss_time(4e6, 2e6, 100.0, 0.1, 3e5), rel=1e-9)


def test_creep_relaxation_closed_form_vs_numeric():
    c = decay.PowerLawCreep(A=5.75e-36, n=6.56, Q=37e3, T=298.15)
    t_c = c.contact_loss_time(1e6, 7.82e9, 1e5)
    assert c.relaxation(t_c, 1e6, 7.82e9) == pytest.approx(1e5, rel=1e-9)
    assert c.contact_loss_time_numeric(1e6, 7.82e9, 1e5) == pytest.approx(t_c, rel=1e-6)
