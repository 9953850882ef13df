"""Chemical stability: reaction Gibbs energies dG(T) = dH(T) - T dS(T) from tabulated data.

Per species (thermo_data.json, every number sourced): dHf°, S°, and either a constant Cp
(Kirchhoff: H(T) = H298 + Cp (T - 298.15), S(T) = S298 + Cp ln(T/298.15)) or NIST Shomate
coefficients (Chase, NIST-JANAF Tables, 4th ed. (1998)). If any species in a reaction lacks a
heat capacity, dCp = 0 is used for the whole reaction (reported as ``cp_used: False``).
Reactions are strings such as "Li2S + 2 H2O -> 2 LiOH + H2S", parsed without eval and
checked for element balance. A bare formula takes the first phase found among (cr), (g), (l).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from superionic.core.errors import InputError
from superionic.core.units import R_J_PER_MOL_K

T_REF = 298.15
_PHASES = ("cr", "g", "l")


@lru_cache(maxsize=1)
def species_table() -> dict:
    """The shipped table: name -> {dHf (kJ/mol), S (J/mol/K), Cp, shomate?, source}."""
    text = resources.files("superionic.interface").joinpath("thermo_data.json").read_text()
    return json.loads(text)["species"]


def parse_formula(formula: str) -> Counter:
    """Element counts of a formula such as 'Li2SO4', 'Ca(OH)2' (phase suffix ignored)."""
    f = re.sub(r"\((cr|s|g|l|aq)\)$", "", formula.strip())
    if not re.fullmatch(r"[A-Za-z0-9()]+", f):
        raise InputError(f"cannot parse formula {formula!r}", field="reaction")
    stack: list[Counter] = [Counter()]
    for tok in re.findall(r"[A-Z][a-z]?\d*|\(|\)\d*", f):
        if tok == "(":
            stack.append(Counter())
        elif tok.startswith(")"):
            n = int(tok[1:] or 1)
            inner = stack.pop()
            for el, c in inner.items():
                stack[-1][el] += c * n
        else:
            m = re.fullmatch(r"([A-Z][a-z]?)(\d*)", tok)
            stack[-1][m.group(1)] += int(m.group(2) or 1)
    if len(stack) != 1 or "".join(re.findall(r"[A-Z][a-z]?\d*|\(|\)\d*", f)) != f:
        raise InputError(f"cannot parse formula {formula!r}", field="reaction")
    return stack[0]


def resolve_species(name: str) -> str:
    """Table key for ``name`` ('H2O' -> 'H2O(g)', 'Li2S' -> 'Li2S(cr)', 'H2O(l)' as is)."""
    table = species_table()
    n = name.strip().replace("(s)", "(cr)")
    if n in table:
        return n
    for ph in _PHASES:
        if f"{n}({ph})" in table:
            return f"{n}({ph})"
    raise InputError(f"no thermochemical data for {name!r}", field="reaction",
                     expected="one of " + ", ".join(sorted(table)))


def parse_reaction(text: str) -> dict[str, float]:
    """Stoichiometry {species key: nu} (products positive) of 'a A + b B -> c C + d D'."""
    parts = re.split(r"->|=>|→|=", text)
    if len(parts) != 2:
        raise InputError(f"reaction {text!r} needs exactly one '->'", field="reaction")
    nu: dict[str, float] = {}
    for side, sign in ((parts[0], -1.0), (parts[1], 1.0)):
        for term in side.split(" + "):
            term = term.strip()
            m = re.fullmatch(r"(\d+(?:\.\d+)?)?\s*(\S+)", term)
            if not term or m is None:
                raise InputError(f"cannot parse term {term!r} of {text!r}", field="reaction")
            key = resolve_species(m.group(2))
            nu[key] = nu.get(key, 0.0) + sign * float(m.group(1) or 1.0)
    balance: Counter = Counter()
    for key, n in nu.items():
        for el, c in parse_formula(key).items():
            balance[el] += n * c
    bad = {el: v for el, v in balance.items() if abs(v) > 1e-9}
    if bad:
        raise InputError(f"reaction {text!r} is not balanced: excess {bad}", field="reaction",
                         expected="equal element counts on both sides")
    return nu


def _shomate(c: dict, T):
    t = np.asarray(T, dtype=float) / 1000.0
    H = (c["A"] * t + c["B"] * t**2 / 2 + c["C"] * t**3 / 3 + c["D"] * t**4 / 4 - c["E"] / t
         + c["F"] - c["H"])  # kJ/mol, H(T) - H298
    S = (c["A"] * np.log(t) + c["B"] * t + c["C"] * t**2 / 2 + c["D"] * t**3 / 3
         - c["E"] / (2 * t**2) + c["G"])
    return H, S


def species_HS(key: str, T, use_cp: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """H(T) in kJ/mol (dHf + H(T) - H298) and S(T) in J/mol/K of one species."""
    d = species_table()[key]
    T = np.asarray(T, dtype=float)
    if "shomate" in d:
        sh = d["shomate"]
        H, S = _shomate(sh, T) if use_cp else _shomate(sh, np.full_like(T, T_REF))
        return d["dHf"] + H, S
    cp = (d["Cp"] or 0.0) if use_cp else 0.0
    return d["dHf"] + cp * (T - T_REF) / 1000.0, d["S"] + cp * np.log(T / T_REF)


@dataclass(frozen=True)
class ReactionGibbs:
    """dH (kJ/mol), dS (J/mol/K), dG (kJ/mol) and log10 K of a reaction at temperatures T (K)."""

    reaction: str
    stoichiometry: dict
    T: np.ndarray
    dH: np.ndarray
    dS: np.ndarray
    dG: np.ndarray
    log10_K: np.ndarray
    cp_used: bool


def reaction_gibbs(reaction: str, T=T_REF) -> ReactionGibbs:
    """dG(T) = dH(T) - T dS(T) per mole of reaction as written."""
    nu = parse_reaction(reaction)
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if np.any(T <= 0):
        raise InputError("temperatures must be > 0 K", field="T")
    table = species_table()
    use_cp = all(table[k].get("Cp") is not None or "shomate" in table[k] for k in nu)
    dH = np.zeros_like(T)
    dS = np.zeros_like(T)
    for key, n in nu.items():
        H, S = species_HS(key, T, use_cp)
        dH = dH + n * H
        dS = dS + n * S
    dG = dH - T * dS / 1000.0
    logK = -dG * 1000.0 / (R_J_PER_MOL_K * T * np.log(10.0))
    return ReactionGibbs(reaction, nu, T, dH, dS, dG, logK, use_cp)


#: Reactions of sulfide electrolytes with air examined by default.
DEFAULT_REACTIONS = (
    "Li2S + 2 H2O -> 2 LiOH + H2S",
    "Li2S + 2 O2 -> Li2SO4",
    "Li2S + CO2 + H2O -> Li2CO3 + H2S",
)
