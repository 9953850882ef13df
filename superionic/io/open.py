"""One entry point for every trajectory format: :func:`open_trajectory`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from superionic.core.errors import InputError
from superionic.io.base import TrajectoryReader

#: Names accepted for the formats read by superionic's own parsers.
FORMAT_ALIASES: dict[str, str] = {
    "h5md": "h5md", "h5": "h5md", "hdf5": "h5md",
    "xdatcar": "vasp-xdatcar", "vasp-xdatcar": "vasp-xdatcar",
    "lammps-dump": "lammps-dump-text", "lammps-dump-text": "lammps-dump-text",
    "lammpstrj": "lammps-dump-text", "lammps": "lammps-dump-text",
    "vasprun": "vasp-xml", "vasp-xml": "vasp-xml",
    "torchsim": "torchsim", "torch-sim": "torchsim",
}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def detect_format(path: str) -> str:
    """Format of ``path`` from its content and name (raises InputError when unknown)."""
    from superionic.io._stream import open_text

    name = os.path.basename(path).lower()
    for ext in (".gz", ".bz2", ".xz"):
        name = name.removesuffix(ext)
    with open_text(path, "rb") as fd:
        head = fd.read(4096)
    if head.startswith(_HDF5_MAGIC) or name.endswith((".h5md", ".h5", ".hdf5")):
        return "h5md"
    if "xdatcar" in name:
        return "vasp-xdatcar"
    if name.endswith((".lammpstrj", ".dump")) or head.lstrip().startswith(b"ITEM:"):
        return "lammps-dump-text"
    if "vasprun" in name or (name.endswith(".xml") and b"<modeling>" in head):
        return "vasp-xml"
    from ase.io.formats import UnknownFileTypeError, filetype

    try:
        fmt = filetype(path, guess=True)
    except (UnknownFileTypeError, OSError, ValueError) as exc:
        raise InputError(f"format cannot be recognised ({exc})", source=path,
                         expected="format= naming it (e.g. 'extxyz', 'traj', 'h5md', "
                         "'vasp-xdatcar', 'lammps-dump-text', 'vasp-xml')") from exc
    return FORMAT_ALIASES.get(fmt, fmt)


def _is_torchsim_file(path: str) -> bool:
    import h5py

    from superionic.io.torchsim import is_torchsim

    try:
        with h5py.File(path, "r") as f:
            return is_torchsim(f) and "particles" not in f
    except OSError:
        return False


def _check_format(fmt: str, path: str) -> str:
    key = fmt.lower()
    if key in FORMAT_ALIASES:
        return FORMAT_ALIASES[key]
    from ase.io.formats import ioformats

    if key in ioformats and ioformats[key].can_read:
        return key
    raise InputError(f"unknown format {fmt!r}", source=path, field="format",
                     expected=f"one of {sorted(set(FORMAT_ALIASES.values()))} or a format "
                     "ASE reads (e.g. 'extxyz', 'traj')")


def open_trajectory(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    timestep_fs: float | None = None,
    frame_interval_fs: float | None = None,
    progress: bool = False,
    symbols: Sequence[str] | Mapping[int, str] | None = None,
    lammps_units: str | None = None,
    h5md_group: str | None = None,
    require_timing: bool = True,
) -> TrajectoryReader:
    """Open a trajectory for chunked reading; metadata is in ``reader.info``.

    ``timestep_fs`` is the MD integrator step and ``frame_interval_fs`` the time between
    stored frames (``stride * timestep_fs``); either may be omitted when the file states it
    (H5MD step/time, vasprun.xml POTIM, INCAR beside an XDATCAR, LAMMPS TIMESTEP counters,
    extxyz/traj ``time``/``step`` keys). ``symbols`` gives elements for files holding only
    type numbers: a per-atom list or ``{type: element}``. ``lammps_units`` ('metal' or
    'real') lets LAMMPS velocities and forces be converted. ``require_timing=False`` allows
    reading positions without any time information (``timestep_source == "unknown"``).
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputError("no such file", source=p, expected="an existing trajectory file")
    if os.path.isdir(p):
        raise InputError("is a directory", source=p, expected="a trajectory file")
    if os.path.getsize(p) == 0:
        raise InputError("file is empty", source=p, frame=0, expected="at least one frame")
    fmt = detect_format(p) if format is None else _check_format(format, p)
    timing = {
        "timestep_fs": timestep_fs,
        "frame_interval_fs": frame_interval_fs,
        "progress": progress,
        "require_timing": require_timing,
    }
    if fmt == "h5md" and _is_torchsim_file(p):
        fmt = "torchsim"
    if fmt == "torchsim":
        from superionic.io.torchsim import TorchSimReader

        return TorchSimReader(p, **timing)
    if fmt == "h5md":
        from superionic.io.h5md import H5MDReader

        return H5MDReader(p, symbols=symbols, h5md_group=h5md_group, **timing)
    if fmt == "lammps-dump-text":
        from superionic.io.lammps import LammpsDumpReader

        return LammpsDumpReader(p, symbols=symbols, lammps_units=lammps_units, **timing)
    if fmt == "vasp-xdatcar":
        from superionic.io.xdatcar import XDATCARReader

        if isinstance(symbols, Mapping):
            raise InputError("symbols for an XDATCAR must be a per-atom list", source=p,
                             field="symbols")
        return XDATCARReader(p, symbols=symbols, **timing)
    if fmt == "vasp-xml":
        from superionic.io.vasprun import VasprunReader

        return VasprunReader(p, **timing)
    from superionic.io.ase_reader import ASEReader

    return ASEReader(p, fmt, **timing)
