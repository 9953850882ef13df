"""Trajectories in any format ASE reads (extxyz, .traj, ...), streamed with ``ase.io.iread``.

Timing is taken from per-frame ``info`` keys when present: ``time_fs`` / ``time_ps`` (or
``time``, taken as fs), ``step`` (an integer MD step counter) and ``timestep_fs`` / ``dt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import FrameStreamReader, RawFrame, TruncatedFrame, open_text
from superionic.io.timing import FileTiming

#: Per-frame info keys read as a time in fs, with the factor to fs and whether the unit is sure.
_TIME_KEYS: tuple[tuple[str, float, bool], ...] = (
    ("time_fs", 1.0, True),
    ("time_ps", 1e3, True),
    ("time", 1.0, False),
)
#: Per-frame info keys read as the MD integrator step in fs.
_DT_KEYS: tuple[str, ...] = ("timestep_fs", "dt_fs", "dt")
#: Per-frame info keys read as the MD step counter.
_STEP_KEYS: tuple[str, ...] = ("step", "md_step", "nstep", "timestep")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _frame_from_atoms(atoms: Any) -> RawFrame:
    from ase import units

    info = atoms.info
    step = next((int(info[k]) for k in _STEP_KEYS if k in info and _is_int(info[k])), None)
    time_fs = next((float(info[k]) * f for k, f, _ in _TIME_KEYS if k in info), None)
    vel = atoms.get_velocities() * units.fs if atoms.has("momenta") else None
    forces = energy = None
    calc = atoms.calc
    if calc is not None:
        results = getattr(calc, "results", {})
        if "forces" in results:
            forces = np.array(results["forces"], dtype=float)
        if "energy" in results:
            energy = float(results["energy"])
    return RawFrame(
        positions=np.array(atoms.positions, dtype=float),
        cell=np.array(atoms.cell.array, dtype=float),
        symbols=atoms.get_chemical_symbols(),
        velocities=vel,
        forces=forces,
        energy=energy,
        step=step,
        time_fs=time_fs,
    )


def _info_timing(atoms: Any, frames: list[RawFrame], where: str) -> FileTiming:
    info = atoms.info
    dt = next((float(info[k]) for k in _DT_KEYS if k in info), None)
    if dt is None and "timestep" in info and not _is_int(info["timestep"]):
        dt = float(info["timestep"])
    unit_known = next((sure for k, _, sure in _TIME_KEYS if k in info), True)
    return FrameStreamReader._step_timing(frames, where, timestep_fs=dt, unit_known=unit_known)


class ASEReader(FrameStreamReader):
    """Any ASE-readable trajectory, read frame by frame with :func:`ase.io.iread`."""

    def __init__(
        self,
        path: str,
        format: str | None = None,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
    ) -> None:
        from ase.io.formats import ioformats

        super().__init__(path, progress=progress)
        self.ase_format = format
        self.format_name = format or ""
        binary = format is not None and format in ioformats and ioformats[format].isbinary
        self._mode = "rb" if binary else "r"
        frames = self._peek(2)
        where = f"the {format or 'file'} frame info"
        file_timing = _info_timing(self._first_atoms, frames, where)
        n_frames = None
        if format == "traj":
            from ase.io.trajectory import Trajectory

            with Trajectory(self.path) as t:
                n_frames = len(t)
        self.info = self._make_info(
            frames,
            file_timing,
            timestep_fs=timestep_fs,
            frame_interval_fs=frame_interval_fs,
            require_timing=require_timing,
            symbols=frames[0].symbols or [],
            n_frames=n_frames,
            wrapped=True if format == "vasp-out" else None,
        )

    def _frames(self) -> Iterator[RawFrame]:
        import ase.io

        with open_text(self.path, self._mode) as fd:
            index = 0
            it = ase.io.iread(fd, index=":", format=self.ase_format)
            while True:
                try:
                    atoms = next(it)
                except StopIteration:
                    return
                except Exception as exc:  # ASE raises many types on bad or cut files
                    rest = fd.read()
                    if not rest.strip():
                        raise TruncatedFrame(f"{type(exc).__name__}: {exc}") from exc
                    raise InputError(f"cannot be parsed ({type(exc).__name__}: {exc})",
                                     source=self.path, frame=index) from exc
                if index == 0:
                    self._first_atoms = atoms
                index += 1
                yield _frame_from_atoms(atoms)
