"""Entry point of the ``superionic`` command.

Every module in :mod:`superionic.cli` that defines ``register(subparsers)`` contributes its
sub-commands; each sub-command sets ``func`` (called with the parsed namespace, returning an
exit code). Heavy imports happen inside the commands, so ``superionic --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import superionic
from superionic.core.errors import SuperionicError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superionic",
        description="Solid-state ionics from atoms to cells.",
    )
    parser.add_argument("--version", action="version", version=superionic.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import superionic.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name == "main" or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"superionic.cli.{info.name}")
        register = getattr(mod, "register", None)
        if register is not None:
            register(sub)
    return parser


def _quiet_third_party_warnings() -> None:
    """Silence known-harmless warnings of dependencies (our own warnings still show)."""
    import warnings

    for module in ("chgnet", "pymatgen", "torch", "ase", "dask", "distributed"):
        warnings.filterwarnings("ignore", module=module)
    # ASE's Frechet cell filter takes matrix logarithms of near-identity deformations
    warnings.filterwarnings("ignore", message="logm result may be inaccurate")


def main(argv: list[str] | None = None) -> int:
    _quiet_third_party_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SuperionicError as exc:
        print(f"superionic {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
