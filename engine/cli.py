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
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (``kinship export ... | head -1``): stop quietly.  Python
        # flushes stdout at exit and would fail again, so point it at devnull
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe)
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except KeyboardInterrupt:
        print("kinship: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        # an expected error a command did not catch itself: one line, no traceback
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"kinship {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as e:
        # the project's errors (FormatError, LocusError, FrequencyError, CaseError,
        # MutationError, bad values) are ValueErrors; a KeyError names an unknown name
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"kinship {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
