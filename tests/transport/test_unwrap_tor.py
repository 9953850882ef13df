"""TOR unwrapping in triclinic and fluctuating cells, image flags, and too-large jumps."""

import numpy as np
import pytest

from superionic.core.errors import InputError
from superionic.transport.synthetic import random_walk_trajectory, triclinic_cell
from superionic.transport.unwrap import Unwrapper, perpendicular_widths, unwrap


@pytest.mark.parametrize("npt", [0.0, 0.02])
@pytest.mark.parametrize("channel", [None, 2])
def test_unwrap_recovers_truth_triclinic_and_npt(npt, channel):
    tr = random_walk_trajectory(
        24, 300, hop_length_A=1.5, channel_axis=channel, npt_amplitude=npt, n_framework=8,
        framework_vibration_A=0.1, drift_A_per_frame=0.2, seed=5,
    )
    assert np.abs(tr.positions - tr.unwrapped).max() > 5.0  # really wrapped
    u = unwrap(tr.positions, tr.cells)
    np.testing.assert_allclose(u, tr.unwrapped, atol=1e-9, rtol=0)


def test_streaming_chunks_equal_one_pass():
    tr = random_walk_trajectory(10, 200, npt_amplitude=0.02, seed=2)
    whole = unwrap(tr.positions, tr.cells)
    unw = Unwrapper()
    parts = [unw.push(tr.positions[a:a + 37], tr.cells[a:a + 37]) for a in range(0, 200, 37)]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-10, rtol=0)


def test_image_flags_are_used_when_present():
    tr = random_walk_trajectory(6, 100, seed=4)  # constant cell: u = w + n·L exactly
    cell = tr.cells[0]
    img = np.rint((tr.unwrapped - tr.positions) @ np.linalg.inv(cell))
    shuffled = tr.positions + 0.0
    u = unwrap(shuffled, tr.cells, image_flags=img)
    np.testing.assert_allclose(u, tr.unwrapped, atol=1e-9)


def test_perpendicular_widths_of_triclinic_cell():
    c = triclinic_cell(10.0)
    vol = abs(np.linalg.det(c))
    w = perpendicular_widths(c)
    # width along a* is V / |b × c|; check against the reciprocal-vector formula 1/|a*|
    recip = np.linalg.inv(c).T
    np.testing.assert_allclose(w, 1.0 / np.linalg.norm(recip, axis=1), rtol=1e-12)
    assert np.isclose(w[2], vol / np.linalg.norm(np.cross(c[0], c[1])))


def test_too_large_jump_raises_naming_frame_and_atom():
    cell = np.eye(3) * 10.0
    pos = np.zeros((6, 3, 3)) + 1.0
    pos[4:, 2] += [4.0, 4.0, 0.0]  # |Δ| = 5.66 Å > half the 10 Å width at frame 4
    with pytest.raises(InputError, match=r"frame 4.*atom 2"):
        unwrap(pos, cell, source="traj.xyz")
    with pytest.raises(InputError, match="frame 4"):  # also through image flags
        unwrap(pos, cell, image_flags=np.zeros_like(pos))
    # a user threshold tightens the check
    pos2 = np.zeros((5, 2, 3))
    pos2[3:, 1, 0] = 2.0
    with pytest.raises(InputError) as exc:
        Unwrapper(max_jump_A=1.5).push(pos2, np.broadcast_to(cell, (5, 3, 3)))
    assert exc.value.frame == 3
