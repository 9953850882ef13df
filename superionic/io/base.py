"""The trajectory contract between the I/O layer and everything that reads trajectories.

A reader exposes metadata and yields :class:`FrameChunk` blocks of consecutive frames so a
trajectory larger than memory can be streamed. Positions are in Å, cells in Å with lattice
vectors as rows (ASE convention), velocities in Å/fs, times in fs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


@dataclass
class FrameChunk:
    """Consecutive frames ``start .. start + len - 1`` of a trajectory."""

    start: int
    positions: np.ndarray  # (f, N, 3) Å, as stored (wrapped or unwrapped)
    cells: np.ndarray  # (f, 3, 3) Å, rows are lattice vectors
    velocities: np.ndarray | None = None  # (f, N, 3) Å/fs
    image_flags: np.ndarray | None = None  # (f, N, 3) int, when the file stores them
    forces: np.ndarray | None = None  # (f, N, 3) eV/Å, when the file stores them
    energies: np.ndarray | None = None  # (f,) potential energy in eV, when stored
    times_fs: np.ndarray | None = None  # (f,) time of each frame in fs (first frame of file = 0)
    steps: np.ndarray | None = None  # (f,) MD step number of each frame, when the file has it

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def unwrapped_positions(self) -> np.ndarray:
        """Positions with the stored image flags applied, r + n·cell (Å); a copy otherwise."""
        if self.image_flags is None:
            return np.array(self.positions, dtype=float, copy=True)
        shift = np.einsum("fni,fij->fnj", self.image_flags.astype(float), self.cells)
        return self.positions + shift


def concat_chunks(parts: list[FrameChunk]) -> FrameChunk:
    """Join consecutive chunks into one; optional arrays are kept only if every part has them."""
    joined: dict[str, Any] = {"start": parts[0].start}
    for f in fields(FrameChunk):
        if f.name == "start":
            continue
        arrays = [getattr(p, f.name) for p in parts]
        joined[f.name] = (
            np.concatenate(arrays) if all(a is not None for a in arrays) else None
        )
    return FrameChunk(**joined)


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
    format: str = ""  # format name the file was read as ("h5md", "extxyz", ...)
    stride: int | None = None  # MD steps between stored frames, when known or assumed
    first_step: int | None = None  # MD step number of the first frame, when the file has it
    has_image_flags: bool = False
    has_forces: bool = False
    has_energies: bool = False
    masses: np.ndarray | None = None  # (N,) amu, when the file stores them
    charges: np.ndarray | None = None  # (N,) e, when the file stores them
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific metadata

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
        return concat_chunks(parts)

    def __iter__(self) -> Iterator[FrameChunk]:
        return self.chunks()

    def close(self) -> None:
        """Release resources (readers open files only while iterating)."""

    def __enter__(self) -> TrajectoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
