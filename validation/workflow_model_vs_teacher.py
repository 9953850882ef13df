"""The potential a conductivity run ends with, against its teacher's own MD at one temperature.

Runs QMTP MD with the final model of a ``superionic conductivity`` run directory from the first
frame of a teacher trajectory (same cell, same temperature, time step and frame interval),
then compares the Li tracer diffusion coefficients of both with
:func:`superionic.workflows.conductivity.teacher_check` (criterion: within a factor 1.5).
Writes ``workflow_vs_teacher.json`` under ``--out``.

    python validation/workflow_model_vs_teacher.py --run-dir validation/runs/Li6PS5Cl \\
        --teacher-trajectory validation/out/chgnet_ref/chgnet_md.h5 --temperature-K 800
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    from distill_chgnet import read_frames

    from superionic.core.estimate import to_jsonable
    from superionic.dynamics.md import run_md
    from superionic.potentials.calculator import QMTPCalculator
    from superionic.transport.analysis import analyse_diffusion
    from superionic.workflows.conductivity import teacher_check

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--teacher-trajectory", required=True)
    p.add_argument("--temperature-K", type=float, required=True)
    p.add_argument("--steps", type=int, default=16000)
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="validation/out/workflow_vs_teacher")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = sorted(Path(args.run_dir).glob("model_r*.qmtp"),
                    key=lambda m: int(m.stem.split("_r")[1]))
    model = models[-1]
    frames, dt_frame = read_frames(args.teacher_trajectory)
    start = frames[0].copy()
    start.wrap()
    md = run_md(start, QMTPCalculator(str(model), fast_md=True),
                temperature_K=args.temperature_K, timestep_fs=args.timestep_fs,
                steps=args.steps, out=out / "qmtp_md.h5",
                sample_every=int(round(dt_frame / args.timestep_fs)), seed=args.seed)
    T = args.temperature_K
    d_q = analyse_diffusion(out / "qmtp_md.h5", "Li", temperature_K=T).D_tracer_cm2_per_s
    d_t = analyse_diffusion(args.teacher_trajectory, "Li", temperature_K=T).D_tracer_cm2_per_s
    check = teacher_check({"T_K": T, "steps": (len(frames) - 1) * dt_frame / args.timestep_fs,
                           "D_teacher_cm2_per_s": d_t}, d_q)
    summary = {"model": str(model), "teacher_trajectory": args.teacher_trajectory,
               "qmtp_md": md.to_dict(), "check": check}
    (out / "workflow_vs_teacher.json").write_text(json.dumps(to_jsonable(summary), indent=2))
    print(json.dumps(to_jsonable(check), indent=2))


if __name__ == "__main__":
    main()
