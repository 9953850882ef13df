"""Contact area and constriction resistance of a solid | solid interface.

Holm: R = rho / (2a) for one circular spot on a half-space (Holm, Electric Contacts, 1967).
Greenwood: R = rho/(2 Σa_i) + (rho/π) Σ_{i≠j} a_i a_j / (d_ij (Σa_i)²)
(Greenwood, Br. J. Appl. Phys. 17, 1621 (1966), eq. 14; for n equal spots
R = rho/(2na) + (rho/(π n²)) Σ_{i≠j} 1/d_ij).
Mean field: area-specific resistance of a square array of spots with contact fraction phi,
R A = rho π a (1 - sqrt(phi))^1.5 / (2 phi) (Cooper, Mikic, Yovanovich, Int. J. Heat Mass
Transfer 12, 279 (1969): constriction alleviation factor (1 - a/b)^1.5).
All quantities in SI: rho in Ω m, lengths in m, currents in A, areas in m².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist

from superionic.core.errors import InputError
from superionic.interface._checks import fraction, nonnegative, positive


@dataclass(frozen=True)
class ContactAreas:
    """Apparent, geometric (touching) and electrochemically active areas, in m²."""

    A_apparent: float
    A_geometric: float
    A_active: float

    @property
    def phi_geometric(self) -> float:
        return self.A_geometric / self.A_apparent

    @property
    def phi_active(self) -> float:
        return self.A_active / self.A_apparent


def contact_areas(A_apparent: float, phi_contact: float, f_active: float = 1.0) -> ContactAreas:
    """Areas of an imperfect interface: A_geo = phi A_app, A_active = f_active A_geo."""
    A = positive("A_apparent", A_apparent, unit="m²")
    phi = fraction("phi_contact", phi_contact)
    f = fraction("f_active", f_active)
    return ContactAreas(A, phi * A, f * phi * A)


def local_current_density(I: float, areas: ContactAreas) -> float:
    """Local current density j_loc = I / A_active in A/m²."""
    nonnegative("I", I, unit="A")
    return float(I) / areas.A_active


def holm_resistance(rho: float, a):
    """Constriction resistance of one circular spot on a half-space, R = rho/(2a) (Holm)."""
    positive("rho", rho, unit="Ω m")
    a = positive("a", a, unit="m")
    return rho / (2.0 * np.asarray(a)) if np.ndim(a) else rho / (2.0 * a)


def greenwood_resistance(rho: float, a, positions) -> float:
    """Constriction resistance of n spots of radii a_i at positions (n, 2) m (Greenwood 1966).

    R = rho/(2 Σa_i) + (rho/π) Σ_{i≠j} a_i a_j / (d_ij (Σa)²); one spot gives Holm, widely
    separated spots tend to the parallel combination of Holm resistances.
    """
    positive("rho", rho, unit="Ω m")
    a = np.atleast_1d(positive("a", a, unit="m")).astype(float)
    pos = np.asarray(positions, dtype=float).reshape(len(a), -1)
    if pos.shape[1] != 2:
        raise InputError("positions must have shape (n, 2)", field="positions",
                         expected="one (x, y) pair in m per spot")
    S = a.sum()
    R = rho / (2.0 * S)
    if len(a) > 1:
        d = pdist(pos)
        if np.any(d <= 0):
            raise InputError("two spots share a position", field="positions")
        ai, aj = np.triu_indices(len(a), 1)
        R += (rho / np.pi) * 2.0 * np.sum(a[ai] * a[aj] / d) / S**2
    return float(R)


def interface_resistance_area(rho: float, a: float, phi):
    """Area-specific constriction resistance (Ω m²) against contact fraction phi.

    R A = rho π a (1 - sqrt(phi))^1.5 / (2 phi): n = phi/(π a²) spots per m² in parallel, each
    a Holm spot corrected for its neighbours (Cooper-Mikic-Yovanovich 1969); 0 at phi = 1.
    """
    positive("rho", rho, unit="Ω m")
    positive("a", a, unit="m")
    phi = np.asarray(fraction("phi", phi), dtype=float)
    out = rho * np.pi * a * (1.0 - np.sqrt(phi)) ** 1.5 / (2.0 * phi)
    return float(out) if out.ndim == 0 else out


def contact_summary(rho: float, a: float, phi: float, A_apparent: float, I: float,
                    f_active: float = 1.0) -> dict:
    """Areas, local current density and interface resistance of one interface (SI units)."""
    areas = contact_areas(A_apparent, phi, f_active)
    n_spots = phi * A_apparent / (np.pi * a**2)
    R_area = interface_resistance_area(rho, a, phi)
    return {
        "A_apparent_m2": areas.A_apparent,
        "A_geometric_m2": areas.A_geometric,
        "A_active_m2": areas.A_active,
        "j_apparent_A_per_m2": I / A_apparent,
        "j_local_A_per_m2": local_current_density(I, areas),
        "n_spots": n_spots,
        "R_spot_holm_ohm": holm_resistance(rho, a),
        "R_interface_ohm_m2": R_area,
        "R_interface_ohm": R_area / A_apparent,
    }
