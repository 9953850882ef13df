import warnings

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure

from superionic.core.errors import InputError
from superionic.materials.library import LIBRARY, list_materials, load_structure
from superionic.materials.ordering import charge_of, order_structure
from superionic.materials.reading import prepare_cell, read_structure
from superionic.materials.supercell import (
    diagonal_supercell_for,
    min_image_distance,
    perpendicular_widths,
)

warnings.simplefilter("ignore")


@pytest.mark.parametrize("name", ["Li10GeP2S12", "Li6PS5Cl", "Li6PS5Br", "beta-Li3PS4",
                                  "Li7La3Zr2O12", "Li3YCl6"])
def test_ordering_conserves_composition_and_charge(name):
    s = load_structure(name)
    ordered, rep = order_structure(s, min_distance_A=8.0, n_samples=3)
    assert ordered.is_ordered
    # composition: every element within rounding of the nominal supercell content
    for el, nominal in rep.nominal_composition.items():
        assert abs(rep.ordered_composition.get(el, 0) - nominal) <= 1.0 + 1e-9, el
    assert charge_of(ordered, rep.oxidation_states) == 0.0
    assert rep.total_charge == 0.0
    # no two atoms on top of each other after ordering
    d = ordered.distance_matrix + 10 * np.eye(len(ordered))
    assert d.min() > 1.2


def test_ewald_ranking_matches_pymatgen_energy_differences():
    """The quadratic-form energies used for ranking differ by the same amounts as pymatgen's
    independent Ewald energies of the final ordered cells."""
    s = load_structure("Li10GeP2S12")
    energies = []
    for seed in (1, 2):
        ordered, rep = order_structure(s, supercell=(1, 1, 1), n_samples=1, seed=seed)
        ordered.add_oxidation_state_by_element(rep.oxidation_states)
        energies.append((rep.ewald_energies_eV[0], EwaldSummation(ordered).total_energy))
    (a1, b1), (a2, b2) = energies
    assert abs((a1 - a2) - (b1 - b2)) < 1e-3 * max(1.0, abs(b1 - b2))


def test_chosen_ordering_is_lowest_of_samples_and_below_random():
    s = load_structure("Li10GeP2S12")
    _, rep = order_structure(s, supercell=(1, 1, 1), n_samples=6, seed=0)
    assert rep.ewald_energies_eV[rep.chosen_index] == min(rep.ewald_energies_eV)


def test_refuses_occupancy_above_one_naming_site(tmp_path):
    cif = tmp_path / "bad.cif"
    cif.write_text("""data_bad
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Li1 Li 0 0 0 0.7
Na1 Na 0 0 0 0.5
Cl1 Cl 0.5 0.5 0.5 1.0
""")
    with pytest.raises(InputError, match=str(cif.name)):
        prepare_cell(cif)


def test_refuses_unrepairable_charge():
    # Li0.5 Cl: half the cations missing cannot be fixed by a 2 % change
    s = Structure(Lattice.cubic(5.0), [{"Li": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="charge"):
        order_structure(s, supercell=(2, 2, 2))


def test_supercell_min_image_distance():
    cell = load_structure("Li3N").lattice.matrix
    reps = diagonal_supercell_for(cell, 10.0)
    assert min_image_distance(cell * np.array(reps)[:, None]) >= 10.0 - 1e-9
    widths = perpendicular_widths(cell * np.array(reps)[:, None])
    assert widths.min() >= 10.0 - 1e-9
    for axis in range(3):  # one repetition fewer along any axis is too small
        smaller = np.array(reps) - np.eye(3, dtype=int)[axis]
        assert perpendicular_widths(cell * smaller[:, None])[axis] < 10.0


def test_library_entries_have_sources_and_known_values():
    names = {m.name for m in list_materials()}
    for required in ["Li10GeP2S12", "Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "beta-Li3PS4",
                     "Li7P3S11", "Li7La3Zr2O12", "Li3YCl6", "Li3N"]:
        assert required in names
    assert LIBRARY["Li10GeP2S12"].sigma_RT_S_per_cm == pytest.approx(0.0121)
    # the qualitative finding the library must carry: Cl, Br >> I
    assert LIBRARY["Li6PS5Cl"].sigma_RT_S_per_cm > 100 * LIBRARY["Li6PS5I"].sigma_RT_S_per_cm
    for m in list_materials():
        assert m.sigma_source and m.structure_source


def test_llzo_doping_composition():
    s = load_structure("LLZO", dopant="Ga", x=0.25)
    ordered, rep = order_structure(s, supercell=(1, 1, 1), n_samples=2)
    comp = rep.ordered_composition
    assert comp["Ga"] == 2 and comp["Li"] == 50 and comp["La"] == 24  # Z = 8


def test_read_structure_by_alias_and_file(tmp_path):
    s = read_structure("LGPS")
    assert s.composition.reduced_formula == "Li10Ge(PS6)2" or "Ge" in s.composition
    atoms, rep = prepare_cell("Li3N", min_distance_A=7.0)
    assert atoms.get_chemical_symbols().count("Li") == 3 * atoms.get_chemical_symbols().count("N")
    p = tmp_path / "POSCAR"
    atoms.write(p, format="vasp")
    assert len(read_structure(p)) == len(atoms)
    with pytest.raises(InputError, match="unknown material"):
        read_structure("NotAMaterial")
    empty = tmp_path / "x.cif"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_structure(empty)


def test_vacancies_are_made_in_the_supercell_and_counted_in_the_charge():
    atoms, rep = prepare_cell("Li3N", min_distance_A=7.0, vacancies=2)
    symbols = atoms.get_chemical_symbols()
    assert symbols.count("Li") == 3 * symbols.count("N") - 2
    assert rep.oxidation_states == {"Li": 1, "N": -3}
    assert rep.total_charge == -2.0
    with pytest.raises(InputError, match="vacancies"):
        prepare_cell("Li3N", min_distance_A=7.0, vacancies=10_000)
