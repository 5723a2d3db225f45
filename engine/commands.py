"""``kinship search``, ``kinship demo`` and ``kinship report`` (registered by :mod:`engine.cli`).

Examples::

    kinship search job.toml            # run (or update, when results exist) a search
    kinship search job.toml --resume   # finish a run that was interrupted
    kinship search job.toml --worker   # run it in the warm local worker (kinship worker start)
    kinship demo                       # multi-mode search on demo data, prints the ranked hits
    kinship report results/            # the hit-review report (HTML) of a run
    kinship report results/ --recheck recheck.csv   # read a lab's re-check decisions back

Exit codes: 0 success; 1 the job, an input or the output directory has a
problem (the message names it and the fix; nothing was searched) or a task
failed; 2 usage error.
"""
from __future__ import annotations

import sys

__all__ = ["register"]


def _err(msg: str) -> int:
    print(f"kinship: error: {msg}", file=sys.stderr)
    return 1


def _progress(args):
    if getattr(args, "quiet", False):
        return False
    return {"on": True, "off": False, "auto": None}[getattr(args, "progress", "auto")]


def _cmd_search(args) -> int:
    import formats
    import kinship

    from .api import run
    from .errors import EngineError

    import warnings

    from .errors import SecurityWarning

    def _show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SecurityWarning):
            print(f"kinship: warning: {message}", file=sys.stderr)
        else:
            _orig(message, category, filename, lineno, file, line)

    _orig = warnings.showwarning
    warnings.showwarning = _show
    try:
        res = run(args.job, resume=args.resume, progress=_progress(args))
    except EngineError as e:
        return _err(str(e))
    except (formats.FormatError, kinship.LocusError, kinship.FrequencyError) as e:
        return _err(str(e))
    except OSError as e:      # an input that cannot be read (permissions, I/O error)
        return _err(f"{e.strerror or e}: {e.filename or ''}; nothing was written. Fix: check the "
                    f"path and its permissions")
    finally:
        warnings.showwarning = _orig
    if not args.quiet:
        r = res.manifest["run"]
        print(f"{res.hits.num_rows} hits written to {res.path / 'hits.parquet'}")
        print(f"summary: {res.path / 'summary.txt'}; manifest: {res.path / 'manifest.json'}")
        inc = [m for m, s in r["modes"].items() if s.get("incremental")]
        print(f"{r['pairs_total']} pairs scored in {r['timings_s'].get('search_s', 0):.2f} s "
              f"({r['tasks']} tasks, {r['tasks_resumed']} resumed"
              + (f"; incremental: {', '.join(inc)}" if inc else "") + ")")
        for n in r.get("notes", []):
            print(f"note: {n}")
        _print_top_hits(res)
        print(f"review the hits in a browser: kinship report {res.path}   "
              f"(writes {res.path / 'report' / 'index.html'})")
    return 0


def _print_top_hits(res, max_rows: int = 5) -> None:
    """The top of each mode's hit table (each query's best hit, highest LR first)."""
    from .report import hits_table_text

    for mode in res.manifest["job"]["search"]["modes"]:
        print(f"\n{mode}: best hits")
        for line in hits_table_text(res.hits, mode, max_rows=max_rows):
            print(line)
    print()


