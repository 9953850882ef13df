"""Shared machinery of the frame-by-frame readers: checks, chunking, progress, truncation."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from superionic.core.errors import InputError
from superionic.io.base import FrameChunk, TrajectoryInfo, TrajectoryReader
from superionic.io.timing import FileTiming, Timing, resolve_timing


class TruncatedTrajectoryWarning(UserWarning):
    """The last frame of a file was incomplete; the complete frames before it were kept."""


class TruncatedFrame(Exception):
    """Raised by a frame source when the file ends inside a frame."""


@dataclass
class RawFrame:
    """One frame as parsed from a file (units already converted to Å, fs, eV)."""

    positions: np.ndarray  # (N, 3) Å
    cell: np.ndarray  # (3, 3) Å
    symbols: list[str] | None = None
    velocities: np.ndarray | None = None  # (N, 3) Å/fs
    image_flags: np.ndarray | None = None  # (N, 3) int
    forces: np.ndarray | None = None
    energy: float | None = None
    step: int | None = None
    time_fs: float | None = None


def open_text(path: str, mode: str = "r") -> IO[Any]:
    """Open a file that may be gzip/bzip2/xz compressed (by its extension)."""
    from ase.io.formats import open_with_compression

    return open_with_compression(path, mode)


def check_finite(arr: np.ndarray, source: str, start: int, field: str) -> None:
    """Raise InputError naming the first frame of ``arr`` (f, ...) holding NaN or inf."""
    ok = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    if not ok.all():
        bad = int(np.argmin(ok))
        raise InputError("holds NaN or infinite values", source=source, frame=start + bad,
                         field=field, expected="finite numbers")


def progress_bar(info: TrajectoryInfo, enabled: bool):
    """A tqdm bar on stderr counting frames (a disabled one when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=info.n_frames, unit="frame", file=sys.stderr, disable=not enabled,
                desc=os.path.basename(info.path), leave=False)


def check_chunk_size(size: int) -> int:
    if int(size) < 1:
        raise InputError(f"chunk size must be at least 1, got {size}", field="size")
    return int(size)


def frame_times(info: TrajectoryInfo, start: int, n: int) -> np.ndarray | None:
    """Times (fs) of frames ``start .. start+n-1``, the first frame of the file at 0."""
    if info.frame_interval_fs is None:
        return None
    return (start + np.arange(n)) * info.frame_interval_fs


def warn_truncated(source: str, n_complete: int, reason: str) -> None:
    warnings.warn(
        f"{source}: frame {n_complete} is incomplete ({reason}); read {n_complete} complete "
        f"frames and ignored the rest",
        TruncatedTrajectoryWarning,
        stacklevel=3,
    )


