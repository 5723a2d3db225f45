"""The ``kinship`` command line.

Sub-commands register themselves from their packages so that each part of the
project owns its own command: ``formats.cli.register`` adds ``import``/``export``,
``engine.commands.register`` adds ``search`` and ``demo``.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinship",
        description="Forensic STR kinship matching: exact LRs and batch search.",
    )
    from kinship import __version__

    parser.add_argument("--version", action="version", version=f"kinship {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in ("engine.commands", "formats.cli", "validation.cli"):
        try:
            mod = __import__(modname, fromlist=["register"])
        except ModuleNotFoundError as e:
            # a part of the project that is not installed: skip its commands;
            # any other missing module is a real error
            if e.name is None or not modname.startswith(e.name):
                raise
            continue
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
