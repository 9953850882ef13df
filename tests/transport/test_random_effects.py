"""Random-effects combination of independent runs, against closed forms and coverage."""

import math

import numpy as np
import pytest
from scipy import stats

from superionic.core.errors import InputError
from superionic.core.estimate import Estimate
from superionic.transport.ensemble import combine_runs


def test_equal_errors_reduce_to_the_student_t_interval_of_the_mean():
    # with equal errors s, DerSimonian-Laird gives tau² = var(y) - s², and the weights are
    # equal, so the interval is the classic t interval of the runs' mean
    y = np.array([1.0, 1.9, 0.4, 1.3])
    s = 0.2
    c = combine_runs([Estimate(v, s) for v in y])
    assert c.value == pytest.approx(y.mean(), rel=1e-12)
    assert c.extra["tau"] ** 2 == pytest.approx(y.var(ddof=1) - s**2, rel=1e-12)
    lo, hi = stats.t.interval(0.95, len(y) - 1, loc=y.mean(), scale=stats.sem(y))
    assert c.ci95 == pytest.approx((lo, hi), rel=1e-12)
    # the members' errors alone would claim a much narrower interval
    fe = c.extra["fixed_effect"]["ci95"]
    assert fe[1] - fe[0] < 0.3 * (hi - lo)


def test_consistent_runs_keep_their_own_error_scaled_by_t():
    # runs that agree better than their errors: tau² = 0 and q < 1 is floored at 1, so the
    # interval is the inverse-variance one with t(k-1) in place of 1.96
    y = [2.00, 2.01, 1.99]
    s = [0.1, 0.2, 0.1]
    c = combine_runs([Estimate(v, e) for v, e in zip(y, s, strict=True)])
    w = 1 / np.square(s)
    assert c.extra["tau"] == 0.0
    assert c.value == pytest.approx(float(np.sum(w * y) / w.sum()), rel=1e-12)
    half = stats.t.ppf(0.975, 2) / math.sqrt(w.sum())
    assert c.ci95[1] - c.value == pytest.approx(half, rel=1e-12)


def test_log_scale_gives_the_geometric_mean_and_a_log_normal_interval():
    vals = [0.33, 1.4, 0.6]
    c = combine_runs([Estimate.from_log(math.log(v), 0.3) for v in vals], log_scale=True)
    assert c.value == pytest.approx(math.exp(np.mean(np.log(vals))), rel=1e-9)
    assert math.log(c.ci95[1] / c.value) == pytest.approx(math.log(c.value / c.ci95[0]),
                                                          rel=1e-9)


@pytest.mark.parametrize("tau,min_cov", [(0.0, 0.94), (0.6, 0.93)])
def test_interval_covers_the_true_mean_at_the_stated_rate(tau, min_cov):
    # four runs with their own errors plus a between-run scatter tau: the combined 95 %
    # interval covers the true value, the errors-only interval does not once tau > 0
    rng = np.random.default_rng(7)
    k, n_rep, mu = 4, 2000, 1.5
    hits = fe_hits = 0
    for _ in range(n_rep):
        s = rng.uniform(0.1, 0.3, k)
        y = mu + rng.normal(0.0, tau, k) + rng.normal(0.0, s)
        c = combine_runs([Estimate(v, e) for v, e in zip(y, s, strict=True)])
        hits += c.contains(mu)
        lo, hi = c.extra["fixed_effect"]["ci95"]
        fe_hits += lo <= mu <= hi
    assert hits / n_rep >= min_cov
    if tau > 0:
        assert fe_hits / n_rep < 0.6


def test_bad_inputs_are_refused_by_name():
    with pytest.raises(InputError, match="sigma"):
        combine_runs([Estimate(1.0, 0.1)], name="sigma")
    with pytest.raises(InputError, match="non-positive"):
        combine_runs([Estimate(1.0, 0.1), Estimate(-1.0, 0.1)], log_scale=True)
    with pytest.raises(InputError, match="finite"):
        combine_runs([Estimate(1.0, 0.1), Estimate(2.0, float("nan"))])
