"""Calculators by name: a QMTP model file, ``chgnet`` or ``chgnet:<model>`` (bundled universal
potential), ``module:function`` / ``file.py:function`` (a factory of an ASE calculator), or any
ASE calculator object passed through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superionic.core.errors import InputError


def make_calculator(spec: Any, *, device: str = "cpu", engine: str | None = None) -> Any:
    """An ASE calculator from ``spec``: an ASE calculator (returned as is), the path of a QMTP
    model file, or a teacher name (:func:`superionic.potentials.teachers.teacher_from_spec`:
    ``chgnet``, ``chgnet:r2scan``, ``module:function``, ``file.py:function``)."""
    if not isinstance(spec, (str, Path)):
        return spec
    name = str(spec)
    path = Path(name)
    if not path.is_file():
        from superionic.potentials.teachers import TEACHER_SPECS, teacher_from_spec

        if name.lower() == "chgnet" or ":" in name:
            return teacher_from_spec(name, device=device).make_calculator()
        raise InputError(f"potential '{name}' not found", field="potential",
                         expected=f"the path of a QMTP model file or {TEACHER_SPECS}")
    from superionic.potentials.calculator import QMTPCalculator

    eng = engine or ("torch" if device.startswith("cuda") else "numba")
    return QMTPCalculator(str(path), engine=eng, device=device, fast_md=eng == "numba")
