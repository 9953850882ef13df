"""Calculators by name: ``chgnet`` (bundled universal potential), a QMTP model file, or any
ASE calculator object passed through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superionic.core.errors import InputError


def chgnet_calculator(device: str = "cpu") -> Any:
    """CHGNet (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)) with its bundled weights."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        model = CHGNet.load(verbose=False)
        return CHGNetCalculator(model=model, use_device=device, stress_weight=1 / 160.21766208)


def make_calculator(spec: Any, *, device: str = "cpu", engine: str | None = None) -> Any:
    """An ASE calculator from ``spec``: an ASE calculator (returned as is), ``"chgnet"``
    (CHGNet with the weights bundled in its package), or a path to a QMTP model file."""
    if not isinstance(spec, (str, Path)):
        return spec
    name = str(spec)
    if name.lower() == "chgnet":
        return chgnet_calculator(device=device)
    path = Path(name)
    if not path.exists():
        raise InputError(f"potential '{name}' not found", field="potential",
                         expected="'chgnet' or the path of a QMTP model file")
    from superionic.potentials.calculator import QMTPCalculator

    eng = engine or ("torch" if device.startswith("cuda") else "numba")
    return QMTPCalculator(str(path), engine=eng, device=device, fast_md=eng == "numba")
