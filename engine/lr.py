"""``kinship lr``: the LR of one case, printed per locus (registered by
:mod:`engine.commands`).

Three ways to give the case::

    kinship lr case.fam [--h1 H1 --h2 H2]              # a Familias file: its pedigrees,
                                                       #   genotypes, database, mutation and θ
    kinship lr dvi.fam --case F1 --query V1            # DVI: V1 as family F1's missing person
    kinship lr --ped fam.ped --genotypes calls.csv --query Q [--case C] [--missing P]
    kinship lr --relation father --ref "D3S1358=15/16,vWA=14/17" --query "D3S1358=16/16,vWA=14/18"

The model options are a job's ``[model]`` keys (docs/engine.md): ``--frequencies``
(a bundled population or a file, ``--frequencies-format``), ``--theta``,
``--mutation`` (``none``, ``MODEL:RATE``, ``MODEL:rate=R,rate2=R2,range=X`` or
``familias:FILE.fam``; ``--mutation-male`` gives the male model, then
``--mutation`` is the female one), ``--min-allele-freq``, ``--silent``.  A
``.fam`` file supplies its own database, mutation models and θ unless an option
overrides them.  Error messages never echo genotypes.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

__all__ = ["register", "LRInputError", "parse_mutation_spec", "parse_genotypes", "compute"]


class LRInputError(ValueError):
    """A problem with ``kinship lr``'s input; the message names it and the fix."""


# ---------------------------------------------------------------------------
# option parsing
# ---------------------------------------------------------------------------

def parse_mutation_spec(text: str, where: str = "--mutation") -> dict | str:
    """A job's ``model.mutation`` value from a command-line spec.

    >>> parse_mutation_spec("stepwise:0.002")
    {'model': 'stepwise', 'rate': 0.002}
    >>> parse_mutation_spec("extended-stepwise:rate=0.002,rate2=1e-6,range=0.1")
    {'model': 'extended-stepwise', 'rate': 0.002, 'rate2': 1e-06, 'range': 0.1}
    """
    s = text.strip()
    if s.lower() == "none":
        return "none"
    model, sep, rest = s.partition(":")
    if not sep or not rest.strip():
        raise LRInputError(
            f"{where} {text!r}: expected none, MODEL:RATE (e.g. stepwise:0.002), "
            f"MODEL:rate=R,rate2=R2,range=X or familias:FILE.fam")
    if model.strip().lower() == "familias":
        return {"familias": rest.strip()}
    d = {"model": model.strip()}
    for i, part in enumerate(rest.split(",")):
        k, eq, v = part.partition("=")
        if not eq:
            if i:
                raise LRInputError(f"{where} {text!r}: {part!r} should be KEY=VALUE (rate, rate2, range)")
            k, v = "rate", part
        try:
            d[k.strip()] = float(v)
        except ValueError:
            raise LRInputError(f"{where} {text!r}: {k.strip()} must be a number") from None
    return d


def _mutation(args, fam_settings=None, freqs=None):
    """(MutationModel or None, description) from the options or a .fam file."""
    from .errors import EngineError
    from .job import _familias_mutation, parse_mutation

    if args.mutation is None and args.mutation_male is None:
        if fam_settings is not None:
            m = fam_settings.mutation_model(freqs.loci if freqs is not None else None)
            desc = [d for d in fam_settings.describe() if d.startswith("mutation")]
            return m, "the file's own: " + "; ".join(desc or ["per locus"])
        return None, "none"
    spec = parse_mutation_spec(args.mutation or "none")
    try:
        if args.mutation_male is not None:
            male = parse_mutation_spec(args.mutation_male, "--mutation-male")
            if "none" in (spec, male) or "familias" in spec or "familias" in male:
                raise LRInputError("--mutation-male: give a model for both sexes "
                                   "(--mutation FEMALE_MODEL --mutation-male MALE_MODEL)")
            m = parse_mutation({"female": spec, "male": male}, "--mutation/--mutation-male")
            return m, f"female {args.mutation}, male {args.mutation_male}"
        if isinstance(spec, dict) and "familias" in spec:
            p = Path(spec["familias"])
            return _familias_mutation(p, "--mutation"), f"the per-locus models of {p.name}"
        return parse_mutation(spec, "--mutation"), args.mutation
    except EngineError as e:
        raise LRInputError(str(e)) from None


