"""VASP XDATCAR, streamed frame by frame (fixed cell, and NPT files with a header per frame)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import FrameStreamReader, RawFrame, TruncatedFrame, open_text
from superionic.io.timing import FileTiming


def incar_timing(xdatcar_path: str) -> FileTiming:
    """POTIM (fs) and NBLOCK of an MD run from the INCAR beside an XDATCAR, when there is one."""
    incar = os.path.join(os.path.dirname(os.path.abspath(xdatcar_path)), "INCAR")
    if not os.path.isfile(incar):
        return FileTiming(where="XDATCAR")
    tags: dict[str, str] = {}
    with open(incar, errors="replace") as fd:
        for line in fd:
            for stmt in re.split(r"[;]", line.split("#")[0].split("!")[0]):
                if "=" in stmt:
                    k, v = stmt.split("=", 1)
                    tags[k.strip().upper()] = v.strip().split()[0] if v.strip() else ""
    try:
        if int(float(tags.get("IBRION", "-1"))) != 0 or "POTIM" not in tags:
            return FileTiming(where="XDATCAR")
        potim = float(tags["POTIM"])
        nblock = int(float(tags.get("NBLOCK", "1")))
    except ValueError:
        return FileTiming(where="XDATCAR")
    return FileTiming(timestep_fs=potim, stride=nblock, where="POTIM/NBLOCK in the INCAR beside it")


def _is_config_line(line: str) -> bool:
    s = line.strip().lower()
    return ("configuration" in s) and (s.startswith("direct") or s.startswith("cart"))


class XDATCARReader(FrameStreamReader):
    """VASP XDATCAR (VASP 5 with element line; VASP 4 files need ``symbols``)."""

    format_name = "vasp-xdatcar"

    def __init__(
        self,
        path: str,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
        symbols: list[str] | None = None,
    ) -> None:
        super().__init__(path, progress=progress)
        self._user_symbols = None if symbols is None else list(symbols)
        self._headers = 0
        frames = self._peek(2)
        variable = (self._headers > 1) if len(frames) >= 2 else None
        self.info = self._make_info(
            frames,
            incar_timing(self.path),
            timestep_fs=timestep_fs,
            frame_interval_fs=frame_interval_fs,
            require_timing=require_timing,
            symbols=frames[0].symbols or [],
            wrapped=True,
            variable_cell=variable,
        )

    def _read_header(self, fd: TextIO, title: str, frame: int) -> tuple[np.ndarray, list[str]]:
        lines = [fd.readline() for _ in range(6)]
        if not lines[-1]:
            raise TruncatedFrame("file ends inside a header")
        try:
            scale = float(lines[0].split()[0])
            lattice = np.array([[float(x) for x in ln.split()[:3]] for ln in lines[1:4]])
            if lattice.shape != (3, 3):
                raise ValueError("lattice needs three numbers per line")
        except (ValueError, IndexError) as exc:
            raise InputError(f"bad cell header ({exc})", source=self.path, frame=frame,
                             field="lattice", expected="scale factor and three lattice vectors"
                             ) from exc
        if scale < 0:  # negative scale: target volume
            scale = (-scale / abs(np.linalg.det(lattice))) ** (1.0 / 3.0)
        cell = lattice * scale
        tokens = lines[4].split()
        if all(t.isdigit() for t in tokens):  # VASP 4: no element line
            counts = [int(t) for t in tokens]
            if self._user_symbols is None:
                raise InputError("has no element line (VASP 4 format)", source=self.path,
                                 frame=frame, field="symbols",
                                 expected="symbols=[...] passed to open_trajectory")
            symbols = self._user_symbols
            extra_line = lines[5]
        else:
            species = [t.split("/")[0].split("_")[0] for t in tokens]
            try:
                counts = [int(t) for t in lines[5].split()]
            except ValueError as exc:
                raise InputError("bad atom-count line", source=self.path, frame=frame,
                                 field="counts", expected="integers") from exc
            symbols = [s for s, c in zip(species, counts, strict=True) for _ in range(c)]
            extra_line = None
        if len(symbols) != sum(counts):
            raise InputError(f"{len(symbols)} symbols for {sum(counts)} atoms", source=self.path,
                             frame=frame, field="symbols", expected=f"{sum(counts)} symbols")
        self._pending_line = extra_line
        return cell, symbols

    def _frames(self) -> Iterator[RawFrame]:
        self._headers = 0
        with open_text(self.path) as fd:
            cell: np.ndarray | None = None
            symbols: list[str] = []
            frame = 0
            self._pending_line = None
            while True:
                line = self._pending_line if self._pending_line is not None else fd.readline()
                self._pending_line = None
                if not line:
                    return
                if not line.strip():
                    continue
                if not _is_config_line(line):
                    cell, symbols = self._read_header(fd, line, frame)
                    self._headers += 1
                    continue
                if cell is None:
                    raise InputError("configuration before any cell header", source=self.path,
                                     frame=frame, expected="an XDATCAR header")
                n = len(symbols)
                rows = [fd.readline() for _ in range(n)]
                try:
                    frac = np.array([r.split()[:3] for r in rows], dtype=float)
                    if frac.shape != (n, 3):
                        raise ValueError("three coordinates per atom needed")
                except ValueError as exc:
                    if not rows[-1] or not rows[-1].endswith("\n"):
                        raise TruncatedFrame("file ends inside the coordinates") from exc
                    raise InputError(f"bad coordinates ({exc})", source=self.path,
                                     frame=frame, field="positions",
                                     expected=f"{n} lines of three numbers") from exc
                cart = line.strip().lower().startswith("cart")
                positions = frac if cart else frac @ cell
                # The configuration counter is not used as an MD step: its meaning with
                # NBLOCK > 1 differs between VASP versions; NBLOCK comes from the INCAR.
                yield RawFrame(positions=positions, cell=cell.copy(), symbols=symbols)
                frame += 1
