"""Readers of impedance spectra: CSV/TXT under any column names, ZView/ZPlot ``.z``,
Gamry ``.DTA`` (ZCURVE table) and BioLogic EC-Lab ``.mpt`` text exports.

All return a :class:`~superionic.experiment.eis.spectrum.Spectrum` in the convention
Z = Z' + jZ'' with Z'' < 0 for a capacitive arc, whatever sign the file used.

BioLogic binary ``.mpr`` files are not read: the maintained reader (``galvani``) is licensed
GPL-3, which would impose the GPL on this package, so it is not a dependency. Export the data
from EC-Lab as text (``.mpt``) instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from superionic.core.errors import InputError
from superionic.experiment.eis.spectrum import Spectrum

_PRIMES = {"\u2032": "'", "\u2033": "''", "\u2019": "'", "\u201d": "''", '"': "''"}


@dataclass(frozen=True)
class _Column:
    index: int
    role: str  # 'freq', 'omega', 'real', 'imag', 'modulus', 'phase', 'temperature'
    negated: bool
    scale: float
    header: str


def _norm(name: str) -> str:
    s = name.strip()
    for a, b in _PRIMES.items():
        s = s.replace(a, b)
    return s.replace(" ", "").replace("_", "").lower()


def _unit_scale(raw: str, role: str) -> float:
    """Multiplier from the unit written in a header to Hz, rad/s, ohm or degrees."""
    if role in ("freq", "omega"):
        if re.search(r"MHz", raw):
            return 1e6
        if re.search(r"kHz", raw, re.I):
            return 1e3
        if re.search(r"mHz", raw):
            return 1e-3
        return 1.0
    if role in ("real", "imag", "modulus"):
        if re.search(r"(M\s*(ohm|\u03a9|\u2126))", raw):
            return 1e6
        if re.search(r"(k\s*(ohm|\u03a9|\u2126))", raw, re.I):
            return 1e3
        if re.search(r"(m\s*(ohm|\u03a9|\u2126))", raw):
            return 1e-3
        return 1.0
    if role == "phase":
        n = raw.lower()
        if "rad" in n and "deg" not in n:
            return 180.0 / np.pi
        return 1.0
    return 1.0


def _classify(raw: str) -> tuple[str | None, bool]:
    """Role of a column from its header, and whether it holds the negated quantity."""
    n = _norm(raw)
    neg = n.startswith("-")
    m = n.lstrip("-+")
    if not m:
        return None, False
    if m.startswith("temp") or m.startswith("t/\u00b0c") or m in ("t(k)", "t/k"):
        return "temperature", False
    if "omega" in m or "rad/s" in m or m.startswith("w/") or m == "w":
        return "omega", False
    if "freq" in m or m in ("f", "hz") or m.startswith(("f/", "f(", "f[", "fhz")):
        return "freq", False
    if "phase" in m or "phz" in m or m.startswith(("theta", "phi", "arg(")):
        return "phase", neg
    if ("|z|" in m or "zmod" in m or "modulus" in m or m.startswith(("mod", "abs(z)"))
            or m in ("z", "z/ohm", "z(ohm)")):
        return "modulus", False
    if ("z''" in m or "im(z)" in m or "zimag" in m or "zim" in m or "imag" in m
            or m.startswith(("zi", "z2", "imz")) or "z_im" in m):
        return "imag", neg
    if ("z'" in m or "re(z)" in m or "zreal" in m or "zre" in m or "real" in m
            or m.startswith(("zr", "z1", "rez"))):
        return "real", neg
    return None, False


def _identify(headers: list[str], source: str) -> dict[str, _Column]:
    cols: dict[str, _Column] = {}
    for i, h in enumerate(headers):
        role, neg = _classify(h)
        if role is None or role in cols:
            continue
        cols[role] = _Column(i, role, neg, _unit_scale(h, role), h.strip())
    has_f = "freq" in cols or "omega" in cols
    cartesian = "real" in cols and "imag" in cols
    polar = "modulus" in cols and "phase" in cols
    if not has_f or not (cartesian or polar):
        missing = []
        if not has_f:
            missing.append("frequency (e.g. 'freq/Hz', 'Frequency (Hz)')")
        if not (cartesian or polar):
            missing.append("Z' and Z'' (e.g. \"Z'\", 'Re(Z)/Ohm', 'Zreal', \"-Z''\", "
                           "'-Im(Z)/Ohm') or |Z| and phase")
        raise InputError(
            "could not identify the impedance columns; columns found: "
            + ", ".join(repr(h.strip()) for h in headers),
            source=source,
            field="header",
            expected=" and ".join(missing),
        )
    return cols


_NUM = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return [t.strip().strip('"').strip() for t in line.rstrip("\r\n").split(delim)]


def _is_number(tok: str) -> bool:
    return bool(_NUM.match(tok.strip()))


def _to_float(tok: str, decimal_comma: bool) -> float:
    t = tok.strip()
    if decimal_comma:
        t = t.replace(",", ".")
    return float(t) if t else float("nan")


def _guess_delimiter(lines: list[str]) -> str | None:
    sample = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][-10:]
    for d in ("\t", ";", ","):
        counts = {ln.count(d) for ln in sample}
        if len(counts) == 1 and counts.pop() > 0:
            return d
    return None


def _temperature_from_text(lines: list[str]) -> float | None:
    """Temperature stated in header lines ('Temperature: 25 C', 'T = 298.15 K'), in kelvin."""
    pat = re.compile(
        r"(?:\b(?i:temperature|temp)\b|\bT\b)\s*(?:\(([^)]*)\))?\s*[:=]?\s*"
        r"([-+]?\d+(?:[.,]\d+)?)\s*(\u00b0\s*C|deg\s*C|C\b|K\b|(?i:celsius|kelvin))?"
    )
    for ln in lines:
        m = pat.search(ln)
        if not m:
            continue
        val = float(m.group(2).replace(",", "."))
        unit = (m.group(3) or m.group(1) or "").lower()
        if "k" in unit and "c" not in unit.replace("kelvin", ""):
            return val
        if "c" in unit:
            return val + 273.15
        return val if val > 150.0 else val + 273.15
    return None


def _finish(f: np.ndarray, zr: np.ndarray, zi: np.ndarray, source: str,
            meta: dict) -> Spectrum:
    """Normalise the sign of Z'' to Z'' < 0 for capacitive data and build the Spectrum."""
    finite = np.isfinite(zi)
    if finite.sum() and np.mean(zi[finite] > 0) > 0.8 and np.median(zi[finite]) > 0:
        zi = -zi
        meta["imag_sign_flipped"] = True
    return Spectrum(f, zr + 1j * zi, source=source, metadata=meta)


def _from_table(rows: np.ndarray, headers: list[str], source: str, meta: dict) -> Spectrum:
    cols = _identify(headers, source)
    if max(c.index for c in cols.values()) >= rows.shape[1]:
        raise InputError(f"header has {len(headers)} names but the data rows have "
                         f"{rows.shape[1]} columns; columns found: {headers}", source=source)

    def get(role: str) -> np.ndarray:
        c = cols[role]
        v = rows[:, c.index] * c.scale
        return -v if c.negated else v

    if "freq" in cols:
        f = get("freq")
    else:
        f = get("omega") / (2.0 * np.pi)
    if "real" in cols and "imag" in cols:
        zr, zi = get("real"), get("imag")
    else:
        mod, ph = get("modulus"), np.deg2rad(get("phase"))
        zr, zi = mod * np.cos(ph), mod * np.sin(ph)
        meta["converted_from"] = "modulus and phase"
    meta["columns"] = {r: c.header for r, c in cols.items()}
    if "temperature" in cols and "temperature_K" not in meta:
        c = cols["temperature"]
        t = float(np.nanmean(rows[:, c.index]))
        meta["temperature_K"] = t if ("k" in c.header.lower() and "c" not in
                                      c.header.lower().replace("k", "")) else t + 273.15
    return _finish(f, zr, zi, source, meta)


def _parse_block(lines: list[str], source: str, header_hint: int | None = None,
                 delim: str | None = None) -> tuple[list[str] | None, np.ndarray, list[str]]:
    """Find the header row and the numeric block below it. Returns (headers, rows, preamble)."""
    if delim is None:
        delim = _guess_delimiter(lines)
    data_start = None
    if header_hint is not None:
        data_start = header_hint + 1
    else:
        for i, ln in enumerate(lines):
            toks = _split(ln, delim)
            toks = [t for t in toks if t != ""] if delim is None else toks
            if len(toks) >= 2 and all(_is_number(t) for t in toks if t != ""):
                data_start = i
                break
    if data_start is None:
        raise InputError("no numeric data rows found", source=source,
                         expected="rows of numbers below a header line")
    decimal_comma = delim in ("\t", ";") and any(
        "," in t for t in _split(lines[data_start], delim))
    rows: list[list[float]] = []
    for ln in lines[data_start:]:
        if not ln.strip():
            if rows:
                break
            continue
        toks = _split(ln, delim)
        if not any(_is_number(t) for t in toks):
            break
        rows.append([_to_float(t, decimal_comma) if _is_number(t) or not t else float("nan")
                     for t in toks])
    width = max(len(r) for r in rows)
    arr = np.full((len(rows), width), np.nan)
    for k, r in enumerate(rows):
        arr[k, : len(r)] = r
    headers = None
    preamble = lines[:data_start]
    for ln in reversed(preamble):
        if ln.strip():
            h = ln.strip().lstrip("#").strip()
            toks = _split(h, delim)
            if delim is None and len(toks) != width:
                toks = re.split(r"\s{2,}|\t", h) if len(re.split(r"\s{2,}|\t", h)) == width \
                    else toks
            headers = toks
            break
    return headers, arr, preamble


def _read_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(enc).splitlines()
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1", errors="replace").splitlines()  # pragma: no cover


def read_table(path: str | Path) -> Spectrum:
    """CSV/TXT/TSV with a header naming frequency and Z', Z'' (or |Z| and phase) in any usual
    spelling and unit; comma, semicolon, tab or whitespace separated; decimal commas accepted.
    A file without a header is read only when it has exactly three columns f, Z', Z''."""
    p = Path(path)
    lines = _read_lines(p)
    headers, rows, preamble = _parse_block(lines, str(p))
    meta: dict = {"format": "table"}
    t = _temperature_from_text(preamble)
    if t is not None:
        meta["temperature_K"] = t
    if headers is None or all(_is_number(h) for h in headers if h):
        if rows.shape[1] == 3:
            # headerless three-column file (the impedance.py CSV layout): f, Z', Z''
            meta["columns_assumed"] = "no header: frequency, Z', Z'' (impedance.py layout)"
            return _finish(rows[:, 0], rows[:, 1], rows[:, 2], str(p), meta)
        raise InputError(f"no header line naming the {rows.shape[1]} columns",
                         source=str(p), field="header",
                         expected="a header such as 'freq/Hz, Re(Z)/Ohm, -Im(Z)/Ohm', or "
                         "exactly three columns frequency, Z', Z''")
    return _from_table(rows, headers, str(p), meta)


