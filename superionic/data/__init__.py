"""Data shipped with superionic: a short CHGNet trajectory of Li6PS5Cl for demonstrations.

See ``README.md`` in this folder for its provenance and the command that regenerates it.
"""

from __future__ import annotations

from pathlib import Path

#: Temperature of the bundled demonstration trajectory (Langevin thermostat), K.
DEMO_TEMPERATURE_K: float = 800.0
#: File name of the bundled demonstration trajectory.
DEMO_TRAJECTORY_NAME: str = "li6ps5cl_chgnet_800K.traj"


def demo_trajectory_path() -> Path:
    """Path of the bundled Li6PS5Cl demonstration trajectory (ASE ``.traj``, with velocities)."""
    path = Path(__file__).with_name(DEMO_TRAJECTORY_NAME)
    if not path.exists():
        from superionic.core.errors import InputError

        raise InputError(
            "demonstration trajectory is missing from the installation",
            source=str(path),
            expected="regenerate it with `python -m superionic.data.generate_demo`",
        )
    return path


__all__ = ["DEMO_TEMPERATURE_K", "DEMO_TRAJECTORY_NAME", "demo_trajectory_path"]
