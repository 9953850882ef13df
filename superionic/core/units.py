"""Physical constants and unit conversions.

Public boundaries use ASE's units (eV, Å, fs, K, e, amu); diffusion is reported in cm²/s and
conductivity in S/cm. Constants are CODATA 2018 (exact SI values where defined).
"""

from __future__ import annotations

#: Boltzmann constant in eV/K.
KB_EV_PER_K: float = 8.617333262e-5
#: Boltzmann constant in J/K.
KB_J_PER_K: float = 1.380649e-23
#: Elementary charge in C.
E_CHARGE_C: float = 1.602176634e-19
#: Faraday constant in C/mol.
FARADAY_C_PER_MOL: float = 96485.33212
#: Molar gas constant in J/(mol K).
R_J_PER_MOL_K: float = 8.314462618
#: Avogadro constant in 1/mol.
AVOGADRO_PER_MOL: float = 6.02214076e23
#: Reduced Planck constant in meV ps.
HBAR_MEV_PS: float = 0.6582119569
#: Coulomb constant e²/(4 pi eps0) in eV Å.
COULOMB_EV_A: float = 14.399645478425668

#: 1 Å²/fs expressed in cm²/s (1e-16 cm² / 1e-15 s).
A2_PER_FS_TO_CM2_PER_S: float = 0.1
#: 1 Å in cm.
ANGSTROM_TO_CM: float = 1e-8
#: 1 Å³ in cm³.
A3_TO_CM3: float = 1e-24
#: 1 eV/Å³ in GPa.
EV_PER_A3_TO_GPA: float = 160.21766208


def diffusion_A2_per_fs_to_cm2_per_s(d: float) -> float:
    """Convert a diffusion coefficient from Å²/fs to cm²/s."""
    return d * A2_PER_FS_TO_CM2_PER_S
