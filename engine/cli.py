"""The ``kinship`` command line.

Sub-commands register themselves from their packages so that each part of the
project owns its own command: ``formats.cli.register`` adds ``import``/``export``,
``engine.commands.register`` adds ``search`` and ``demo``.

Options of every command (before or after the command's name):

``-v`` / ``--verbose``
    Show the log: ``-v`` the run's phases and their durations (INFO), ``-vv``
    every task as well (DEBUG).  Without it only warnings and errors are shown.
``--log-file FILE``
    Append the log (with times, at INFO, or DEBUG with ``-vv``) to ``FILE``,
    created private (:mod:`formats.perms`).  The command's one-line error and
    warning messages (``kinship ...: error: ...``) go to the file as well as to
    stderr (:class:`_MessageTee`).

The log names files, counts, settings and durations, never a genotype or an
allele of a sample.  Every ``kinship search`` / ``kinship demo`` run also keeps a
run log beside its results (:mod:`engine.runlog`).
"""
from __future__ import annotations

import argparse
import logging
import sys

#: the loggers of the project's packages (each module logs under its package's name)
LOGGERS = ("engine", "formats", "kinship", "validation")


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (``kinship search: error: the following arguments are
    required: job (see kinship search --help)``), like every other expected error;
    the sub-commands' parsers are of this class too."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    _add_log_options(parser, None)
    for sp in sub.choices.values():
        # after the command's name too; SUPPRESS keeps the value given before it
        _add_log_options(sp, argparse.SUPPRESS)
    return parser


class _NotThis(Exception):
    pass


class _TryParser(Parser):
    def error(self, message):
        raise _NotThis(message)


def search_args(argv):
    """``argv`` parsed by the ``search`` command's own parser alone (no other
    command's module imported), or ``None`` when it is not a valid ``kinship
    search`` command line (the full parser then reads it and says why).  Used for
    the worker's client, which must import nothing heavy, and in the worker
    (:mod:`engine.worker`)."""
    if "search" not in argv or "-h" in argv or "--help" in argv:
        return None
    from .commands import add_search_parser

    parser = _TryParser(prog="kinship")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sp = add_search_parser(sub)
    _add_log_options(parser, None)
    _add_log_options(sp, argparse.SUPPRESS)
    try:
        args = parser.parse_args(argv)
    except _NotThis:
        return None
    return args if args.command == "search" else None


def _add_log_options(p, default) -> None:
    g = p.add_argument_group("log")
    g.add_argument("-v", "--verbose", action="count",
                   default=0 if default is None else default,
                   help="show the log: -v phases and durations, -vv every task")
    g.add_argument("--log-file", metavar="FILE", default=default,
                   help="append the log, with times, to FILE (created private)")


class _OneLine(logging.Formatter):
    """``kinship: LEVEL: message`` on stderr, one line per record (a traceback only at
    -vv: the log is for people, not a debugger)."""

    def __init__(self, fmt, datefmt=None, tracebacks=False):
        super().__init__(fmt, datefmt)
        self.tracebacks = tracebacks

    def formatException(self, ei):
        return super().formatException(ei) if self.tracebacks else ""

    def format(self, record):
        s = super().format(record)
        return s if self.tracebacks else s.rstrip("\n")


def setup_logging(verbose: int = 0, log_file=None) -> list:
    """Send the project's log records to stderr (WARNING; INFO at ``-v``; DEBUG at
    ``-vv``) and, with ``log_file``, append them to that file (INFO or DEBUG) with
    UTC times.  Returns the handlers it added (for :func:`teardown_logging`)."""
    import time

    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handlers = []
    h = logging.StreamHandler(sys.stderr)
    h.setLevel(level)
    h.setFormatter(_OneLine("kinship: %(levelname)s: %(message)s", tracebacks=verbose >= 2))
    handlers.append(h)
    if log_file:
        import os

        from formats.perms import file_mode

        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, file_mode())
        os.fchmod(fd, file_mode())
        fh = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
        fh.setLevel(min(level, logging.INFO))
        f = _OneLine("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ",
                     tracebacks=verbose >= 2)
        f.converter = time.gmtime
        fh.setFormatter(f)
        handlers.append(fh)
    for name in LOGGERS:
        lg = logging.getLogger(name)
        lg.setLevel(min(hh.level for hh in handlers))
        lg.propagate = False
        for hh in handlers:
            lg.addHandler(hh)
    return handlers


def teardown_logging(handlers) -> None:
    for name in LOGGERS:
        lg = logging.getLogger(name)
        for hh in handlers:
            lg.removeHandler(hh)
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
    for hh in handlers:
        if hh.stream is not sys.stderr:
            hh.close()


