"""Equivalent-circuit language: ``"R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"``.

Grammar (``-`` series, ``p(a, b, ...)`` parallel), parsed by a tokenizer and a
recursive-descent parser into an expression tree; user text is never evaluated::

    series   := term ('-' term)*
    term     := element | 'p' '(' series (',' series)+ ')'
    element  := SYMBOL INDEX        e.g. R0, CPE1, Q2, Wo1, Ws1, W1, Zarc1, HN1, L0, C3

Parameter names: single-parameter elements R, C, L use the element name (``R1``); the others
``<element>_<param>`` (``CPE1_Q``, ``CPE1_alpha``, ``W1_sigma``, ``Wo1_R``, ``Wo1_tau``,
``Zarc1_R``, ``Zarc1_tau``, ``Zarc1_alpha``, ``HN1_beta``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.core.errors import InputError
from superionic.experiment.eis.elements import ALIASES, ELEMENTS, ElementType

_SYMBOLS = sorted(list(ELEMENTS) + list(ALIASES), key=len, reverse=True)
_ELEMENT_RE = re.compile(r"(" + "|".join(_SYMBOLS) + r")([0-9]+[A-Za-z0-9]*)")
_SINGLE_PARAM = {"R", "C", "L"}


@dataclass(frozen=True)
class Token:
    kind: str  # 'ELEM', 'P', '(', ')', ',', '-', 'END'
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split a circuit string into tokens; anything outside the grammar is an InputError."""
    if not isinstance(text, str):
        raise InputError("circuit must be a string", field="circuit")
    if len(text) > 2000:
        raise InputError("circuit string too long", field="circuit", expected="< 2000 characters")
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "(),-":
            tokens.append(Token(ch, ch, i))
            i += 1
            continue
        if ch == "p" and re.match(r"p\s*\(", text[i:]):
            tokens.append(Token("P", "p", i))
            i += 1
            continue
        m = _ELEMENT_RE.match(text, i)
        if m:
            tokens.append(Token("ELEM", m.group(0), i))
            i = m.end()
            continue
        raise InputError(
            f"unexpected character {ch!r} at position {i} in circuit {text!r}",
            field="circuit",
            expected="elements " + ", ".join(sorted(_SYMBOLS)) + " followed by an index "
            "(e.g. R0, CPE1), '-' for series and p(a,b,...) for parallel",
        )
    tokens.append(Token("END", "", n))
    return tokens


@dataclass(frozen=True)
class Element:
    """A leaf of the circuit tree: one named element."""

    name: str
    etype: ElementType

    @property
    def param_names(self) -> list[str]:
        if self.etype.symbol in _SINGLE_PARAM:
            return [self.name]
        return [f"{self.name}_{p}" for p in self.etype.params]


@dataclass(frozen=True)
class Series:
    children: tuple[Any, ...]


@dataclass(frozen=True)
class Parallel:
    children: tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, kind: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            shown = tok.text or "end of text"
            raise InputError(
                f"expected {kind!r} but found {shown!r} at position {tok.pos} in circuit "
                f"{self.text!r}",
                field="circuit",
            )
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.series()
        self.take("END")
        return node

    def series(self) -> Any:
        items = [self.term()]
        while self.peek().kind == "-":
            self.take("-")
            items.append(self.term())
        return items[0] if len(items) == 1 else Series(tuple(items))

    def term(self) -> Any:
        tok = self.peek()
        if tok.kind == "ELEM":
            self.take("ELEM")
            m = _ELEMENT_RE.fullmatch(tok.text)
            assert m is not None
            sym = ALIASES.get(m.group(1), m.group(1))
            return Element(tok.text, ELEMENTS[sym])
        if tok.kind == "P":
            self.take("P")
            self.take("(")
            items = [self.series()]
            while self.peek().kind == ",":
                self.take(",")
                items.append(self.series())
            self.take(")")
            if len(items) < 2:
                raise InputError(
                    f"p(...) needs at least two branches in circuit {self.text!r}",
                    field="circuit",
                )
            return Parallel(tuple(items))
        shown = tok.text or "end of text"
        raise InputError(
            f"expected an element or p( but found {shown!r} at position {tok.pos} in circuit "
            f"{self.text!r}",
            field="circuit",
        )


