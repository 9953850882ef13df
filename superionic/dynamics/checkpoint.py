"""Checkpoints of an MD run: written atomically, so a kill at any moment leaves either the
previous or the new checkpoint, never a torn one."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from superionic.core.errors import InputError

FORMAT_VERSION = 1


@dataclass
class MDState:
    """Everything needed to continue a run exactly where it stopped."""

    step: int
    n_frames: int
    positions: np.ndarray
    momenta: np.ndarray
    cell: np.ndarray
    rng_state: Any
    config_hash: str
    wall_s: float = 0.0


def save_checkpoint(path: str | Path, state: Any) -> None:
    """Write ``state`` (an :class:`MDState` or any picklable state with a ``config_hash``) to
    ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"version": FORMAT_VERSION, "state": state}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, config_hash: str) -> Any:
    """The stored state, or None when there is none; refuses a checkpoint of another run."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"checkpoint cannot be read ({exc}); delete it to start afresh",
                         source=str(path)) from exc
    if payload.get("version") != FORMAT_VERSION:
        raise InputError(f"checkpoint format {payload.get('version')} is not supported",
                         source=str(path), expected=f"version {FORMAT_VERSION}")
    state: MDState = payload["state"]
    if state.config_hash != config_hash:
        raise InputError(
            "checkpoint belongs to a run with other settings (structure, potential, "
            "temperature, time step or seed); use another output path or delete it",
            source=str(path))
    return state


def config_hash(config: dict[str, Any]) -> str:
    """Stable hash of a run's settings."""
    import hashlib

    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def truncate_h5md(path: str | Path, n_frames: int) -> None:
    """Cut every time series of an H5MD file to its first ``n_frames`` frames (frames written
    after the last checkpoint are recomputed on resume)."""
    import h5py

    with h5py.File(path, "a") as f:
        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group) and {"step", "time", "value"} <= set(obj.keys()):
                for key in ("step", "time", "value"):
                    ds = obj[key]
                    if ds.shape[0] > n_frames:
                        ds.resize(n_frames, axis=0)

        f.visititems(visit)
