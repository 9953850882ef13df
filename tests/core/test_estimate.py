import json
import math

from superionic.core.estimate import Estimate, to_jsonable
from superionic.core.units import (
    AVOGADRO_PER_MOL,
    E_CHARGE_C,
    FARADAY_C_PER_MOL,
    KB_EV_PER_K,
    KB_J_PER_K,
)


def test_normal_interval_is_1p96_sigma():
    e = Estimate(2.0, 0.5)
    assert math.isclose(e.ci95[0], 2.0 - 1.959963984540054 * 0.5)
    assert e.contains(2.9) and not e.contains(3.0)


def test_lognormal_interval_is_exact_exponential_of_log_interval():
    e = Estimate.from_log(math.log(1e-3), 0.1, unit="S/cm")
    assert math.isclose(e.ci95[0] * e.ci95[1], 1e-6, rel_tol=1e-12)  # symmetric in log space
    assert math.isclose(e.value, 1e-3)


def test_json_round_trip_keeps_contract_keys():
    e = Estimate(1.0, 0.1, unit="eV", method="gls", extra={"n": 3})
    d = json.loads(json.dumps(to_jsonable({"Ea_eV": e})))["Ea_eV"]
    assert set(["value", "stderr", "ci95"]) <= set(d)
    assert Estimate.from_dict(d).ci95 == e.ci95


def test_constants_are_mutually_consistent():
    assert math.isclose(KB_J_PER_K / E_CHARGE_C, KB_EV_PER_K, rel_tol=1e-9)
    assert math.isclose(E_CHARGE_C * AVOGADRO_PER_MOL, FARADAY_C_PER_MOL, rel_tol=1e-9)


def test_ratio_interval_matches_monte_carlo_of_independent_lognormals():
    import numpy as np

    a = Estimate.from_log(math.log(3.0), 0.2)
    b = Estimate.from_log(math.log(2.0), 0.15)
    r = a.ratio(b)
    assert math.isclose(r.value, 1.5)
    rng = np.random.default_rng(0)
    samples = np.exp(rng.normal(math.log(3.0), 0.2, 400_000)
                     - rng.normal(math.log(2.0), 0.15, 400_000))
    lo, hi = np.percentile(samples, [2.5, 97.5])
    assert math.isclose(r.ci95[0], lo, rel_tol=5e-3) and math.isclose(r.ci95[1], hi, rel_tol=5e-3)
