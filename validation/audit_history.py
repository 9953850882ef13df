"""History of the teacher audits of one conductivity run directory.

For every model of the run: its ZBL wall (r_outer per species pair, Å). For every audit: each
temperature's energy RMSE, mean signed error (student minus teacher) and force RMSE, and the
shortest distance of each species pair among its labelled frames, read from the run's store.

    python validation/audit_history.py validation/runs_wall_pbe/Li6PS5I --pairs I-S I-I S-S
"""

from __future__ import annotations

import argparse
import json
import pickle
import sqlite3
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from superionic.potentials.model_file import load_model
from superionic.potentials.qmtp import find_neighbours


def shortest(frames, pairs: list[str], r_cut: float = 5.0) -> dict[str, float]:
    """Shortest distance of each 'A-B' pair over ``frames`` (inf if never within r_cut)."""
    out = dict.fromkeys(pairs, np.inf)
    for a in frames:
        nb = find_neighbours(a, r_cut)
        s = np.array(a.get_chemical_symbols())
        names = np.array(["-".join(sorted(p)) for p in zip(s[nb.pair_i], s[nb.pair_j],
                                                                    strict=True)])
        r = np.linalg.norm(nb.vectors, axis=1)
        for p in pairs:
            hit = names == "-".join(sorted(p.split("-")))
            if hit.any():
                out[p] = min(out[p], float(r[hit].min()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--pairs", nargs="*", default=None, help="species pairs, e.g. I-S")
    args = ap.parse_args()
    result = json.loads((args.run_dir / "results.json").read_text())
    for path in sorted(args.run_dir.glob("model_*.qmtp"), key=lambda p: p.stat().st_mtime):
        m = load_model(path)
        sp = [chemical_symbols[z] for z in m.species]
        walls = {f"{sp[i]}-{sp[j]}": round(float(m.repulsion_r_outer_[i, j]), 2)
                 for i, j in combinations_with_replacement(range(len(sp)), 2)}
        print(f"{path.name}: wall {walls}")
    pairs = args.pairs or []
    with sqlite3.connect(args.run_dir / "results.sqlite") as db:
        stored = [pickle.loads(v) for (v,) in db.execute(
            "SELECT value FROM stages WHERE stage='audit' ORDER BY finished")]
    # the stored audits are in the order the run made them, as the result lists them
    for audit, labelled in zip(result["audits"], stored, strict=False):
        print(f"round {audit['round']} pass {audit['pass']}")
        for row in audit["per_temperature"]:
            e = row["errors"]
            frames = [a for a in labelled if a.info["audit_T_K"] == row["T_K"]]
            assert [a.info["audit_step"] for a in frames] == row["frame_steps"]
            close = " ".join(f"{p} {d:.2f}" for p, d in shortest(frames, pairs).items())
            print(f"  {row['T_K']:6.0f} K steps {row['steps'][0]:>6}-{row['steps'][1]:<6} "
                  f"E {1e3 * e['energy_rmse_eV_per_atom']:6.1f} "
                  f"(bias {1e3 * e['energy_bias_eV_per_atom']:6.1f}) meV/atom  "
                  f"F {e['force_rmse_eV_per_A']:.3f} eV/Å  "
                  f"{'ok  ' if row['faithful'] else 'FAIL'}  {close}")


if __name__ == "__main__":
    main()
