"""Hot-spot runaway, deposition stability and coating window."""

import numpy as np
import pytest

from superionic.interface import coating, dendrite, runaway


def test_runaway_energy_balance():
    m = runaway.HotSpot()
    r = runaway.simulate_hot_spot(m, 1e-4, 1e-6)
    assert r.runaway and r.reason == "T_cap"
    stored = m.C * (r.T[-1] - m.T0)
    assert r.E_joule[-1] == pytest.approx(r.E_lost[-1] + stored, rel=1e-8)


def test_runaway_map_regions_and_vectorised_equals_pointwise():
    m = runaway.HotSpot(t_end=600.0)
    I = np.array([1e-7, 1e-5, 1e-3, 1e-2])
    a = np.array([1e-6, 1e-5, 1e-4])
    mp = runaway.runaway_map(m, I, a)
    assert not mp[:, 0].any()  # low current: stable at every radius
    assert mp[0, -1]  # high current, small radius: runaway
    assert not mp[-1, 1]  # large radius, moderate current: stable
    np.testing.assert_array_equal(mp, runaway.runaway_map_pointwise(m, I, a))


def test_frozen_spot_threshold_matches_closed_form():
    m = runaway.HotSpot(rho0=1e-7, rho_model="linear", alpha=4.4e-3, k=84.8, A=0.0,
                        C=1e-12, t_end=1.0, T_cap=5000.0)
    a0 = 1e-6
    Ic = m.critical_current_frozen(a0)
    assert not runaway.simulate_hot_spot(m, 0.8 * Ic, a0).runaway
    assert runaway.simulate_hot_spot(m, 1.05 * Ic, a0).runaway


def test_growth_rate_zero_crossing_is_closed_form_k_c():
    d = dendrite.DepositionStability(G_s=2.5e9, nu_s=0.33, G_Li=3.4e9, nu_Li=0.33, j=20.0)
    kc = d.critical_wavenumber()
    k = np.linspace(kc / 50, 3 * kc, 20001)
    w = d.growth_rate(k)
    i = np.where(np.diff(np.sign(w)) != 0)[0][0]
    k0 = k[i] - w[i] * (k[i + 1] - k[i]) / (w[i + 1] - w[i])
    assert k0 == pytest.approx(kc, rel=1e-6)
    assert d.growth_rate(0.5 * kc) > 0 > d.growth_rate(2 * kc)


def test_monroe_newman_shear_modulus_criterion():
    # Gamma changes sign at G_s/G_Li ≈ 2 for nu = 0.33 (Monroe & Newman 2005: "about twice")
    ratio = dendrite.critical_modulus_ratio(0.33, 0.33)
    assert 1.8 < ratio < 2.3
    from scipy.optimize import brentq

    g = brentq(lambda x: dendrite.stress_coefficient(x * 3.4e9, 0.33, 3.4e9, 0.33), 0.1, 10)
    assert g == pytest.approx(ratio, rel=1e-9)
    soft = dendrite.DepositionStability(G_s=1.5 * 3.4e9, nu_s=0.33, G_Li=3.4e9, nu_Li=0.33)
    stiff = dendrite.DepositionStability(G_s=2.5 * 3.4e9, nu_s=0.33, G_Li=3.4e9, nu_Li=0.33)
    assert soft.critical_current_density(1e-6) == 0.0
    assert stiff.critical_current_density(1e-6) > 0.0


def test_j_crit_scales_as_kappa_Gamma_over_l():
    d = dendrite.DepositionStability(G_s=20e9, nu_s=0.3, gamma=0.0, kappa=0.1)
    j1, j2 = d.critical_current_density(1e-6), d.critical_current_density(2e-6)
    assert j1 / j2 == pytest.approx(2.0, rel=1e-12)
    d2 = dendrite.DepositionStability(G_s=20e9, nu_s=0.3, gamma=0.0, kappa=0.2)
    assert d2.critical_current_density(1e-6) / j1 == pytest.approx(2.0, rel=1e-12)


def test_coating_window_endpoints_satisfy_definitions():
    c = coating.CoatingStack()
    w = c.window()
    assert c.interface_potential(w["L_min_m"]) == pytest.approx(c.V_ox, rel=1e-10)
    assert c.added_resistance(w["L_max_m"]) == pytest.approx(c.R_budget, rel=1e-12)
    assert w["feasible"]
    prof = c.profile(1e-7)
    assert prof["V"][0] == pytest.approx(c.E_cathode)
    assert prof["V"][-1] == pytest.approx(0.0, abs=1e-9)  # Li potential reaches the anode
