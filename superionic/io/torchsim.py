"""TorchSim trajectories (``TorchSimTrajectory``: HDF5 with ``/data/<name>`` arrays and their
step numbers in ``/steps/<name>``), streamed by slicing.

TorchSim keeps lattice vectors as the columns of ``cell``; they are transposed to rows here.
Its velocities are in its internal time unit and the time step is not stored, so velocities
are not read and the time step comes from the user (the stride from the step numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import check_chunk_size, check_finite, frame_times, progress_bar
from superionic.io.base import FrameChunk, TrajectoryInfo, TrajectoryReader
from superionic.io.timing import FileTiming, resolve_timing


def is_torchsim(f: Any) -> bool:
    """Whether an open h5py file has the TorchSim trajectory layout."""
    return "data" in f and "steps" in f and "positions" in f["data"]


class TorchSimReader(TrajectoryReader):
    """A TorchSim trajectory file."""

    def __init__(
        self,
        path: str,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
    ) -> None:
        import h5py
        from ase.data import chemical_symbols

        self.path = str(path)
        self.progress = progress
        with h5py.File(self.path, "r") as f:
            data, steps_g = f["data"], f["steps"]
            pos = data["positions"]
            if pos.ndim != 3 or pos.shape[2] != 3:
                raise InputError(f"positions have shape {pos.shape}", source=self.path,
                                 field="/data/positions", expected="(frames, atoms, 3)")
            n = pos.shape[0]
            steps = np.asarray(steps_g["positions"][:n], dtype=np.int64)
            n = min(n, len(steps))
            if n == 0:
                raise InputError("holds no complete frame", source=self.path, frame=0,
                                 field="/data/positions", expected="at least one frame")
            if "cell" not in data:
                raise InputError("has no cell", source=self.path, field="/data/cell",
                                 expected="a periodic cell")
            self._variable_cell = data["cell"].shape[0] > 1
            if self._variable_cell:
                n = min(n, data["cell"].shape[0])
            self._has_forces = "forces" in data and data["forces"].shape[0] >= n
            if "atomic_numbers" not in data:
                raise InputError("has no atomic_numbers", source=self.path,
                                 field="/data/atomic_numbers", expected="atomic numbers")
            z = np.asarray(data["atomic_numbers"][0], dtype=int)
            symbols = [chemical_symbols[int(i)] for i in z]
            masses = np.asarray(data["masses"][0], dtype=float) if "masses" in data else None
            cells = data["cell"][:n] if self._variable_cell else data["cell"][:1]
            variable = bool(self._variable_cell and not np.allclose(cells, cells[0]))
            has_vel = "velocities" in data
        self._n = n
        self._steps = steps[:n]
        d = np.diff(self._steps)
        if len(d) and not (d == d[0]).all():
            i = int(np.argmin(d == d[0])) + 1
            raise InputError(f"frames are not evenly spaced (step {self._steps[i]})",
                             source=self.path, frame=i, field="/steps/positions",
                             expected="evenly spaced frames")
        timing = resolve_timing(
            self.path,
            FileTiming(stride=int(d[0]) if len(d) else None, where="the TorchSim step numbers"),
            timestep_fs, frame_interval_fs, require=require_timing,
        )
        extra: dict[str, Any] = {"creator": "TorchSim"}
        if has_vel:
            extra["ignored"] = ["velocities (TorchSim internal time unit)"]
        self.info = TrajectoryInfo(
            path=self.path, symbols=symbols, n_frames=n, timestep_fs=timing.timestep_fs,
            frame_interval_fs=timing.frame_interval_fs, timestep_source=timing.source,
            has_velocities=False, wrapped=None, variable_cell=variable, format="torchsim",
            stride=timing.stride, first_step=int(self._steps[0]),
            has_forces=self._has_forces, masses=masses, extra=extra,
        )

    def chunks(self, size: int = 1000) -> Iterator[FrameChunk]:
        import h5py

        size = check_chunk_size(size)
        with h5py.File(self.path, "r") as f, progress_bar(self.info, self.progress) as bar:
            data = f["data"]
            for start in range(0, self._n, size):
                stop = min(start + size, self._n)
                k = stop - start
                cells = data["cell"][start:stop] if self._variable_cell else np.broadcast_to(
                    data["cell"][0], (k, 3, 3))
                chunk = FrameChunk(
                    start=start,
                    positions=np.asarray(data["positions"][start:stop], dtype=float),
                    cells=np.swapaxes(np.asarray(cells, dtype=float), 1, 2),  # columns -> rows
                    forces=np.asarray(data["forces"][start:stop], dtype=float)
                    if self._has_forces else None,
                    times_fs=frame_times(self.info, start, k),
                    steps=self._steps[start:stop].copy(),
                )
                check_finite(chunk.positions, self.path, start, "/data/positions")
                check_finite(chunk.cells, self.path, start, "/data/cell")
                bar.update(k)
                yield chunk
