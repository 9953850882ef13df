"""Pure parts of the conductivity workflow: default temperatures and the teacher check."""

import math

import pytest

from superionic.core.estimate import Estimate
from superionic.core.units import KB_EV_PER_K
from superionic.workflows.conductivity import default_temperatures, teacher_check


def test_lowest_default_temperature_gives_one_hop_per_t_hop():
    Ea, t_hop_ps, nu0 = 0.25, 20.0, 1e13
    temps = sorted(default_temperatures(Ea, t_hop_ps=t_hop_ps, nu0_Hz=nu0))
    # transition-state rate at the lowest T: one hop per t_hop (to the 1 K rounding)
    rate = nu0 * math.exp(-Ea / (KB_EV_PER_K * temps[0]))
    assert rate * t_hop_ps * 1e-12 == pytest.approx(1.0, rel=0.02)
    # evenly spaced in 1/T, 350 K wide, below the cap
    inv = [1 / t for t in temps]
    steps = [a - b for a, b in zip(inv, inv[1:], strict=False)]
    assert max(steps) == pytest.approx(min(steps), rel=0.02)
    assert temps[-1] - temps[0] == pytest.approx(350, abs=1) and temps[-1] <= 1000


def test_teacher_check_ratio_and_verdicts():
    teacher = {"T_K": 900.0, "steps": 5000,
               "D_teacher_cm2_per_s": Estimate.from_log(math.log(4e-5), 0.1)}
    close = teacher_check(teacher, Estimate.from_log(math.log(5e-5), 0.1))
    r = close["ratio_qmtp_over_teacher"]
    assert r["value"] == pytest.approx(1.25)
    # log-scale errors add in quadrature: sqrt(0.1^2 + 0.1^2)
    assert math.log(r["ci95"][1] / r["value"]) == pytest.approx(1.959964 * math.sqrt(0.02),
                                                                rel=1e-5)
    assert close["within_factor"] and close["interval_overlaps_factor"]
    far = teacher_check(teacher, Estimate.from_log(math.log(1.2e-4), 0.05))
    assert far["ratio_qmtp_over_teacher"]["value"] == pytest.approx(3.0)
    assert not far["within_factor"] and not far["interval_overlaps_factor"]


@pytest.mark.parametrize("field,value", [("target_sigma_factor", 1.0),
                                         ("target_sigma_factor", 0.5),
                                         ("teacher_check_steps", -1)])
def test_unreachable_stopping_settings_are_refused(field, value):
    from superionic.core.errors import InputError
    from superionic.workflows.conductivity import ConductivityConfig

    with pytest.raises(InputError, match=field):
        ConductivityConfig(material="Li3N", **{field: value})


def test_log_stderr_of_open_and_closed_intervals():
    from superionic.workflows.conductivity import _log_stderr

    # a closed log-normal interval: exp(±1.96 s) around the value gives back s
    s = 0.3
    est = Estimate(2.0, 0.6, ci95=(2.0 * math.exp(-1.959964 * s), 2.0 * math.exp(1.959964 * s)))
    assert _log_stderr(est) == pytest.approx(s, rel=1e-9)
    # open above (a short run): the wider of the lower side and the relative stderr
    short = Estimate(0.068, 0.27, ci95=(0.0062, math.inf))
    assert _log_stderr(short) == pytest.approx(0.27 / 0.068, rel=1e-12)
    tight = Estimate(0.068, 0.001, ci95=(0.0062, math.inf))
    assert _log_stderr(tight) == pytest.approx(math.log(0.068 / 0.0062) / 1.959964, rel=1e-12)
    # nothing finite: no weight can be given
    assert _log_stderr(Estimate(-1.0, 1.0, ci95=(-3.0, math.inf))) == math.inf
