"""Partial RDFs: ideal gas (g = 1), crystal shell counts, triclinic = cubic, overlap metric."""

import numpy as np
import pytest
from ase.build import bulk
from ase.spacegroup import crystal

from superionic.core.errors import InputError
from superionic.transport.rdf import compute_rdf, rdf_overlap


def test_ideal_gas_is_one_in_a_triclinic_cell():
    # uncorrelated uniform points in a skewed cell: g_ab(r) = 1 for a != b and
    # (N_a - 1) / N_a for a == b (an atom never pairs with itself), including r beyond half
    # the cell width (periodic images counted)
    rng = np.random.default_rng(0)
    cell = np.array([[7.0, 0.0, 0.0], [2.5, 6.5, 0.0], [1.5, -1.0, 6.0]])
    n_a, n_b, n_frames = 30, 20, 24
    frac = rng.random((n_frames, n_a + n_b, 3))
    pos = frac @ cell
    symbols = ["Li"] * n_a + ["S"] * n_b
    res = compute_rdf({"positions": pos, "cells": cell, "symbols": symbols},
                      r_max_A=6.0, dr_A=0.5)
    assert res.n_frames == n_frames
    sel = res.r_A > 2.0  # enough pairs per bin for a 3 % statistical error
    for pair, expect in [(("Li", "Li"), (n_a - 1) / n_a), (("Li", "S"), 1.0),
                         (("S", "S"), (n_b - 1) / n_b)]:
        g = res.g[pair][sel]
        assert np.mean(g) == pytest.approx(expect, abs=0.02)
        assert np.all(np.abs(g - expect) < 0.15)
    # running coordination of an ideal gas: rho_b * 4/3 pi r^3
    vol = abs(np.linalg.det(cell))
    expect = n_b / vol * 4.0 / 3.0 * np.pi * res.edges_A[-1] ** 3
    assert res.n[("Li", "S")][-1] == pytest.approx(expect, rel=0.03)


def test_antifluorite_li2s_shell_counts():
    # Li2S (antifluorite, a = 5.69 Å): S has 8 Li at sqrt(3)/4 a, Li has 4 S; the Li sublattice
    # is simple cubic with a/2 spacing (6 Li-Li neighbours), S is fcc (12 S at a/sqrt(2))
    a = 5.69
    atoms = crystal(["S", "Li"], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225,
                    cellpar=[a, a, a, 90, 90, 90])
    assert atoms.get_chemical_formula() == "Li8S4"
    res = compute_rdf([atoms], pairs=[("S", "Li"), ("Li", "S"), ("Li", "Li"), "S-S"],
                      r_max_A=5.0, dr_A=0.01)
    d_li_s, d_li_li, d_s_s = np.sqrt(3) / 4 * a, a / 2, a / np.sqrt(2)

    def count(pair, r):
        return res.n[pair][np.searchsorted(res.edges_A[1:], r)]

    assert count(("S", "Li"), d_li_s + 0.05) == pytest.approx(8.0)
    assert count(("Li", "S"), d_li_s + 0.05) == pytest.approx(4.0)
    assert count(("Li", "S"), d_li_s - 0.05) == 0.0
    assert count(("Li", "Li"), d_li_li + 0.05) == pytest.approx(6.0)
    assert count(("S", "S"), d_s_s + 0.05) == pytest.approx(12.0)
    # second Li-S shell at sqrt(11)/4 a holds 12 S
    assert count(("Li", "S"), np.sqrt(11) / 4 * a + 0.05) == pytest.approx(16.0)
    # the peak sits in the bin containing the shell distance
    g = res.g[("Li", "S")]
    assert abs(res.r_A[np.argmax(g)] - d_li_s) <= 0.01


def test_primitive_triclinic_cell_equals_cubic_supercell():
    # the same fcc crystal in its rhombohedral primitive cell and a cubic 2x2x2 supercell
    prim = bulk("Cu", "fcc", a=3.6)
    cubic = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    # bin width chosen so that no shell distance falls on a bin edge
    r1 = compute_rdf([prim], r_max_A=7.0, dr_A=0.07)
    r2 = compute_rdf([cubic], r_max_A=7.0, dr_A=0.07)
    assert np.allclose(r1.g[("Cu", "Cu")], r2.g[("Cu", "Cu")], rtol=1e-10, atol=1e-10)
    # unwrapped coordinates (atoms displaced by whole lattice vectors) give the same g
    moved = cubic.copy()
    shifts = np.random.default_rng(2).integers(-50, 50, size=(len(moved), 3))
    moved.positions += shifts @ moved.cell.array
    r3 = compute_rdf([moved], r_max_A=7.0, dr_A=0.07)
    assert np.allclose(r3.g[("Cu", "Cu")], r2.g[("Cu", "Cu")], rtol=1e-10, atol=1e-10)
    # shells of fcc: 12, 6, 24, 12 within 2.55, 3.6, 4.41, 5.09 Å
    assert r1.n[("Cu", "Cu")][int(5.2 / 0.07)] == pytest.approx(54.0)


def test_overlap_metric():
    r = np.linspace(0.0, 8.0, 801)
    g = np.exp(-((r - 2.5) ** 2) / 0.02) * 3 + 1.0 * (r > 3)
    same = rdf_overlap(g, g, r)
    assert same["overlap"] == pytest.approx(1.0)
    assert same["L1_A"] == 0.0
    shifted = rdf_overlap(g, np.roll(g, 20), r)  # 0.2 Å shift
    assert 0.5 < shifted["overlap"] < 0.95
    assert shifted["peak2_r_A"] - shifted["peak1_r_A"] == pytest.approx(0.2)
    # L1 of g and g + c over [0, 8]: c * 8
    assert rdf_overlap(g, g + 0.1, r)["L1_A"] == pytest.approx(0.8, rel=1e-9)


def test_bad_input_is_named():
    atoms = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(InputError, match="pair"):
        compute_rdf([atoms], pairs=[("Cu", "Li")])
    with pytest.raises(InputError, match="r_max"):
        compute_rdf([atoms], r_max_A=-1.0)
