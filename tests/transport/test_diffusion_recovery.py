"""D recovered within its interval for walks wrapped into triclinic and NPT cells; windows."""

import numpy as np
import pytest

from superionic.core.errors import InputError, UnitsError
from superionic.transport.analysis import analyse_diffusion
from superionic.transport.diffusion import select_fit_window
from superionic.transport.synthetic import random_walk_trajectory


@pytest.mark.parametrize("npt", [0.0, 0.02], ids=["NVT-triclinic", "NPT-fluctuating"])
def test_isotropic_walk_D_in_interval(npt):
    tr = random_walk_trajectory(
        64, 1000, hop_length_A=1.2, npt_amplitude=npt, n_framework=32,
        framework_vibration_A=0.05, drift_A_per_frame=0.1, seed=7,
    )
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=800.0)
    assert r.drift_removed
    assert r.D_tracer_cm2_per_s.contains(tr.D_tracer_cm2_per_s), str(r.D_tracer_cm2_per_s)
    assert r.D_sigma_cm2_per_s.contains(tr.D_sigma_cm2_per_s)
    for e, d in zip(r.D_tracer_xyz_cm2_per_s, tr.D_tracer_xyz_A2_per_fs, strict=True):
        assert e.contains(d * 0.1)
    assert r.dimensionality == 3
    # block-average cross-check also holds the truth
    assert r.block_average["D_tracer_cm2_per_s"].contains(tr.D_tracer_cm2_per_s)


def test_one_dimensional_channel_is_detected():
    tr = random_walk_trajectory(48, 800, channel_axis=2, npt_amplitude=0.01, seed=8)
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=600.0)
    Dz = r.D_tracer_xyz_cm2_per_s[2]
    assert Dz.contains(tr.D_tracer_xyz_A2_per_fs[2] * 0.1)
    assert r.D_tracer_xyz_cm2_per_s[0].value < 1e-3 * Dz.value
    assert r.dimensionality == 1
    assert r.D_tracer_cm2_per_s.contains(tr.D_tracer_cm2_per_s)  # 3D average = D_z / 3


def test_drift_removal_matches_drift_free_run():
    # same walk with and without a large common drift: the framework-COM correction restores it
    kw = dict(n_framework=40, seed=9)
    a = random_walk_trajectory(32, 500, drift_A_per_frame=0.0, **kw)
    b = random_walk_trajectory(32, 500, drift_A_per_frame=0.3, **kw)
    ra = analyse_diffusion(a.as_source(), "Li", temperature_K=600.0)
    rb = analyse_diffusion(b.as_source(), "Li", temperature_K=600.0)
    rb_raw = analyse_diffusion(b.as_source(), "Li", temperature_K=600.0, remove_drift=False)
    assert rb.D_sigma_cm2_per_s.contains(b.D_sigma_cm2_per_s)
    assert ra.D_sigma_cm2_per_s.contains(a.D_sigma_cm2_per_s)
    assert rb_raw.D_sigma_cm2_per_s.value > 3 * b.D_sigma_cm2_per_s  # drift dominates if kept


def test_user_fit_window_and_auto_window_after_caging():
    tr = random_walk_trajectory(32, 600, seed=10)
    r = analyse_diffusion(tr.as_source(), "Li", temperature_K=600.0,
                          fit_window_fs=(500.0, 2500.0))
    assert r.fit_window_fs == (500.0, 2500.0)
    # caged start: MSD = a (1 - e^{-t/τ}) + 6 D t; the window must start after the plateau
    t = np.arange(2000) * 1.0
    msd = 2.0 * (1 - np.exp(-((t / 20.0) ** 2))) + 6 * 1e-2 * t  # ballistic, cage, diffusive
    k0, k1, _ = select_fit_window(t, msd, min_start_fs=5.0)
    slope_at_start = np.gradient(np.log(msd[1:]), np.log(t[1:]))[k0 - 1]
    assert abs(slope_at_start - 1) < 0.2 and k0 > 100
    assert k1 == 999


def test_bad_inputs_raise_clear_errors():
    tr = random_walk_trajectory(4, 50, seed=1)
    src = tr.as_source()
    with pytest.raises(InputError, match="species"):
        analyse_diffusion(src, "Na", temperature_K=300.0)
    src.pop("frame_interval_fs")
    with pytest.raises(UnitsError, match="frame_interval_fs"):
        analyse_diffusion(src, "Li", temperature_K=300.0)
