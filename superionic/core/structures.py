"""Structure adapters: ASE ``Atoms`` and pymatgen ``Structure`` accepted everywhere."""

from __future__ import annotations

from typing import Any

from ase import Atoms


def to_atoms(obj: Any) -> Atoms:
    """Return an ASE ``Atoms`` from ``Atoms`` or a pymatgen ``Structure``/``Molecule``."""
    if isinstance(obj, Atoms):
        return obj
    try:
        from pymatgen.core import IStructure, Structure
        from pymatgen.io.ase import AseAtomsAdaptor
    except ImportError as exc:  # pragma: no cover
        raise TypeError(f"cannot convert {type(obj).__name__} to ase.Atoms") from exc
    if isinstance(obj, (Structure, IStructure)):
        if not obj.is_ordered:
            from superionic.core.errors import InputError

            raise InputError(
                "structure has partial occupancies; order it first "
                "(superionic.materials.ordering)",
                field="occupancy",
                expected="an ordered structure",
            )
        return AseAtomsAdaptor.get_atoms(obj)
    raise TypeError(f"expected ase.Atoms or pymatgen Structure, got {type(obj).__name__}")


def to_structure(obj: Any):
    """Return a pymatgen ``Structure`` from ``Atoms`` or ``Structure``."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    if isinstance(obj, Structure):
        return obj
    if isinstance(obj, Atoms):
        return AseAtomsAdaptor.get_structure(obj)
    raise TypeError(f"expected ase.Atoms or pymatgen Structure, got {type(obj).__name__}")
