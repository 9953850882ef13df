"""Run every benchmark once with short settings (``make bench``), each in its own process.

The commands and settings behind the numbers in ``benchmarks/RESULTS.md`` are given there;
these are shorter versions of them, to check that every benchmark runs and to see its ratios
against its peers on this machine. ``--only NAME`` runs the benchmarks whose script name
contains NAME.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}

#: (script, arguments, extra environment)
RUNS: list[tuple[str, list[str], dict[str, str]]] = [
    ("bench_transport.py", ["--quick"], {}),
    ("bench_transport_scaling.py", ["--quick"], {}),
    ("bench_eis_vs_impedancepy.py", ["--n", "20", "--seed", "42"], {}),
    ("bench_qmtp_md.py", ["--level", "10", "--threads", "1", "--sizes", "10", "--steps", "5",
                          "--rounds", "2", "--chgnet-steps", "2"], ONE_THREAD),
    ("bench_mtp_kernels.py", ["--levels", "10,16", "--sizes", "10"], ONE_THREAD),
    ("bench_md_overhead.py", ["--steps", "100", "--rounds", "2"], {}),
    ("bench_training_charged.py", ["--n", "12", "--epochs", "2"], {"OMP_NUM_THREADS": "1"}),
    ("bench_training_tables.py", ["--n", "12", "--levels", "10", "--epochs", "2"], {}),
    ("bench_neighbour_list.py", ["--sizes", "4,8", "--cutoffs", "5", "--repeats", "2"],
     ONE_THREAD),
    ("bench_batched_md.py", ["--replicas", "1,8", "--steps", "5", "--threads", "1"],
     ONE_THREAD),
    ("bench_shared_cores.py", ["--steps", "10", "--warm", "2"], {}),
    ("bench_ensemble_parallel.py", ["--steps", "1000"], {}),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default="", help="run the scripts whose name contains this")
    args = p.parse_args()
    failed = []
    for script, script_args, env in RUNS:
        if args.only not in script:
            continue
        cmd = [sys.executable, "-W", "ignore", str(HERE / script), *script_args]
        print(f"\n=== {' '.join(f'{k}={v}' for k, v in env.items())} {script} "
              f"{' '.join(script_args)}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call(cmd, env=dict(os.environ, **env), cwd=HERE.parent)
        print(f"=== {script}: exit {rc} after {time.perf_counter() - t:.0f} s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
