"""Readers: each format read from a small hand-written file to the exact numbers."""

import numpy as np
import pytest

from superionic.core.errors import InputError
from superionic.experiment.eis.readers import read_spectrum

# the same three points everywhere: f (Hz), Z' (ohm), Z'' (ohm, negative = capacitive)
F = np.array([1e6, 1e3, 1.0])
ZR = np.array([10.5, 150.0, 400.0])
ZI = np.array([-2.25, -75.5, -12.0])


def _check(spec, f=F, zr=ZR, zi=ZI):
    np.testing.assert_array_equal(spec.f_Hz, f)
    np.testing.assert_array_equal(spec.Z.real, zr)
    np.testing.assert_array_equal(spec.Z.imag, zi)


def test_csv_minus_im_header_and_temperature(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("# Temperature: 25 C\nfreq/Hz,Re(Z)/Ohm,-Im(Z)/Ohm\n"
                 "1000000,10.5,2.25\n1000,150.0,75.5\n1,400.0,12.0\n")
    s = read_spectrum(p)
    _check(s)
    assert s.temperature_K == pytest.approx(298.15)


def test_tab_kilo_units_signed_zimag_and_unsorted_rows(tmp_path):
    p = tmp_path / "b.txt"
    p.write_text("Frequency (kHz)\tZ' (kOhm)\tZ'' (kOhm)\tT (K)\n"
                 "1\t0.15\t-0.0755\t350\n1000\t0.0105\t-0.00225\t350\n0.001\t0.4\t-0.012\t350\n")
    s = read_spectrum(p)
    np.testing.assert_allclose(s.f_Hz, F, rtol=1e-15)
    np.testing.assert_allclose(s.Z.real, ZR, rtol=1e-15)
    np.testing.assert_allclose(s.Z.imag, ZI, rtol=1e-15)
    assert s.temperature_K == pytest.approx(350.0)


def test_unlabelled_positive_imaginary_column_is_flipped(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("f,Zreal,Zimag\n1e6,10.5,2.25\n1e3,150,75.5\n1,400,12\n")
    s = read_spectrum(p)
    _check(s)
    assert s.metadata["imag_sign_flipped"] is True


def test_modulus_and_phase_form(tmp_path):
    mod = np.abs(ZR + 1j * ZI)
    ph = np.degrees(np.angle(ZR + 1j * ZI))
    p = tmp_path / "d.csv"
    p.write_text("Freq(Hz);|Z| (Ohm);Phase (deg)\n" + "".join(
        f"{f:.17g};{m:.17g};{a:.17g}\n" for f, m, a in zip(F, mod, ph, strict=True)))
    s = read_spectrum(p)
    np.testing.assert_allclose(s.Z.real, ZR, rtol=1e-12)
    np.testing.assert_allclose(s.Z.imag, ZI, rtol=1e-12)


def test_zview_z_file(tmp_path):
    p = tmp_path / "e.z"
    p.write_text("ZPlot2 ASCII\nSample: LLZO pellet\nTemperature = 60 C\nEnd Comments\n"
                 "1.0E+06, 0.01, 0, 0.1, 1.05E+01, -2.25E+00, 0, 0, 1\n"
                 "1.0E+03, 0.01, 0, 0.2, 1.5E+02, -7.55E+01, 0, 0, 1\n"
                 "1.0E+00, 0.01, 0, 0.3, 4.0E+02, -1.2E+01, 0, 0, 1\n")
    s = read_spectrum(p)
    _check(s)
    assert s.temperature_K == pytest.approx(333.15)


def test_gamry_dta(tmp_path):
    p = tmp_path / "f.DTA"
    p.write_text(
        "EXPLAIN\nTAG\tEISPOT\nTITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier\n"
        "ZCURVE\tTABLE\n"
        "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange\n"
        "\t#\ts\tHz\tohm\tohm\tV\tohm\t\u00b0\tA\tV\t#\n"
        "\t0\t1\t1000000\t10.5\t-2.25\t1\t10.7\t-12.1\t0\t0\t5\n"
        "\t1\t2\t1000\t150\t-75.5\t1\t167.9\t-26.7\t0\t0\t5\n"
        "\t2\t3\t1\t400\t-12\t1\t400.2\t-1.7\t0\t0\t5\n")
    _check(read_spectrum(p))


def test_biologic_mpt_with_decimal_commas(tmp_path):
    p = tmp_path / "g.mpt"
    p.write_text(
        "EC-Lab ASCII FILE\nNb header lines : 4\n\n"
        "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\t|Z|/Ohm\tPhase(Z)/deg\ttime/s\n"
        "1,0000000E+006\t1,0500000E+001\t2,2500000E+000\t10,7\t-12,1\t1\n"
        "1,0000000E+003\t1,5000000E+002\t7,5500000E+001\t167,9\t-26,7\t2\n"
        "1,0000000E+000\t4,0000000E+002\t1,2000000E+001\t400,2\t-1,7\t3\n",
        encoding="latin-1")
    _check(read_spectrum(p))


def test_unrecognised_columns_name_file_and_columns(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("time,voltage,current\n1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(InputError) as e:
        read_spectrum(p)
    msg = str(e.value)
    assert "bad.csv" in msg and "'time'" in msg and "'voltage'" in msg and "'current'" in msg


def test_mpr_binary_refused_with_advice(tmp_path):
    p = tmp_path / "h.mpr"
    p.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a\x00")
    with pytest.raises(InputError, match=r"\.mpt"):
        read_spectrum(p)


def test_headerless_three_columns_and_headerless_four_refused(tmp_path):
    p = tmp_path / "i.csv"
    p.write_text("1e6,10.5,-2.25\n1e3,150,-75.5\n1,400,-12\n")
    _check(read_spectrum(p))
    q = tmp_path / "j.csv"
    q.write_text("1e6,10.5,-2.25,1\n1e3,150,-75.5,1\n1,400,-12,1\n")
    with pytest.raises(InputError, match="j.csv"):
        read_spectrum(q)
