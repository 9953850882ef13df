"""Registry of runnable interface models: parameters (units, defaults), material sets, runners.

Each entry maps a parameter dictionary (SI) to a JSON-ready result; ``run_model`` fills
defaults, applies a named material set (``material: Li6PS5Cl``) and rejects unknown names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.interface import (
    coating,
    contact,
    decay,
    dendrite,
    fracture,
    roughness,
    runaway,
    thermo,
)
from superionic.interface.parameters import material


@dataclass(frozen=True)
class ModelSpec:
    """A runnable model: parameters as name -> (default, unit, description)."""

    name: str
    description: str
    params: dict[str, tuple[Any, str, str]]
    runner: Callable[[dict], dict]
    material_map: dict[str, str | Callable[[dict], Any]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def _contact(p: dict) -> dict:
    out = contact.contact_summary(p["rho"], p["a"], p["phi"], p["A_apparent"], p["I"],
                                  p["f_active"])
    phi = np.logspace(-3, np.log10(0.99), 80)
    out["curve"] = {"phi": phi, "R_interface_ohm_m2":
                    contact.interface_resistance_area(p["rho"], p["a"], phi)}
    return out


def _rough(p: dict) -> dict:
    gw = roughness.GreenwoodWilliamson(p["eta"], p["R"], p["sigma"], p["E_star"], p["H"])
    P = np.logspace(np.log10(p["P_min"]), np.log10(p["P_max"]), int(p["n_points"]))
    res = gw.at_pressure(P)
    res["phi_plastic"] = roughness.plastic_contact_fraction(P, p["H"])
    res["plasticity_index"] = gw.plasticity_index
    return res


def _jkr(p: dict) -> dict:
    j = roughness.JKR(p["R"], p["E_star"], p["w"])
    P = np.linspace(j.pull_off_force, p["P_max"], 200)
    return {"P_N": P, "a_m": j.contact_radius(P), "a_hertz_m":
            roughness.hertz_contact_radius(np.maximum(P, 0), p["R"], p["E_star"]),
            "a0_m": j.a0, "pull_off_force_N": j.pull_off_force}


def _spring(p: dict) -> dict:
    s = fracture.SpringLayer(p["k_n"], p["k_t"], p["G_Ic"], p["G_IIc"], p["criterion"],
                             p["eta_bk"], p["a"], p["b"])
    psi = np.linspace(0, np.pi / 2, 46)
    out = {"psi_rad": psi, "critical_traction_Pa": s.critical_traction(psi)}
    GI, GII = s.energies(p["p"], p["tau"])
    out.update({"G_I_J_per_m2": float(GI), "G_II_J_per_m2": float(GII),
                "psi_at_load_rad": float(s.mode_mixity(p["p"], p["tau"])),
                "failure_index": float(s.failure_index(p["p"], p["tau"]))})
    out["delaminates"] = out["failure_index"] >= 1.0
    return out


def _shear_lag(p: dict) -> dict:
    L, w = p["L"], p["front_width"]
    c = lambda x: 0.5 * (1 - np.tanh((x - L / 2) / w))
    dc = lambda x: -0.5 / w / np.cosh((x - L / 2) / w) ** 2
    r = fracture.shear_lag_profile(c, dc, L, p["h_f"], p["E_f"], p["k_s"], p["beta"])
    return {"x_m": r.x, "tau_Pa": r.tau, "N_N_per_m": r.N, "u_m": r.u,
            "tau_slow_gradient_Pa": -p["E_f"] * p["h_f"] * p["beta"] * dc(r.x),
            "lambda_per_m": r.lambda_per_m, "max_abs_tau_Pa": float(np.max(np.abs(r.tau)))}


def _sei(p: dict) -> dict:
    s = decay.SEIGrowth(p["h0"], p["k"], p["E_prime"], p["delta"], p["sigma_SEI"], p["j"])
    tc = s.contact_loss_time(p["p_c"])
    t = np.linspace(0, max(p["t_end"], 1.5 * tc if np.isfinite(tc) else 0), 300)
    return {"t_s": t, "h_m": s.thickness(t), "p_Pa": s.pressure(t),
            "eta_V": s.overpotential(t), "t_contact_loss_s": tc,
            "t_contact_loss_numeric_s": s.contact_loss_time_numeric(p["p_c"]), "p_c_Pa": p["p_c"]}


def _relax(p: dict) -> dict:
    sls = decay.standard_linear_solid(p["E1"], p["E2"], p["tau"])
    t = np.linspace(0, 6 * p["tau"], 300)
    out = {"t_s": t, "p_sls_Pa": sls.pressure(t, p["eps0"]), "p_c_Pa": p["p_c"],
           "t_contact_loss_s": decay.sls_contact_loss_time(p["E1"], p["E2"], p["tau"],
                                                           p["eps0"], p["p_c"])}
    if p["prony_E"]:
        pr = decay.Prony(p["E2"], tuple(p["prony_E"]), tuple(p["prony_tau"]))
        out["p_prony_Pa"] = pr.pressure(t, p["eps0"])
        out["t_contact_loss_prony_s"] = pr.contact_loss_time(p["eps0"], p["p_c"])
    return out


def _creep(p: dict) -> dict:
    c = decay.PowerLawCreep(p["A"], p["n"], p["Q"], p["T"])
    tc = c.contact_loss_time(p["sigma0"], p["E"], p["p_c"])
    t = np.geomspace(1e-3 * max(tc, 1e-9), 10 * max(tc, 1e-9), 300)
    return {"t_s": t, "sigma_Pa": c.relaxation(t, p["sigma0"], p["E"]), "p_c_Pa": p["p_c"],
            "t_contact_loss_s": tc,
            "t_contact_loss_numeric_s": c.contact_loss_time_numeric(p["sigma0"], p["E"], p["p_c"])}


def _runaway(p: dict) -> dict:
    keys = runaway.HotSpot.__dataclass_fields__
    m = runaway.HotSpot(**{k: p[k] for k in keys if k in p})
    I = np.geomspace(p["I_min"], p["I_max"], int(p["n_I"]))
    a = np.geomspace(p["a_min"], p["a_max"], int(p["n_a"]))
    return {"I_A": I, "a0_m": a, "runaway": runaway.runaway_map(m, I, a),
            "I_crit_frozen_A": np.array([m.critical_current_frozen(x) for x in a])}


def _dendrite(p: dict) -> dict:
    keys = dendrite.DepositionStability.__dataclass_fields__
    d = dendrite.DepositionStability(**{k: p[k] for k in keys})
    kc = d.critical_wavenumber()
    kmax = 3 * kc if np.isfinite(kc) else 1e8
    k = np.linspace(kmax / 600, kmax, 600)
    l = np.geomspace(1e-8, 1e-4, 80)
    Gs = np.linspace(0.2, 4, 80) * p["G_Li"]
    return {"k_per_m": k, "omega_per_s": d.growth_rate(k), "k_c_per_m": kc,
            "Gamma_Pa": d.Gamma, "l_m": l, "j_crit_A_per_m2": d.critical_current_density(l),
            "G_s_sweep_Pa": Gs, "Gamma_sweep_Pa": np.array(
                [dendrite.stress_coefficient(g, p["nu_s"], p["G_Li"], p["nu_Li"]) for g in Gs]),
            "critical_modulus_ratio": dendrite.critical_modulus_ratio(p["nu_s"], p["nu_Li"]),
            "G_ratio": p["G_s"] / p["G_Li"],
            "j_crit_vs_G_s_A_per_m2": np.array([dendrite.DepositionStability(
                **{**{k: p[k] for k in keys}, "G_s": g}).critical_current_density(p["l"])
                for g in Gs]),
            "j_crit_at_l_A_per_m2": d.critical_current_density(p["l"])}


def _coating(p: dict) -> dict:
    keys = coating.CoatingStack.__dataclass_fields__
    c = coating.CoatingStack(**{k: p[k] for k in keys})
    win = c.window()
    L = np.geomspace(1e-10, 1e-5, 200)
    prof = c.profile(p["L"])
    return {**win, "L_m": L, "V_interface_V": c.interface_potential(L),
            "R_added_ohm_m2": c.added_resistance(L), "V_ox_V": c.V_ox,
            "R_budget_ohm_m2": c.R_budget, "profile_x_m": prof["x_m"], "profile_V": prof["V"],
            "j_leak_A_per_m2": prof["j_leak_A_per_m2"]}


def _chem(p: dict) -> dict:
    T = np.linspace(p["T_min"], p["T_max"], 50)
    out = {"T_K": T, "reactions": {}}
    for r in p["reactions"]:
        g = thermo.reaction_gibbs(r, T)
        g298 = thermo.reaction_gibbs(r, thermo.T_REF)
        out["reactions"][r] = {"dG_kJ_per_mol": g.dG, "dG_298_kJ_per_mol": float(g298.dG[0]),
                               "dH_298_kJ_per_mol": float(g298.dH[0]),
                               "dS_298_J_per_mol_K": float(g298.dS[0]),
                               "spontaneous_298": bool(g298.dG[0] < 0), "cp_used": g.cp_used}
    return out


_HOT = runaway.HotSpot()
_HOT_DOC = {
    "rho0": ("Ohm m", "resistivity at T0"), "rho_model": ("-", "'arrhenius' or 'linear'"),
    "alpha": ("1/K", "temperature coefficient (linear)"), "E_a": ("eV", "activation (Arrhenius)"),
    "k": ("W/(m K)", "thermal conductivity"), "h": ("W/K", "lumped heat loss"),
    "C": ("J/K", "hot-spot heat capacity"), "A": ("Pa^-n/s", "creep prefactor"),
    "n": ("-", "creep stress exponent"), "Q": ("J/mol", "creep activation energy"),
    "sigma_d": ("Pa", "stress driving the spot to shrink"), "T0": ("K", "ambient temperature"),
    "T_cap": ("K", "runaway temperature (Li melts)"), "a_min_fraction": ("-", "a/a0 at loss"),
    "t_end": ("s", "time horizon")}
_COAT = coating.CoatingStack()
_COAT_DOC = {
    "E_cathode": ("V", "cathode potential vs Li/Li+"), "V_ox": ("V", "electrolyte oxidation limit"),
    "sigma_ion_c": ("S/m", "coating ionic conductivity"),
    "sigma_el_c": ("S/m", "coating electronic conductivity"),
    "sigma_ion_se": ("S/m", "electrolyte ionic conductivity"),
    "sigma_el_se": ("S/m", "electrolyte electronic conductivity"),
    "L_se": ("m", "electrolyte thickness"), "R_budget": ("Ohm m^2", "allowed added resistance")}
MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("contact", "Contact areas, local current density, Holm/mean-field resistance", {
        "rho": (5.0, "Ohm m", "resistivity of the constricted phase"),
        "a": (1e-6, "m", "spot radius"), "phi": (0.1, "-", "contact fraction"),
        "A_apparent": (1e-4, "m^2", "apparent area"), "I": (1e-3, "A", "current"),
        "f_active": (1.0, "-", "electrochemically active fraction of the contact")},
        _contact, {"rho": "rho"}),
    ModelSpec("roughness", "Greenwood-Williamson contact fraction and spots vs pressure", {
        "eta": (1e12, "m^-2", "summit density"), "R": (1e-6, "m", "summit radius"),
        "sigma": (1e-7, "m", "summit height std"), "E_star": (5e9, "Pa", "contact modulus"),
        "H": (2.4e6, "Pa", "hardness (inf = elastic)"), "P_min": (1e3, "Pa", "lowest pressure"),
        "P_max": (1e6, "Pa", "highest pressure"), "n_points": (25, "-", "pressures")},
        _rough, {"H": "H", "E_star": lambda m: m["E"] / (1 - m["nu"] ** 2)}),
    ModelSpec("jkr", "JKR adhesive sphere-flat contact (Hertz at w = 0)", {
        "R": (1e-6, "m", "sphere radius"), "E_star": (5e9, "Pa", "contact modulus"),
        "w": (0.1, "J/m^2", "work of adhesion"), "P_max": (1e-6, "N", "largest load")}, _jkr),
    ModelSpec("spring_layer", "Spring-layer delamination with mixed-mode criterion", {
        "k_n": (1e15, "Pa/m", "normal stiffness"), "k_t": (1e15, "Pa/m", "shear stiffness"),
        "G_Ic": (1.0, "J/m^2", "mode I toughness"), "G_IIc": (4.0, "J/m^2", "mode II toughness"),
        "criterion": ("bk", "-", "'bk' or 'power'"), "eta_bk": (2.0, "-", "BK exponent"),
        "a": (1.0, "-", "power-law exponent I"), "b": (1.0, "-", "power-law exponent II"),
        "p": (3e7, "Pa", "normal traction"), "tau": (3e7, "Pa", "shear traction")}, _spring),
    ModelSpec("shear_lag", "Interfacial shear from a chemical eigenstrain front in a film", {
        "L": (1e-5, "m", "film length"), "h_f": (1e-7, "m", "film thickness"),
        "E_f": (1e11, "Pa", "biaxial film modulus"), "k_s": (1e15, "Pa/m", "interlayer stiffness"),
        "beta": (0.01, "-", "eigenstrain per unit concentration"),
        "front_width": (1e-6, "m", "width of the tanh concentration front")}, _shear_lag),
    ModelSpec("sei", "SEI growth in a fixed-displacement stack: pressure, overpotential", {
        "h0": (1e-8, "m", "initial thickness"), "k": (1e-20, "m^2/s", "parabolic rate"),
        "E_prime": (1e9, "Pa", "interphase modulus"), "delta": (1e-9, "m", "held interference"),
        "sigma_SEI": (1e-6, "S/m", "interphase conductivity"), "j": (10.0, "A/m^2", "current"),
        "p_c": (1e7, "Pa", "contact threshold"), "t_end": (1e6, "s", "time span")}, _sei),
    ModelSpec("relaxation", "Viscoelastic pad: SLS and Prony relaxation, contact loss", {
        "E1": (4e6, "Pa", "relaxing modulus"), "E2": (2e6, "Pa", "equilibrium modulus"),
        "tau": (3.6e3, "s", "relaxation time"), "eps0": (0.2, "-", "held strain"),
        "p_c": (0.5e6, "Pa", "contact threshold"),
        "prony_E": ([], "Pa", "extra Prony moduli"), "prony_tau": ([], "s", "Prony times")},
        _relax, {"E1": "E1", "E2": "E2", "tau": "tau"}),
    ModelSpec("creep", "Li power-law creep relaxation of stack pressure", {
        "A": (5.75e-36, "Pa^-n/s", "prefactor"), "n": (6.56, "-", "stress exponent"),
        "Q": (37e3, "J/mol", "activation energy"), "T": (298.15, "K", "temperature"),
        "sigma0": (1e6, "Pa", "initial stack pressure"), "E": (7.82e9, "Pa", "series stiffness"),
        "p_c": (1e5, "Pa", "contact threshold")},
        _creep, {"A": "creep_A", "n": "creep_n", "Q": "creep_Q", "E": "E"}),
    ModelSpec("runaway", "Hot-spot runaway map in (current, initial radius)", {
        **{k: (getattr(_HOT, k),) + _HOT_DOC[k] for k in runaway.HotSpot.__dataclass_fields__},
        "I_min": (1e-6, "A", "lowest current"), "I_max": (1e-2, "A", "highest current"),
        "a_min": (1e-7, "m", "smallest radius"), "a_max": (1e-4, "m", "largest radius"),
        "n_I": (12, "-", "currents"), "n_a": (10, "-", "radii")},
        _runaway, {"rho0": "rho", "E_a": "E_a", "k": "k_th", "alpha": "alpha_rho",
                   "rho_model": lambda m: "linear" if "alpha_rho" in m else "arrhenius"}),
    ModelSpec("dendrite", "Linear stability of Li deposition (reduced Monroe-Newman)", {
        "G_s": (8.4e9, "Pa", "electrolyte shear modulus"), "nu_s": (0.31, "-", "its Poisson ratio"),
        "G_Li": (3.4e9, "Pa", "Li shear modulus"), "nu_Li": (0.42, "-", "Li Poisson ratio"),
        "V_m": (1.30e-5, "m^3/mol", "Li molar volume"), "gamma": (0.5, "J/m^2", "surface energy"),
        "kappa": (0.2, "S/m", "ionic conductivity"), "R_ct": (1e-4, "Ohm m^2", "charge transfer"),
        "j": (10.0, "A/m^2", "current density"), "l": (1e-6, "m", "defect size")},
        _dendrite, {"G_s": "G", "nu_s": "nu", "kappa": "kappa"}),
    ModelSpec("coating", "Cathode coating potential profile and thickness window", {
        **{k: (getattr(_COAT, k),) + _COAT_DOC[k] for k in
           coating.CoatingStack.__dataclass_fields__},
        "L": (2e-8, "m", "coating thickness for the profile")},
        _coating, {"V_ox": "V_ox", "sigma_el_se": "sigma_el", "sigma_ion_se": "kappa"}),
    ModelSpec("chemical_stability", "Reaction Gibbs energies dG(T) from the shipped table", {
        "reactions": (list(thermo.DEFAULT_REACTIONS), "-", "reaction strings"),
        "T_min": (250.0, "K", "lowest T"), "T_max": (600.0, "K", "highest T")}, _chem),
]}


def resolve_parameters(model: str, config: dict | None = None) -> dict:
    """Defaults, then a named material set, then explicit values; unknown names rejected."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}", field="model",
                         expected="one of " + ", ".join(MODELS))
    spec = MODELS[model]
    cfg = dict(config or {})
    params = {k: v[0] for k, v in spec.params.items()}
    mat = cfg.pop("material", None)
    if mat is not None:
        values = material(mat)
        for pname, key in spec.material_map.items():
            if callable(key):
                try:
                    params[pname] = key(values)
                except KeyError:
                    continue
            elif key in values:
                params[pname] = values[key]
    unknown = sorted(set(cfg) - set(params))
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown} for model {model!r}", field=unknown[0],
                         expected="one of " + ", ".join(sorted(params)) + ", material")
    for k, v in cfg.items():
        default = params[k]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            try:
                v = float(v)
            except (TypeError, ValueError) as exc:
                raise InputError(f"value {v!r} is not a number", field=k) from exc
        params[k] = v
    return params


def run_model(model: str, config: dict | None = None) -> dict:
    """Run one model; the result holds ``model``, ``parameters`` and the outputs."""
    params = resolve_parameters(model, config)
    out = MODELS[model].runner(params)
    return {"model": model, "parameters": params, **out}
