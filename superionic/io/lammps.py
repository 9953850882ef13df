"""LAMMPS text dumps (``dump custom``/``atom``): wrapped, unwrapped or scaled positions,
image flags, orthogonal, restricted triclinic and general triclinic boxes, streamed."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, TextIO

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import FrameStreamReader, RawFrame, TruncatedFrame, open_text

#: Factors from each supported LAMMPS unit style to (fs, Å/fs, eV/Å) for time, velocity, force.
LAMMPS_UNITS: dict[str, tuple[float, float, float]] = {
    "metal": (1e3, 1e-3, 1.0),
    "real": (1.0, 1.0, 0.0433641043),
}

#: Position columns: names, whether scaled (fractional) and whether unwrapped.
_POSITION_SETS: tuple[tuple[tuple[str, str, str], bool, bool], ...] = (
    (("xu", "yu", "zu"), False, True),
    (("x", "y", "z"), False, False),
    (("xsu", "ysu", "zsu"), True, True),
    (("xs", "ys", "zs"), True, False),
)


def lammps_box_to_cell(lines: list[str], header: str) -> tuple[np.ndarray, np.ndarray]:
    """Cell (rows a, b, c) and origin from the three BOX BOUNDS lines (LAMMPS Howto triclinic)."""
    vals = np.array([[float(x) for x in ln.split()] for ln in lines])
    if "abc origin" in header:  # general triclinic: a, b, c vectors with origin components
        return vals[:, :3].copy(), vals[:, 3].copy()
    if vals.shape[1] >= 3:  # restricted triclinic: bounds include the tilt
        xy, xz, yz = vals[0, 2], vals[1, 2], vals[2, 2]
        xlo = vals[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = vals[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = vals[1, 0] - min(0.0, yz)
        yhi = vals[1, 1] - max(0.0, yz)
    else:
        xy = xz = yz = 0.0
        xlo, xhi, ylo, yhi = vals[0, 0], vals[0, 1], vals[1, 0], vals[1, 1]
    zlo, zhi = vals[2, 0], vals[2, 1]
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return cell, np.array([xlo, ylo, zlo])


class LammpsDumpReader(FrameStreamReader):
    """A LAMMPS text dump. Positions are kept as stored; image flags go to ``image_flags``."""

    format_name = "lammps-dump-text"

    def __init__(
        self,
        path: str,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
        symbols: Sequence[str] | Mapping[int, str] | None = None,
        lammps_units: str | None = None,
    ) -> None:
        super().__init__(path, progress=progress)
        self._symbols_arg = symbols
        self._units = self._check_units(lammps_units)
        self._columns: list[str] = []
        frames = self._peek(2)
        self._wrapped = self._position_set()[2]
        extra: dict[str, object] = {"columns": list(self._columns)}
        if self._units is None and set(self._columns) & {"vx", "vy", "vz", "fx", "fy", "fz"}:
            extra["ignored"] = (
                "velocities/forces: pass lammps_units='metal' or 'real' to read them"
            )
        self.info = self._make_info(
            frames,
            self._step_timing(frames, "the dump's TIMESTEP/TIME values",
                              unit_known=self._units is not None),
            timestep_fs=timestep_fs,
            frame_interval_fs=frame_interval_fs,
            require_timing=require_timing,
            symbols=frames[0].symbols or [],
            wrapped=self._wrapped,
            extra=extra,
        )
        if self._units is not None:
            self.info.extra["lammps_units"] = self._units

    def _check_units(self, units: str | None) -> str | None:
        if units is not None and units not in LAMMPS_UNITS:
            raise InputError(f"unsupported LAMMPS units {units!r}", source=self.path,
                             field="lammps_units", expected=f"one of {sorted(LAMMPS_UNITS)}")
        return units

    def _position_set(self) -> tuple[tuple[str, str, str], bool, bool]:
        """Position column names, whether scaled and whether wrapped."""
        for names, scaled, unwrapped in _POSITION_SETS:
            if all(n in self._columns for n in names):
                return names, scaled, not unwrapped
        raise InputError("has no position columns", source=self.path, frame=0, field="ATOMS",
                         expected="x y z, xu yu zu, xs ys zs or xsu ysu zsu")

    def _atom_table(self, fd: TextIO, n: int, columns: list[str], frame: int) -> Any:
        """The ``n`` atom lines as a table sorted by atom id (parsed by pandas' C reader)."""
        import pandas as pd

        rows = list(islice(fd, n))
        last = rows[-1] if rows else ""
        if len(rows) < n or (len(last.split()) < len(columns) and not last.endswith("\n")):
            raise TruncatedFrame(f"file ends inside the atom lines ({len(rows)} of {n})")
        dtypes = {"element": str} if "element" in columns else None
        try:
            table = pd.read_csv(io.StringIO("".join(rows)), sep=r"\s+", header=None,
                                names=columns, dtype=dtypes, na_filter=False)
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"bad atom lines ({exc})", source=self.path, frame=frame,
                             field="ATOMS", expected=f"{n} lines of {len(columns)} columns"
                             ) from exc
        if len(table) != n:
            raise InputError(f"{len(table)} atom lines", source=self.path, frame=frame,
                             field="ATOMS", expected=f"{n} lines of {len(columns)} columns")
        if "id" in columns:
            order = np.argsort(table["id"].to_numpy(dtype=np.int64), kind="stable")
            table = table.iloc[order]
        return table

    def _symbols(self, table: Any, frame: int) -> list[str]:
        cols = set(table.columns)
        if "element" in cols:
            return [str(s) for s in table["element"]]
        arg = self._symbols_arg
        n = len(table)
        if arg is not None and not isinstance(arg, Mapping):
            if len(arg) != n:
                raise InputError(f"{len(arg)} symbols given for {n} atoms", source=self.path,
                                 frame=frame, field="symbols", expected=f"{n} symbols")
            return list(arg)
        if "type" not in cols:
            raise InputError("has neither an element nor a type column", source=self.path,
                             frame=frame, field="ATOMS", expected="an element or type column")
        types = table["type"].to_numpy(dtype=int)
        if arg is None:
            raise InputError(
                f"holds LAMMPS atom types {sorted(set(types.tolist()))} but no elements",
                source=self.path, frame=frame, field="type",
                expected="symbols={type: element} (e.g. {1: 'Li', 2: 'P'}) or an element column",
            )
        missing = sorted(set(types.tolist()) - set(arg))
        if missing:
            raise InputError(f"types {missing} have no element in symbols", source=self.path,
                             frame=frame, field="symbols", expected="an element for every type")
        return [arg[int(t)] for t in types]

    def _read_frame(self, fd: TextIO, first: str, frame: int) -> RawFrame:
        def need(line: str) -> str:
            if not line:
                raise TruncatedFrame("file ends inside the frame header")
            return line

        time = None
        try:
            while not first.startswith("ITEM: TIMESTEP"):
                if first.startswith("ITEM: UNITS"):
                    units = need(fd.readline()).strip()
                    if self._units is None:
                        self._units = self._check_units(units)
                elif first.startswith("ITEM: TIME"):
                    time = float(need(fd.readline()).split()[0])
                else:
                    raise InputError(f"unexpected line {first.strip()!r}", source=self.path,
                                     frame=frame, expected="ITEM: TIMESTEP")
                first = need(fd.readline())
            step = int(need(fd.readline()).split()[0])
            item = need(fd.readline())
            while not item.startswith("ITEM: NUMBER OF ATOMS"):  # e.g. ITEM: TIME, UNITS
                need(fd.readline())
                item = need(fd.readline())
            n = int(need(fd.readline()).split()[0])
            box_header = need(fd.readline())
            box_lines = [need(fd.readline()) for _ in range(3)]
            cell, origin = lammps_box_to_cell(box_lines, box_header)
            atoms_header = need(fd.readline())
        except (ValueError, IndexError) as exc:
            raise InputError(f"bad frame header ({exc})", source=self.path, frame=frame,
                             expected="a LAMMPS dump frame header") from exc
        if not atoms_header.startswith("ITEM: ATOMS"):
            raise InputError(f"unexpected line {atoms_header.strip()!r}", source=self.path,
                             frame=frame, expected="ITEM: ATOMS ...")
        columns = atoms_header.split()[2:]
        if not self._columns:
            self._columns = columns
        elif columns != self._columns:
            raise InputError("ATOMS columns changed", source=self.path, frame=frame,
                             field="ATOMS", expected=" ".join(self._columns))
        table = self._atom_table(fd, n, columns, frame)

        def num(names: Sequence[str], dtype: type = float) -> np.ndarray:
            try:
                return table[list(names)].to_numpy(dtype=dtype)
            except (ValueError, TypeError) as exc:
                raise InputError(f"missing or non-numeric value in {' '.join(names)} ({exc})",
                                 source=self.path, frame=frame, field=names[0]) from exc

        cols = set(columns)
        names, scaled, _ = self._position_set()
        pos = num(names)
        if scaled:
            pos = origin + pos @ cell
        images = num(["ix", "iy", "iz"], np.int64) if {"ix", "iy", "iz"} <= cols else None
        vel = forces = time_fs = None
        if self._units is not None:
            t_f, v_f, f_f = LAMMPS_UNITS[self._units]
            if {"vx", "vy", "vz"} <= cols:
                vel = num(["vx", "vy", "vz"]) * v_f
            if {"fx", "fy", "fz"} <= cols:
                forces = num(["fx", "fy", "fz"]) * f_f
            time_fs = None if time is None else time * t_f
        else:
            time_fs = time  # unit unknown: checked as fs, flagged if it looks like ps
        return RawFrame(positions=pos, cell=cell, symbols=self._symbols(table, frame),
                        velocities=vel, image_flags=images, forces=forces, step=step,
                        time_fs=time_fs)

    def _frames(self) -> Iterator[RawFrame]:
        with open_text(self.path) as fd:
            frame = 0
            while True:
                line = fd.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                yield self._read_frame(fd, line, frame)
                frame += 1
