"""Helpers shared by the sub-commands: JSON output and result tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from superionic.core.estimate import to_jsonable


def write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` (dataclasses, Estimates, numpy allowed) as indented JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(to_jsonable(payload), indent=2, allow_nan=True) + "\n")
    return p


def print_table(rows: list[tuple[str, str]], title: str | None = None) -> None:
    """Print a two-column table of (quantity, value) rows."""
    if title:
        print(title)
    width = max((len(r[0]) for r in rows), default=0)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