def read_zview(path: str | Path) -> Spectrum:
    """ZView/ZPlot ``.z``: comment block ending 'End Comments', then comma-separated rows
    Freq(Hz), Ampl, Bias, Time(s), Z'(a), Z''(b), ... (Z'' signed as measured)."""
    p = Path(path)
    lines = _read_lines(p)
    end = next((i for i, ln in enumerate(lines) if ln.strip().lower().startswith("end comments")),
               None)
    if end is None:
        raise InputError("no 'End Comments' line", source=str(p), expected="a ZPlot/ZView .z file")
    _, rows, _ = _parse_block(lines, str(p), header_hint=end, delim=None
                              if "," not in lines[end + 1] else ",")
    if rows.shape[1] >= 6:
        f, zr, zi = rows[:, 0], rows[:, 4], rows[:, 5]
    elif rows.shape[1] >= 3:
        f, zr, zi = rows[:, 0], rows[:, 1], rows[:, 2]
    else:
        raise InputError(f"data rows have {rows.shape[1]} columns", source=str(p),
                         expected="Freq, Ampl, Bias, Time, Z', Z'' ... or Freq, Z', Z''")
    meta: dict = {"format": "zview"}
    t = _temperature_from_text(lines[:end])
    if t is not None:
        meta["temperature_K"] = t
    return _finish(f, zr, zi, str(p), meta)


