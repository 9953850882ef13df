"""Errors that name what was wrong: the file, the frame or field, and what was expected."""

from __future__ import annotations


class SuperionicError(Exception):
    """Base class of every error raised on purpose by superionic."""


class InputError(SuperionicError, ValueError):
    """Bad input: names the source (file), where in it (frame/field) and the problem."""

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        frame: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.frame = frame
        self.field = field
        self.expected = expected
        parts = []
        if source is not None:
            parts.append(str(source))
        if frame is not None:
            parts.append(f"frame {frame}")
        if field is not None:
            parts.append(f"field '{field}'")
        msg = (": ".join([", ".join(parts), problem]) if parts else problem)
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)


class UnitsError(InputError):
    """A quantity whose units are missing or implausible (e.g. a time step in ps given as fs)."""


class ConvergenceError(SuperionicError, RuntimeError):
    """A numerical procedure did not converge; carries what was reached."""
