"""VASP vasprun.xml MD runs, streamed one ionic step at a time (memory stays bounded)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import FrameStreamReader, RawFrame, TruncatedFrame, open_text
from superionic.io.timing import FileTiming

_EV_PER_A3_PER_KBAR = 1e8 * 1e-30 / 1.602176634e-19  # 1 kbar in eV/Å³


def _vectors(elem: Any, path: str) -> np.ndarray | None:
    node = elem.find(path)
    if node is None:
        return None
    return np.array([[float(x) for x in v.text.split()] for v in node], dtype=float)


def _param(value: Any) -> str | None:
    return None if value is None else str(value).strip()


class VasprunReader(FrameStreamReader):
    """vasprun.xml of a VASP MD run (IBRION = 0): every ionic step is one frame.

    The time step is POTIM; positions are wrapped fractional coordinates times the cell.
    """

    format_name = "vasp-xml"

    def __init__(
        self,
        path: str,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
    ) -> None:
        super().__init__(path, progress=progress)
        self._params: dict[str, str] = {}
        frames = self._peek(2)
        ibrion, potim = self._params.get("IBRION"), self._params.get("POTIM")
        if ibrion is not None and potim is not None and int(float(ibrion)) == 0:
            timing = FileTiming(timestep_fs=float(potim), stride=1, where="POTIM in vasprun.xml")
        else:
            timing = FileTiming(where="vasprun.xml (no IBRION = 0 and POTIM: not an MD run)")
        self.info = self._make_info(
            frames, timing, timestep_fs=timestep_fs, frame_interval_fs=frame_interval_fs,
            require_timing=require_timing, symbols=frames[0].symbols or [], wrapped=True,
            extra={"POTIM": potim, "IBRION": ibrion},
        )

    def _frames(self) -> Iterator[RawFrame]:
        symbols: list[str] | None = None
        frame = 0
        depth = 0
        with open_text(self.path, "rb") as fd:
            try:
                for event, elem in ET.iterparse(fd, events=("start", "end")):
                    if event == "start":
                        depth += elem.tag == "calculation"
                        continue
                    tag = elem.tag
                    if tag == "i" and depth == 0 and "name" in elem.attrib:
                        self._params[elem.attrib["name"]] = _param(elem.text) or ""
                    elif tag == "atominfo":
                        sets = elem.find("array[@name='atoms']/set")
                        symbols = None if sets is None else [rc[0].text.strip() for rc in sets]
                    elif tag == "calculation":
                        depth -= 1
                        yield self._frame(elem, symbols, frame)
                        frame += 1
                        elem.clear()
            except ET.ParseError as exc:
                msg = str(exc)
                if "no element found" in msg or "unclosed token" in msg:
                    raise TruncatedFrame(f"XML ends early: {msg}") from exc
                raise InputError(f"is not valid XML ({msg})", source=self.path, frame=frame
                                 ) from exc

    def _frame(self, calc: Any, symbols: list[str] | None, frame: int) -> RawFrame:
        if symbols is None:
            raise InputError("has no atominfo before the first step", source=self.path,
                             frame=frame, field="atominfo")
        cell = _vectors(calc, "structure/crystal/varray[@name='basis']")
        frac = _vectors(calc, "structure/varray[@name='positions']")
        if cell is None or frac is None or cell.shape != (3, 3):
            raise InputError("ionic step has no structure", source=self.path, frame=frame,
                             field="structure", expected="basis and positions")
        forces = _vectors(calc, "varray[@name='forces']")
        energy = None
        e_fr = calc.find("energy/i[@name='e_fr_energy']")
        if e_fr is not None:
            # As ASE: calculation/energy holds e_fr incl. PV; e_0 - e_fr from the last SCF step.
            energy = float(e_fr.text)
            scf = calc.findall("scstep/energy")
            if scf:
                energy += float(scf[-1].find("i[@name='e_0_energy']").text) - float(
                    scf[-1].find("i[@name='e_fr_energy']").text)
            pstress = float(self._params.get("PSTRESS", 0.0) or 0.0)
            energy -= pstress * _EV_PER_A3_PER_KBAR * abs(np.linalg.det(cell))
        return RawFrame(positions=frac @ cell, cell=cell, symbols=symbols, forces=forces,
                        energy=energy)
