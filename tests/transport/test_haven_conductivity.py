"""Haven ratio for uncorrelated and paired walkers; Nernst–Einstein against a hand computation."""

import math

import numpy as np

from superionic.core.estimate import Estimate
from superionic.transport.analysis import analyse_diffusion
from superionic.transport.conductivity import nernst_einstein_S_per_cm
from superionic.transport.haven import haven_ratio
from superionic.transport.synthetic import random_walk_trajectory


def test_uncorrelated_walkers_have_haven_ratio_one():
    tr = random_walk_trajectory(64, 2000, seed=21)
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=500.0)
    assert r.haven_ratio.contains(1.0), str(r.haven_ratio)
    # σ from D* (Nernst–Einstein) and from the collective MSD agree within their intervals
    lo = max(r.sigma_S_per_cm.ci95[0], r.sigma_NE_S_per_cm.ci95[0])
    hi = min(r.sigma_S_per_cm.ci95[1], r.sigma_NE_S_per_cm.ci95[1])
    assert lo < hi


def test_correlated_pairs_give_haven_ratio_one_half():
    tr = random_walk_trajectory(64, 2000, correlated_pairs=True, seed=22)
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=500.0)
    assert r.haven_ratio.contains(0.5), str(r.haven_ratio)
    assert not r.haven_ratio.contains(1.0)
    assert r.D_sigma_cm2_per_s.contains(2 * tr.D_tracer_cm2_per_s)


def test_nernst_einstein_by_hand():
    # n = 0.02 Å⁻³ = 2e22 cm⁻³, q = 1 e, D = 1e-5 cm²/s, T = 600 K
    e, kB = 1.602176634e-19, 1.380649e-23
    hand = 2e22 * e**2 * 1e-5 / (kB * 600.0)
    assert math.isclose(nernst_einstein_S_per_cm(1e-5, 0.02, 1.0, 600.0), hand, rel_tol=1e-12)
    assert math.isclose(nernst_einstein_S_per_cm(1e-5, 0.02, 2.0, 600.0, haven_ratio=0.5),
                        8 * hand, rel_tol=1e-12)


def test_analysis_conductivity_uses_mean_volume_and_charge():
    tr = random_walk_trajectory(32, 400, npt_amplitude=0.02, seed=23)
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=700.0, charge=2.0)
    vol = np.abs(np.linalg.det(tr.cells)).mean()
    expect = nernst_einstein_S_per_cm(r.D_tracer_cm2_per_s.value, 32 / vol, 2.0, 700.0)
    assert math.isclose(r.volume_A3, vol, rel_tol=1e-12)
    assert math.isclose(r.sigma_NE_S_per_cm.value, expect, rel_tol=1e-12)


def test_haven_interval_matches_monte_carlo_ratio():
    # independent log-normal-ish D estimates: delta-method stderr of the ratio
    h = haven_ratio(1.0, 0.05, 2.0, 0.4, cov=0.0)
    assert math.isclose(h.value, 0.5)
    assert math.isclose(h.stderr, 0.5 * math.sqrt(0.05**2 + 0.2**2), rel_tol=1e-12)
    # positive correlation narrows the interval
    h_corr = haven_ratio(1.0, 0.05, 2.0, 0.4, cov=0.5 * 0.05 * 0.4)
    assert (h_corr.ci95[1] - h_corr.ci95[0]) < (h.ci95[1] - h.ci95[0])
    assert isinstance(h, Estimate)


def test_two_mobile_species_charge_weighted_conductivity():
    # Li (q=1) and Mg (q=2) walkers with the same D: σ_NE = (Σq²/V) D / kT by hand, and the
    # charge-weighted collective (Einstein–Helfand) σ holds that value for independent ions
    tr = random_walk_trajectory(64, 1500, seed=24)
    symbols = ["Li"] * 32 + ["Mg"] * 32
    src = {**tr.as_source(), "symbols": symbols}
    r = analyse_diffusion(src, ["Li", "Mg"], temperature_K=900.0)
    vol = abs(np.linalg.det(tr.cells[0]))
    sum_q2 = 32 * 1.0 + 32 * 4.0
    hand_true = nernst_einstein_S_per_cm(tr.D_tracer_cm2_per_s, sum_q2 / vol, 1.0, 900.0)
    assert r.charges == {"Li": 1.0, "Mg": 2.0}
    assert r.sigma_NE_S_per_cm.contains(hand_true)
    assert r.sigma_S_per_cm.contains(hand_true)