def _cmd_report(args) -> int:
    """``kinship report RESULTS [--recheck FILE ...] [--out DIR] [--max-pages N]``."""
    import formats
    import kinship

    from .errors import EngineError
    from .report_html import write_report

    try:
        info = write_report(args.results, out=args.out, recheck=args.recheck or (),
                            max_pages=None if args.max_pages == 0 else args.max_pages)
    except (EngineError, formats.FormatError, kinship.LocusError, kinship.FrequencyError) as e:
        return _err(str(e))
    for rec in info["recheck"]:
        print(f"read {rec['rows']} re-check entries from {rec['file']} into "
              f"{args.results.rstrip('/')}/recheck.json")
    left = sum(info["left_out"].values())
    print(f"wrote the report: {info['pages']} hit pages"
          + (f" ({left} hits beyond --max-pages have none)" if left else "")
          + " (private files: they hold genotypes)")
    print(f"open it in a browser: {info['index'].resolve().as_uri()}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo, truth_report
    from .errors import EngineError

    try:
        res, truth = run_demo(args.out, seed=args.seed, n_cases=args.cases, progress=_progress(args))
    except EngineError as e:
        return _err(str(e))
    print(res.summary, end="")
    print("truth (planted relationships):")
    import pyarrow.parquet as pq

    extra = {k: pq.read_table(res.path / f"{k}.parquet") if (res.path / f"{k}.parquet").exists()
             else None for k in ("consistency", "joint")}
    for line in truth_report(res.hits, truth, res.summary, **extra):
        print(f"  {line}")
    print(f"\nresults: {res.path}/hits.parquet, summary.txt, manifest.json; job: "
          f"{res.path.parent / 'job.toml'}")
    from .report_html import write_report

    try:
        info = write_report(res.path)
    except EngineError as e:
        return _err(str(e))
    print(f"hit-review report ({info['pages']} hit pages; rewrite it with: kinship report {res.path}); "
          f"open it in a browser: {info['index'].resolve().as_uri()}")
    return 0


def add_search_parser(sub):
    """The ``search`` command's parser (on its own it is also the worker client's
    parser, :func:`engine.cli.main`)."""
    p = sub.add_parser(
        "search", help="run a kinship search job (JOB.toml)",
        description="Compare query profiles with reference profiles in every mode of the job and "
                    "write ranked hits (hits.parquet), a summary and a run manifest. Run it again "
                    "after new profiles arrive: only new pairs are compared. See docs/engine.md.")
    p.add_argument("job", help="job file (TOML)")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted run of this job (tasks already done are kept)")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bar on stderr (auto: only on a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--worker", nargs="?", const="", default=None, metavar="SOCKET",
                   help="run the job in the local worker (kinship worker start) at SOCKET "
                        "(default: $STRKIN_WORKER, else the worker's default socket); "
                        "$STRKIN_WORKER alone does the same")
    p.set_defaults(func=_cmd_search)
    return p


def register(sub) -> None:
    add_search_parser(sub)

    d = sub.add_parser(
        "demo", help="multi-mode search on demo data (NIST 1036 founders, simulated families)",
        description="Generate demo profiles (real NIST 1036 genotypes as founders of simulated "
                    "families with a missing child), run a multi-mode search and print the ranked "
                    "hits.")
    d.add_argument("--out", default="demo-results", help="demo directory (default: demo-results)")
    d.add_argument("--seed", type=int, default=2024, help="simulation seed (default 2024)")
    d.add_argument("--cases", type=int, default=30, help="number of simulated families (default 30)")
    d.add_argument("--progress", choices=("auto", "on", "off"), default="auto")
    d.set_defaults(func=_cmd_demo, quiet=False)

    r = sub.add_parser(
        "report", help="write the hit-review report of a run (static HTML) and read re-checks back",
        description="Write RESULTS/report/: an index of the hits ranked per mode with filters and "
                    "plots, and one page per hit (hypotheses, pedigree, per-locus genotypes, "
                    "frequencies and LRs, posterior, chance hits, re-check form, provenance). "
                    "Self-contained HTML: nothing is fetched. The pages hold genotypes and are "
                    "written private. See docs/report.md.")
    r.add_argument("results", help="results directory of a run (output.path)")
    r.add_argument("--recheck", nargs="+", metavar="FILE",
                   help="re-check files downloaded from the report's pages: validated, stored in "
                        "RESULTS/recheck.json, shown in the report")
    r.add_argument("--out", default=None, help="report directory (default: RESULTS/report)")
    r.add_argument("--max-pages", type=int, default=1000,
                   help="hit pages per mode, highest LRs first (default 1000; 0: every hit)")
    r.set_defaults(func=_cmd_report)

    from .lr import register as _register_lr

    _register_lr(sub)
    from .power import register as _register_power

    _register_power(sub)
    from .worker import register as _register_worker

    _register_worker(sub)
