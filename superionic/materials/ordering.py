"""Ordering of partial occupancies into a supercell, ranked by electrostatic (Ewald) energy.

Real CIFs of superionic conductors carry fractional occupancies (Li sites in LGPS and the
argyrodites, S/Cl anion site disorder, Ge/P mixing). An MD cell needs one ordered
configuration. We choose integer counts per crystallographic site that conserve composition
and charge (largest-remainder rounding, with the mobile cation adjusted to restore neutrality),
then sample orderings and relax each by charge-conserving swaps on the point-charge Ewald
energy (the criterion of pymatgen's ``OrderDisorderedStructureTransformation``, without its
exhaustive enumeration). The lowest-energy ordering is returned with a report of the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Element, Species, Structure

from superionic.core.errors import InputError
from superionic.materials.oxidation import guess_oxidation_states
from superionic.materials.supercell import diagonal_supercell_for

_MOBILE_PREFERENCE = ("Li", "Na", "K", "Ag", "Cu", "Mg", "Zn")
_HARD_CORE_EV = 50.0


@dataclass(frozen=True)
class OrderingReport:
    """How an ordered cell was obtained from a partially occupied structure."""

    supercell: tuple[int, int, int]
    oxidation_states: dict[str, int]
    nominal_composition: dict[str, float]
    ordered_composition: dict[str, int]
    total_charge: float
    adjustments: list[str]
    n_disordered_sites: int
    ewald_energies_eV: list[float] = field(default_factory=list)
    chosen_index: int = 0
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "supercell": list(self.supercell),
            "oxidation_states": self.oxidation_states,
            "nominal_composition": self.nominal_composition,
            "ordered_composition": self.ordered_composition,
            "total_charge": self.total_charge,
            "adjustments": self.adjustments,
            "n_disordered_sites": self.n_disordered_sites,
            "ewald_energies_eV": self.ewald_energies_eV,
            "chosen_index": self.chosen_index,
            "method": self.method,
        }


def _element_occupancies(site, source: str | None, index: int) -> dict[str, float]:
    occ: dict[str, float] = {}
    for sp, amt in site.species.items():
        sym = sp.symbol if hasattr(sp, "symbol") else str(sp)
        if not Element.is_valid_symbol(sym):
            raise InputError(
                f"site {index} holds '{sym}', which is not a chemical element",
                source=source,
                field="_atom_site_type_symbol",
                expected="element symbols",
            )
        occ[sym] = occ.get(sym, 0.0) + float(amt)
    total = sum(occ.values())
    if total > 1.0 + 1e-3:
        raise InputError(
            f"site {index} at {np.round(site.frac_coords, 4).tolist()} has total occupancy "
            f"{total:.3f} > 1 ({occ})",
            source=source,
            field="_atom_site_occupancy",
            expected="occupancies summing to at most 1 per site",
        )
    return occ


def _largest_remainder(targets: np.ndarray, total: int, capacity: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` close to real ``targets``, within ``capacity``."""
    counts = np.minimum(np.floor(targets + 1e-9).astype(int), capacity)
    remainder = targets - counts
    missing = total - int(counts.sum())
    order = np.argsort(-remainder, kind="stable")
    step = 1 if missing > 0 else -1
    guard = 0
    while missing != 0 and guard < 10 * len(targets) + 10:
        for g in order if step > 0 else order[::-1]:
            if missing == 0:
                break
            if step > 0 and counts[g] < capacity[g]:
                counts[g] += 1
                missing -= 1
            elif step < 0 and counts[g] > 0:
                counts[g] -= 1
                missing += 1
        guard += 1
    if missing != 0:
        raise ValueError("cannot place the requested number of atoms on these sites")
    return counts


