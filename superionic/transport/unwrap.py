"""Unwrapping of periodic trajectories for constant- and variable-cell (NPT) runs, streamed.

The TOR scheme of Bullerjahn, von Bülow, Heidari, Hénin & Hummer, J. Chem. Theory Comput. 19,
3406 (2023), doi:10.1021/acs.jctc.3c00308, Eq. (6):
``u[n+1] = u[n] + Δw - L[n+1] round(L[n+1]^-1 Δw)`` with ``Δw = w[n+1] - w[n]``, i.e. each
frame-to-frame displacement is reduced in the fractional coordinates of the *new* cell. Unlike
``w + image · L[n]`` it does not inflate displacements when the box fluctuates.
"""

from __future__ import annotations

import numpy as np

from superionic.core.errors import InputError

__all__ = ["Unwrapper", "perpendicular_widths", "unwrap"]


def perpendicular_widths(cells: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of each cell, ``V / |a_j × a_k|``; shape (..., 3)."""
    cells = np.asarray(cells, dtype=float)
    vol = np.abs(np.linalg.det(cells))
    a, b, c = cells[..., 0, :], cells[..., 1, :], cells[..., 2, :]
    areas = np.stack(
        [
            np.linalg.norm(np.cross(b, c), axis=-1),
            np.linalg.norm(np.cross(c, a), axis=-1),
            np.linalg.norm(np.cross(a, b), axis=-1),
        ],
        axis=-1,
    )
    return vol[..., None] / areas


def _rowvec_times(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-frame ``v[f] @ m[f]`` for (f, N, 3) vectors and (f, 3, 3) matrices."""
    if len(m) and np.all(m == m[:1]):
        return v @ m[0]
    return (
        v[..., 0:1] * m[:, None, 0, :]
        + v[..., 1:2] * m[:, None, 1, :]
        + v[..., 2:3] * m[:, None, 2, :]
    )


class Unwrapper:
    """Stateful TOR unwrapper: feed consecutive chunks of wrapped frames, get unwrapped ones.

    ``max_jump_A`` bounds the frame-to-frame displacement accepted as unambiguous; by default
    half the shortest perpendicular width of the new cell. A larger reduced displacement means
    the frames are too far apart in time to unwrap and raises :class:`InputError` naming the
    frame and the atom. When the file stores image flags they are used instead
    (``u = w + n · L``), with the same check.
    """

    def __init__(self, max_jump_A: float | None = None, source: str | None = None) -> None:
        self.max_jump_A = max_jump_A
        self.source = source
        self._last_wrapped: np.ndarray | None = None
        self._last_unwrapped: np.ndarray | None = None
        self._n_seen = 0

    @property
    def n_frames_seen(self) -> int:
        return self._n_seen

    def push(
        self,
        positions: np.ndarray,
        cells: np.ndarray,
        image_flags: np.ndarray | None = None,
    ) -> np.ndarray:
        """Unwrap the next ``(f, N, 3)`` block of frames with its ``(f, 3, 3)`` cells."""
        w = np.asarray(positions, dtype=float)
        L = np.asarray(cells, dtype=float)
        if w.ndim != 3 or w.shape[-1] != 3:
            raise InputError(
                f"positions have shape {w.shape}", source=self.source, field="positions",
                expected="(frames, atoms, 3)",
            )
        if L.shape != (w.shape[0], 3, 3):
            raise InputError(
                f"cells have shape {L.shape}", source=self.source, field="cells",
                expected=f"({w.shape[0]}, 3, 3)",
            )
        f = w.shape[0]
        if f == 0:
            return w.copy()
        if image_flags is not None:
            u = w + _rowvec_times(np.asarray(image_flags, dtype=float), L)
            prev = self._last_unwrapped
            steps = np.diff(u, axis=0) if prev is None else np.diff(
                np.concatenate([prev[None], u]), axis=0
            )
            first = 1 if prev is None else 0
            self._check(steps, L[first:] if prev is None else L, self._n_seen + first)
        else:
            if self._last_wrapped is None:
                prev_w = w[:1]
                prev_u = w[0]
                new_w, new_L = w[1:], L[1:]
                first = 1
            else:
                prev_w = self._last_wrapped[None]
                prev_u = self._last_unwrapped
                new_w, new_L = w, L
                first = 0
            dw = np.diff(np.concatenate([prev_w, new_w]), axis=0)  # (f', N, 3)
            inv = np.linalg.inv(new_L)
            steps = dw - _rowvec_times(np.rint(_rowvec_times(dw, inv)), new_L)
            self._check(steps, new_L, self._n_seen + first)
            u = np.empty_like(w)
            if first:
                u[0] = prev_u
            u[first:] = prev_u[None] + np.cumsum(steps, axis=0)
        self._last_wrapped = w[-1].copy()
        self._last_unwrapped = u[-1].copy()
        self._n_seen += f
        return u

    def _check(self, steps: np.ndarray, cells: np.ndarray, frame0: int) -> None:
        if steps.shape[0] == 0:
            return
        dist2 = np.einsum("fnk,fnk->fn", steps, steps)  # (f', N)
        if self.max_jump_A is not None:
            limit = np.full(steps.shape[0], float(self.max_jump_A))
        else:
            limit = 0.5 * perpendicular_widths(cells).min(axis=-1)
        bad = dist2 > (limit * limit)[:, None]
        if bad.any():
            fi, ai = np.argwhere(bad)[0]
            dist = np.sqrt(dist2)
            raise InputError(
                f"atom {int(ai)} moved {dist[fi, ai]:.3f} Å since the previous frame, more than "
                f"{limit[fi]:.3f} Å; the displacement cannot be unwrapped unambiguously",
                source=self.source,
                frame=int(frame0 + fi),
                field="positions",
                expected="frames stored close enough in time (or a larger max_jump_A)",
            )


def unwrap(
    positions: np.ndarray,
    cells: np.ndarray,
    image_flags: np.ndarray | None = None,
    *,
    max_jump_A: float | None = None,
    source: str | None = None,
) -> np.ndarray:
    """Unwrap a whole ``(T, N, 3)`` trajectory by the TOR scheme (see :class:`Unwrapper`)."""
    cells = np.asarray(cells, dtype=float)
    if cells.ndim == 2:
        cells = np.broadcast_to(cells, (np.shape(positions)[0], 3, 3))
    return Unwrapper(max_jump_A=max_jump_A, source=source).push(positions, cells, image_flags)