def read_gamry(path: str | Path) -> Spectrum:
    """Gamry ``.DTA``: the ZCURVE TABLE (header row Pt, Time, Freq, Zreal, Zimag, ...,
    a units row, then tab-separated rows)."""
    p = Path(path)
    lines = _read_lines(p)
    start = next((i for i, ln in enumerate(lines) if ln.split("\t")[0].strip() == "ZCURVE"), None)
    if start is None:
        raise InputError("no ZCURVE table", source=str(p), expected="a Gamry EIS .DTA file")
    headers = _split(lines[start + 1], "\t")
    _, rows, _ = _parse_block(lines, str(p), header_hint=start + 2, delim="\t")
    meta: dict = {"format": "gamry"}
    for ln in lines[:start]:
        parts = ln.split("\t")
        if parts[0].strip().upper() in ("TEMP", "TEMPERATURE", "CELLTEMP") and len(parts) > 2:
            try:
                val = float(parts[2].replace(",", "."))
            except ValueError:
                continue
            unit = " ".join(parts[3:]).lower()
            meta["temperature_K"] = val if ("k" in unit and "c" not in unit) else val + 273.15
    if "temperature_K" not in meta:
        t = _temperature_from_text(lines[:start])
        if t is not None:
            meta["temperature_K"] = t
    return _from_table(rows, headers, str(p), meta)


