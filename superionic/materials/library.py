"""Built-in library of reference Li-ion conductors with their measured transport data.

Structures of seven materials are the crystallographic descriptions of the OBELiX data set
(Therrien et al., arXiv 2502.14234, data licence CC BY 4.0), which carry the partial
occupancies of the original refinements and small symmetry-preserving noise on the positions
(relax before use). Li3YCl6 is an idealised model (see its entry). Conductivities are
room-temperature values as reported in the cited measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from superionic.core.errors import InputError

OBELIX = "OBELiX: Therrien et al., arXiv 2502.14234 (CC BY 4.0)"


@dataclass(frozen=True)
class ReferenceMaterial:
    """One library entry: structure source and experimental transport data with sources."""

    name: str
    formula: str
    family: str
    structure_source: str
    sigma_RT_S_per_cm: float | None
    sigma_source: str
    Ea_eV: float | None
    Ea_source: str
    cif: str | None = None
    mobile: str = "Li"
    conduction: str = "3D"
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    #: Highest temperature (K) at which this phase exists (a phase transition above it), and
    #: its source; simulations of the phase stay below it.
    max_temperature_K: float | None = None
    max_temperature_source: str = ""

    def structure(self, **options: float | str) -> Structure:
        """The (possibly partially occupied) structure; see :func:`load_structure`."""
        return load_structure(self.name, **options)


LIBRARY: dict[str, ReferenceMaterial] = {
    m.name: m
    for m in [
        ReferenceMaterial(
            "Li10GeP2S12", "Li10GeP2S12", "LGPS",
            f"{OBELIX}; refinement doi 10.1021/acs.chemmater.7b00886",
            0.0121, "OBELiX; doi 10.1039/c4ta05231e",
            0.25, "Kamaya et al., Nat. Mater. 10, 682 (2011)",
            cif="Li10GeP2S12.cif", conduction="1D along c (3D at high T)",
            aliases=("LGPS",),
        ),
        ReferenceMaterial(
            "Li6PS5Cl", "Li6PS5Cl", "argyrodite",
            f"{OBELIX}; doi 10.1021/jacs.7b06327 (Kraft et al., JACS 139, 10909 (2017))",
            0.00205, "Kraft et al., JACS 139, 10909 (2017), via OBELiX",
            None, "no single reference value: reported Ea vary with synthesis and fit range",
            cif="Li6PS5Cl.cif", notes="S/Cl site disorder on 4a/4c",
            aliases=("LPSCl",),
        ),
        ReferenceMaterial(
            "Li6PS5Br", "Li6PS5Br", "argyrodite",
            f"{OBELIX}; doi 10.1021/jacs.7b06327",
            0.00115, "Kraft et al., JACS 139, 10909 (2017), via OBELiX",
            None, "no single reference value: reported Ea vary with synthesis and fit range",
            cif="Li6PS5Br.cif", notes="S/Br site disorder on 4a/4c",
        ),
        ReferenceMaterial(
            "Li6PS5I", "Li6PS5I", "argyrodite",
            f"{OBELIX}; doi 10.1021/jacs.7b06327",
            1.3e-06, "Kraft et al., JACS 139, 10909 (2017), via OBELiX",
            None, "no single reference value: reported Ea vary with synthesis and fit range",
            cif="Li6PS5I.cif", notes="anion-ordered: I on 4a, S on 4c; orders of magnitude "
            "below the Cl and Br members",
        ),
        ReferenceMaterial(
            "beta-Li3PS4", "Li3PS4", "thio-LISICON",
            f"{OBELIX}; doi 10.1021/ja3110895",
            8.93e-07, "OBELiX; doi 10.1021/ja3110895",
            0.356, "Liu et al., JACS 135, 975 (2013) (nanoporous beta-Li3PS4)",
            cif="beta-Li3PS4.cif", aliases=("Li3PS4", "b-Li3PS4"),
            max_temperature_K=740.0,
            max_temperature_source="beta -> alpha transition at 746 K (stable from 573 K): "
            "Homma et al., Solid State Ionics 182, 53 (2011)",
        ),
        ReferenceMaterial(
            "Li7P3S11", "Li7P3S11", "glass-ceramic",
            "no structure shipped: give the CIF of Yamane et al., Solid State Ionics 178, "
            "1163 (2007) (P-1) as a file",
            0.017, "Seino et al., Energy Environ. Sci. 7, 627 (2014)",
            0.176, "Seino et al., Energy Environ. Sci. 7, 627 (2014)",
        ),
        ReferenceMaterial(
            "Li7La3Zr2O12", "Li7La3Zr2O12", "garnet",
            f"{OBELIX}; doi 10.1039/c1cp22108f; Li occupancies of cubic LLZO after Awaka et "
            "al., Chem. Lett. 40, 60 (2011): 24d 0.564, 96h 0.442",
            2.4e-4, "Murugan, Thangadurai, Weppner, Angew. Chem. Int. Ed. 46, 7778 (2007)",
            0.31, "Murugan, Thangadurai, Weppner, Angew. Chem. Int. Ed. 46, 7778 (2007)",
            cif="Li7La3Zr2O12.cif",
            notes="options: dopant='Ga' or 'Al' with x (per formula unit) on Li 24d, "
            "Li(7-3x)M(x)La3Zr2O12",
            aliases=("LLZO", "c-LLZO"),
        ),
        ReferenceMaterial(
            "Li3YCl6", "Li3YCl6", "halide",
            "idealised model: ideal hcp Cl sublattice in a 3x3 supercell of the hcp cell with "
            "the lattice parameters of Asano et al., Adv. Mater. 30, 1803075 (2018) "
            "(a = 11.20, c = 6.03 A); Y on 1a and 2d as in the trigonal P-3m1 structure; Li "
            "statistically on the 15 other octahedral sites (occupancy 0.6). Relax before use",
            5.1e-4, "Asano et al., Adv. Mater. 30, 1803075 (2018)",
            0.40, "Asano et al., Adv. Mater. 30, 1803075 (2018)",
        ),
        ReferenceMaterial(
            "Li3N", "Li3N", "nitride",
            f"{OBELIX}; doi 10.1039/c0ee00052c",
            5.767e-4, "OBELiX; doi 10.1039/c0ee00052c",
            0.29, "Alpen, Rabenau, Talat, Appl. Phys. Lett. 30, 621 (1977) (perpendicular to c)",
            cif="Li3N.cif", conduction="2D in the Li2N planes",
            notes="stoichiometric Li3N has no vacancies: create some in the supercell "
            "(--vacancies n) to see hopping on MD time scales",
        ),
    ]
}


def list_materials() -> list[ReferenceMaterial]:
    """All library entries."""
    return list(LIBRARY.values())


def get_material(name: str) -> ReferenceMaterial:
    """Entry by name or alias (case-insensitive); InputError listing the names otherwise."""
    key = name.strip().lower()
    for m in LIBRARY.values():
        if key == m.name.lower() or key in (a.lower() for a in m.aliases):
            return m
    raise InputError(
        f"unknown material '{name}'", field="material",
        expected=f"one of {sorted(LIBRARY)} or a structure file")


def _data_path(filename: str) -> Path:
    return Path(str(resources.files("superionic.materials") / "data" / filename))


def _li3ycl6() -> Structure:
    a, c = 11.20, 6.03
    lattice = Lattice.hexagonal(a, c)
    species, coords = [], []
    for i in range(3):
        for j in range(3):
            for fx, fy, fz in ((1 / 3, 2 / 3, 0.25), (2 / 3, 1 / 3, 0.75)):
                species.append("Cl")
                coords.append([(i + fx) / 3, (j + fy) / 3, fz])
    y_sites = {(0, 0, 0.0), (1, 2, 0.5), (2, 1, 0.5)}
    for i in range(3):
        for j in range(3):
            for fz in (0.0, 0.5):
                coords.append([i / 3, j / 3, fz])
                species.append("Y" if (i, j, fz) in y_sites else {"Li": 0.6})
    return Structure(lattice, species, coords)


def _llzo(dopant: str | None, x: float) -> Structure:
    s = Structure.from_file(_data_path("Li7La3Zr2O12.cif"))
    li_scale = (7 - 3 * x) / 7
    new_species = []
    for site in s:
        el = site.species.elements[0].symbol
        if el == "Li":
            mult_24d = np.isclose(site.frac_coords % 0.125, 0, atol=1e-3).sum() >= 2
            occ = (0.564 if mult_24d else 0.442) * li_scale
            sp = {"Li": occ}
            if mult_24d and dopant:
                sp[dopant] = x / 3
            new_species.append(sp)
        else:
            new_species.append(site.species)
    return Structure(s.lattice, new_species, s.frac_coords)


def load_structure(name: str, *, dopant: str | None = None, x: float = 0.0) -> Structure:
    """The library material's structure, possibly with partial occupancies.

    ``dopant``/``x`` apply to garnet LLZO (Ga or Al on the Li 24d site). Vacancies in a
    stoichiometric conductor such as Li3N are made in the supercell by
    :func:`superionic.materials.reading.prepare_cell` (``vacancies=n``).
    """
    m = get_material(name)
    if m.name == "Li3YCl6":
        s = _li3ycl6()
    elif m.name == "Li7La3Zr2O12":
        if dopant and dopant not in ("Ga", "Al"):
            raise InputError(f"unsupported LLZO dopant '{dopant}'", field="dopant",
                             expected="'Ga' or 'Al'")
        s = _llzo(dopant, x if dopant else 0.0)
    elif m.cif is None:
        raise InputError(f"{m.name}: {m.structure_source}", field="material")
    else:
        s = Structure.from_file(_data_path(m.cif))
    return s
