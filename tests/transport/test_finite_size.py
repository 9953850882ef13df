"""Finite-size extrapolation D(L) = D_inf - C/L and the Yeh–Hummer correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import constants

from superionic.core.estimate import Estimate
from superionic.transport.finite_size import (
    XI_CUBIC,
    fit_finite_size,
    yeh_hummer_coefficient,
    yeh_hummer_correction,
)

D_INF, C = 2.0e-5, 6.0e-5  # cm²/s, cm²/s·Å
L = np.array([10.0, 12.5, 15.0, 20.0, 25.0, 30.0])


def test_fit_recovers_D_inf_and_C_within_interval():
    rng = np.random.default_rng(9)
    se = np.full(L.size, 3e-7)
    d = D_INF - C / L + rng.normal(0, se)
    fit = fit_finite_size(L, d, se)
    assert fit.D_inf.contains(D_INF) and fit.C.contains(C)
    # second method: numpy weighted polyfit in 1/L gives the same numbers and covariance
    coef, cov = np.polyfit(1.0 / L, d, 1, w=1.0 / se, cov="unscaled")
    assert fit.D_inf.value == pytest.approx(coef[1], rel=1e-9)
    assert fit.C.value == pytest.approx(-coef[0], rel=1e-9)
    assert "Birge" not in fit.method
    assert fit.C.stderr == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-8)
    assert fit.predict(12.5).contains(D_INF - C / 12.5)


def test_interval_coverage_over_seeds():
    rng = np.random.default_rng(1)
    se = np.full(L.size, 3e-7)
    hits_d = hits_c = 0
    n = 500
    for _ in range(n):
        fit = fit_finite_size(L, D_INF - C / L + rng.normal(0, se), se)
        hits_d += fit.D_inf.contains(D_INF)
        hits_c += fit.C.contains(C)
    assert 0.90 <= hits_d / n <= 0.98 and 0.90 <= hits_c / n <= 0.98


def test_yeh_hummer_against_hand_calculation():
    # water at 298.15 K, η = 0.8900 mPa s, L = 30 Å: ΔD = k_B T ξ / (6 π η L)
    kT = constants.k * 298.15
    expected_m2_s = kT * 2.837297 / (6 * math.pi * 0.89e-3 * 30e-10)
    d = yeh_hummer_correction(1.0e-5, 30.0, 298.15, 0.89e-3)
    assert d.value - 1.0e-5 == pytest.approx(expected_m2_s * 1e4, rel=1e-9)
    assert d.value - 1.0e-5 == pytest.approx(2.32e-6, rel=0.01)
    # an Estimate input keeps its uncertainty and shifts its interval
    e = yeh_hummer_correction(Estimate(1.0e-5, 1e-7), 30.0, 298.15, 0.89e-3)
    assert e.stderr == pytest.approx(1e-7)
    assert e.ci95[0] == pytest.approx(d.value - 1.96 * 1e-7, rel=1e-3)


def test_fit_of_yeh_hummer_data_returns_the_viscosity():
    # synthetic D(L) obeying Yeh–Hummer with η = 1 mPa s must give back η
    eta, T = 1.0e-3, 300.0
    c = yeh_hummer_coefficient(T, eta)
    assert c == pytest.approx(constants.k * T * XI_CUBIC / (6 * math.pi * eta) * 1e4 / 1e-10)
    rng = np.random.default_rng(4)
    se = np.full(L.size, 0.01 * c / L.max())
    fit = fit_finite_size(L, D_INF - c / L + rng.normal(0, se), se, temperature_K=T)
    assert fit.implied_viscosity_Pa_s is not None
    assert fit.implied_viscosity_Pa_s.contains(eta)