def _frequencies(args, default="nist1036_all", default_format="csv"):
    """(FrequencyTable, description): the job's loader (engine.model.load_frequencies)."""
    from .model import load_frequencies

    name = args.frequencies or default
    fmt = args.frequencies_format or (default_format if args.frequencies is None else "auto")
    model = {"min_allele_freq": args.min_allele_freq, "silent": args.silent}

    class _Job(dict):
        def path(self, n):
            return Path(n)

    job = _Job(inputs={"frequencies": str(name), "frequencies_format": fmt,
                       "population": getattr(args, "population", None)}, model=model)
    ft, src = load_frequencies(job)
    pop = getattr(args, "population", None)
    return ft, f"{name}" + (f" ({fmt})" if fmt != "csv" else "") + (
        f", population {ft.name}" if pop else "")


def parse_genotypes(text: str, where: str) -> dict:
    """``{locus: (a1, a2)}`` from ``"D3S1358=15/16,vWA=14/17"`` (``15,16`` or a
    single allele ``15`` for a homozygote also accepted).  Messages name the
    locus or the position of a bad item, never the alleles."""
    import kinship
    from formats.profile import normalize_allele

    out = {}
    items = [s for s in text.replace(";", ",").split(",") if s.strip()] if "=" in text else []
    if not items:
        raise LRInputError(f"{where}: expected genotypes such as \"D3S1358=15/16,vWA=14/17\"")
    for i, item in enumerate(items, 1):
        loc, eq, al = item.partition("=")
        if not eq or not loc.strip():
            raise LRInputError(f"{where}: item {i} is not LOCUS=A/B (e.g. D3S1358=15/16)")
        try:
            locus = kinship.canonical_locus(loc.strip())
        except Exception:
            raise LRInputError(f"{where}: item {i}: unknown locus; use a locus name such as "
                               f"D3S1358 (kinship.markers.known_loci() lists them)") from None
        parts = [a.strip() for a in al.replace("|", "/").split("/")]
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2 or not all(parts):
            raise LRInputError(f"{where}: locus {locus}: expected two alleles A/B")
        try:
            a, b = (normalize_allele(p) for p in parts)
        except Exception:
            raise LRInputError(f"{where}: locus {locus}: an allele is not a valid allele name") from None
        if locus in out:
            raise LRInputError(f"{where}: locus {locus} is given twice")
        out[locus] = (a, b)
    return out


# ---------------------------------------------------------------------------
# the three input forms -> (h1, h2, genotypes, context)
# ---------------------------------------------------------------------------

def _from_fam(args):
    import formats

    path = Path(args.file)
    if not path.is_file():
        raise LRInputError(f"{path}: no such file")
    freqs_fam = formats.read_frequencies(path, format="fam")
    res = formats.import_file(path, format="familias", mode="lenient",
                              extra_loci=tuple(freqs_fam.loci))
    prof = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    ctx = {"source": path.name, "settings": res.settings, "freqs_fam": freqs_fam}
    if args.case is not None or args.query is not None:
        if args.h1 or args.h2:
            raise LRInputError("give either --h1/--h2 (two pedigrees of the file) or "
                               "--case/--query (a query as a family's missing person)")
        if args.case is None or args.query is None:
            raise LRInputError("--case and --query go together: the query's LR as the missing "
                               "person of that family")
        by = {c.id: c for c in res.cases}
        if args.case not in by:
            raise LRInputError(f"{path.name}: no family {args.case!r}; the file has: "
                               f"{', '.join(repr(c) for c in by) or 'none'}")
        case = by[args.case]
        if args.query not in prof:
            typed = [s for s in prof if s not in case.samples.values()]
            raise LRInputError(f"{path.name}: no typed person {args.query!r}; typed persons that are "
                               f"not references of this family: {', '.join(typed[:20]) or 'none'}")
        h1, h2, geno = _case_lr_inputs(case, args.query, prof[args.query], prof, args.missing)
        ctx["h1"] = f"{args.query} is {case.id}'s missing person {args.missing or case.missing[0]}"
        ctx["h2"] = f"{args.query} is unrelated to {case.id}"
        return h1, h2, geno, ctx
    peds = {p.name: p for p in res.pedigrees}
    if len(peds) < 2:
        hint = (f"; it has families ({', '.join(repr(c.id) for c in res.cases)}): use "
                f"--case FAMILY --query PERSON" if res.cases else "")
        raise LRInputError(f"{path.name} has {len(peds)} usable pedigree(s), two are needed{hint}")
    names = list(peds)
    n1 = args.h1 or names[0]
    n2 = args.h2 or (names[1] if names[1] != n1 else names[0])
    for flag, n in (("--h1", n1), ("--h2", n2)):
        if n not in peds:
            raise LRInputError(f"{flag} {n!r}: no such pedigree in {path.name}; it has "
                               f"{', '.join(repr(x) for x in names)}")
    h1, h2 = peds[n1].records, peds[n2].records
    ids = {r["id"] for r in h1} & {r["id"] for r in h2}
    geno = {s: g for s, g in prof.items() if s in ids}
    ctx.update(h1=n1, h2=n2)
    return h1, h2, geno, ctx


