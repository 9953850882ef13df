"""Self-contained HTML report: one file, figures embedded as base64 PNG, tables and notes."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444}h2{font-size:1.25em;margin-top:1.6em;
border-bottom:1px solid #bbb}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f2f2f2}figure{margin:1em 0}figure img{max-width:100%}
figcaption{font-size:.9em;color:#555}.note{background:#fff8e1;border-left:4px solid #f0b400;
padding:.4em .8em;margin:.6em 0}.small{font-size:.85em;color:#666}
"""


@dataclass
class Section:
    """A titled block: paragraphs, tables (header + rows), figures (PNG paths) and notes."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    figures: list[tuple[str | Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _table(header: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _figure(path: str | Path, caption: str) -> str:
    p = Path(path)
    if not p.exists():
        return f'<p class="note">figure missing: {html.escape(str(p))}</p>'
    data = base64.b64encode(p.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_report(path: str | Path, title: str, sections: list[Section],
                 footer: str = "") -> Path:
    """Write one self-contained HTML page and return its path."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        parts += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
        parts += [_table(h, r) for h, r in s.tables]
        parts += [_figure(p, c) for p, c in s.figures]
    if footer:
        parts.append(f'<p class="small">{html.escape(footer)}</p>')
    parts.append("</body></html>")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
