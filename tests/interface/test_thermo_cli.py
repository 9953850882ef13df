"""Reaction Gibbs energies against hand sums of the shipped table; CLI contract."""

import json

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.errors import InputError
from superionic.interface import thermo


def test_li2s_hydrolysis_hand_computed_and_spontaneous():
    t = thermo.species_table()
    dH = (2 * t["LiOH(cr)"]["dHf"] + t["H2S(g)"]["dHf"] - t["Li2S(cr)"]["dHf"]
          - 2 * t["H2O(g)"]["dHf"])
    dS = (2 * t["LiOH(cr)"]["S"] + t["H2S(g)"]["S"] - t["Li2S(cr)"]["S"] - 2 * t["H2O(g)"]["S"])
    g = thermo.reaction_gibbs("Li2S + 2 H2O -> 2 LiOH + H2S")
    assert g.dG[0] == pytest.approx(dH - 298.15 * dS / 1000, abs=1e-9)
    assert g.dG[0] == pytest.approx(-59.808 + 298.15 * 0.14926, abs=1e-6)  # by hand
    assert g.dG[0] < 0


def test_li2s_oxidation_uses_shomate_li2so4():
    g = thermo.reaction_gibbs("Li2S + 2 O2 -> Li2SO4", [298.15, 600.0])
    H, S = thermo.species_HS("Li2SO4(cr)", 298.15)
    assert S == pytest.approx(113.8, abs=0.2)  # JANAF S°(298.15 K)
    t = thermo.species_table()
    ref = (H - t["Li2S(cr)"]["dHf"]) - 298.15 * (S - t["Li2S(cr)"]["S"] - 2 * t["O2(g)"]["S"]) / 1e3
    assert g.dG[0] == pytest.approx(ref, abs=1e-9)
    assert np.all(g.dG < -700)


def test_reaction_parser_rejects_unbalanced_and_unknown():
    with pytest.raises(InputError, match="not balanced"):
        thermo.parse_reaction("Li2S + H2O -> LiOH + H2S")
    with pytest.raises(InputError, match="no thermochemical data"):
        thermo.parse_reaction("Li2S + 2 XeF2 -> 2 LiF + ...")
    assert thermo.parse_formula("Ca(OH)2") == {"Ca": 1, "O": 2, "H": 2}


def test_kirchhoff_constant_cp():
    g = thermo.reaction_gibbs("H2 + 0.5 O2 -> H2O(g)", [298.15, 500.0])
    t = thermo.species_table()
    dcp = t["H2O(g)"]["Cp"] - t["H2(g)"]["Cp"] - 0.5 * t["O2(g)"]["Cp"]
    dH = g.dH[0] + dcp * (500 - 298.15) / 1000
    dS = g.dS[0] + dcp * np.log(500 / 298.15)
    assert g.dG[1] == pytest.approx(dH - 500 * dS / 1000, abs=1e-9)
    assert g.dG[0] == pytest.approx(-228.6, abs=0.1)  # CODATA dfG of H2O(g)


def test_cli_runs_model_with_material_and_writes_json(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("material: Li6PS5Cl\nj: 5\n")
    out = tmp_path / "r.json"
    png = tmp_path / "r.png"
    assert main(["interface", "dendrite", "--config", str(cfg), "--json", str(out),
                 "--plot", str(png)]) == 0
    r = json.loads(out.read_text())
    assert r["parameters"]["G_s"] == pytest.approx(8.4e9)
    assert r["G_ratio"] == pytest.approx(8.4e9 / 3.4e9)
    assert png.stat().st_size > 1000


def test_cli_unknown_parameter_lists_valid(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("bogus: 1\n")
    assert main(["interface", "sei", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "bogus" in err and "sigma_SEI" in err
    assert main(["interface", "nope"]) == 1
    assert "chemical_stability" in capsys.readouterr().err


def test_negative_parameter_is_named():
    from superionic.interface.models import run_model

    with pytest.raises(InputError, match="'k'"):
        run_model("sei", {"k": -1.0})
    with pytest.raises(InputError, match="material"):
        run_model("dendrite", {"material": "unobtainium"})