def read_biologic_mpt(path: str | Path) -> Spectrum:
    """BioLogic EC-Lab ``.mpt`` text export ('Nb header lines : N', tab-separated columns
    freq/Hz, Re(Z)/Ohm, -Im(Z)/Ohm, ...)."""
    p = Path(path)
    lines = _read_lines(p)
    nhead = None
    for ln in lines[:5]:
        m = re.search(r"Nb header lines\s*:\s*(\d+)", ln)
        if m:
            nhead = int(m.group(1))
            break
    if nhead is None:
        header_idx = None
    else:
        header_idx = nhead - 1
    if header_idx is None:
        return read_table(p)
    headers = _split(lines[header_idx], "\t")
    _, rows, _ = _parse_block(lines, str(p), header_hint=header_idx, delim="\t")
    meta: dict = {"format": "biologic-mpt"}
    t = _temperature_from_text(lines[:header_idx])
    if t is not None:
        meta["temperature_K"] = t
    return _from_table(rows, headers, str(p), meta)


def read_spectrum(path: str | Path, fmt: str | None = None) -> Spectrum:
    """Read an impedance spectrum, choosing the reader from ``fmt`` or the file extension
    ('.z' ZView, '.dta' Gamry, '.mpt' BioLogic, anything else a delimited table)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", source=str(p))
    ext = (fmt or p.suffix.lstrip(".")).lower()
    if ext == "mpr":
        raise InputError(
            "BioLogic binary .mpr files are not read (the maintained reader, galvani, is "
            "GPL-3 licensed and is not a dependency)",
            source=str(p),
            expected="the EC-Lab text export (.mpt): in EC-Lab, Export as Text",
        )
    readers = {"z": read_zview, "dta": read_gamry, "mpt": read_biologic_mpt}
    return readers.get(ext, read_table)(p)
