"""Effective capacitances, conductivity, brick layer, assignment and Arrhenius series."""

import math

import numpy as np
import pytest

from superionic.core.estimate import Estimate
from superionic.core.units import KB_EV_PER_K
from superionic.experiment.eis.physics import (
    CapacitanceBoundaries,
    EISAnalysis,
    arrhenius_series,
    brick_layer_gb_conductivity_S_per_cm,
    brug_capacitance,
    conductivity_S_per_cm,
    hsu_mansfeld_capacitance,
)


def test_brug_against_hand_computation():
    # Q = 1e-9 F s^(a-1), a = 0.8, R = 1e4 ohm: C = (1e-9 * 1e4^0.2)^(1/0.8)
    # 1e4^0.2 = 10^0.8 = 6.309573; 6.309573e-9^(1.25) = 10^(1.25*(-8.2)) = 10^-10.25
    assert brug_capacitance(1e-9, 0.8, 1e4) == pytest.approx(10**-10.25, rel=1e-12)
    # ideal capacitor: alpha = 1 gives C = Q
    assert brug_capacitance(3e-9, 1.0, 123.0) == pytest.approx(3e-9, rel=1e-14)
    # surface-distribution form: Q^(1/a) (1/Rs + 1/R)^((a-1)/a), by hand for Rs = R = 2e3
    c = brug_capacitance(1e-6, 0.5, 2e3, R_series=2e3)
    assert c == pytest.approx(1e-12 * (1e-3) ** -1, rel=1e-12)


def test_hsu_mansfeld_equals_brug_at_arc_apex():
    Q, a, R = 2e-8, 0.85, 5e3
    omega_max = 1.0 / (R * Q) ** (1.0 / a)  # apex of an R||CPE arc
    assert hsu_mansfeld_capacitance(Q, a, omega_max) == pytest.approx(
        brug_capacitance(Q, a, R), rel=1e-12)


def test_conductivity_and_brick_layer_exact():
    assert conductivity_S_per_cm(250.0, 0.1, 0.5) == 0.1 / (250.0 * 0.5)
    assert brick_layer_gb_conductivity_S_per_cm(2000.0, 2e-11, 2e-9, 0.1, 0.5) == \
        pytest.approx(0.2 / 2000.0 * 0.01, rel=1e-15)


def test_assignment_boundaries_scale_with_cell_constant():
    b = CapacitanceBoundaries()
    assert b.assign(1e-12) == "bulk"
    assert b.assign(5e-10) == "grain_boundary"
    assert b.assign(1e-6) == "electrode"
    # C = 2e-11 F is bulk for a 0.1 cm / 0.5 cm² pellet (C t/A = 4e-12 F/cm)
    assert b.assign(2e-11 * 0.1 / 0.5) == "bulk"


@pytest.mark.filterwarnings("ignore::UserWarning")  # exact data: curvature F-test is moot
def test_arrhenius_series_recovers_activation_energies():
    T = np.array([273.15, 298.15, 323.15, 348.15, 373.15])
    Ea_b, Ea_g = 0.30, 0.45
    sb = 1e3 / T * np.exp(-Ea_b / (KB_EV_PER_K * T))
    sg = 1e5 / T * np.exp(-Ea_g / (KB_EV_PER_K * T))
    analyses = [
        EISAnalysis(arcs=[], R_bulk_ohm=None, R_gb_ohm=None, R_total_ohm=None,
                    sigma_bulk_S_per_cm=Estimate(b, 0.01 * b),
                    sigma_gb_S_per_cm=Estimate(g, 0.01 * g),
                    sigma_total_S_per_cm=Estimate(1 / (1 / b + 1 / g), 0.01 * b),
                    sigma_gb_specific_S_per_cm=None, thickness_cm=0.1, area_cm2=0.5,
                    temperature_K=t, boundaries=CapacitanceBoundaries(),
                    capacitance_method="Brug")
        for t, b, g in zip(T, sb, sg, strict=True)
    ]
    res = arrhenius_series(analyses)
    assert res["bulk"].Ea_eV.value == pytest.approx(Ea_b, abs=1e-9)
    assert res["grain_boundary"].Ea_eV.value == pytest.approx(Ea_g, abs=1e-9)
    assert math.isfinite(res["total"].Ea_eV.value)