def order_structure(
    structure: Structure,
    *,
    min_distance_A: float = 10.0,
    supercell: tuple[int, int, int] | None = None,
    oxidation_states: dict[str, int] | None = None,
    n_samples: int = 12,
    seed: int = 0,
    max_charge_fix: float = 0.02,
    min_pair_distance_A: float = 1.5,
    source: str | None = None,
) -> tuple[Structure, OrderingReport]:
    """Order a partially occupied structure in a supercell of at least ``min_distance_A``.

    Composition is conserved to integer rounding and the cell is made charge neutral by
    adjusting the mobile cation by at most ``max_charge_fix`` of its count; anything larger
    is refused with an :class:`InputError` naming the charge imbalance. Two partially
    occupied sites closer than ``min_pair_distance_A`` are not both occupied (split sites,
    such as the Li 96h pairs of garnets), enforced as a hard-core penalty.
    """
    s = structure.copy()
    if s.site_properties:
        for key in list(s.site_properties):
            s.remove_site_property(key)
    occupancies = [_element_occupancies(site, source, i) for i, site in enumerate(s)]
    nominal_unit = {}
    for occ in occupancies:
        for el, x in occ.items():
            nominal_unit[el] = nominal_unit.get(el, 0.0) + x
    ox = dict(oxidation_states) if oxidation_states else guess_oxidation_states(
        s.composition, source=source
    )
    missing = sorted(set(nominal_unit) - set(ox))
    if missing:
        raise InputError(
            f"no oxidation state for {missing}", source=source, field="oxidation_states"
        )
    reps = tuple(supercell) if supercell else diagonal_supercell_for(s.lattice.matrix,
                                                                     min_distance_A)
    # sites with the same occupancy set form one sublattice (a crystallographic orbit, or
    # orbits that are indistinguishable for ordering); counts are conserved per sublattice
    keys: dict[tuple, int] = {}
    sublattice = [keys.setdefault(tuple(sorted((el, round(x, 4)) for el, x in occ.items())),
                                  len(keys)) for occ in occupancies]
    occupancies = [occupancies[sublattice.index(k)] for k in range(len(keys))]
    s.add_site_property("parent", sublattice)
    s.make_supercell(list(reps))
    n_cells = int(np.prod(reps))
    parents = np.array(s.site_properties["parent"])
    nominal = {el: x * n_cells for el, x in nominal_unit.items()}

    ordered_parents = [i for i, occ in enumerate(occupancies)
                       if len(occ) == 1 and abs(next(iter(occ.values())) - 1) < 1e-6]
    disordered_parents = [i for i in range(len(occupancies)) if i not in set(ordered_parents)]
    fixed_charge = sum(ox[next(iter(occupancies[i]))] * int(np.sum(parents == i))
                       for i in ordered_parents)

    # integer counts per element over the disordered sites
    elements = sorted({el for i in disordered_parents for el in occupancies[i]})
    totals = {el: sum(occupancies[i].get(el, 0.0) * np.sum(parents == i)
                      for i in disordered_parents) for el in elements}
    counts = {el: int(round(t)) for el, t in totals.items()}
    charge = fixed_charge + sum(counts[el] * ox[el] for el in elements)
    adjustments: list[str] = []
    if charge != 0:
        fixable = [el for el in _MOBILE_PREFERENCE if el in counts and ox[el] != 0
                   and charge % ox[el] == 0]
        fixable += [el for el in elements if el not in fixable and ox[el] != 0
                    and charge % ox[el] == 0]
        if not fixable:
            raise InputError(
                f"ordered cell would carry charge {charge:+d} e and no species can restore "
                "neutrality", source=source, field="_atom_site_occupancy",
                expected="a charge-balanced composition")
        el = fixable[0]
        delta = -charge // ox[el]
        if abs(delta) > max(1, max_charge_fix * max(totals[el], 1.0)):
            raise InputError(
                f"composition {nominal} with "
                f"oxidation states {ox} carries charge {charge:+d} e per supercell; restoring "
                f"neutrality needs {delta:+d} {el} ({abs(delta) / max(totals[el], 1):.1%} of "
                f"{el}), more than the {max_charge_fix:.0%} this ordering may change",
                source=source, field="_atom_site_occupancy",
                expected="occupancies of a charge-neutral compound")
        counts[el] += delta
        adjustments.append(f"{delta:+d} {el} to restore charge neutrality")
    # distribute element counts over parent sites (largest remainder within capacity)
    site_counts: dict[int, dict[str, int]] = {i: {} for i in disordered_parents}
    capacity = np.array([np.sum(parents == i) for i in disordered_parents])
    for el in elements:
        targets = np.array([occupancies[i].get(el, 0.0) * np.sum(parents == i)
                            for i in disordered_parents])
        cap = capacity - np.array([sum(site_counts[i].values()) for i in disordered_parents])
        cap = np.where(targets > 0, cap, 0)
        try:
            c = _largest_remainder(targets, counts[el], cap)
        except ValueError as exc:
            raise InputError(f"cannot place {counts[el]} {el} on its partially occupied "
                             "sites", source=source, field="_atom_site_occupancy") from exc
        for i, n in zip(disordered_parents, c, strict=True):
            if n:
                site_counts[i][el] = int(n)

    # candidate slots and their charge choices
    slot_idx = np.flatnonzero(np.isin(parents, disordered_parents))
    fixed_idx = np.flatnonzero(~np.isin(parents, disordered_parents))
    q_fixed = np.array([ox[next(iter(occupancies[parents[k]]))] for k in fixed_idx], float)
    rng = np.random.default_rng(seed)
    group_of_slot = parents[slot_idx]
    energies: list[float] = []
    best: tuple[float, np.ndarray] | None = None
    if len(slot_idx):
        m_ss, m_sf = _unit_charge_ewald(s, slot_idx, fixed_idx)
        phi_fixed = m_sf @ q_fixed
        d = s.distance_matrix[np.ix_(slot_idx, slot_idx)]
        penalty = np.where((d < min_pair_distance_A) & (d > 0), _HARD_CORE_EV, 0.0)
        for _ in range(max(1, n_samples)):
            labels = _random_labels(group_of_slot, site_counts, rng)
            q = np.array([0.0 if lab is None else ox[lab] for lab in labels])
            q, labels, e = _swap_descent(q, labels, group_of_slot, m_ss, phi_fixed, penalty,
                                         rng)
            energies.append(e)
            if best is None or e < best[0]:
                best = (e, np.array(labels, dtype=object))
    const = 0.5 * q_fixed @ (_fixed_matrix(s, fixed_idx) @ q_fixed) if len(fixed_idx) else 0.0
    energies = [float(e + const) for e in energies]
    chosen = int(np.argmin(energies)) if energies else 0

    species, coords = [], []
    label_of = dict(zip(slot_idx.tolist(), best[1].tolist(), strict=True)) if best else {}
    for k, site in enumerate(s):
        if k in label_of:
            lab = label_of[k]
            if lab is None:
                continue
            species.append(lab)
        else:
            species.append(next(iter(occupancies[parents[k]])))
        coords.append(site.frac_coords)
    ordered = Structure(s.lattice, species, coords)
    comp = {el: int(v) for el, v in ordered.composition.get_el_amt_dict().items()}
    total_charge = float(sum(ox[el] * n for el, n in comp.items()))
    report = OrderingReport(
        supercell=reps,  # type: ignore[arg-type]
        oxidation_states=ox,
        nominal_composition={k: round(v, 4) for k, v in nominal.items()},
        ordered_composition=comp,
        total_charge=total_charge,
        adjustments=adjustments,
        n_disordered_sites=int(len(slot_idx)),
        ewald_energies_eV=energies,
        chosen_index=chosen,
        method=(f"{n_samples} random orderings relaxed by charge-conserving swaps on the "
                "point-charge Ewald energy; lowest kept") if len(slot_idx) else "already ordered",
    )
    return ordered, report


