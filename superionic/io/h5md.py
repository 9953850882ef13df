"""H5MD 1.1 trajectories (de Buyl et al., Comput. Phys. Commun. 185, 1546 (2014)).

Layout read and written: ``/h5md`` (version, author, creator), ``/particles/<group>/`` with
``position``, ``velocity``, ``force``, ``image`` and ``box/edges`` as time-dependent elements
(``step``, ``time``, ``value``), ``species``, ``mass`` and ``charge``; the potential energy in
``/observables/potential_energy``. The writer extends resizable chunked datasets and flushes
after every append, so a killed run leaves a readable file that a new writer can continue.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io._stream import check_chunk_size, check_finite, frame_times, progress_bar
from superionic.io.base import FrameChunk, TrajectoryInfo, TrajectoryReader
from superionic.io.timing import (
    TIME_UNITS_TO_FS,
    FileTiming,
    check_frame_interval_fs,
    check_timestep_fs,
    resolve_timing,
    stride_of,
    time_unit_factor,
)

#: Factors from length units to Å.
LENGTH_UNITS_TO_A: dict[str, float] = {
    "angstrom": 1.0, "a": 1.0, "å": 1.0, "ang": 1.0, "nm": 10.0, "pm": 0.01,
    "bohr": 0.529177210903,
}
#: Factors from energy units to eV.
ENERGY_UNITS_TO_EV: dict[str, float] = {
    "ev": 1.0, "kj/mol": 0.0103642688, "kcal/mol": 0.0433641043, "hartree": 27.211386245988,
}
PARAMETERS = "parameters/superionic"


def _unit_attr(obj: Any) -> str | None:
    u = obj.attrs.get("unit")
    if u is None:
        return None
    if isinstance(u, bytes):
        u = u.decode()
    if isinstance(u, np.ndarray):
        u = " ".join(x.decode() if isinstance(x, bytes) else str(x) for x in u.ravel())
    return str(u).strip() or None


def _length_factor(unit: str | None, source: str, field: str) -> float:
    if unit is None:
        return 1.0
    key = unit.lower()
    if key not in LENGTH_UNITS_TO_A:
        raise InputError(f"unknown length unit {unit!r}", source=source, field=field,
                         expected=f"one of {sorted(LENGTH_UNITS_TO_A)}")
    return LENGTH_UNITS_TO_A[key]


def _ratio_factor(unit: str | None, source: str, field: str, numerator: dict[str, float]
                  ) -> float | None:
    """Factor of a unit 'L T-1' or 'L/T' (L from ``numerator``) to (Å or eV) per fs or per Å."""
    if unit is None:
        return None
    tokens = re.split(r"[\s/*]+", unit.strip().lower().replace("^", ""))
    factor = 1.0
    for i, tok in enumerate(tokens):
        m = re.fullmatch(r"([a-zå]+(?:/mol)?)(-?\d*)", tok)
        if not m:
            raise InputError(f"cannot read unit {unit!r}", source=source, field=field)
        name, exp = m.group(1), int(m.group(2) or 1)
        if "/" in unit and i > 0:
            exp = -abs(exp)
        table = {**numerator, **TIME_UNITS_TO_FS, **LENGTH_UNITS_TO_A}
        if name not in table:
            raise InputError(f"unknown unit {name!r} in {unit!r}", source=source, field=field)
        factor *= table[name] ** exp
    return factor


@dataclass
class _Series:
    """A time-dependent H5MD element, or a time-independent dataset (``step`` is None)."""

    value: Any  # h5py.Dataset of the file open while scanning
    step: np.ndarray | None
    time_fs: np.ndarray | None
    time_unit_known: bool
    index: np.ndarray | None = None  # rows of ``value`` for each position frame
    name: str = ""  # path of ``value`` inside the file

    def __post_init__(self) -> None:
        self.name = self.value.name

    def read(self, f: Any, start: int, stop: int) -> np.ndarray:
        """Rows for position frames ``start:stop`` from the open file ``f``."""
        ds = f[self.name]
        if self.step is None:  # fixed in time
            v = ds[()]
            return np.broadcast_to(v, (stop - start, *v.shape))
        if self.index is None:
            return ds[start:stop]
        return ds[self.index[start:stop]]


def _read_counter(grp: Any, name: str, n: int) -> np.ndarray | None:
    if name not in grp:
        return None
    ds = grp[name]
    if ds.shape == ():  # fixed increment, with an optional offset
        offset = ds.attrs.get("offset", 0)
        return offset + ds[()] * np.arange(n)
    return ds[:n]


def _open_series(grp: Any, name: str, source: str) -> _Series | None:
    if name not in grp:
        return None
    obj = grp[name]
    import h5py

    if isinstance(obj, h5py.Dataset):
        return _Series(obj, None, None, True)
    if "value" not in obj:
        raise InputError("time-dependent element has no 'value'", source=source,
                         field=obj.name, expected="step, time and value datasets")
    value = obj["value"]
    n = value.shape[0]
    step = _read_counter(obj, "step", n)
    time = _read_counter(obj, "time", n)
    known = True
    if time is not None:
        f = time_unit_factor(_unit_attr(obj["time"]), source, f"{obj.name}/time")
        known = f is not None
        time = time * (f or 1.0)
    if step is not None:
        m = min(n, len(step)) if time is None else min(n, len(step), len(time))
        step = np.asarray(step[:m], dtype=np.int64)
        time = None if time is None else np.asarray(time[:m], dtype=float)
    elif time is not None:
        raise InputError("time-dependent element has 'time' but no 'step'", source=source,
                         field=obj.name)
    return _Series(value, step, time, known)


def _align(series: _Series, steps: np.ndarray, source: str) -> None:
    """Point ``series`` at the rows stored at the position steps (error if some are missing)."""
    if series.step is None:
        return
    s = series.step
    if len(s) >= len(steps) and np.array_equal(s[: len(steps)], steps):
        return  # stored at the same steps: plain slicing
    idx = np.searchsorted(s, steps)
    idx = np.clip(idx, 0, len(s) - 1)
    bad = np.nonzero(s[idx] != steps)[0]
    if len(bad):
        raise InputError(f"{series.name} is not stored at step {steps[bad[0]]}",
                         source=source, frame=int(bad[0]), field=series.name,
                         expected="a value at every step of 'position'")
    series.index = idx


def _check_uniform(values: np.ndarray, source: str, field: str, exact: bool) -> None:
    if len(values) < 3:
        return
    d = np.diff(values)
    ok = (d == d[0]) if exact else np.isclose(d, d[0], rtol=1e-6, atol=1e-9)
    if not ok.all():
        i = int(np.argmin(ok)) + 1
        raise InputError(
            f"frames are not evenly spaced: {field} jumps from {values[i - 1]} to "
            f"{values[i]} (other frames are {d[0]} apart)",
            source=source, frame=i, field=field, expected="evenly spaced frames",
        )


def _decode_symbols(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(values)]


class H5MDReader(TrajectoryReader):
    """An H5MD file (ours or another code's), streamed by slicing its datasets."""

    format_name = "h5md"

    def __init__(
        self,
        path: str,
        *,
        timestep_fs: float | None = None,
        frame_interval_fs: float | None = None,
        progress: bool = False,
        require_timing: bool = True,
        symbols: Sequence[str] | Mapping[int, str] | None = None,
        h5md_group: str | None = None,
    ) -> None:
        self.path = str(path)
        self.progress = progress
        with self._open() as f:
            self.group = self._pick_group(f, h5md_group)
            self.info = self._scan(f, symbols, timestep_fs, frame_interval_fs, require_timing)

    def _open(self):
        import h5py

        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(f"is not a readable HDF5 file (truncated or corrupt?): {exc}",
                             source=self.path, expected="an H5MD file") from exc

    def _pick_group(self, f: Any, name: str | None) -> str:
        if "particles" not in f:
            raise InputError("has no /particles group", source=self.path, field="/particles",
                             expected="an H5MD 1.1 file")
        groups = list(f["particles"].keys())
        if name is not None:
            if name not in groups:
                raise InputError(f"has no particle group {name!r}", source=self.path,
                                 field="/particles", expected=f"one of {groups}")
            return name
        if "all" in groups:
            return "all"
        if len(groups) == 1:
            return groups[0]
        raise InputError(f"holds several particle groups {groups}", source=self.path,
                         field="/particles", expected="h5md_group= naming one of them")

    def _symbols(self, f: Any, g: Any, n_atoms: int, user: Any) -> list[str]:
        from ase.data import chemical_symbols

        if user is not None and not isinstance(user, Mapping):
            if len(user) != n_atoms:
                raise InputError(f"{len(user)} symbols given for {n_atoms} atoms",
                                 source=self.path, field="symbols",
                                 expected=f"{n_atoms} symbols")
            return list(user)
        if PARAMETERS in f and "symbols" in f[PARAMETERS].attrs and user is None:
            return _decode_symbols(f[PARAMETERS].attrs["symbols"])
        if "species" not in g:
            raise InputError("has no species", source=self.path, field=f"{g.name}/species",
                             expected="a species dataset or symbols= passed to open_trajectory")
        sp = _open_series(g, "species", self.path)
        values = np.asarray(sp.value[()] if sp.step is None else sp.value[0])
        if values.dtype.kind in "SUO":
            return _decode_symbols(values)
        ints = values.astype(int).ravel()
        if user is not None:
            missing = sorted(set(ints.tolist()) - set(user))
            if missing:
                raise InputError(f"species {missing} have no element in symbols",
                                 source=self.path, field="symbols",
                                 expected="an element for every species number")
            return [user[int(t)] for t in ints]
        if sp.value.attrs.get("atomic_numbers", False):
            return [chemical_symbols[int(z)] for z in ints]
        raise InputError(
            f"species are numbers {sorted(set(ints.tolist()))} without element names",
            source=self.path, field=f"{g.name}/species",
            expected="symbols={number: element} passed to open_trajectory",
        )

    def _scan(self, f: Any, symbols: Any, timestep_fs: float | None,
              frame_interval_fs: float | None, require: bool) -> TrajectoryInfo:
        g = f["particles"][self.group]
        pos = _open_series(g, "position", self.path)
        if pos is None or pos.step is None:
            raise InputError("has no time-dependent position", source=self.path,
                             field=f"{g.name}/position", expected="position/{step,time,value}")
        if pos.value.ndim != 3 or pos.value.shape[2] != 3:
            raise InputError(f"position has shape {pos.value.shape}", source=self.path,
                             field="position", expected="(frames, atoms, 3)")
        ours = PARAMETERS in f
        n = len(pos.step)
        if "box" not in g or "edges" not in g["box"]:
            raise InputError("has no box/edges", source=self.path, field=f"{g.name}/box",
                             expected="box/edges (periodic solids need a cell)")
        box = _open_series(g["box"], "edges", self.path)
        series = {"box": box}
        for name in ("velocity", "force", "image"):
            s = _open_series(g, name, self.path)
            if s is not None:
                series[name] = s
        if "observables" in f and "potential_energy" in f["observables"]:
            series["energy"] = _open_series(f["observables"], "potential_energy", self.path)
        # Frames complete in every element (a killed writer may leave one element longer);
        # another code's elements may be sampled at other steps, so only the box counts there.
        for s in series.values() if ours else [box]:
            if s.step is not None:
                n = min(n, len(s.step))
        if n == 0:
            raise InputError("holds no complete frame", source=self.path, frame=0,
                             field="position", expected="at least one frame")
        self._n = n
        steps = pos.step[:n]
        _check_uniform(steps, self.path, "step", exact=True)
        if pos.time_fs is not None:
            _check_uniform(pos.time_fs[:n], self.path, "time", exact=False)
        for s in series.values():
            _align(s, steps, self.path)
        self._pos = pos
        self._series = series
        self._pos_factor = _length_factor(_unit_attr(pos.value), self.path, "position")
        self._box_factor = _length_factor(_unit_attr(box.value), self.path, "box/edges")
        self._factors: dict[str, float | None] = {}
        ignored = []
        for name, table in (("velocity", {}), ("force", ENERGY_UNITS_TO_EV)):
            if name in series:
                unit = _unit_attr(series[name].value)
                fac = _ratio_factor(unit, self.path, name, table)
                if fac is None and ours:
                    fac = 1.0
                if fac is None:
                    ignored.append(f"{name} (no unit attribute)")
                    del series[name]
                self._factors[name] = fac
        if "energy" in series:
            u = _unit_attr(series["energy"].value)
            self._factors["energy"] = 1.0 if u is None else ENERGY_UNITS_TO_EV.get(u.lower())
            if self._factors["energy"] is None:
                raise InputError(f"unknown energy unit {u!r}", source=self.path,
                                 field="potential_energy")

        params = f[PARAMETERS].attrs if ours else {}
        file_dt = float(params["timestep_fs"]) if "timestep_fs" in params else None
        stride = int(steps[1] - steps[0]) if n >= 2 else None
        interval = None
        if pos.time_fs is not None and n >= 2:
            interval = float(pos.time_fs[1] - pos.time_fs[0])
        if file_dt is None and n < 2 and "frame_interval_fs" in params:
            interval = float(params["frame_interval_fs"])
        if n < 2 and "stride" in params:
            stride = int(params["stride"])
        timing = resolve_timing(
            self.path,
            FileTiming(timestep_fs=file_dt, frame_interval_fs=interval, stride=stride,
                       unit_known=pos.time_unit_known or ours,
                       where="the H5MD step/time datasets"),
            timestep_fs, frame_interval_fs, require=require,
        )
        wrapped = None
        if "wrapped" in params and int(params["wrapped"]) >= 0:
            wrapped = bool(int(params["wrapped"]))
        elif "image" in series:
            wrapped = True
        variable = None
        if box.step is not None:
            edges = box.value[:]
            variable = bool(len(edges) > 1 and not np.allclose(edges, edges[0]))
        else:
            variable = False
        info_symbols = self._symbols(f, g, pos.value.shape[1], symbols)
        extra: dict[str, Any] = {"h5md_group": self.group}
        if ignored:
            extra["ignored"] = ignored
        if "creator" in f.get("h5md", {}):
            extra["creator"] = _decode_symbols(f["h5md/creator"].attrs.get("name", ""))[0]
        if timing.stride_assumed:
            extra["stride_assumed"] = True
        if timing.source == "file":
            extra["timing_from"] = "the H5MD step/time datasets"
        masses = g["mass"][()] if "mass" in g and g["mass"].shape != () else None
        charges = g["charge"][()] if "charge" in g and g["charge"].shape != () else None
        return TrajectoryInfo(
            path=self.path,
            symbols=info_symbols,
            n_frames=n,
            timestep_fs=timing.timestep_fs,
            frame_interval_fs=timing.frame_interval_fs,
            timestep_source=timing.source,
            has_velocities="velocity" in series,
            wrapped=wrapped,
            variable_cell=variable,
            format="h5md",
            stride=timing.stride,
            first_step=int(steps[0]) if n else None,
            has_image_flags="image" in series,
            has_forces="force" in series,
            has_energies="energy" in series,
            masses=None if masses is None else np.asarray(masses, dtype=float),
            charges=None if charges is None else np.asarray(charges, dtype=float),
            extra=extra,
        )

    def _get(self, f: Any, name: str, start: int, stop: int, dtype: type = float
             ) -> np.ndarray | None:
        if name not in self._series:
            return None
        arr = np.asarray(self._series[name].read(f, start, stop), dtype=dtype)
        return arr * self._factors[name] if name in self._factors else arr

    @staticmethod
    def _cells(edges: np.ndarray) -> np.ndarray:
        if edges.shape[-1] == 3 and edges.ndim == 2:  # (f, 3): rectangular box lengths
            return np.einsum("fi,ij->fij", edges, np.eye(3))
        return np.array(edges, dtype=float)

    def chunks(self, size: int = 1000) -> Iterator[FrameChunk]:
        size = check_chunk_size(size)
        with self._open() as f, progress_bar(self.info, self.progress) as bar:
            for start in range(0, self._n, size):
                stop = min(start + size, self._n)
                cells = np.asarray(self._series["box"].read(f, start, stop), dtype=float)
                chunk = FrameChunk(
                    start=start,
                    positions=np.asarray(self._pos.read(f, start, stop), dtype=float)
                    * self._pos_factor,
                    cells=self._cells(cells) * self._box_factor,
                    velocities=self._get(f, "velocity", start, stop),
                    image_flags=self._get(f, "image", start, stop, np.int64),
                    forces=self._get(f, "force", start, stop),
                    energies=self._get(f, "energy", start, stop),
                    times_fs=frame_times(self.info, start, stop - start),
                    steps=np.asarray(self._pos.step[start:stop], dtype=np.int64),
                )
                check_finite(chunk.positions, self.path, start, "position")
                check_finite(chunk.cells, self.path, start, "box/edges")
                if chunk.velocities is not None:
                    check_finite(chunk.velocities, self.path, start, "velocity")
                bar.update(len(chunk))
                yield chunk


def _frames_of(obj: Any) -> dict[str, np.ndarray | None]:
    """Arrays (f, ...) from a FrameChunk, a mapping, an ASE Atoms or a list of Atoms."""
    from ase import Atoms, units

    if isinstance(obj, FrameChunk):
        return {
            "positions": obj.positions, "cells": obj.cells, "velocities": obj.velocities,
            "forces": obj.forces, "energies": obj.energies, "image_flags": obj.image_flags,
        }
    if isinstance(obj, Atoms):
        obj = [obj]
    if isinstance(obj, Sequence) and obj and isinstance(obj[0], Atoms):
        res = [getattr(a.calc, "results", {}) if a.calc is not None else {} for a in obj]
        return {
            "positions": np.array([a.positions for a in obj]),
            "cells": np.array([a.cell.array for a in obj]),
            "velocities": np.array([a.get_velocities() * units.fs for a in obj])
            if all(a.has("momenta") for a in obj) else None,
            "forces": np.array([r["forces"] for r in res])
            if all("forces" in r for r in res) else None,
            "energies": np.array([r["energy"] for r in res])
            if all("energy" in r for r in res) else None,
            "image_flags": None,
        }
    if isinstance(obj, Mapping):
        out = {k: obj.get(k) for k in ("positions", "velocities", "forces", "energies",
                                       "image_flags")}
        out["cells"] = obj.get("cells", obj.get("cell"))
        return out
    raise TypeError(f"cannot write frames from {type(obj).__name__}; pass a FrameChunk, "
                    "a mapping of arrays or ASE Atoms")


def _frames_array(a: Any, n_atoms: int, name: str, source: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n_atoms, 3):
        raise InputError(f"{name} has shape {arr.shape}", source=source, field=name,
                         expected=f"(frames, {n_atoms}, 3)")
    return arr


def _cells_array(c: Any, n_frames: int, source: str) -> np.ndarray:
    arr = np.asarray(c, dtype=float)
    if arr.shape == (3,):
        arr = np.diag(arr)
    if arr.shape == (3, 3):
        arr = np.broadcast_to(arr, (n_frames, 3, 3))
    if arr.shape != (n_frames, 3, 3):
        raise InputError(f"cells have shape {arr.shape}", source=source, field="cells",
                         expected=f"(3,), (3, 3) or ({n_frames}, 3, 3)")
    return arr


class H5MDWriter:
    """Stream frames into an H5MD 1.1 file; ``append=True`` continues an existing file.

    Each :meth:`append` extends resizable chunked datasets and flushes, so a killed run leaves
    a readable file of complete frames; reopening with ``append=True`` trims any partly
    written frame and continues the ``step``/``time`` series where the file stopped.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        symbols: Sequence[str],
        *,
        timestep_fs: float,
        frame_interval_fs: float,
        masses: Sequence[float] | None = None,
        charges: Sequence[float] | None = None,
        append: bool = False,
        group: str = "all",
        first_step: int = 0,
        wrapped: bool | None = None,
        author: str | None = None,
        compression: str | None = None,
    ) -> None:
        import h5py

        self.path = str(path)
        self.symbols = [str(s) for s in symbols]
        self.n_atoms = len(self.symbols)
        self.timestep_fs = check_timestep_fs(timestep_fs, source=self.path)
        self.frame_interval_fs = check_frame_interval_fs(frame_interval_fs, source=self.path)
        self.stride = stride_of(self.frame_interval_fs, self.timestep_fs, self.path)
        self.group = group
        self.compression = compression
        self._chunk_frames = int(max(1, min(64, 2**20 // max(1, self.n_atoms * 24))))
        if append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            try:
                self._f = h5py.File(self.path, "a")
            except OSError as exc:
                raise InputError(f"cannot be reopened to append: {exc}", source=self.path,
                                 expected="an HDF5 file written by H5MDWriter") from exc
            self._resume()
        else:
            self._f = h5py.File(self.path, "w")
            self._create(masses, charges, wrapped, author, first_step)
        self._f.flush()

    # -- layout ---------------------------------------------------------------------------
    @property
    def _g(self) -> Any:
        return self._f["particles"][self.group]

    def _create(self, masses: Any, charges: Any, wrapped: bool | None, author: str | None,
                first_step: int) -> None:
        from ase.data import atomic_masses, atomic_numbers

        import superionic

        f = self._f
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5.create_group("author").attrs["name"] = author or os.environ.get("USER", "unknown")
        creator = h5.create_group("creator")
        creator.attrs["name"] = "superionic"
        creator.attrs["version"] = superionic.__version__
        try:
            z = np.array([atomic_numbers[s] for s in self.symbols], dtype=np.int32)
        except KeyError as exc:
            raise InputError(f"unknown chemical symbol {exc.args[0]!r}", source=self.path,
                             field="symbols", expected="chemical symbols") from exc
        g = f.create_group(f"particles/{self.group}")
        sp = g.create_dataset("species", data=z)
        sp.attrs["atomic_numbers"] = True
        m = atomic_masses[z] if masses is None else np.asarray(masses, dtype=float)
        if m.shape != (self.n_atoms,):
            raise InputError(f"{m.shape[0]} masses for {self.n_atoms} atoms", source=self.path,
                             field="masses", expected=f"{self.n_atoms} values")
        g.create_dataset("mass", data=m).attrs["unit"] = "amu"
        if charges is not None:
            q = np.asarray(charges, dtype=float)
            if q.shape != (self.n_atoms,):
                raise InputError(f"{q.shape[0]} charges for {self.n_atoms} atoms",
                                 source=self.path, field="charges",
                                 expected=f"{self.n_atoms} values")
            g.create_dataset("charge", data=q).attrs["unit"] = "e"
        box = g.create_group("box")
        box.attrs["dimension"] = np.int32(3)
        box.attrs["boundary"] = np.array([b"periodic"] * 3, dtype="S8")
        self._new_series(box, "edges", (3, 3), float, "angstrom")
        self._new_series(g, "position", (self.n_atoms, 3), float, "angstrom")
        p = f.create_group(PARAMETERS)
        p.attrs["timestep_fs"] = self.timestep_fs
        p.attrs["frame_interval_fs"] = self.frame_interval_fs
        p.attrs["stride"] = self.stride
        p.attrs["symbols"] = np.array(self.symbols, dtype="S3")
        p.attrs["wrapped"] = -1 if wrapped is None else int(bool(wrapped))
        self._n = 0
        self._next_step = int(first_step)

    def _new_series(self, parent: Any, name: str, tail: tuple[int, ...], dtype: Any,
                    unit: str | None) -> Any:
        grp = parent.create_group(name)
        cf = self._chunk_frames
        grp.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64,
                           chunks=(max(cf, 256),))
        t = grp.create_dataset("time", shape=(0,), maxshape=(None,), dtype=float,
                               chunks=(max(cf, 256),))
        t.attrs["unit"] = "fs"
        v = grp.create_dataset("value", shape=(0, *tail), maxshape=(None, *tail), dtype=dtype,
                               chunks=(cf, *tail), compression=self.compression)
        if unit:
            v.attrs["unit"] = unit
        return grp

    def _all_series(self) -> list[Any]:
        out = [self._g["box/edges"], self._g["position"]]
        out += [self._g[k] for k in ("velocity", "force", "image") if k in self._g]
        if "observables/potential_energy" in self._f:
            out.append(self._f["observables/potential_energy"])
        return out

    def _resume(self) -> None:
        f = self._f
        if PARAMETERS not in f or f"particles/{self.group}/position" not in f:
            raise InputError("was not written by H5MDWriter and cannot be continued",
                             source=self.path, expected="a file written by H5MDWriter")
        p = f[PARAMETERS].attrs
        stored = _decode_symbols(p["symbols"])
        if stored != self.symbols:
            raise InputError("species differ from those already in the file",
                             source=self.path, field="symbols", expected=" ".join(stored[:8]))
        for key, mine in (("timestep_fs", self.timestep_fs),
                          ("frame_interval_fs", self.frame_interval_fs)):
            if not np.isclose(float(p[key]), mine, rtol=1e-9):
                raise InputError(f"{key}={mine:g} differs from the file's {float(p[key]):g}",
                                 source=self.path, field=key, expected=f"{float(p[key]):g}")
        series = self._all_series()
        n = min(min(len(s["step"]), len(s["time"]), len(s["value"])) for s in series)
        for s in series:  # drop a frame cut off by a kill
            for k in ("step", "time", "value"):
                if s[k].shape[0] != n:
                    s[k].resize(n, axis=0)
        self._n = n
        steps = self._g["position/step"]
        self._next_step = int(steps[n - 1]) + self.stride if n else 0

    # -- writing --------------------------------------------------------------------------
    def _extend(self, parent: Any, name: str, values: np.ndarray, steps: np.ndarray,
                unit: str | None, dtype: Any = float) -> None:
        if name not in parent:
            if self._n:
                raise InputError(f"{name} given now but not in the first frames",
                                 source=self.path, frame=self._n, field=name,
                                 expected="the same quantities in every append")
            self._new_series(parent, name, values.shape[1:], dtype, unit)
        grp = parent[name]
        n0, k = self._n, len(values)
        for key, data in (("value", values), ("step", steps),
                          ("time", steps * self.timestep_fs)):
            ds = grp[key]
            ds.resize(n0 + k, axis=0)
            ds[n0:] = data

    def append(self, frames: Any = None, **arrays: Any) -> int:
        """Append frames (FrameChunk, mapping, Atoms or list of Atoms, or keyword arrays
        ``positions``, ``cells``, ``velocities``, ``forces``, ``energies``, ``image_flags``);
        return the number of frames now in the file."""
        data = _frames_of(arrays if frames is None else frames)
        if data.get("positions") is None or data.get("cells") is None:
            raise InputError("positions and cells are required", source=self.path,
                             frame=self._n, expected="positions (f, N, 3) and cells")
        pos = _frames_array(data["positions"], self.n_atoms, "positions", self.path)
        k = len(pos)
        cells = _cells_array(data["cells"], k, self.path)
        check_finite(pos, self.path, self._n, "positions")
        check_finite(cells, self.path, self._n, "cells")
        steps = self._next_step + self.stride * np.arange(k, dtype=np.int64)
        g = self._g
        present = {key for key in ("velocity", "force", "image") if key in g}
        if "observables/potential_energy" in self._f:
            present.add("energy")
        given = {name for key, name in (("velocities", "velocity"), ("forces", "force"),
                                        ("image_flags", "image"), ("energies", "energy"))
                 if data.get(key) is not None}
        if self._n and given != present:
            raise InputError(
                f"append gives {sorted(given)} but the file holds {sorted(present)}",
                source=self.path, frame=self._n, expected="the same quantities in every append",
            )
        self._extend(g["box"], "edges", cells, steps, "angstrom")
        if data.get("velocities") is not None:
            v = _frames_array(data["velocities"], self.n_atoms, "velocities", self.path)
            self._extend(g, "velocity", v, steps, "angstrom fs-1")
        if data.get("forces") is not None:
            fo = _frames_array(data["forces"], self.n_atoms, "forces", self.path)
            self._extend(g, "force", fo, steps, "eV angstrom-1")
        if data.get("image_flags") is not None:
            im = np.asarray(data["image_flags"], dtype=np.int32).reshape(k, self.n_atoms, 3)
            self._extend(g, "image", im, steps, None, np.int32)
        if data.get("energies") is not None:
            e = np.asarray(data["energies"], dtype=float).reshape(k)
            obs = self._f.require_group("observables")
            self._extend(obs, "potential_energy", e, steps, "eV")
        self._extend(g, "position", pos, steps, "angstrom")  # last: marks the frames complete
        self._n += k
        self._next_step = int(steps[-1]) + self.stride
        self._f.flush()
        return self._n

    @property
    def n_frames(self) -> int:
        return self._n

    def close(self) -> None:
        if getattr(self, "_f", None) is not None and self._f.id.valid:
            self._f.flush()
            self._f.close()

    def __enter__(self) -> H5MDWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
