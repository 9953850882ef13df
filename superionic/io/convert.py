"""Conversion of any readable trajectory into H5MD, streamed chunk by chunk."""

from __future__ import annotations

import os
from typing import Any

from superionic.core.errors import InputError
from superionic.io.base import TrajectoryInfo


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    format: str | None = None,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    chunk_size: int = 1000,
    progress: bool = False,
    overwrite: bool = False,
    **open_kwargs: Any,
) -> TrajectoryInfo:
    """Write ``src`` (any format :func:`open_trajectory` reads) to the H5MD file ``dst``;
    returns the info of the written file as read back."""
    from superionic.io.h5md import H5MDWriter
    from superionic.io.open import open_trajectory

    d = os.fspath(dst)
    if os.path.exists(d) and not overwrite:
        raise InputError("already exists", source=d, expected="a new path or overwrite=True")
    reader = open_trajectory(src, format, timestep_fs=timestep_fs,
                             frame_interval_fs=frame_interval_fs, progress=progress,
                             **open_kwargs)
    info = reader.info
    if info.timestep_fs is None:
        raise InputError("the MD time step is not known (only the frame interval)", source=src,
                         field="timestep_fs", expected="timestep_fs in fs")
    dt = info.timestep_fs
    with H5MDWriter(d, info.symbols, timestep_fs=dt, frame_interval_fs=info.frame_interval_fs,
                    masses=info.masses, charges=info.charges, wrapped=info.wrapped,
                    first_step=info.first_step or 0) as w:
        for chunk in reader.chunks(chunk_size):
            w.append(chunk)
    return open_trajectory(d).info
