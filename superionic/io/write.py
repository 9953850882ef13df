"""Writing trajectories: H5MD with :class:`~superionic.io.h5md.H5MDWriter`, the rest via ASE."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io.base import FrameChunk
from superionic.io.timing import check_frame_interval_fs, check_timestep_fs, stride_of


def _as_chunk(frames: Any) -> FrameChunk:
    from superionic.io.h5md import _frames_of

    if isinstance(frames, FrameChunk):
        return frames
    d = _frames_of(frames)
    pos = np.asarray(d["positions"], dtype=float)
    if pos.ndim == 2:
        pos = pos[None]
    cells = np.asarray(d["cells"], dtype=float)
    if cells.shape in ((3,), (3, 3)):
        cells = np.broadcast_to(np.diag(cells) if cells.shape == (3,) else cells,
                                (len(pos), 3, 3))
    return FrameChunk(0, pos, cells, d["velocities"], d["image_flags"], d["forces"],
                      d["energies"])


def chunk_to_atoms(
    chunk: FrameChunk,
    symbols: Sequence[str],
    *,
    timestep_fs: float | None = None,
    stride: int = 1,
    first_step: int = 0,
    pbc: bool = True,
) -> list[Any]:
    """ASE Atoms for each frame, with ``step``/``time_fs``/``timestep_fs`` in ``info``."""
    from ase import Atoms, units
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for i in range(len(chunk)):
        a = Atoms(symbols=list(symbols), positions=chunk.positions[i], cell=chunk.cells[i],
                  pbc=pbc)
        if chunk.velocities is not None:
            a.set_velocities(chunk.velocities[i] / units.fs)
        results = {}
        if chunk.forces is not None:
            results["forces"] = chunk.forces[i]
        if chunk.energies is not None:
            results["energy"] = float(chunk.energies[i])
        if results:
            a.calc = SinglePointCalculator(a, **results)
        if timestep_fs is not None:
            step = first_step + (chunk.start + i) * stride
            a.info.update(step=int(step), time_fs=float(step * timestep_fs),
                          timestep_fs=float(timestep_fs))
        out.append(a)
    return out


def write_trajectory(
    path: str | os.PathLike[str],
    frames_or_chunk: Any,
    symbols: Sequence[str],
    *,
    format: str | None = None,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    first_step: int = 0,
    masses: Sequence[float] | None = None,
    charges: Sequence[float] | None = None,
    append: bool = False,
) -> str:
    """Write frames (FrameChunk, mapping of arrays or Atoms) to extxyz/traj/any ASE format, or
    H5MD (``format='h5md'`` or a .h5/.h5md name). Timing goes into each frame's info
    (``step``, ``time_fs``, ``timestep_fs``) so :func:`open_trajectory` reads it back."""
    p = os.fspath(path)
    chunk = _as_chunk(frames_or_chunk)
    if chunk.positions.shape[1] != len(symbols):
        raise InputError(f"{len(symbols)} symbols for {chunk.positions.shape[1]} atoms",
                         source=p, field="symbols",
                         expected=f"{chunk.positions.shape[1]} symbols")
    dt = None if timestep_fs is None else check_timestep_fs(timestep_fs, source=p)
    interval = (None if frame_interval_fs is None
                else check_frame_interval_fs(frame_interval_fs, source=p))
    if dt is not None and interval is None:
        interval = dt
    stride = 1 if dt is None or interval is None else stride_of(interval, dt, p)
    fmt = format
    if fmt is None and p.lower().endswith((".h5md", ".h5", ".hdf5")):
        fmt = "h5md"
    if fmt == "h5md":
        if dt is None:
            raise InputError("H5MD needs a time step", source=p, field="timestep_fs",
                             expected="timestep_fs (and frame_interval_fs)")
        from superionic.io.h5md import H5MDWriter

        with H5MDWriter(p, symbols, timestep_fs=dt, frame_interval_fs=interval, masses=masses,
                        charges=charges, append=append, first_step=first_step) as w:
            w.append(chunk)
        return p
    import ase.io

    atoms = chunk_to_atoms(chunk, symbols, timestep_fs=dt, stride=stride, first_step=first_step)
    if masses is not None:
        for a in atoms:
            a.set_masses(masses)
    ase.io.write(p, atoms, format=fmt, append=append)
    return p
