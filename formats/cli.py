"""``kinship import``, ``kinship import-y`` and ``kinship export`` (registered by
:mod:`engine.cli`).

Examples::

    kinship import run42.txt --format genemapper --manifest samples.csv --out profiles/
    kinship import run42.txt --format genemapper --manifest samples.csv --out profiles/ \\
        --mode lenient --rejects run42.rejects.csv
    kinship import-y y23.txt --format genemapper --manifest samples.csv --out ydb/
    kinship export profiles/ --format wide --out profiles.csv --excel
    kinship export results.parquet --format results --out results.csv

Exit codes: 0 success (lenient mode: also when rows were rejected, see the counts),
1 the input or the dataset has an error (nothing written), 2 usage error.
Messages name files, lines, samples and loci, never genotypes.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys

__all__ = ["register"]


def _err(msg: str) -> int:
    print(f"kinship: error: {msg}", file=sys.stderr)
    return 1


def _delimiter_and_rejects(args) -> tuple:
    """The ``--delimiter`` of an import command as a character, and where rejected
    rows go: ``--rejects``, or in lenient mode OUT/_rejects/STEM-TIME.csv."""
    delim = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(args.delimiter, args.delimiter)
    rejects = args.rejects
    if args.mode == "lenient" and not rejects:
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        stem = os.path.splitext(os.path.basename(args.genotypes))[0]
        rejects = os.path.join(args.out, "_rejects", f"{stem}-{stamp}.csv")
    return delim, rejects


def _cmd_import(args) -> int:
    from .dataset import write_cases, write_profiles, write_sample_dropout
    from .errors import FormatError
    from .families import check_families
    from .importing import import_file

    delim, rejects = _delimiter_and_rejects(args)
    try:
        res = import_file(
            args.genotypes, format=args.format, manifest=args.manifest, mode=args.mode,
            rejects_path=rejects if args.mode == "lenient" else None,
            encoding=args.encoding, delimiter=delim, single_allele=args.single_allele,
            extra_loci=tuple(args.extra_locus or ()), default_kind=args.kind,
            kit=args.kit or "", sample_column=args.sample_column,
            manifest_encoding=args.encoding, allele_check=args.allele_check,
            off_ladder=args.off_ladder, multi_allele=args.multi_allele,
        )
        print(res.summary())
        for l in res.extra_loci:
            if l not in (args.extra_locus or ()):
                print(f"note: locus {l!r} is not a known locus; accepted because the file's own "
                      f"frequency database defines it")
        for n in res.left_out[:20]:
            print(f"note: {n}")
        if len(res.left_out) > 20:
            print(f"note: ... and {len(res.left_out) - 20} more calls left untyped (in the "
                  f"shard's provenance)")
        for w in res.warnings[:20]:
            print(f"warning: {w}", file=sys.stderr)
        if len(res.warnings) > 20:
            print(f"warning: ... and {len(res.warnings) - 20} more (in the shard's provenance)",
                  file=sys.stderr)
        if res.n_rejected or res.manifest_rejected:
            print(f"{res.n_rejected + res.manifest_rejected} rejected rows with reasons written "
                  f"to {res.rejects_path}")
        cases = list(getattr(res, "cases", []) or [])
        for ped in args.pedigree or ():
            from .pedfile import read_ped

            cases += read_ped(ped, case_id=args.case_id, encoding=args.encoding)
        for note in check_families(res.profiles, args.out, cases):
            print(f"note: {note}")
        if cases:
            print(f"families: {len(cases)} pedigrees ({sum(len(c.missing) for c in cases)} missing "
                  f"persons) checked against their typed relatives")
        if args.dry_run:
            print("dry run: nothing written")
            return 0
        if not res.profiles and not cases:
            if res.format in ("familias", "fam") and not res.n_read and not res.n_rejected:
                # a .fam file of a frequency database only: no persons, no DNA data
                return _err(f"{os.path.basename(args.genotypes)}: the .fam file holds no persons "
                            f"and no DNA data, only a frequency database: it is a frequency "
                            f"table, not profiles. Fix: use it where a frequency table is taken: "
                            f"a job's inputs.frequencies, kinship lr --frequencies FILE.fam, "
                            f"kinship export --frequencies FILE.fam")
            return _err("no profile to write (every row was rejected)")
        if res.profiles:
            prov = dict(res.provenance)
            prov["command"] = "kinship import"
            shards = write_profiles(args.out, res.profiles, provenance=prov, kit=args.kit,
                                    extra_loci=tuple(res.extra_loci))
            print(f"wrote {len(res.profiles)} profiles to {args.out} "
                  f"(new shard{'s' if len(shards) > 1 else ''}: {', '.join(s.name for s in shards)})")
        if res.dropout:
            write_sample_dropout(args.out, res.dropout)
            print(f"stored the dropout probability the manifest states for {len(res.dropout)} "
                  f"samples with {args.out} (used by every search of it; docs/dropout.md)")
        if cases:
            write_cases(args.out, cases)
            print(f"stored {len(cases)} family pedigrees with {args.out}: "
                  f"{', '.join(c.id for c in cases[:8])}{', ...' if len(cases) > 8 else ''}")
        return 0
    except FormatError as e:
        return _err(str(e))
    except (KeyError, ValueError) as e:  # e.g. kinship.FrequencyError, LocusError
        return _err(str(e))
    except OSError as e:  # the rejects file: disk full, read-only, permissions
        from .dataset import os_error_message

        return _err(os_error_message(e, args.out))


def _cmd_import_y(args) -> int:
    from .errors import FormatError
    from .ystr import import_y_file, write_y_haplotypes

    delim, rejects = _delimiter_and_rejects(args)
    try:
        panel = None
        if args.panel:
            if "," in args.panel:
                from kinship.ystr import YPanel

                panel = YPanel.custom("custom", [m.strip() for m in args.panel.split(",") if m.strip()])
            else:
                from kinship.ystr import get_panel

                panel = get_panel(args.panel)
        skip = ("Y indel",) + tuple(args.skip_locus or ())
        res = import_y_file(
            args.genotypes, format=args.format, manifest=args.manifest, mode=args.mode,
            panel=panel, rejects_path=rejects if args.mode == "lenient" else None,
            duplications=args.duplications,
            single_value_multicopy=args.single_value_multicopy.replace("-", "_"),
            skip_loci=skip, skip_autosomal=args.skip_autosomal, encoding=args.encoding,
            delimiter=delim, default_kind=args.kind, kit=args.kit or "",
            sample_column=args.sample_column, manifest_encoding=args.encoding,
        )
        print(res.summary())
        if res.n_rejected or res.manifest_rejected:
            print(f"{res.n_rejected + res.manifest_rejected} rejected rows with reasons written "
                  f"to {res.rejects_path}")
        if args.dry_run:
            print("dry run: nothing written")
            return 0
        if not len(res.haplotypes):
            return _err("no Y haplotype to write (every row was rejected or skipped)")
        prov = dict(res.provenance)
        prov["command"] = "kinship import-y"
        shards = write_y_haplotypes(args.out, res.haplotypes, res.meta, provenance=prov,
                                    kit=args.kit)
        print(f"wrote {len(res.haplotypes)} Y haplotypes to {args.out} "
              f"(new shard{'s' if len(shards) > 1 else ''}: {', '.join(s.name for s in shards)})")
        return 0
    except FormatError as e:
        return _err(str(e))
    except (KeyError, ValueError) as e:  # YLocusError (a KeyError), YHaplotypeError
        return _err(str(e))


def _cmd_export(args) -> int:
    from .dataset import open_dataset
    from .errors import FormatError
    from .export import export_profiles, write_results_csv

    try:
        if args.case or args.query:
            if args.format not in ("familias", "ped"):
                return _err("a hit or a case is exported as --format familias (a .fam file) or "
                            "--format ped (a pedtools ped file)")
            from engine.errors import InputError
            from engine.family_export import export_family

            try:
                print(export_family(args.source, args.out, "fam" if args.format == "familias" else "ped",
                                    case_id=args.case, query_id=args.query, missing=args.missing,
                                    frequencies=args.frequencies,
                                    frequencies_format=args.frequencies_format,
                                    population=args.population), file=sys.stderr)
            except InputError as e:
                return _err(str(e))
            return 0
        if args.format == "ped":
            return _err("--format ped exports a hit or a case: give --query or --case")
        if args.format == "results":
            write_results_csv(args.source, args.out, excel=args.excel)
        else:
            freqs = None
            if args.frequencies:
                from .freqio import read_frequencies

                freqs = read_frequencies(args.frequencies, format=args.frequencies_format,
                                         **({"population": args.population} if args.population
                                            else {}))
            kw = {}
            export_profiles(open_dataset(args.source), args.out, format=args.format,
                            kind=args.kind, excel=args.excel, frequencies=freqs, **kw)
        if args.out not in ("-", None):
            print(f"wrote {args.out}")
        return 0
    except FormatError as e:
        return _err(str(e))
    except (KeyError, ValueError) as e:
        return _err(str(e))
    except BrokenPipeError:
        raise       # the reader of stdout went away: engine.cli.main stops quietly
    except OSError as e:
        return _err(f"cannot write {args.out}: {e.strerror or e}; nothing was written (the file is "
                    f"written under a temporary name, removed on error). Fix: free disk space or "
                    f"give a writable --out")


def _report_sidecars(path, st: dict) -> None:
    """``kinship verify``'s lines on a dataset's shard sidecars
    (:meth:`formats.Dataset.sidecar_status`): a count on stdout; a warning on stderr
    for sidecars left without their shard and for sidecars others may read, which
    hold sample ids and genotypes.  Neither changes the exit status: a sidecar is
    never used unless it matches its shard (docs/formats.md)."""
    from .perms import file_mode

    n = sum(len(st[k]) for k in ("valid", "stale", "missing"))
    if not n and not st["orphans"]:
        return
    print(f"{path}: sidecars: {len(st['valid'])} valid, {len(st['stale'])} stale or damaged (not "
          f"used; the next search rebuilds them), {len(st['missing'])} missing (the next search "
          f"writes them)")
    if st["orphans"]:
        few = ", ".join(st["orphans"][:3]) + (" ..." if len(st["orphans"]) > 3 else "")
        print(f"kinship verify: warning: {path}: {len(st['orphans'])} sidecar file(s) without their "
              f"shard in the dataset ({few}): they hold the sample IDs and genotypes of a shard that "
              f"was removed. Delete them (rm {os.path.join(str(path), '<name>.sidecar.arrow')}).",
              file=sys.stderr)
    if st["open"]:
        few = ", ".join(st["open"][:3]) + (" ..." if len(st["open"]) > 3 else "")
        who = "the owner and group" if file_mode() & 0o040 else "the owner"
        print(f"kinship verify: warning: {path}: {len(st['open'])} sidecar file(s) open to others "
              f"than {who} ({few}): they hold sample IDs and genotypes. Fix: chmod "
              f"{oct(file_mode())[2:]} {os.path.join(str(path), '*.sidecar.arrow')}", file=sys.stderr)


def _cmd_verify(args) -> int:
    import json

    from .dataset import MANIFEST_NAME, open_dataset
    from .errors import FormatError
    from .ystr import Y_FORMAT_NAME, open_y_dataset

    bad = 0
    for path in args.datasets:
        try:
            fmt = None
            mp = os.path.join(path, MANIFEST_NAME)
            if os.path.isfile(mp):
                try:
                    with open(mp, encoding="utf-8") as fh:
                        fmt = json.load(fh).get("format")
                except (OSError, ValueError, AttributeError):
                    fmt = None
            ds = open_y_dataset(path) if fmt == Y_FORMAT_NAME else open_dataset(path)
            ds.verify()
            print(f"{path}: ok ({len(ds.shards)} shards, {ds.n_profiles} profiles; every shard's "
                  f"sha256, footer, codes and sample IDs checked)")
            if hasattr(ds, "sidecar_status"):
                _report_sidecars(path, ds.sidecar_status())
        except FormatError as e:
            bad += 1
            print(f"kinship: error: {path}: {e}", file=sys.stderr)
        except OSError as e:
            bad += 1
            print(f"kinship: error: {path}: cannot read ({e.strerror})", file=sys.stderr)
    return 1 if bad else 0


def register(subparsers) -> None:
    """Add the ``import``, ``import-y`` and ``export`` sub-commands to an argparse
    subparsers object."""
    from .names import FREQUENCY_FORMATS

    from .names import FORMATS

    p = subparsers.add_parser(
        "import", help="import genotype files into a profile dataset (Parquet shards)",
        description="Read a genotype file (GeneMapper export, long CSV, wide CSV, Familias "
                    ".fam, CODIS CMF XML), check every row, and append the profiles to a "
                    "dataset directory as a new Parquet shard.",
    )
    p.add_argument("genotypes", metavar="GENOTYPES", help="the genotype file")
    p.add_argument("--format", default="auto", choices=("auto",) + FORMATS,
                   help="input format (default: detect from the file)")
    p.add_argument("--manifest", metavar="MANIFEST.csv",
                   help="samples manifest: sample_id,kind,case_id,relation,sex[,kit]")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory (created or appended to)")
    p.add_argument("--mode", choices=("strict", "lenient"), default="strict",
                   help="strict: stop at the first bad row, write nothing (default); lenient: "
                        "import good rows, write rejected rows with reasons to --rejects")
    p.add_argument("--rejects", metavar="FILE",
                   help="rejects file in lenient mode (default: DIR/_rejects/<name>-<time>.csv)")
    p.add_argument("--encoding", help="text encoding of the input (default UTF-8; e.g. gbk, cp1252)")
    p.add_argument("--delimiter", help="force the column delimiter (tab, comma, semicolon or a character)")
    p.add_argument("--single-allele", choices=("homozygote", "error"),
                   help="how to read a lone allele (default: the format's convention)")
    p.add_argument("--extra-locus", action="append", metavar="NAME",
                   help="accept a locus name missing from the known list (repeatable)")
    p.add_argument("--kind", choices=("query", "reference"), default="query",
                   help="kind of samples not described by the file or the manifest (default query)")
    p.add_argument("--kit", help="kit name stored with profiles that have none")
    p.add_argument("--sample-column", metavar="COLUMN", help="column holding the sample ID")
    p.add_argument("--pedigree", action="append", metavar="PED",
                   help="family pedigree file (columns id, fid, mid, sex, sample, missing[, case]) "
                        "stored with the dataset; its typed persons link to reference samples "
                        "(repeatable)")
    p.add_argument("--case-id", metavar="CASE",
                   help="case id of a pedigree file that has no 'case' column")
    p.add_argument("--allele-check", choices=("warn", "strict"), default="warn",
                   help="an allele outside the ladder range of the bundled kits (e.g. 0 or 999): "
                        "import it with a warning (default) or refuse the row (strict)")
    p.add_argument("--off-ladder", choices=("untyped", "error"), default="untyped",
                   help="a call with an off-ladder allele (OL, <6, >17): leave the locus untyped "
                        "for that sample with a note (default) or refuse the row")
    p.add_argument("--multi-allele", choices=("untyped", "error"), default=None,
                   help="a call of three or more alleles: leave the locus untyped with a note, or "
                        "refuse the row (default: untyped for CMF, error otherwise)")
    p.add_argument("--dry-run", action="store_true", help="check the input, write nothing")
    p.set_defaults(func=_cmd_import)

    from .names import Y_FORMATS

    y = subparsers.add_parser(
        "import-y", help="import Y-STR genotype files into a Y haplotype dataset (Parquet shards)",
        description="Read Y-STR calls (GeneMapper Y export, long CSV, CODIS CMF XML), check "
                    "every row (multi-copy markers, DYS389, duplications, sex), and append the "
                    "haplotypes to a Y dataset directory as a new Parquet shard.",
    )
    y.add_argument("genotypes", metavar="GENOTYPES", help="the genotype file")
    y.add_argument("--format", default="auto", choices=("auto",) + Y_FORMATS,
                   help="input format (default: detect from the file)")
    y.add_argument("--manifest", metavar="MANIFEST.csv",
                   help="samples manifest: sample_id,kind,case_id,relation,sex[,kit]")
    y.add_argument("--out", required=True, metavar="DIR",
                   help="Y dataset directory (created or appended to; not an autosomal dataset)")
    y.add_argument("--mode", choices=("strict", "lenient"), default="strict",
                   help="strict: stop at the first bad row, write nothing (default); lenient: "
                        "import good rows, write rejected rows with reasons to --rejects")
    y.add_argument("--rejects", metavar="FILE",
                   help="rejects file in lenient mode (default: DIR/_rejects/<name>-<time>.csv)")
    y.add_argument("--panel", metavar="PANEL",
                   help="slot layout: a shipped panel ('Yfiler', 'PowerPlex Y23', 'Yfiler Plus') "
                        "or a comma-separated marker list (default: inferred from the file)")
    y.add_argument("--duplications", choices=("flag", "error"), default="flag",
                   help="more values than copies: keep as a flagged, uncompared duplication "
                        "(default) or reject the row")
    y.add_argument("--single-value-multicopy", choices=("error", "all-copies"), default="error",
                   help="one value at a multi-copy marker such as DYS385: reject (default) or "
                        "read it as every copy (flagged)")
    y.add_argument("--skip-locus", action="append", metavar="NAME",
                   help="count rows of this non-Y-STR marker as skipped (repeatable; 'Y indel' "
                        "is always skipped)")
    y.add_argument("--skip-autosomal", action="store_true",
                   help="count rows of autosomal loci as skipped instead of rejecting them")
    y.add_argument("--encoding", help="text encoding of the input and the manifest (default: "
                                      "detected; e.g. gbk, cp1252)")
    y.add_argument("--delimiter", help="force the column delimiter (tab, comma, semicolon or a character)")
    y.add_argument("--kind", choices=("query", "reference"), default="query",
                   help="kind of samples not described by the file or the manifest (default query)")
    y.add_argument("--kit", help="kit name stored with haplotypes that have none")
    y.add_argument("--sample-column", metavar="COLUMN", help="column holding the sample ID")
    y.add_argument("--dry-run", action="store_true", help="check the input, write nothing")
    y.set_defaults(func=_cmd_import_y)

    v = subparsers.add_parser(
        "verify", help="check a profile or Y dataset: every shard's sha256, footer, codes and IDs",
        description="Read every shard of each dataset and check it against the sha256 recorded "
                    "when it was written, its footer against the manifest, its allele codes, and "
                    "that every sample ID is unique. Exit 1 if a dataset has a problem.")
    v.add_argument("datasets", nargs="+", metavar="DIR", help="dataset directory")
    v.set_defaults(func=_cmd_verify)

    from .names import PROFILE_FORMATS

    e = subparsers.add_parser(
        "export", help="export profiles or results to CSV/GeneMapper/CMF/Familias",
        description="Export a profile dataset (or a results table) for other tools and for "
                    "spreadsheets.",
    )
    e.add_argument("source", metavar="SOURCE", help="dataset directory, or a results Parquet file")
    e.add_argument("--out", default="-", help="output file (default: standard output)")
    e.add_argument("--format", default="csv", choices=PROFILE_FORMATS + ("results", "ped"),
                   help="output format (default csv: sample_id,locus,allele1,allele2)")
    e.add_argument("--kind", choices=("query", "reference"), help="only this kind of profile")
    e.add_argument("--excel", action="store_true",
                   help="spreadsheet-safe CSV: UTF-8 BOM, text cells that look like formulas prefixed with '")
    e.add_argument("--frequencies", metavar="TABLE",
                   help="frequency table for the Familias database: a file, or a bundled "
                        "population such as nist1036_all")
    e.add_argument("--frequencies-format", default="auto", choices=("auto",) + FREQUENCY_FORMATS,
                   help="format of a --frequencies file (default: detected)")
    e.add_argument("--population", help="the population of a stacked --frequencies table (a "
                                        "STRidER XML origin, a strvalidator Database)")
    e.add_argument("--case", metavar="CASE",
                   help="export this case (its pedigree, typed relatives, frequencies, mutation and "
                        "theta) as --format familias or ped")
    e.add_argument("--query", metavar="QUERY",
                   help="export the case-mode hit of this query (SOURCE: a results directory): "
                        "H1 with the query as the missing person, H2 unrelated")
    e.add_argument("--missing", metavar="PERSON",
                   help="the missing person of a family with several (default: the hit's)")
    e.set_defaults(func=_cmd_export)


def main(argv=None) -> int:  # pragma: no cover - convenience for ``python -m formats.cli``
    parser = argparse.ArgumentParser(prog="kinship")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
