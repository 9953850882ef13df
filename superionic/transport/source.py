"""Trajectory sources accepted by the transport analyses: paths, readers, Atoms lists, arrays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from superionic.core.errors import InputError, UnitsError
from superionic.io.base import FrameChunk, TrajectoryInfo, TrajectoryReader

__all__ = ["ArrayTrajectory", "as_reader"]


class ArrayTrajectory(TrajectoryReader):
    """In-memory trajectory: positions (T, N, 3) Å, cells (T, 3, 3) or (3, 3) Å, symbols."""

    def __init__(
        self,
        positions: np.ndarray,
        cells: np.ndarray,
        symbols: Sequence[str],
        *,
        frame_interval_fs: float | None = None,
        timestep_fs: float | None = None,
        image_flags: np.ndarray | None = None,
        wrapped: bool | None = None,
        name: str = "<arrays>",
    ) -> None:
        pos = np.asarray(positions, dtype=float)
        if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[1] != len(symbols):
            raise InputError(
                f"positions have shape {pos.shape} for {len(symbols)} symbols",
                source=name, field="positions", expected="(frames, len(symbols), 3)",
            )
        cells = np.asarray(cells, dtype=float)
        if cells.shape == (3, 3):
            cells = np.broadcast_to(cells, (pos.shape[0], 3, 3))
        if cells.shape != (pos.shape[0], 3, 3):
            raise InputError(f"cells have shape {cells.shape}", source=name, field="cells",
                             expected=f"({pos.shape[0]}, 3, 3) or (3, 3)")
        self.positions = pos
        self.cells = cells
        self.image_flags = None if image_flags is None else np.asarray(image_flags)
        src = "user" if (frame_interval_fs or timestep_fs) else "unknown"
        self.info = TrajectoryInfo(
            path=name,
            symbols=list(symbols),
            n_frames=pos.shape[0],
            timestep_fs=timestep_fs,
            frame_interval_fs=frame_interval_fs,
            timestep_source=src,
            has_velocities=False,
            wrapped=wrapped,
            variable_cell=bool(np.ptp(cells, axis=0).max() > 0) if len(cells) else False,
        )

    def chunks(self, size: int = 1000) -> Iterator[FrameChunk]:
        for a in range(0, self.positions.shape[0], size):
            b = min(a + size, self.positions.shape[0])
            img = None if self.image_flags is None else self.image_flags[a:b]
            yield FrameChunk(a, self.positions[a:b], np.asarray(self.cells[a:b]), None, img)


def _from_atoms_list(images: Sequence[Any], name: str, **kw: Any) -> ArrayTrajectory:
    symbols = images[0].get_chemical_symbols()
    for i, a in enumerate(images):
        if a.get_chemical_symbols() != symbols:
            raise InputError("atoms differ from the first frame", source=name, frame=i,
                             field="symbols", expected="the same atoms in every frame")
    pos = np.stack([a.get_positions() for a in images])
    cells = np.stack([np.asarray(a.get_cell()) for a in images])
    return ArrayTrajectory(pos, cells, symbols, name=name, **kw)


def as_reader(
    source: Any,
    *,
    format: str | None = None,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    progress: bool = False,
) -> TrajectoryReader:
    """A :class:`TrajectoryReader` for a path, a reader, a list of ASE Atoms or arrays.

    Arrays come as a dict with keys ``positions``, ``cells``, ``symbols`` (optional
    ``frame_interval_fs``, ``timestep_fs``, ``image_flags``) or a tuple
    ``(positions, cells, symbols)``.
    """
    kw = {"frame_interval_fs": frame_interval_fs, "timestep_fs": timestep_fs}
    if isinstance(source, (str, Path)):
        try:
            from superionic.io import open_trajectory
        except ImportError:  # pragma: no cover - the I/O layer provides it
            import ase.io

            return _from_atoms_list(ase.io.read(str(source), index=":", format=format),
                                    str(source), **kw)
        return open_trajectory(
            str(source), format, timestep_fs=timestep_fs,
            frame_interval_fs=frame_interval_fs, progress=progress,
        )
    if isinstance(source, TrajectoryReader) or (
        hasattr(source, "info") and hasattr(source, "chunks")
    ):
        return source
    if isinstance(source, dict):
        d = dict(source)
        for key in ("frame_interval_fs", "timestep_fs"):
            if kw[key] is None:
                kw[key] = d.get(key)
        try:
            return ArrayTrajectory(d["positions"], d["cells"], d["symbols"],
                                   image_flags=d.get("image_flags"), **kw)
        except KeyError as exc:
            raise InputError(f"array source lacks {exc}", field=str(exc),
                             expected="positions, cells, symbols") from None
    if isinstance(source, (list, tuple)) and source and hasattr(source[0], "get_positions"):
        return _from_atoms_list(source, "<Atoms list>", **kw)
    if isinstance(source, tuple) and len(source) == 3:
        return ArrayTrajectory(*source, **kw)
    raise InputError(f"cannot read a trajectory from {type(source).__name__}",
                     expected="a path, a TrajectoryReader, a list of Atoms or arrays")


def frame_interval_of(reader: TrajectoryReader) -> tuple[float, float | None, str]:
    """(frame interval fs, MD time step fs or None, source of the timing) of a reader."""
    info = reader.info
    dt, ts = info.frame_interval_fs, info.timestep_fs
    if dt is None and ts is not None:
        dt = ts
    if dt is None or not np.isfinite(dt) or dt <= 0:
        raise UnitsError(
            "the time between stored frames is unknown",
            source=info.path, field="frame_interval_fs",
            expected="frame_interval_fs (or timestep_fs) in fs",
        )
    return float(dt), (None if ts is None else float(ts)), info.timestep_source
