"""`superionic eis` end to end: JSON contract and Arrhenius of bulk and grain boundary."""

import json

import numpy as np
import pytest

from superionic.cli.main import main
from superionic.core.units import KB_EV_PER_K
from superionic.experiment.eis.circuits import Circuit

TEXT = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
T_CM, A_CM2 = 0.1, 0.5
EA_B, EA_GB = 0.30, 0.45


def _R(T, Ea, sigmaT_ref):
    """R = t/(sigma A) for sigma T = sigmaT_ref exp(-Ea/kT) / exp(-Ea/(k 298.15))."""
    sigma = sigmaT_ref * np.exp(-Ea / KB_EV_PER_K * (1 / T - 1 / 298.15)) / T
    return T_CM / (sigma * A_CM2)


def _write(path, T, seed):
    f = np.logspace(7, -1, 61)
    Rb = _R(T, EA_B, 0.006)   # ~ 0.02 mS/cm bulk at 298 K
    Rg = _R(T, EA_GB, 0.012)
    p = {"R0": 3.0, "R1": Rb, "CPE1_Q": 2e-11**0.95 / Rb**0.05, "CPE1_alpha": 0.95,
         "R2": Rg, "CPE2_Q": 1e-9**0.85 / Rg**0.15, "CPE2_alpha": 0.85,
         "CPE3_Q": 2e-6, "CPE3_alpha": 0.85}
    Z = Circuit(TEXT).impedance(f, p)
    rng = np.random.default_rng(seed)
    Z = Z + 0.002 * np.abs(Z) * (rng.normal(size=Z.size) + 1j * rng.normal(size=Z.size))
    lines = [f"# Temperature: {T:.2f} K", "Frequency/Hz\tZ'/Ohm\t-Z''/Ohm"]
    lines += [f"{a:.8e}\t{b.real:.8e}\t{-b.imag:.8e}" for a, b in zip(f, Z, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return Rb, Rg


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_json_contract_and_arrhenius(tmp_path):
    temps = [298.15, 323.15, 348.15]
    truth = [_write(tmp_path / f"s{i}.txt", T, i) for i, T in enumerate(temps)]
    out = tmp_path / "out.json"
    rc = main(["eis", *[str(tmp_path / f"s{i}.txt") for i in range(3)], "--thickness",
               str(T_CM), "--area", str(A_CM2), "--circuit", TEXT, "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    for spec, (Rb, Rg) in zip(data["spectra"], truth, strict=True):
        assert [a["assignment"] for a in spec["arcs"]] == ["bulk", "grain_boundary"]
        for a in spec["arcs"]:
            assert {"value", "stderr"} <= set(a["R_ohm"]) and {"value", "stderr"} <= set(a["C_F"])
        for key, R in (("sigma_bulk_S_per_cm", Rb), ("sigma_gb_S_per_cm", Rg),
                       ("sigma_total_S_per_cm", Rb + Rg)):
            s = spec[key]
            assert abs(s["value"] - T_CM / (R * A_CM2)) < 4 * s["stderr"], key
        assert spec["kk"]["passed"] is True
        assert "chi2" in spec and "parameters" in spec and spec["circuit"] == TEXT
    arr = data["arrhenius"]
    assert arr["bulk"]["Ea_eV"]["value"] == pytest.approx(EA_B, abs=0.02)
    assert arr["grain_boundary"]["Ea_eV"]["value"] == pytest.approx(EA_GB, abs=0.02)