def _case_lr_inputs(case, query_id, query_geno, prof, missing):
    from kinship.cases import CaseError

    qid = query_id
    while qid in case.pedigree:
        qid = f"{qid}_query"
    try:
        h1, h2 = case.hypotheses(qid, missing)
    except CaseError as e:
        raise LRInputError(str(e)) from None
    geno = {person: prof[sid] for person, sid in case.samples.items() if sid in prof}
    geno[qid] = query_geno
    return h1, h2, geno


def _from_ped(args):
    import formats
    from formats.pedfile import read_ped

    if args.genotypes is None or args.query is None:
        raise LRInputError("--ped needs --genotypes CALLS.csv (sample_id,locus,allele1,allele2) "
                           "and --query SAMPLE")
    for p in (args.ped, args.genotypes):
        if not Path(p).is_file():
            raise LRInputError(f"{p}: no such file")
    cases = read_ped(args.ped)
    if args.case is not None:
        cases = [c for c in cases if c.id == args.case]
        if not cases:
            raise LRInputError(f"--case {args.case!r}: no such case in {Path(args.ped).name}")
    if len(cases) != 1:
        raise LRInputError(f"{Path(args.ped).name} holds {len(cases)} cases; pick one with --case "
                           f"({', '.join(repr(c.id) for c in cases[:20])})")
    case = cases[0]
    res = formats.import_file(args.genotypes, format="csv")
    prof = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    if args.query not in prof:
        raise LRInputError(f"--query {args.query!r}: no such sample in {Path(args.genotypes).name}")
    absent = [s for s in case.samples.values() if s not in prof]
    if absent and len(absent) == len(case.samples):
        raise LRInputError(f"none of the case's samples ({', '.join(absent[:10])}) is in "
                           f"{Path(args.genotypes).name}")
    h1, h2, geno = _case_lr_inputs(case, args.query, prof[args.query], prof, args.missing)
    ctx = {"source": f"{Path(args.ped).name} + {Path(args.genotypes).name}",
           "h1": f"{args.query} is {case.id}'s missing person {args.missing or case.missing[0]}",
           "h2": f"{args.query} is unrelated to {case.id}"}
    if absent:
        ctx["note"] = f"samples not in the genotype file (untyped): {', '.join(absent)}"
    return h1, h2, geno, ctx


def _from_relation(args):
    from kinship.cases import CaseError, case_from_relations, normalize_relation

    if args.ref is None or args.query is None:
        raise LRInputError("--relation needs --ref GENOTYPES and --query GENOTYPES "
                           "(e.g. --ref \"D3S1358=15/16,vWA=14/17\")")
    try:
        word = normalize_relation(args.relation)
    except ValueError as e:
        raise LRInputError(f"--relation: {e}") from None
    ref = parse_genotypes(args.ref, "--ref")
    query = parse_genotypes(args.query, "--query")
    try:
        case = case_from_relations("cmdline", [("REF", word, None)])
    except (CaseError, ValueError) as e:
        raise LRInputError(f"--relation {word}: {e}") from None
    h1, h2 = case.hypotheses("QUERY")
    ctx = {"source": "command line", "h1": f"the reference is the query's {word}",
           "h2": "the reference and the query are unrelated"}
    return h1, h2, {"REF": ref, "QUERY": query}, ctx


