"""Oxidation states for structures that carry none (most CIFs of superionic conductors)."""

from __future__ import annotations

from pymatgen.core import Composition

from superionic.core.errors import InputError

#: Common oxidation states of the elements found in solid electrolytes and their hosts.
COMMON_OXIDATION_STATES: dict[str, int] = {
    "H": 1, "Li": 1, "Na": 1, "K": 1, "Rb": 1, "Cs": 1, "Ag": 1, "Cu": 1,
    "Be": 2, "Mg": 2, "Ca": 2, "Sr": 2, "Ba": 2, "Zn": 2,
    "B": 3, "Al": 3, "Ga": 3, "In": 3, "Sc": 3, "Y": 3, "La": 3, "Bi": 3, "Er": 3, "Yb": 3,
    "Si": 4, "Ge": 4, "Sn": 4, "Ti": 4, "Zr": 4, "Hf": 4,
    "P": 5, "As": 5, "Sb": 5, "Nb": 5, "Ta": 5, "V": 5, "W": 6, "Mo": 6,
    "N": -3, "O": -2, "S": -2, "Se": -2, "Te": -2, "F": -1, "Cl": -1, "Br": -1, "I": -1,
}


def guess_oxidation_states(
    composition: Composition | str, source: str | None = None
) -> dict[str, int]:
    """Oxidation state per element: pymatgen's charge-balance guess on the integer-scaled
    composition, falling back to :data:`COMMON_OXIDATION_STATES`.

    Raises :class:`InputError` naming the element when neither gives an answer.
    """
    comp = Composition(composition)
    scaled = None
    for factor in (1, 2, 4, 5, 8, 10, 20, 25, 50, 100, 200, 1000):
        amounts = {el: amt * factor for el, amt in comp.get_el_amt_dict().items()}
        if all(abs(a - round(a)) < 1e-6 for a in amounts.values()):
            scaled = Composition({el: round(a) for el, a in amounts.items()})
            break
    if scaled is not None and scaled.num_atoms <= 400:
        try:
            guesses = scaled.oxi_state_guesses(max_sites=-50)
        except ValueError:
            guesses = ()
        if guesses:
            return {el: int(round(v)) for el, v in guesses[0].items()}
    out: dict[str, int] = {}
    for el in comp.get_el_amt_dict():
        if el not in COMMON_OXIDATION_STATES:
            raise InputError(
                f"no oxidation state known for element {el}; give oxidation states explicitly",
                source=source,
                field="oxidation_states",
                expected=f"one of {sorted(COMMON_OXIDATION_STATES)}",
            )
        out[el] = COMMON_OXIDATION_STATES[el]
    return out
