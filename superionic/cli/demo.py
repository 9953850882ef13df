"""``superionic demo``: the main job on its built-in example (what ``make demo`` runs).

1. ``superionic diffusion`` on the bundled CHGNet MD trajectory of Li6PS5Cl at 800 K;
2. ``superionic conductivity`` on library Li3N with one Li vacancy per cell, within a
   wall-time budget (default 900 s), printing sigma(300 K) with its interval, Ea and the
   path of the HTML report.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the built-in example (bundled trajectory + "
                                    "conductivity of Li3N)")
    p.add_argument("--budget", type=float, default=900.0, metavar="S",
                   help="wall-time budget of the conductivity run (default 900)")
    p.add_argument("--out", default="demo-output", help="output directory (default demo-output)")
    p.add_argument("--skip-conductivity", action="store_true",
                   help="only analyse the bundled trajectory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from superionic.cli.main import main as cli_main
    from superionic.data import DEMO_TEMPERATURE_K, demo_trajectory_path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"== 1/2  Transport analysis of the bundled trajectory ({demo_trajectory_path().name})")
    rc = cli_main(["diffusion", str(demo_trajectory_path()), "--species", "Li",
                   "--temperature", f"{DEMO_TEMPERATURE_K:g}", "--json",
                   str(out / "demo_diffusion.json"), "--plot", str(out / "demo_msd.png"),
                   "--no-progress"])
    if rc or args.skip_conductivity:
        return rc
    print(f"\n== 2/2  Ionic conductivity of Li3N (one Li vacancy), budget {args.budget:g} s")
    return cli_main(["conductivity", "Li3N", "--vacancies", "1", "--min-distance", "7",
                     "--temperatures", "500", "600", "700", "800", "--level", "8",
                     "--no-charges", "--budget", f"{args.budget:g}", "--run-dir",
                     str(out / "Li3N"), "--json", str(out / "Li3N_conductivity.json")])
