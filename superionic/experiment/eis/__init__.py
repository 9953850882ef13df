"""Impedance spectroscopy of polycrystalline solid electrolytes.

Read a spectrum (:func:`read_spectrum`), validate it (:func:`linear_kk`), fit an equivalent
circuit from automatic DRT-based starting values (:func:`fit`, :func:`auto_circuit`), then
assign arcs to bulk / grain boundary / electrode and compute conductivities
(:func:`analyse`, :func:`arrhenius_series`).
"""

from superionic.experiment.eis.circuits import Circuit, parse_circuit
from superionic.experiment.eis.drt import DRTPeak, DRTResult, compute_drt
from superionic.experiment.eis.fit import FitResult, auto_circuit, find_arcs, fit, initial_values
from superionic.experiment.eis.kk import KKResult, linear_kk
from superionic.experiment.eis.physics import (
    ArcResult,
    CapacitanceBoundaries,
    EISAnalysis,
    analyse,
    arrhenius_series,
    brick_layer_gb_conductivity_S_per_cm,
    brug_capacitance,
    conductivity_S_per_cm,
    hsu_mansfeld_capacitance,
)
from superionic.experiment.eis.readers import (
    read_biologic_mpt,
    read_gamry,
    read_spectrum,
    read_table,
    read_zview,
)
from superionic.experiment.eis.spectrum import Spectrum

__all__ = [
    "ArcResult", "CapacitanceBoundaries", "Circuit", "DRTPeak", "DRTResult", "EISAnalysis",
    "FitResult", "KKResult", "Spectrum", "analyse", "arrhenius_series", "auto_circuit",
    "brick_layer_gb_conductivity_S_per_cm", "brug_capacitance", "compute_drt",
    "conductivity_S_per_cm", "find_arcs", "fit", "hsu_mansfeld_capacitance", "initial_values",
    "linear_kk", "parse_circuit", "read_biologic_mpt", "read_gamry", "read_spectrum",
    "read_table", "read_zview",
]