# ---------------------------------------------------------------------------

def _num(v: float):
    """JSON value of an LR: a number, or "inf"/"-inf"/"nan" (strict JSON has none)."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def _log10(v: float) -> float:
    if math.isnan(v) or v < 0:
        return math.nan
    if v == 0:
        return -math.inf
    return math.log10(v)


def compute(args) -> dict:
    """The ``kinship lr`` result as a dict (the ``--json`` output)."""
    import kinship

    if args.file is not None and (args.ped is not None or args.relation is not None):
        raise LRInputError("give one case: a .fam FILE, --ped with --genotypes, or --relation "
                           "with --ref/--query")
    if args.file is not None:
        if not str(args.file).lower().endswith(".fam"):
            raise LRInputError(f"{args.file}: expected a Familias .fam file (for a ped file use "
                               f"--ped FILE --genotypes CALLS.csv --query SAMPLE)")
        h1, h2, geno, ctx = _from_fam(args)
    elif args.ped is not None:
        h1, h2, geno, ctx = _from_ped(args)
    elif args.relation is not None:
        h1, h2, geno, ctx = _from_relation(args)
    else:
        raise LRInputError("no case given: a .fam FILE, --ped with --genotypes and --query, or "
                           "--relation with --ref and --query (kinship lr --help)")
    settings = ctx.get("settings")
    if settings is not None and args.frequencies is None:
        freqs = ctx["freqs_fam"]
        if args.min_allele_freq is not None or args.silent is not None:
            args.frequencies, args.frequencies_format = args.file, "fam"
            freqs, fdesc = _frequencies(args)
        fdesc = f"the file's database ({settings.database or 'unnamed'})"
    else:
        freqs, fdesc = _frequencies(args)
    mutation, mdesc = _mutation(args, settings, freqs)
    theta = args.theta if args.theta is not None else (settings.theta if settings else 0.0)
    if not 0.0 <= theta < 1.0:
        raise LRInputError(f"--theta {theta}: must be in [0, 1)")
    loci = None
    if args.loci:
        loci = [kinship.canonical_locus(x.strip()) for x in args.loci.split(",") if x.strip()]
    if not geno or not any(geno.values()):
        raise LRInputError("no typed person in the case: nothing to compute")
    r = kinship.likelihood_ratio(h1, h2, geno, freqs, mutation, theta, loci)
    rows = [{"locus": loc, "lr": _num(v), "log10_lr": _num(_log10(v)),
             "inconsistent": loc in r.inconsistent} for loc, v in r.per_locus.items()]
    out = {
        "source": ctx["source"], "h1": ctx["h1"], "h2": ctx["h2"],
        "loci": rows, "total": _num(r.total), "log10_total": _num(r.log10_total),
        "inconsistent": list(r.inconsistent), "skipped": {k: str(v) for k, v in r.skipped.items()},
        "model": {"frequencies": fdesc, "theta": theta, "mutation": mdesc,
                  "mutation_model": mutation.describe() if mutation is not None else None},
    }
    if "note" in ctx:
        out["note"] = ctx["note"]
    return out


def _fmt(v) -> str:
    return v if isinstance(v, str) else f"{v:.6g}"


def _fmt3(v) -> str:
    return v if isinstance(v, str) else f"{v:.3f}"


def print_table(out: dict, file=None) -> None:
    file = file or sys.stdout
    p = lambda s="": print(s, file=file)  # noqa: E731
    p(f"case: {out['source']}")
    p(f"H1: {out['h1']}")
    p(f"H2: {out['h2']}")
    p()
    p(f"{'locus':<14} {'LR':>14} {'log10 LR':>10}  inconsistent*")
    for row in out["loci"]:
        p(f"{row['locus']:<14} {_fmt(row['lr']):>14} {_fmt3(row['log10_lr']):>10}"
          f"  {'yes' if row['inconsistent'] else ''}")
    p(f"{'total':<14} {_fmt(out['total']):>14} {_fmt3(out['log10_total']):>10}"
      f"  {len(out['inconsistent']) or ''}")
    p("* inconsistent: the genotypes exclude H1 at this locus without mutation")
    if out["skipped"]:
        p("skipped: " + "; ".join(f"{k} ({v})" for k, v in out["skipped"].items()))
    m = out["model"]
    p(f"model: frequencies {m['frequencies']}; theta {m['theta']:g}; mutation {m['mutation']}")
    if "note" in out:
        p(f"note: {out['note']}")


def _cmd_lr(args) -> int:
    import formats
    import kinship
    from kinship.cases import CaseError
    from kinship.mutation import MutationError
    from kinship.pedigree import PedigreeError

    from .errors import EngineError

    try:
        out = compute(args)
    except (LRInputError, EngineError, formats.FormatError, kinship.LocusError,
            kinship.FrequencyError, CaseError, MutationError, PedigreeError) as e:
        print(f"kinship lr: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kinship lr: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"kinship lr: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)
    return 0


def add_model_options(p) -> None:
    """The model options of the one-case commands (``kinship lr``, ``kinship power``):
    frequency table, θ, mutation, rare and silent alleles, loci, JSON output."""
    from formats.names import FREQUENCY_FORMATS

    p.add_argument("--frequencies", help="a bundled population (default nist1036_all; .fam: the "
                                         "file's database) or a frequency file")
    p.add_argument("--frequencies-format", choices=("auto",) + FREQUENCY_FORMATS,
                   help="format of a --frequencies file (default: detected)")
    p.add_argument("--population", help="the population of a stacked --frequencies table (a "
                                        "STRidER XML origin, a strvalidator Database)")
    p.add_argument("--theta", type=float, help="θ (default 0; .fam: the file's)")
    p.add_argument("--mutation", help="none, MODEL:RATE, MODEL:rate=R,rate2=R2,range=X (models: equal, "
                                      "proportional, stepwise, extended-stepwise) or familias:FILE.fam "
                                      "(default none; .fam: the file's)")
    p.add_argument("--mutation-male", help="the male model (then --mutation is the female one)")
    p.add_argument("--min-allele-freq", type=float, help="frequency of alleles absent from the table")
    p.add_argument("--silent", type=float, help="silent allele frequency at every locus")
    p.add_argument("--loci", help="only these loci (comma-separated)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")


def register(sub) -> None:
    p = sub.add_parser(
        "lr", help="the LR of one case, per locus (a .fam file, a ped file + genotypes, or a relation)",
        description="The likelihood ratio of one case, per locus and in total, with the model used. "
                    "Give a Familias .fam FILE (its H1/H2 pedigrees, or --case/--query for a DVI "
                    "family), --ped with --genotypes and --query, or --relation with --ref and "
                    "--query genotypes (\"D3S1358=15/16,vWA=14/17\").")
    p.add_argument("file", nargs="?", help="a Familias .fam file")
    p.add_argument("--h1", help=".fam: the H1 pedigree (default: the file's first)")
    p.add_argument("--h2", help=".fam: the H2 pedigree (default: the file's second)")
    p.add_argument("--case", help="the family / case (.fam DVI family, or a case of the ped file)")
    p.add_argument("--query", help="the query: a typed person (.fam), a sample of --genotypes "
                                   "(--ped), or genotypes (--relation)")
    p.add_argument("--missing", help="the missing person the query is put in place of "
                                     "(default: the case's first)")
    p.add_argument("--ped", help="a pedigree file (case, id, fid, mid, sex, sample, missing)")
    p.add_argument("--genotypes", help="--ped: long CSV of the calls (sample_id,locus,allele1,allele2)")
    p.add_argument("--relation", help="the reference's relation to the query (kinship.cases.RELATIONS: "
                                      "father, mother, full-sibling, ...)")
    p.add_argument("--ref", help="--relation: the reference's genotypes, \"D3S1358=15/16,vWA=14/17\"")
    add_model_options(p)
    p.set_defaults(func=_cmd_lr)