def main(argv=None) -> int:
    from .worker import route, run_client, uses_worker

    if argv is None:
        _collector_for_a_command()
    words = list(sys.argv[1:] if argv is None else argv)
    args = search_args(words) if uses_worker(words) else None
    if args is not None and route(args) is not None:
        # kinship search --worker: the job, its log and its --log-file are the worker's;
        # this process only sends the command line and prints what comes back
        return run_client(route(args), words)
    if args is None:
        parser = build_parser()
        args = parser.parse_args(words)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
    from .runlog import set_command

    args.cli_argv = words              # what kinship search --worker sends to the worker
    args.cli = sys.modules[__name__]   # kinship worker start runs each job's main() in it
    set_command(["kinship"] + words)
    try:
        handlers = setup_logging(args.verbose, args.log_file)
    except OSError as e:
        print(f"kinship {args.command}: error: cannot write the log file {args.log_file}: "
              f"{e.strerror or e}", file=sys.stderr)
        return 1
    tee = None
    if len(handlers) > 1:             # a log file: copy the one-line messages into it
        tee = _MessageTee(sys.stderr, handlers[1])
        sys.stderr = tee
    try:
        return _run(args)
    finally:
        if tee is not None:
            tee.flush()
            sys.stderr = tee.stream
        teardown_logging(handlers)
        set_command(None)
        if argv is None:
            _before_exit()


#: the cyclic garbage collector's first threshold in the ``kinship`` command's process
#: (Python's default: 700 allocations)
GC_THRESHOLD0 = 100_000


def _collector_for_a_command() -> None:
    """The ``kinship`` command's process (:func:`main` without ``argv``): the cyclic
    garbage collector runs its youngest pass every :data:`GC_THRESHOLD0` container
    allocations instead of 700.  A command's imports (numpy, pyarrow, numba and its
    typing registries, the project) make about half a million long-lived objects and
    almost no garbage, and Python's default thresholds walked them in several
    hundred passes, three of them full: 0.08 s of a small search (alternated,
    ``benchmarks/README.md``, fixed cost).  Garbage is still collected, in larger
    batches (a few MB at most between passes).  A caller that passes ``argv``
    keeps its collector as it was."""
    import gc

    _, t1, t2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, t1, t2)


def _before_exit() -> None:
    """The command is done and the process exits next (the ``kinship`` script and
    ``python -m engine.cli`` call :func:`main` without ``argv``): move every object
    to the garbage collector's permanent generation (:func:`gc.freeze`), so the
    collections Python runs while it shuts down do not walk the large heap that
    numpy, pyarrow and numba leave (0.1-0.2 s of a small run, measured:
    ``benchmarks/README.md``, fixed cost).  The process's memory goes back to the
    system at exit either way.  A caller that passes ``argv`` (a test, a program
    embedding the command) keeps its collector as it was."""
    import gc

    gc.freeze()


class _MessageTee:
    """stderr for the run of one command with ``--log-file``: everything goes to the
    real stderr, and each whole line that is one of the command's messages
    (``kinship ...: error: ...`` / ``warning: ...``; never a genotype, by the
    project's rule for messages) is also written to the log file's handler, so the
    log says how a command ended.  Progress bars (carriage returns) are not copied."""

    _PAT = None

    def __init__(self, stream, handler):
        import re

        self.stream = stream
        self.handler = handler
        self.buf = ""
        if _MessageTee._PAT is None:
            _MessageTee._PAT = re.compile(r"^(kinship[^:\r]*: )?(error|warning|ERROR|WARNING): ")

    def write(self, text):
        n = self.stream.write(text)
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self._copy(line)
        return n

    def _copy(self, line: str) -> None:
        if "\r" in line or not self._PAT.match(line):
            return
        if "kinship: ERROR:" in line or "kinship: WARNING:" in line:
            return                      # a log record: the file's handler has it already
        level = logging.ERROR if ": error: " in line or line.startswith("error: ") else logging.WARNING
        rec = logging.LogRecord("kinship", level, __file__, 0, line, None, None)
        try:
            self.handler.handle(rec)
        except Exception:  # noqa: BLE001 - the log never stops a command
            pass

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):       # isatty, fileno, encoding ... of the real stream
        return getattr(self.stream, name)


def _run(args) -> int:
    from kinship._numba import load_blas_alone

    # numba's check for a BLAS, at its first use, without the rest of scipy.linalg
    # (0.2 s of a small run); the command line's process only, never a library user's
    load_blas_alone()
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (``kinship export ... | head -1``): stop quietly
        from .errors import stdout_to_devnull

        stdout_to_devnull()
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
