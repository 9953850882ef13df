"""The impedance spectrum container shared by readers, fits, DRT and KK validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError


@dataclass
class Spectrum:
    """One impedance spectrum, convention Z = Z' + jZ'' with Z'' < 0 for a capacitive arc.

    ``f_Hz`` is sorted from high to low frequency. ``metadata`` may hold ``temperature_K``
    when the file states it, and notes on how the columns were identified.
    """

    f_Hz: np.ndarray
    Z: np.ndarray
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f = np.asarray(self.f_Hz, dtype=float).ravel()
        z = np.asarray(self.Z, dtype=complex).ravel()
        if f.size != z.size:
            raise InputError(f"{f.size} frequencies but {z.size} impedances", source=self.source)
        good = np.isfinite(f) & np.isfinite(z.real) & np.isfinite(z.imag) & (f > 0)
        if good.sum() < 3:
            raise InputError("fewer than 3 valid (positive, finite) frequency points",
                             source=self.source, field="frequency")
        if (~good).any():
            self.metadata.setdefault("dropped_points", int((~good).sum()))
        f, z = f[good], z[good]
        order = np.argsort(-f, kind="stable")
        self.f_Hz = f[order]
        self.Z = z[order]

    @property
    def omega(self) -> np.ndarray:
        return 2.0 * np.pi * self.f_Hz

    @property
    def temperature_K(self) -> float | None:
        t = self.metadata.get("temperature_K")
        return None if t is None else float(t)

    def __len__(self) -> int:
        return int(self.f_Hz.size)