def parse_circuit(text: str) -> Any:
    """Parse a circuit string into a tree of Element, Series and Parallel nodes."""
    return _Parser(text).parse()


def iter_elements(node: Any) -> list[Element]:
    """Elements of a tree in the order they appear in the string."""
    if isinstance(node, Element):
        return [node]
    out: list[Element] = []
    for c in node.children:
        out.extend(iter_elements(c))
    return out


def to_string(node: Any) -> str:
    """Canonical string of a circuit tree."""
    if isinstance(node, Element):
        return node.name
    if isinstance(node, Series):
        return "-".join(to_string(c) for c in node.children)
    return "p(" + ",".join(to_string(c) for c in node.children) + ")"


def _evaluate(node: Any, omega: np.ndarray, values: dict[str, float]) -> np.ndarray:
    if isinstance(node, Element):
        args = [values[n] for n in node.param_names]
        return node.etype.impedance(omega, *args)
    zs = [_evaluate(c, omega, values) for c in node.children]
    if isinstance(node, Series):
        return np.sum(zs, axis=0)
    return 1.0 / np.sum([1.0 / z for z in zs], axis=0)


@dataclass
class Circuit:
    """A parsed equivalent circuit with named parameters, default bounds and fixed values.

    ``fixed`` maps parameter names to values held constant; ``bounds`` maps names to
    ``(low, high)`` replacing the physical defaults (R, C, Q, tau >= 0; 0 < alpha, beta <= 1).
    """

    text: str
    fixed: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tree = parse_circuit(self.text)
        self.elements = iter_elements(self.tree)
        names = [e.name for e in self.elements]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"element names repeated in circuit {self.text!r}: {dup}",
                             field="circuit", expected="unique names such as R1, R2")
        self.all_param_names: list[str] = []
        self._default_bounds: dict[str, tuple[float, float]] = {}
        self.param_units: dict[str, str] = {}
        for e in self.elements:
            for pn, b, u in zip(e.param_names, e.etype.bounds, e.etype.units, strict=True):
                self.all_param_names.append(pn)
                self._default_bounds[pn] = b
                self.param_units[pn] = u
        for key in list(self.fixed) + list(self.bounds):
            if key not in self._default_bounds:
                raise InputError(f"unknown parameter {key!r} for circuit {self.text!r}",
                                 field="circuit", expected=f"one of {self.all_param_names}")
        for key, (lo, hi) in self.bounds.items():
            if not lo < hi:
                raise InputError(f"bounds of {key} must satisfy low < high, got ({lo}, {hi})",
                                 field=key)

    @property
    def string(self) -> str:
        return to_string(self.tree)

    @property
    def param_names(self) -> list[str]:
        """Names of the free (not fixed) parameters, in circuit order."""
        return [p for p in self.all_param_names if p not in self.fixed]

    def bound(self, name: str) -> tuple[float, float]:
        return tuple(self.bounds.get(name, self._default_bounds[name]))  # type: ignore[return-value]

    def values_dict(self, free: np.ndarray | dict[str, float] | list[float]) -> dict[str, float]:
        if isinstance(free, dict):
            vals = dict(free)
        else:
            arr = np.asarray(free, dtype=float)
            if arr.size != len(self.param_names):
                raise InputError(f"circuit {self.string} has {len(self.param_names)} free "
                                 f"parameters, got {arr.size}", field="parameters",
                                 expected=str(self.param_names))
            vals = dict(zip(self.param_names, arr.tolist(), strict=True))
        vals.update(self.fixed)
        missing = [p for p in self.all_param_names if p not in vals]
        if missing:
            raise InputError(f"missing parameters {missing}", field="parameters")
        return vals

    def impedance(self, f_Hz: np.ndarray, params: np.ndarray | dict[str, float] | list[float]
                  ) -> np.ndarray:
        """Complex impedance (ohm) at frequencies ``f_Hz`` for free-parameter values ``params``
        (array in :attr:`param_names` order, or a dict)."""
        omega = 2.0 * np.pi * np.asarray(f_Hz, dtype=float)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _evaluate(self.tree, omega, self.values_dict(params))
