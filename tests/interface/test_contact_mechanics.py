"""Contact, constriction and rough-surface models against analytic limits."""

import numpy as np
import pytest

from superionic.core.errors import InputError
from superionic.interface import contact, roughness


def test_greenwood_one_spot_is_holm():
    assert contact.greenwood_resistance(2.0, [1e-6], [[0, 0]]) == pytest.approx(2.0 / 2e-6)


def test_greenwood_far_spots_tend_to_parallel_holm():
    a = np.array([1e-6, 2e-6, 3e-6])
    pos = np.array([[0, 0], [1.0, 0], [0, 1.0]])  # 1 m apart: interaction ~ 1e-6 relative
    parallel = 1.0 / np.sum(1.0 / contact.holm_resistance(1.0, a))
    assert contact.greenwood_resistance(1.0, a, pos) == pytest.approx(parallel, rel=1e-5)


def test_greenwood_equal_spots_matches_paper_form():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 1e-4, (6, 2))
    a, rho, n = 1e-6, 3.0, 6
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    s = np.sum(1.0 / d[~np.eye(n, dtype=bool)])
    ref = rho / (2 * n * a) + rho / (np.pi * n**2) * s
    assert contact.greenwood_resistance(rho, [a] * n, pos) == pytest.approx(ref, rel=1e-12)


def test_mean_field_resistance_dilute_limit_and_full_contact():
    rho, a, phi = 1.0, 1e-6, 1e-6
    n = phi / (np.pi * a**2)
    assert contact.interface_resistance_area(rho, a, phi) == pytest.approx(
        rho / (2 * n * a), rel=2e-3)
    assert contact.interface_resistance_area(rho, a, 1.0) == 0.0


def test_local_current_density_and_bad_input():
    areas = contact.contact_areas(1e-4, 0.2, 0.5)
    assert contact.local_current_density(1e-3, areas) == pytest.approx(1e-3 / 1e-5)
    with pytest.raises(InputError, match="rho"):
        contact.holm_resistance(-1.0, 1e-6)


def test_gw_tail_integrals_match_closed_forms():
    for h in (-1.0, 0.0, 1.5, 3.0):
        for n in (0, 1):
            assert roughness.gaussian_tail_moment(n, h) == pytest.approx(
                roughness.gaussian_tail_moment_closed(n, h), rel=1e-9)


def test_gw_elastic_fraction_is_pi_eta_R_sigma_F1_and_monotone():
    gw = roughness.GreenwoodWilliamson(eta=1e12, R=1e-6, sigma=1e-7, E_star=5e9)
    res = gw.at_pressure(np.array([1e4, 1e5, 1e6]))
    F1 = np.array([roughness.gaussian_tail_moment_closed(1, h) for h in res["h"]])
    np.testing.assert_allclose(res["phi"], np.pi * 1e12 * 1e-6 * 1e-7 * F1, rtol=1e-6)
    assert np.all(np.diff(res["phi"]) > 0) and np.all(np.diff(res["n_spots_per_m2"]) > 0)


def test_gw_tends_to_plastic_limit_for_large_plasticity_index():
    gw = roughness.GreenwoodWilliamson(eta=1e12, R=1e-6, sigma=1e-7, E_star=5e9, H=2.4e6)
    assert gw.plasticity_index > 100
    P = np.array([1e4, 1e5, 1e6])
    res = gw.at_pressure(P)
    np.testing.assert_allclose(res["phi"], P / 2.4e6, rtol=1e-6)


def test_jkr_reduces_to_hertz_and_pull_off():
    R, Es = 1e-6, 5e9
    P = np.array([1e-8, 1e-7, 1e-6])
    j0 = roughness.JKR(R, Es, 0.0)
    np.testing.assert_allclose(j0.contact_radius(P) ** 3, 3 * P * R / (4 * Es), rtol=1e-12)
    j = roughness.JKR(R, Es, 0.2)
    assert j.pull_off_force == pytest.approx(-1.5 * np.pi * 0.2 * R)
    # at pull-off the square root vanishes: a³ = (R/K)(3πwR/2)
    assert j.contact_radius(j.pull_off_force) ** 3 == pytest.approx(
        R / j.K * 1.5 * np.pi * 0.2 * R, rel=1e-9)
    assert j.contact_radius(0.0) == pytest.approx(j.a0, rel=1e-12)
