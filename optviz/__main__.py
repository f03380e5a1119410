"""Command line: `python -m optviz run|code|list|quiz|zoo`."""
from __future__ import annotations

import argparse
import json
import sys

from .core.catalog import catalog
from .core.codegen import generate_script
from .core.config import Config, ConfigError


def _read(path: str) -> Config:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    return Config.from_json(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m optviz", description="Run torch.optim on 2-D surfaces and print the trace.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a config and print the trace as JSON")
    r.add_argument("config", help="a config JSON file, or - for standard input")
    r.add_argument("--indent", type=int, default=None)
    c = sub.add_parser("code", help="print a standalone PyTorch script that reproduces the run")
    c.add_argument("config")
    sub.add_parser("list", help="print the catalog of surfaces, optimizers and schedulers as JSON")
    q = sub.add_parser("quiz", help="print every built-in Predict-then-reveal question with the answer its runs give, as JSON")
    q.add_argument("--indent", type=int, default=None)
    z = sub.add_parser("zoo", help="tune every optimizer of a Zoo JSON {base, optimizers, tune} by its protocol and print "
                                   "each tuning and its tuned run's end as JSON; --write-table rewrites the gallery's table")
    z.add_argument("config", nargs="?", default=None)
    z.add_argument("--write-table", action="store_true")
    z.add_argument("--indent", type=int, default=None)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "list":
            print(json.dumps(catalog(), indent=1))
            return 0
        if a.cmd == "quiz":
            from .lessons.predict_bank import quiz

            print(json.dumps(quiz(), indent=a.indent, allow_nan=False))
            return 0
        if a.cmd == "zoo":
            from .core.specs import json_data
            from .lessons import zoo

            if a.write_table:
                zoo.write_table(log=lambda line: print(line, file=sys.stderr))
                return 0
            if a.config is None:
                ap.error("zoo needs a config file (or - for standard input), or --write-table")
            text = sys.stdin.read() if a.config == "-" else open(a.config, encoding="utf-8").read()
            print(json.dumps(zoo.summary(zoo.parse_zoo(json_data(text))), indent=a.indent, allow_nan=False))
            return 0
        config = _read(a.config)
        if a.cmd == "code":
            print(generate_script(config))
            return 0
        from .core.engine import run

        print(run(config).to_json(indent=a.indent))
        return 0
    except ConfigError as e:
        print(f"invalid config: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cannot read {a.config}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