def _ewald_matrix(structure: Structure, idx: np.ndarray) -> np.ndarray:
    """Unit-charge Ewald interaction matrix (eV/e²) between the given sites."""
    from pymatgen.analysis.ewald import EwaldSummation

    sub = Structure(structure.lattice, [Species("Li", 1)] * len(idx),
                    structure.frac_coords[idx])
    return np.asarray(EwaldSummation(sub).total_energy_matrix)


def _unit_charge_ewald(s: Structure, slot_idx: np.ndarray,
                       fixed_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.concatenate([slot_idx, fixed_idx])
    m = _ewald_matrix(s, both)
    # total_energy_matrix holds E = sum_ij M_ij q_i q_j (pairs counted twice at 1/2 each)
    m = m + m.T - np.diag(np.diag(m))
    n = len(slot_idx)
    return m[:n, :n], m[:n, n:]


def _fixed_matrix(s: Structure, fixed_idx: np.ndarray) -> np.ndarray:
    m = _ewald_matrix(s, fixed_idx)
    return m + m.T - np.diag(np.diag(m))


def _random_labels(groups: np.ndarray, site_counts: dict[int, dict[str, int]],
                   rng: np.random.Generator) -> list[str | None]:
    labels: list[str | None] = [None] * len(groups)
    for g, per_el in site_counts.items():
        members = np.flatnonzero(groups == g)
        pool: list[str | None] = [el for el, n in per_el.items() for _ in range(n)]
        pool += [None] * (len(members) - len(pool))
        rng.shuffle(pool)
        for k, lab in zip(members, pool, strict=True):
            labels[k] = lab
    return labels


def _swap_descent(q: np.ndarray, labels: list[str | None], groups: np.ndarray, m: np.ndarray,
                  phi_fixed: np.ndarray, penalty: np.ndarray, rng: np.random.Generator,
                  max_sweeps: int = 30) -> tuple[np.ndarray, list[str | None], float]:
    """Greedy pair swaps within each site group until no swap lowers the energy
    (Ewald energy plus the hard-core penalty on occupied close pairs)."""
    phi = m @ q + phi_fixed
    occ = (q != 0).astype(float)
    psi = penalty @ occ
    n = len(q)
    for _ in range(max_sweeps):
        improved = 0
        for a in rng.permutation(n):
            same = np.flatnonzero((groups == groups[a]) & (q != q[a]))
            if not len(same):
                continue
            dq = q[same] - q[a]  # change at a is +dq, at b is -dq
            de = dq * (phi[a] - phi[same]) + 0.5 * dq**2 * (m[a, a] + m[same, same]
                                                            - 2 * m[a, same])
            do = occ[same] - occ[a]
            de += do * (psi[a] - psi[same]) - do**2 * penalty[a, same]
            j = int(np.argmin(de))
            if de[j] < -1e-10:
                b = same[j]
                q[a], q[b] = q[b], q[a]
                occ[a], occ[b] = occ[b], occ[a]
                labels[a], labels[b] = labels[b], labels[a]
                phi += dq[j] * (m[:, a] - m[:, b])
                psi += do[j] * (penalty[:, a] - penalty[:, b])
                improved += 1
        if not improved:
            break
    energy = 0.5 * q @ (m @ q) + q @ phi_fixed
    return q, labels, float(energy)


def charge_of(structure: Structure, oxidation_states: dict[str, int]) -> float:
    """Total formal charge of an ordered structure."""
    return float(sum(oxidation_states[el] * n
                     for el, n in structure.composition.get_el_amt_dict().items()))


