"""Direction-resolved Arrhenius fits against an analytic anisotropic diffusivity.

D_a(T) = D0_a exp(-Ea_a / k_B T) with Ea_x = Ea_y = 0.30 eV (ab plane) and Ea_z = 0.15 eV
(c channels), D0_x = D0_y = 3 D0_z: all three axes conduct at 600–900 K, but at 300 K the
plane is ~100x slower than the channels, so conduction there is 1D.
"""

import json
import math

import numpy as np
import pytest

from superionic.core.estimate import Estimate, to_jsonable
from superionic.core.units import KB_EV_PER_K
from superionic.transport.anisotropy import conduction_dimensionality, directional_arrhenius

EA = (0.30, 0.30, 0.15)
D0 = (3e-3, 3e-3, 1e-3)
TEMPS = [600.0, 700.0, 800.0, 900.0]


def _d(T: float, a: int) -> float:
    return D0[a] * math.exp(-EA[a] / (KB_EV_PER_K * T))


def _row(T: float, rel: float = 0.05, noise: np.ndarray | None = None) -> list[Estimate]:
    out = []
    for a in range(3):
        v = _d(T, a) * (1.0 if noise is None else math.exp(noise[a]))
        out.append(Estimate.from_log(math.log(v), rel))
    return out


def test_axes_recover_their_activation_energies_and_room_temperature_d():
    rows = [_row(T) for T in TEMPS]
    assert all(conduction_dimensionality(r) == 3 for r in rows)
    res = directional_arrhenius(TEMPS, rows, 300.0)
    for a in range(3):
        assert res["Ea_eV"][a].value == pytest.approx(EA[a], abs=1e-9)
        assert res["D_tracer_cm2_per_s"][a].value == pytest.approx(_d(300.0, a), rel=1e-6)
    assert res["fastest"] == "z"
    assert res["ratio_to_fastest"][0].value == pytest.approx(
        _d(300.0, 0) / _d(300.0, 2), rel=1e-6)
    assert res["dimensionality"] == 1
    json.dumps(to_jsonable(res))


def test_noisy_axes_intervals_cover_the_truth():
    rng = np.random.default_rng(7)
    hits, n = 0, 200
    for _ in range(n):
        rows = [_row(T, noise=rng.normal(0.0, 0.05, 3)) for T in TEMPS]
        ea_z = directional_arrhenius(TEMPS, rows, 300.0)["Ea_eV"][2]
        hits += ea_z.contains(EA[2])
    assert 0.88 <= hits / n <= 0.995


def test_axis_without_a_positive_d_is_left_out_with_a_note():
    rows = [_row(T) for T in TEMPS]
    rows[0][1] = Estimate(0.0, 1e-7, (-2e-7, 2e-7))
    res = directional_arrhenius(TEMPS, rows, 300.0)
    assert res["Ea_eV"][1] is None and res["D_tracer_cm2_per_s"][1] is None
    assert any("D*_y" in n for n in res["notes"])
    assert res["Ea_eV"][2].value == pytest.approx(EA[2], abs=1e-9)
    assert res["dimensionality"] == 1
