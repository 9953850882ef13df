"""Estimates that carry their uncertainty: value, standard error, interval, units and method.

Every number obtained from noisy data is returned as an :class:`Estimate`, never a bare float.
Serialises to the JSON object form ``{"value", "stderr", "ci95": [low, high], ...}``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A measured or fitted quantity with its uncertainty.

    ``ci95`` is a 95 % interval; when not given it is the normal interval value ± 1.96 stderr.
    For quantities estimated on a log scale (diffusion, conductivity) the interval is
    asymmetric and given explicitly.
    """

    value: float
    stderr: float
    ci95: tuple[float, float] | None = None
    unit: str = ""
    method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "stderr", float(self.stderr))
        if self.ci95 is None:
            lo = self.value - _Z95 * self.stderr
            hi = self.value + _Z95 * self.stderr
            object.__setattr__(self, "ci95", (lo, hi))
        else:
            object.__setattr__(self, "ci95", (float(self.ci95[0]), float(self.ci95[1])))

    @classmethod
    def from_log(
        cls, log_value: float, log_stderr: float, unit: str = "", method: str = "", **extra: Any
    ) -> Estimate:
        """Estimate of x = exp(y) from y ~ N(log_value, log_stderr²): median, delta-method
        stderr and the exact log-normal 95 % interval."""
        v = math.exp(log_value)
        return cls(
            value=v,
            stderr=v * log_stderr,
            ci95=(math.exp(log_value - _Z95 * log_stderr), math.exp(log_value + _Z95 * log_stderr)),
            unit=unit,
            method=method,
            extra=dict(extra),
        )

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies inside the 95 % interval."""
        lo, hi = self.ci95  # type: ignore[misc]
        return lo <= x <= hi

    def scaled(self, factor: float, unit: str | None = None) -> Estimate:
        """The same estimate multiplied by a positive constant (unit conversion)."""
        lo, hi = self.ci95  # type: ignore[misc]
        return Estimate(
            self.value * factor,
            abs(self.stderr * factor),
            (min(lo * factor, hi * factor), max(lo * factor, hi * factor)),
            unit if unit is not None else self.unit,
            self.method,
            dict(self.extra),
        )

    def ratio(self, other: Estimate, method: str = "ratio") -> Estimate:
        """``self / other`` for independent positive estimates: relative errors added in
        quadrature on a log scale, log-normal 95 % interval."""
        if self.value <= 0 or other.value <= 0:
            raise ValueError("ratio of estimates needs positive values")
        s = math.hypot(self.stderr / self.value, other.stderr / other.value)
        return Estimate.from_log(math.log(self.value / other.value), s, method=method)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: value, stderr, ci95, unit, method, plus any extra keys."""
        d = asdict(self)
        d["ci95"] = list(self.ci95)  # type: ignore[arg-type]
        extra = d.pop("extra")
        d.update(_jsonable(extra))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        known = {"value", "stderr", "ci95", "unit", "method"}
        return cls(
            value=d["value"],
            stderr=d.get("stderr", float("nan")),
            ci95=tuple(d["ci95"]) if d.get("ci95") is not None else None,
            unit=d.get("unit", ""),
            method=d.get("method", ""),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def __str__(self) -> str:
        lo, hi = self.ci95  # type: ignore[misc]
        u = f" {self.unit}" if self.unit else ""
        return f"{self.value:.4g} ± {self.stderr:.2g}{u} [95%: {lo:.4g}, {hi:.4g}]"


def log_stderr(est: Estimate) -> float:
    """Standard error of ln(value) from an estimate's 95 % interval; an interval open on one
    side (short runs give upper bounds of inf) falls back on its finite side or on the
    relative stderr, whichever is wider (inf when nothing finite is known)."""
    lo, hi = est.ci95  # type: ignore[misc]
    v = est.value
    candidates = [est.stderr / v] if v > 0 else []
    if lo > 0 and math.isfinite(hi):
        candidates.append((math.log(hi) - math.log(lo)) / (2 * 1.959964))
    elif lo > 0 and v > lo:
        candidates.append((math.log(v) - math.log(lo)) / 1.959964)
    finite = [c for c in candidates if math.isfinite(c) and c > 0]
    return max(finite) if finite else math.inf


def _jsonable(obj: Any) -> Any:
    """Recursively convert numpy scalars/arrays and Estimates into JSON-serialisable objects."""
    import numpy as np

    if isinstance(obj, Estimate):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def to_jsonable(obj: Any) -> Any:
    """Public helper: make nested results (dataclasses, Estimates, numpy) JSON-serialisable."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and not isinstance(
        obj, Estimate
    ):
        if hasattr(obj, "to_dict"):
            return _jsonable(obj.to_dict())
        return _jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    return _jsonable(obj)
