"""FFT multi-origin MSD against the direct O(T²) average and the random-walk covariance."""

import numpy as np
import pytest

from superionic.transport.covariance import overlap_matrices, random_walk_covariance
from superionic.transport.msd import msd_direct, msd_fft_sum


def test_fft_msd_equals_direct_average():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=(257, 7, 3)), axis=0) + 50.0  # odd length, offset origin
    fast = msd_fft_sum(x)
    slow = msd_direct(x)
    assert fast.shape == (257, 3)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-10 * slow.max())


def test_fft_msd_of_ballistic_motion_is_v2_t2():
    # x = v t exactly: every origin gives (v m)² per direction, a second analytic truth
    v = np.array([0.3, -1.2, 2.0])
    t = np.arange(100.0)
    x = (t[:, None] * v)[:, None, :]
    np.testing.assert_allclose(msd_fft_sum(x), (t[:, None] * v) ** 2, atol=1e-9)


def test_overlap_sums_match_brute_force():
    T, lags = 30, np.array([1, 4, 9, 13, 20, 28])  # includes k + k' > T
    om1, om2 = overlap_matrices(T, lags)
    for i, k in enumerate(lags):
        for j, kp in enumerate(lags):
            o = np.array([
                [max(0, min(t + k, s + kp) - max(t, s)) for s in range(T - kp)]
                for t in range(T - k)
            ], dtype=float)
            norm = (T - k) * (T - kp)
            assert np.isclose(om1[i, j], o.sum() / norm, rtol=1e-12)
            assert np.isclose(om2[i, j], (o**2).sum() / norm, rtol=1e-12)


def test_random_walk_covariance_matches_monte_carlo():
    # Lattice hops (non-Gaussian steps, κ ≠ 0) against the empirical covariance of MSD values
    rng = np.random.default_rng(11)
    T, n_rep, p = 40, 20000, 0.3
    hop = rng.random((n_rep, T - 1)) < p
    steps = np.where(hop, rng.choice([-1.0, 1.0], size=hop.shape), 0.0)
    x = np.concatenate([np.zeros((n_rep, 1)), np.cumsum(steps, axis=1)], axis=1)
    lags = np.array([2, 5, 10, 20])
    msd = np.stack([((x[:, k:] - x[:, :-k]) ** 2).mean(axis=1) for k in lags], axis=1)
    emp = np.cov(msd.T)
    m2, m4 = p, p  # E ξ², E ξ⁴ for ±1 hops with probability p
    kappa = m4 - m2**2 - 2 * m2**2
    model = random_walk_covariance(T, lags, np.array([m2]), kappa, 1.0)
    np.testing.assert_allclose(model, emp, rtol=0.06)


def test_out_of_core_path_gives_identical_results():
    from superionic.transport.analysis import analyse_diffusion
    from superionic.transport.synthetic import random_walk_trajectory

    tr = random_walk_trajectory(40, 300, n_framework=10, seed=12)
    ram = analyse_diffusion(tr.as_source(), "Li", temperature_K=500.0, chunk_frames=64)
    disk = analyse_diffusion(tr.as_source(), "Li", temperature_K=500.0, chunk_frames=64,
                             memory_limit_gb=1e-4)  # 100 kB: positions spill to a memmap
    assert disk.positions_on_disk and not ram.positions_on_disk
    np.testing.assert_allclose(disk.msd.tracer, ram.msd.tracer, rtol=1e-12, atol=1e-12)
    assert disk.D_tracer_cm2_per_s.value == pytest.approx(ram.D_tracer_cm2_per_s.value,
                                                          rel=1e-10)
