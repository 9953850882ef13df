"""Calibration: over 200 independent synthetic runs the 95 % intervals hold the truth 90-98 %."""

import numpy as np
import pytest

from superionic.transport.analysis import analyse_diffusion
from superionic.transport.synthetic import random_walk_trajectory

N_RUNS = 200


def _coverage(correlated_pairs: bool, seed0: int) -> tuple[dict[str, float], np.ndarray]:
    hits = {"D_tracer": 0, "D_sigma": 0, "haven_ratio": 0}
    ratios = []
    for i in range(N_RUNS):
        tr = random_walk_trajectory(32, 400, correlated_pairs=correlated_pairs, seed=seed0 + i)
        r = analyse_diffusion(tr.as_source(), "Li", temperature_K=600.0, n_blocks=0)
        hits["D_tracer"] += r.D_tracer_cm2_per_s.contains(tr.D_tracer_cm2_per_s)
        hits["D_sigma"] += r.D_sigma_cm2_per_s.contains(tr.D_sigma_cm2_per_s)
        hits["haven_ratio"] += r.haven_ratio.contains(tr.haven_ratio)
        ratios.append(r.D_tracer_cm2_per_s.value / tr.D_tracer_cm2_per_s)
    return {k: v / N_RUNS for k, v in hits.items()}, np.array(ratios)


@pytest.mark.parametrize("pairs", [False, True], ids=["independent", "correlated-pairs"])
def test_95_percent_intervals_are_calibrated(pairs):
    cov, ratios = _coverage(pairs, 10_000 if not pairs else 20_000)
    msg = f"coverage over {N_RUNS} runs ({'H_R=1/2 pairs' if pairs else 'H_R=1'}): {cov}"
    print(msg)
    assert all(0.90 <= c <= 0.98 for c in cov.values()), msg
    # and D̂* is unbiased: the mean of D̂*/D is 1 within 3 standard errors of the mean
    assert abs(ratios.mean() - 1.0) < 3 * ratios.std(ddof=1) / np.sqrt(N_RUNS)
