"""Argument checks shared by the interface models: SI values, physical signs, named errors."""

from __future__ import annotations

import numpy as np

from superionic.core.errors import InputError


def positive(name: str, value, *, unit: str = "") -> np.ndarray | float:
    """Return ``value`` as float (or array) after checking it is finite and > 0."""
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(
            f"must be finite and > 0, got {value!r}",
            field=name,
            expected=f"a positive value in {unit}" if unit else "a positive value",
        )
    return float(arr) if arr.ndim == 0 else arr


def nonnegative(name: str, value, *, unit: str = "") -> np.ndarray | float:
    """Return ``value`` after checking it is finite and >= 0."""
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(
            f"must be finite and >= 0, got {value!r}",
            field=name,
            expected=f"a non-negative value in {unit}" if unit else "a non-negative value",
        )
    return float(arr) if arr.ndim == 0 else arr


def fraction(name: str, value, *, closed_low: bool = False) -> np.ndarray | float:
    """Return ``value`` after checking 0 < value <= 1 (0 allowed when ``closed_low``)."""
    arr = np.asarray(value, dtype=float)
    low_ok = arr >= 0 if closed_low else arr > 0
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(low_ok & (arr <= 1)):
        raise InputError(
            f"must lie in {'[0' if closed_low else '(0'}, 1], got {value!r}",
            field=name,
            expected="a fraction",
        )
    return float(arr) if arr.ndim == 0 else arr


def poisson(name: str, value) -> float:
    """Poisson's ratio of an isotropic solid: -1 < nu < 0.5."""
    v = float(value)
    if not (-1.0 < v < 0.5):
        raise InputError(f"must lie in (-1, 0.5), got {value!r}", field=name,
                         expected="Poisson's ratio of a stable isotropic solid")
    return v


def reduced_modulus(E1: float, nu1: float, E2: float, nu2: float) -> float:
    """Contact modulus E* = [(1-nu1²)/E1 + (1-nu2²)/E2]^-1 (Johnson, Contact Mechanics)."""
    positive("E1", E1, unit="Pa")
    positive("E2", E2, unit="Pa")
    poisson("nu1", nu1)
    poisson("nu2", nu2)
    return 1.0 / ((1 - nu1**2) / E1 + (1 - nu2**2) / E2)
