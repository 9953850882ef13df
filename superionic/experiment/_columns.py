"""Reader for small numeric text tables (lab exports): comments, commas or whitespace, header.

Rules: ``#`` starts a comment (whole line or trailing); fields are separated by commas,
semicolons, tabs or spaces; one non-numeric first line is taken as a header. Every bad row
raises :class:`~superionic.core.errors.InputError` naming the file and the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from superionic.core.errors import InputError

_SPLIT = re.compile(r"[,;\s]+")


@dataclass(frozen=True)
class ColumnTable:
    """Numeric rows of a text file with the 1-based line number of each row."""

    data: np.ndarray  # (n_rows, n_columns)
    line_numbers: np.ndarray  # (n_rows,)
    names: tuple[str, ...]
    header: tuple[str, ...] | None
    comments: tuple[tuple[int, str], ...]
    source: str

    def column(self, name: str) -> np.ndarray:
        """One column by name (``names`` given to the reader)."""
        return self.data[:, self.names.index(name)]


def _tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text.strip()) if t]


def _as_float(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def read_columns(
    path: str | Path,
    names: Sequence[str],
    *,
    min_columns: int | None = None,
    what: str = "numeric table",
) -> ColumnTable:
    """Read a table with ``min_columns`` to ``len(names)`` numeric columns, same count per row.

    Columns beyond ``len(names)`` are an error; NaN or infinite values are an error naming the
    line and the column.
    """
    source = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", source=source, expected=f"a {what}")
    n_max = len(names)
    n_min = n_max if min_columns is None else min_columns
    expected_cols = (
        f"{n_min} columns ({', '.join(names[:n_min])})"
        if n_min == n_max
        else f"{n_min} to {n_max} columns ({', '.join(names)})"
    )
    rows: list[list[float]] = []
    lines: list[int] = []
    comments: list[tuple[int, str]] = []
    header: tuple[str, ...] | None = None
    n_cols: int | None = None
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", source=source) from exc
    for lineno, raw in enumerate(text.splitlines(), start=1):
        body, hash_, comment = raw.partition("#")
        if hash_:
            comments.append((lineno, comment.strip()))
        toks = _tokens(body)
        if not toks:
            continue
        values = [_as_float(t) for t in toks]
        if any(v is None for v in values):
            if not rows and header is None and all(v is None for v in values):
                header = tuple(toks)
                continue
            bad = next(t for t, v in zip(toks, values, strict=True) if v is None)
            raise InputError(
                f"line {lineno}: cannot read {bad!r} as a number",
                source=source,
                expected=f"{expected_cols} of numbers",
            )
        if n_cols is None:
            if not n_min <= len(values) <= n_max:
                raise InputError(
                    f"line {lineno}: found {len(values)} columns",
                    source=source,
                    expected=expected_cols,
                )
            n_cols = len(values)
        elif len(values) != n_cols:
            raise InputError(
                f"line {lineno}: found {len(values)} columns where earlier rows have {n_cols}",
                source=source,
                expected=expected_cols,
            )
        for j, v in enumerate(values):
            if not math.isfinite(v):  # type: ignore[arg-type]
                raise InputError(
                    f"line {lineno}: value {toks[j]!r} is not finite",
                    source=source,
                    field=names[j],
                    expected="finite numbers",
                )
        rows.append(values)  # type: ignore[arg-type]
        lines.append(lineno)
    if not rows:
        raise InputError("no data rows", source=source, expected=f"{expected_cols} of numbers")
    assert n_cols is not None
    return ColumnTable(
        data=np.asarray(rows, dtype=float),
        line_numbers=np.asarray(lines, dtype=int),
        names=tuple(names[:n_cols]),
        header=header,
        comments=tuple(comments),
        source=source,
    )


def require_increasing(table: ColumnTable, name: str, *, strict: bool = True) -> None:
    """Raise an error naming the first line where column ``name`` does not increase."""
    x = table.column(name)
    d = np.diff(x)
    bad = np.flatnonzero(d <= 0 if strict else d < 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise InputError(
            f"line {int(table.line_numbers[i])}: {name} = {x[i]:g} does not increase "
            f"(previous row {x[i - 1]:g})",
            source=table.source,
            field=name,
            expected=f"strictly increasing {name}" if strict else f"non-decreasing {name}",
        )


def require_positive(table: ColumnTable, name: str) -> None:
    """Raise an error naming the first line where column ``name`` is not > 0."""
    x = table.column(name)
    bad = np.flatnonzero(x <= 0)
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"line {int(table.line_numbers[i])}: {name} = {x[i]:g}",
            source=table.source,
            field=name,
            expected=f"positive {name}",
        )
