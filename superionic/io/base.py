"""The trajectory contract between the I/O layer and everything that reads trajectories.

A reader exposes metadata and yields :class:`FrameChunk` blocks of consecutive frames so a
trajectory larger than memory can be streamed. Positions are in Å, cells in Å with lattice
vectors as rows (ASE convention), velocities in Å/fs, times in fs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class FrameChunk:
    """Consecutive frames ``start .. start + len - 1`` of a trajectory."""

    start: int
    positions: np.ndarray  # (f, N, 3) Å, as stored (wrapped or unwrapped)
    cells: np.ndarray  # (f, 3, 3) Å, rows are lattice vectors
    velocities: np.ndarray | None = None  # (f, N, 3) Å/fs
    image_flags: np.ndarray | None = None  # (f, N, 3) int, when the file stores them

    def __len__(self) -> int:
        return int(self.positions.shape[0])


@dataclass
class TrajectoryInfo:
    """What is known about a trajectory before reading its frames."""

    path: str
    symbols: list[str]
    n_frames: int | None  # None when unknown without a full pass
    timestep_fs: float | None  # MD integrator time step
    frame_interval_fs: float | None  # time between stored frames
    timestep_source: str  # "file", "user" or "unknown": always reported back
    has_velocities: bool
    wrapped: bool | None  # True if positions are wrapped into the cell, None if unknown
    variable_cell: bool | None

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)


class TrajectoryReader:
    """Base class: subclasses implement ``info`` and ``chunks``."""

    info: TrajectoryInfo

    def chunks(self, size: int = 1000) -> Iterator[FrameChunk]:  # pragma: no cover
        raise NotImplementedError

    def read_all(self) -> FrameChunk:
        """Concatenate every chunk (for trajectories that fit in memory)."""
        parts = list(self.chunks())
        if not parts:
            from superionic.core.errors import InputError

            raise InputError("trajectory holds no frames", source=self.info.path)
        vel = (
            np.concatenate([p.velocities for p in parts])
            if all(p.velocities is not None for p in parts)
            else None
        )
        img = (
            np.concatenate([p.image_flags for p in parts])
            if all(p.image_flags is not None for p in parts)
            else None
        )
        return FrameChunk(
            start=0,
            positions=np.concatenate([p.positions for p in parts]),
            cells=np.concatenate([p.cells for p in parts]),
            velocities=vel,
            image_flags=img,
        )
