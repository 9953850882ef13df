"""Time step and frame interval: taken from the file or the user, checked for unit mix-ups.

MD codes disagree on time units (LAMMPS ``metal`` uses ps, ``real`` fs, VASP ``POTIM`` fs,
ASE its own unit), and a time step given in the wrong unit silently scales every diffusion
coefficient by 1000. Every value is checked against the range an MD step in fs can take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from superionic.core.errors import InputError, UnitsError

#: Smallest and largest MD integrator step (fs) accepted as plausible.
MIN_TIMESTEP_FS: float = 0.05
MAX_TIMESTEP_FS: float = 100.0
#: Relative tolerance when a file value and a user value are compared.
MATCH_RTOL: float = 1e-4

#: Factors from common time units to fs.
TIME_UNITS_TO_FS: dict[str, float] = {
    "fs": 1.0,
    "femtosecond": 1.0,
    "ps": 1e3,
    "picosecond": 1e3,
    "ns": 1e6,
    "as": 1e-3,
    "s": 1e15,
}


@dataclass(frozen=True)
class FileTiming:
    """Timing as stated by a file; any field may be missing."""

    timestep_fs: float | None = None  # integrator step
    frame_interval_fs: float | None = None  # time between stored frames
    stride: int | None = None  # MD steps between stored frames (from step counters)
    unit_known: bool = True  # False when the file's time carries no unit and fs was assumed
    where: str = "the file"  # where the values were found, for messages


@dataclass(frozen=True)
class Timing:
    """Resolved timing, reported back in :class:`~superionic.io.base.TrajectoryInfo`."""

    timestep_fs: float | None
    frame_interval_fs: float | None
    stride: int | None
    source: str  # "file", "user" or "unknown"
    stride_assumed: bool = False


def time_unit_factor(unit: str | None, source: str, field: str) -> float | None:
    """Factor from ``unit`` to fs, None when no unit is given."""
    if unit is None or str(unit).strip() == "":
        return None
    key = str(unit).strip().lower()
    if key not in TIME_UNITS_TO_FS:
        raise UnitsError(
            f"unknown time unit {unit!r}",
            source=source,
            field=field,
            expected=f"one of {sorted(TIME_UNITS_TO_FS)}",
        )
    return TIME_UNITS_TO_FS[key]


def check_timestep_fs(value: float, *, name: str = "timestep_fs", source: str | None = None,
                      origin: str = "given") -> float:
    """Return ``value`` if it is a plausible MD step in fs, else raise UnitsError."""
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(f"{name}={value!r} {origin} is not a positive number", source=source,
                         field=name, expected="a positive time step in fs")
    if v < MIN_TIMESTEP_FS:
        raise UnitsError(
            f"{name}={v:g} {origin} is implausibly small for an MD step in fs; it looks like "
            f"ps: pass {name}={v * 1e3:g} (fs) if the value is {v:g} ps",
            source=source,
            field=name,
            expected=f"{MIN_TIMESTEP_FS:g} to {MAX_TIMESTEP_FS:g} fs",
        )
    if v > MAX_TIMESTEP_FS:
        raise UnitsError(
            f"{name}={v:g} {origin} is implausibly large for one MD step in fs; it looks like "
            f"as (pass {name}={v * 1e-3:g}) or like the time between stored frames (pass that "
            "as frame_interval_fs and the integrator step as timestep_fs)",
            source=source,
            field=name,
            expected=f"{MIN_TIMESTEP_FS:g} to {MAX_TIMESTEP_FS:g} fs",
        )
    return v


def check_frame_interval_fs(value: float, *, source: str | None = None,
                            origin: str = "given") -> float:
    """Return ``value`` if it is a plausible time between frames in fs, else raise."""
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(f"frame_interval_fs={value!r} {origin} is not a positive number",
                         source=source, field="frame_interval_fs",
                         expected="a positive time in fs")
    if v < MIN_TIMESTEP_FS:
        raise UnitsError(
            f"frame_interval_fs={v:g} {origin} is implausibly small in fs; it looks like ps: "
            f"pass frame_interval_fs={v * 1e3:g} if the value is {v:g} ps",
            source=source,
            field="frame_interval_fs",
            expected=f"at least {MIN_TIMESTEP_FS:g} fs",
        )
    return v


def stride_of(frame_interval_fs: float, timestep_fs: float, source: str | None = None) -> int:
    """Number of MD steps between frames; the interval must be a whole multiple of the step."""
    ratio = frame_interval_fs / timestep_fs
    n = round(ratio)
    if n < 1 or abs(ratio - n) > 1e-3 * max(1.0, ratio):
        raise InputError(
            f"frame_interval_fs={frame_interval_fs:g} is not a whole multiple of "
            f"timestep_fs={timestep_fs:g}",
            source=source,
            field="frame_interval_fs",
            expected="frame_interval_fs = stride * timestep_fs with an integer stride >= 1",
        )
    return int(n)


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= MATCH_RTOL * max(abs(a), abs(b))


def _compare(name: str, file_value: float, user_value: float, where: str, source: str) -> None:
    if _agree(file_value, user_value):
        return
    ratio = user_value / file_value
    cls = UnitsError if (_agree(ratio, 1e3) or _agree(ratio, 1e-3)) else InputError
    hint = " (a factor of 1000: one of them looks like ps)" if cls is UnitsError else ""
    raise cls(
        f"{where} gives {name}={file_value:g} fs but {name}={user_value:g} was passed{hint}; "
        f"drop the argument to use the file's value or fix the file",
        source=source,
        field=name,
        expected="the value the file states",
    )


def _missing_message() -> str:
    return (
        "the file holds no time step or frame interval; pass timestep_fs= (the MD integrator "
        "step in fs) and, if frames were stored every n steps, frame_interval_fs=n*timestep_fs"
    )


def resolve_timing(
    source: str,
    file: FileTiming,
    timestep_fs: float | None,
    frame_interval_fs: float | None,
    *,
    require: bool = True,
) -> Timing:
    """Combine file and user timing, check units and consistency, report where it came from."""
    user_dt = None if timestep_fs is None else check_timestep_fs(timestep_fs, source=source)
    user_interval = (
        None if frame_interval_fs is None
        else check_frame_interval_fs(frame_interval_fs, source=source)
    )
    if user_dt is not None and user_interval is not None:
        stride_of(user_interval, user_dt, source)

    f_dt, f_int, f_stride = file.timestep_fs, file.frame_interval_fs, file.stride
    if f_stride is not None and f_stride < 1:
        raise InputError(f"step numbers do not increase (stride {f_stride})", source=source,
                         field="step", expected="increasing MD step numbers")
    if f_dt is None and f_int is not None and f_stride is not None:
        f_dt = f_int / f_stride
    if f_dt is not None and f_int is None and f_stride is not None:
        f_int = f_dt * f_stride

    small = [v for v in (f_dt, f_int) if v is not None and v < MIN_TIMESTEP_FS]
    if small and not file.unit_known:
        # A unitless time that looks like ps: accepted only if the user's value confirms it.
        confirmed = (user_dt is not None and f_dt is not None and _agree(user_dt, f_dt * 1e3)) or (
            user_interval is not None and f_int is not None
            and _agree(user_interval, f_int * 1e3)
        )
        if not confirmed:
            name = "timestep_fs" if f_dt is not None and f_dt < MIN_TIMESTEP_FS else (
                "frame_interval_fs")
            raise UnitsError(
                f"{file.where} gives a time of {small[0]:g} per "
                f"{'MD step' if name == 'timestep_fs' else 'frame'} without a unit; as fs that "
                f"is implausibly small and it looks like ps: pass {name}={small[0] * 1e3:g} to "
                "confirm",
                source=source,
                field="time",
                expected=f"at least {MIN_TIMESTEP_FS:g} fs",
            )
        f_dt = None if f_dt is None else f_dt * 1e3
        f_int = None if f_int is None else f_int * 1e3
    if f_dt is not None:
        check_timestep_fs(f_dt, name="timestep_fs", source=source, origin=f"from {file.where}")
    if f_int is not None:
        check_frame_interval_fs(f_int, source=source, origin=f"from {file.where}")
    if f_dt is not None and user_dt is not None:
        _compare("timestep_fs", f_dt, user_dt, file.where, source)
    if f_int is not None and user_interval is not None:
        _compare("frame_interval_fs", f_int, user_interval, file.where, source)

    if f_int is not None:
        dt = f_dt if f_dt is not None else user_dt
        stride = f_stride
        if stride is None and dt is not None:
            stride = stride_of(f_int, dt, source)
        if dt is None and stride is not None:
            dt = f_int / stride
        return Timing(dt, f_int, stride, "file")

    dt = f_dt if f_dt is not None else user_dt
    src = "file" if f_dt is not None else "user"
    if user_interval is not None:
        interval = user_interval
        stride = f_stride
        if dt is not None:
            s = stride_of(interval, dt, source)
            if stride is not None and s != stride:
                raise InputError(
                    f"frame_interval_fs={interval:g} is {s} steps of {dt:g} fs but the file's "
                    f"step numbers are {stride} apart",
                    source=source,
                    field="frame_interval_fs",
                    expected=f"{stride * dt:g} fs",
                )
            stride = s
        elif stride is not None:
            dt = check_timestep_fs(interval / stride, source=source,
                                   origin="(frame_interval_fs / stride of the file's steps)")
        return Timing(dt, interval, stride, "user")
    if dt is not None:
        if f_stride is not None:
            return Timing(dt, dt * f_stride, f_stride, src)
        return Timing(dt, dt, 1, src, stride_assumed=True)
    if require:
        raise InputError(_missing_message(), source=source, field="timestep_fs",
                         expected="timestep_fs (and frame_interval_fs when frames are strided)")
    return Timing(None, None, f_stride, "unknown")
