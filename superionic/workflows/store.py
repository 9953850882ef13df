"""Results store of a run directory: SQLite, keyed by stage and a hash of the stage's inputs.

A stage whose key is present is not recomputed, so a run killed at any point and started
again resumes after its last finished stage (long MD stages resume from their own
checkpoints). Values are pickled; the JSON summary is kept beside for people and scripts.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def input_hash(inputs: Any) -> str:
    """Stable hash of JSON-able inputs (numpy arrays are rounded to 10 significant digits)."""
    import numpy as np

    def norm(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return [norm(v) for v in x.tolist()]
        if isinstance(x, float):
            return float(f"{x:.10g}")
        if isinstance(x, dict):
            return {str(k): norm(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return [norm(v) for v in x]
        return x

    blob = json.dumps(norm(inputs), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


class RunStore:
    """Stage results of one run directory."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "results.sqlite"
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stages (stage TEXT, key TEXT, value BLOB, "
                "seconds REAL, finished REAL, PRIMARY KEY (stage, key))")
        self.computed: list[str] = []
        self.reused: list[str] = []

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, stage: str, key: str) -> tuple[bool, Any]:
        with self._connect() as db:
            row = db.execute("SELECT value FROM stages WHERE stage=? AND key=?",
                             (stage, key)).fetchone()
        return (False, None) if row is None else (True, pickle.loads(row[0]))

    def put(self, stage: str, key: str, value: Any, seconds: float) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?, ?)",
                       (stage, key, pickle.dumps(value), seconds, time.time()))

    def has(self, stage: str, inputs: Any) -> bool:
        """Whether ``stage`` has a stored result for ``inputs`` (reusing it costs nothing)."""
        return self.get(stage, input_hash(inputs))[0]

    def cached(self, stage: str, inputs: Any, compute: Callable[[], T]) -> T:
        """The stored result of ``stage`` for ``inputs``, computing and storing it if absent."""
        key = input_hash(inputs)
        found, value = self.get(stage, key)
        if found:
            self.reused.append(stage)
            return value
        t0 = time.perf_counter()
        value = compute()
        self.put(stage, key, value, time.perf_counter() - t0)
        self.computed.append(stage)
        return value

    def stages(self) -> list[tuple[str, float]]:
        """(stage, seconds) of every finished stage, in order of completion."""
        with self._connect() as db:
            return [(s, t) for s, t in db.execute(
                "SELECT stage, seconds FROM stages ORDER BY finished")]