class FrameStreamReader(TrajectoryReader):
    """A reader built on a generator of :class:`RawFrame` (``_frames``), restarted per pass."""

    format_name = ""

    def __init__(self, path: str, *, progress: bool = False) -> None:
        self.path = str(path)
        self.progress = progress
        self._timing: Timing | None = None

    # -- to implement -------------------------------------------------------------------
    def _frames(self) -> Iterator[RawFrame]:  # pragma: no cover
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------
    def _peek(self, n: int = 2) -> list[RawFrame]:
        """The first ``n`` complete frames (fewer if the file has fewer)."""
        out: list[RawFrame] = []
        it = self._frames()
        try:
            while len(out) < n:
                try:
                    out.append(next(it))
                except (StopIteration, TruncatedFrame):
                    break
        finally:
            it.close()
        if not out:
            raise InputError(
                f"holds no complete frame when read as {self.format_name!r}", source=self.path,
                frame=0, expected="at least one complete frame (pass format= if the format "
                "is not the one named)")
        return out

    @staticmethod
    def _step_timing(frames: list[RawFrame], where: str, **kw: object) -> FileTiming:
        """File timing from the step counters / times of the first two frames."""
        stride = None
        interval = None
        if len(frames) >= 2:
            s0, s1 = frames[0].step, frames[1].step
            if s0 is not None and s1 is not None:
                stride = int(s1) - int(s0)
            t0, t1 = frames[0].time_fs, frames[1].time_fs
            if t0 is not None and t1 is not None:
                interval = float(t1) - float(t0)
        return FileTiming(stride=stride, frame_interval_fs=interval, where=where, **kw)

    def _make_info(
        self,
        frames: list[RawFrame],
        file_timing: FileTiming,
        *,
        timestep_fs: float | None,
        frame_interval_fs: float | None,
        require_timing: bool,
        symbols: list[str],
        n_frames: int | None = None,
        wrapped: bool | None = None,
        variable_cell: bool | None = None,
        extra: dict | None = None,
    ) -> TrajectoryInfo:
        timing = resolve_timing(self.path, file_timing, timestep_fs, frame_interval_fs,
                                require=require_timing)
        self._timing = timing
        f0 = frames[0]
        if variable_cell is None and len(frames) >= 2:
            variable_cell = True if not np.allclose(frames[0].cell, frames[1].cell) else None
        info_extra = dict(extra or {})
        if timing.stride_assumed:
            info_extra["stride_assumed"] = True
        if timing.source == "file":
            info_extra["timing_from"] = file_timing.where
        return TrajectoryInfo(
            path=self.path,
            symbols=list(symbols),
            n_frames=n_frames,
            timestep_fs=timing.timestep_fs,
            frame_interval_fs=timing.frame_interval_fs,
            timestep_source=timing.source,
            has_velocities=f0.velocities is not None,
            wrapped=wrapped,
            variable_cell=variable_cell,
            format=self.format_name,
            stride=timing.stride,
            first_step=None if f0.step is None else int(f0.step),
            has_image_flags=f0.image_flags is not None,
            has_forces=f0.forces is not None,
            has_energies=f0.energy is not None,
            extra=info_extra,
        )

    # -- streaming ----------------------------------------------------------------------
    def _check_frame(self, fr: RawFrame, index: int) -> None:
        info = self.info
        n = fr.positions.shape[0]
        if fr.positions.shape != (info.n_atoms, 3):
            raise InputError(
                f"has {n} atoms but the first frame has {info.n_atoms}; the atom count must "
                "not change along a trajectory",
                source=self.path, frame=index, field="positions",
                expected=f"{info.n_atoms} atoms",
            )
        if fr.symbols is not None and list(fr.symbols) != info.symbols:
            raise InputError("species differ from those of the first frame", source=self.path,
                             frame=index, field="symbols", expected="the same species order")
        if (
            fr.step is not None
            and info.first_step is not None
            and info.stride is not None
            and not info.extra.get("stride_assumed")
        ):
            expected = info.first_step + index * info.stride
            if int(fr.step) != expected:
                raise InputError(
                    f"step number is {fr.step}; frames must be evenly spaced in time "
                    f"(every {info.stride} steps from step {info.first_step})",
                    source=self.path, frame=index, field="step", expected=f"step {expected}",
                )

    def _build(self, frames: list[RawFrame], start: int) -> FrameChunk:
        def stack(name: str, dtype: type = float) -> np.ndarray | None:
            vals = [getattr(f, name) for f in frames]
            if any(v is None for v in vals):
                return None
            return np.asarray(vals, dtype=dtype)

        chunk = FrameChunk(
            start=start,
            positions=np.asarray([f.positions for f in frames], dtype=float),
            cells=np.asarray([f.cell for f in frames], dtype=float),
            velocities=stack("velocities"),
            image_flags=stack("image_flags", np.int64),
            forces=stack("forces"),
            energies=stack("energy"),
            times_fs=frame_times(self.info, start, len(frames)),
            steps=stack("step", np.int64),
        )
        check_finite(chunk.positions, self.path, start, "positions")
        check_finite(chunk.cells, self.path, start, "cell")
        if chunk.velocities is not None:
            check_finite(chunk.velocities, self.path, start, "velocities")
        return chunk

    def chunks(self, size: int = 1000) -> Iterator[FrameChunk]:
        size = check_chunk_size(size)
        buf: list[RawFrame] = []
        start = 0
        index = 0
        it = self._frames()
        with progress_bar(self.info, self.progress) as bar:
            try:
                while True:
                    try:
                        fr = next(it)
                    except StopIteration:
                        break
                    except TruncatedFrame as exc:
                        warn_truncated(self.path, index, str(exc))
                        break
                    self._check_frame(fr, index)
                    buf.append(fr)
                    index += 1
                    if len(buf) == size:
                        chunk = self._build(buf, start)
                        buf = []
                        start += len(chunk)
                        bar.update(len(chunk))
                        yield chunk
            finally:
                it.close()
            if buf:
                chunk = self._build(buf, start)
                bar.update(len(chunk))
                yield chunk
