"""Structures in: a library name, a CIF/POSCAR, any ASE- or pymatgen-readable file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ase import Atoms
from pymatgen.core import Structure

from superionic.core.errors import InputError
from superionic.core.structures import to_atoms, to_structure
from superionic.materials.library import LIBRARY, get_material, load_structure
from superionic.materials.ordering import OrderingReport, order_structure


def read_structure(spec: str | Path | Structure | Atoms, **library_options: Any) -> Structure:
    """A pymatgen ``Structure`` (possibly partially occupied) from a name, a file or an object.

    Library names are tried first (see ``superionic materials list``); files are read with
    pymatgen (CIF keeps partial occupancies), falling back to ASE for other formats.
    """
    if isinstance(spec, Structure):
        return spec
    if isinstance(spec, Atoms):
        return to_structure(spec)
    text = str(spec)
    path = Path(text)
    if not path.exists():
        if any(text.lower() == n.lower() for n in LIBRARY) or _is_alias(text):
            return load_structure(text, **library_options)
        get_material(text)  # raises InputError listing the names
    if path.stat().st_size == 0:
        raise InputError("file is empty", source=text, expected="a crystal structure")
    if path.suffix.lower() == ".cif":
        return _read_cif(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_file(text)
    except Exception as pmg_exc:  # noqa: BLE001 - fall back to ASE, then report both
        try:
            import ase.io

            return to_structure(ase.io.read(text))
        except Exception as ase_exc:  # noqa: BLE001
            raise InputError(
                f"could not read a structure (pymatgen: {pmg_exc}; ASE: {ase_exc})",
                source=text,
                expected="CIF, POSCAR or another ASE/pymatgen structure format",
            ) from ase_exc


def _read_cif(path: Path) -> Structure:
    """CIF with partial occupancies kept; occupancies summing above 1 (beyond 1 % rounding)
    are refused rather than silently rescaled or dropped."""
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = CifParser(str(path), occupancy_tolerance=1.01)
        try:
            return parser.parse_structures(primitive=False, check_occu=True)[0]
        except Exception as exc:  # noqa: BLE001
            problems = "; ".join(w.replace("\n", " ") for w in parser.warnings) or str(exc)
            raise InputError(
                f"could not build a structure: {problems}",
                source=str(path),
                field="_atom_site_occupancy" if "ccupanc" in problems else None,
                expected="a CIF whose site occupancies sum to at most 1",
            ) from exc


def _is_alias(text: str) -> bool:
    try:
        get_material(text)
        return True
    except InputError:
        return False


def prepare_cell(
    spec: str | Path | Structure | Atoms,
    *,
    min_distance_A: float = 10.0,
    seed: int = 0,
    n_samples: int = 12,
    oxidation_states: dict[str, int] | None = None,
    vacancies: int = 0,
    mobile: str = "Li",
    **library_options: Any,
) -> tuple[Atoms, OrderingReport]:
    """An ordered MD-ready supercell (ASE ``Atoms``) and the report of how it was made.

    ``vacancies`` removes that many ``mobile`` ions from the ordered supercell (the one whose
    removal costs the least point-charge Ewald energy first; carriers for an otherwise
    stoichiometric conductor). The cell then carries a charge of ``-vacancies`` e, which a
    periodic calculation compensates by a uniform background.
    """
    structure = read_structure(spec, **library_options)
    ordered, report = order_structure(
        structure,
        min_distance_A=min_distance_A,
        seed=seed,
        n_samples=n_samples,
        oxidation_states=oxidation_states,
        source=str(spec) if not isinstance(spec, (Structure, Atoms)) else None,
    )
    if vacancies:
        ordered, report = _make_vacancies(ordered, report, vacancies, mobile)
    return to_atoms(ordered), report


def _make_vacancies(structure: Structure, report: OrderingReport, n: int,
                    mobile: str) -> tuple[Structure, OrderingReport]:
    import dataclasses

    import numpy as np
    from pymatgen.analysis.ewald import EwaldSummation

    idx = [i for i, site in enumerate(structure) if site.specie.symbol == mobile]
    if n < 0 or n >= len(idx):
        raise InputError(f"cannot remove {n} of the {len(idx)} {mobile} in the supercell",
                         field="vacancies", expected=f"0 <= vacancies < {len(idx)}")
    s = structure.copy()
    s.add_oxidation_state_by_element(report.oxidation_states)
    site_energy = np.sum(EwaldSummation(s).total_energy_matrix, axis=1)
    # removing ion i changes the energy by -(2 sum_j M_ij - M_ii) ~ -2 * site energy
    order = sorted(idx, key=lambda i: -site_energy[i])
    removed = sorted(order[:n])
    out = structure.copy()
    out.remove_sites(removed)
    comp = {el: int(v) for el, v in out.composition.get_el_amt_dict().items()}
    charge = float(sum(report.oxidation_states[el] * k for el, k in comp.items()))
    return out, dataclasses.replace(
        report, ordered_composition=comp, total_charge=charge,
        adjustments=[*report.adjustments,
                     f"{n} {mobile} vacancies made (sites {removed}); cell charge {charge:+g} e"])
