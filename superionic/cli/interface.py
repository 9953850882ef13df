"""``superionic interface MODEL --config FILE.yaml [--json OUT] [--plot PNG]`` and ``list``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("interface", help="solid-state interface and device models",
                              description="Run an interface model, or 'list' the models.")
    p.add_argument("model", help="model name, or 'list'")
    p.add_argument("--config", help="YAML file of parameters (SI); 'material: NAME' allowed")
    p.add_argument("--json", help="write the result as JSON here")
    p.add_argument("--plot", help="write the figure here (PNG/PDF)")
    p.set_defaults(func=run)


def _load_config(path: str | None) -> dict:
    if not path:
        return {}
    import yaml

    from superionic.core.errors import InputError

    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise InputError(f"cannot read config: {exc}", source=path) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", source=path) from exc
    if not isinstance(data, dict):
        raise InputError("config must be a mapping of parameter: value", source=path)
    return data


def run(args: argparse.Namespace) -> int:
    from superionic.cli._common import print_table, write_json
    from superionic.core.errors import InputError
    from superionic.interface.models import MODELS, run_model
    from superionic.interface.parameters import material_names

    if args.model == "list":
        for spec in MODELS.values():
            print(f"{spec.name}: {spec.description}")
            for k, (default, unit, doc) in spec.params.items():
                print(f"    {k:<16} {default!s:<24} [{unit}]  {doc}")
        print("material sets: " + ", ".join(material_names()))
        return 0
    cfg = _load_config(args.config)
    try:
        result = run_model(args.model, cfg)
    except InputError as exc:
        if args.config and exc.source is None:
            raise InputError(exc.problem, source=args.config, field=exc.field,
                             expected=exc.expected) from exc
        raise
    rows = [(k, f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in result.items()
            if isinstance(v, (float, int, bool, str))]
    print_table(rows, title=f"interface {args.model}")
    if args.json:
        write_json(args.json, result)
    if args.plot:
        from superionic.report.interface_plots import plot_result

        plot_result(result, args.plot)
    return 0
