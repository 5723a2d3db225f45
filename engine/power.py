"""The power of each family's references: ``kinship power`` and the power table
of a run (:mod:`kinship.power`; ``docs/power.md``).

Per case unit: the probability that the true missing person reaches the
threshold given the typed relatives, the chance hits expected in a database of
``N`` unrelated profiles, and, for a case below ``report.power_suggest_below``,
the relative the family could still give that raises the power most (expected
power with that relative typed)::

    kinship power job.toml                    # the job's cases, its model and threshold
    kinship power --dataset refs/ [--theta ...]   # the cases of a profile dataset
    kinship power family.fam [--case F1]      # the families of a Familias file
    kinship power --ped fam.ped --genotypes calls.csv [--case C]

Options: ``--threshold`` (default: the job's ``search.threshold``, else 10^4),
``--database N`` (default: the job's ``report.power_database``, else the number
of query profiles of its dataset, else 10^6), ``--method exact|mc``,
``--simulations``, ``--suggest-below``, ``--json``; the model options of
``kinship lr``.  Errors are one line naming the input and the fix; nothing
prints a genotype.

A run with ``report.power = "exact"`` (or ``"mc"``) computes the same per case
unit after the search and writes it to the summary (a table, weakest families
first) and to the manifest (``power``).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["case_inputs", "evaluate", "run_phase", "power_json", "table_lines", "power_html",
           "summary_lines", "register"]


class PowerInputError(ValueError):
    """A problem with ``kinship power``'s input; the message names it and the fix."""


# ---------------------------------------------------------------------------
# case units -> kinship.power
# ---------------------------------------------------------------------------

def case_inputs(cu: dict, model):
    """``(Case, genotypes, missing, note)`` of one case unit as the engine reads it
    (:class:`engine.inputs.UnitReader` ``.cases``: relatives with model codes).
    A case written with relation words is expanded
    (:func:`kinship.cases.case_from_relations`); one with a ``child`` reference
    is taken with a male missing person (noted)."""
    from kinship.cases import case_from_relations

    note = ""
    fam = cu.get("case")
    if fam is None:
        rels = [(rid, rel, sex) for rid, rel, sex, _ in cu["relatives"]]
        ms = "unknown"
        if cu.get("needs_sex"):
            ms, note = "male", "a 'child' reference: computed for a male missing person"
        fam = case_from_relations(cu.get("case_id") or cu["id"], rels, missing_sex=ms)
    geno = {}
    for rid, _, _, codes in cu["relatives"]:
        g = {}
        for l, s in enumerate(model.systems):
            a, b = int(codes[l][0]), int(codes[l][1])
            if a >= 0 and b >= 0:
                g[model.loci[l]] = (s.alleles[a], s.alleles[b])
        geno[str(rid)] = g
    return fam, geno, cu.get("missing") or fam.missing[0], note


def evaluate(case_units, model, threshold: float, n_database: int, *, method: str = "exact",
             n_sim: int = 2000, suggest_below: float = 0.99, seed: int = 0,
             resolution: float = 0.002, threads: int = 1, relatives=None) -> list:
    """``[(unit id, CasePower or None, note)]`` for case units (dicts as
    :func:`case_inputs` reads them), in their order; a unit whose power cannot be
    computed has None and the reason in its note.  Relatives are ranked for units
    whose power is below ``suggest_below`` (``relatives``: the relation words to
    rank, default :data:`kinship.power.SUGGESTIBLE`).  ``threads``: units computed
    at once (each unit's numbers do not depend on it; NumPy and the FFT release
    the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from kinship.cases import CaseError
    from kinship.power import SUGGESTIBLE, case_power

    words = SUGGESTIBLE if relatives is None else tuple(relatives)

    def one(cu):
        try:
            fam, geno, m, note = case_inputs(cu, model)
            r = case_power(fam, geno, model, threshold, n_database, missing=m, method=method,
                           n_sim=n_sim, seed=seed, resolution=resolution, relatives=())
            if r.error:
                return cu["id"], r, r.error
            if r.power < suggest_below and words:
                r = case_power(fam, geno, model, threshold, n_database, missing=m, method=method,
                               n_sim=n_sim, seed=seed, resolution=resolution, relatives=words)
            return cu["id"], r, note
        except (CaseError, ValueError) as e:
            return cu["id"], None, str(e)

    if threads <= 1 or len(case_units) <= 1:
        return [one(cu) for cu in case_units]
    with ThreadPoolExecutor(max_workers=int(threads), thread_name_prefix="strkin-power") as pool:
        return list(pool.map(one, case_units))


def power_json(results, settings: dict) -> dict:
    """The manifest's / ``--json``'s ``power``: the settings and one entry per unit."""
    cases = []
    for uid, r, note in results:
        d = {"unit": uid, "note": note}
        if r is not None:
            d.update(r.to_dict())
        cases.append(d)
    return dict(settings, cases=cases)


def _p(x) -> str:
    if isinstance(x, str) or x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x >= 0.9995:
        return f"{x:.4f}"
    return f"{x:.3f}"


def table_lines(pj: dict, timings: bool = False) -> list:
    """A text table of :func:`power_json` (weakest cases first; ``timings``: add the
    seconds per case, for the command line; the run summary has no timings)."""
    from kinship.chance import format_lr

    rows = sorted(pj["cases"], key=lambda d: (_sortkey(d.get("power")), d["unit"]))
    n = pj["n_database"]
    err = "bracket" if pj["method"] == "exact" else "+/- 4 s.e."
    head = (f"  {'case':<16} {'typed':>5} {'loci':>4} {'power':>6} {err:>13}  "
            f"{'chance hits':>11}  {'next relative':<22} {'power':>6}" + ("   seconds" if timings else ""))
    lines = [f"power of each family's references: P(true missing person reaches LR {format_lr(pj['threshold'])})"
             f", chance hits among {n:,} unrelated profiles ({pj['method']}"
             + (f", {pj['n_sim']} simulations" if pj["method"] == "mc" else
                f", log10 grid {pj['resolution']}") + ")", head]
    for d in rows:
        if "power" not in d or d.get("error"):
            lines.append(f"  {d['unit']:<16} {'':>5} {'':>4} {'-':>6} {'':>13}  {'':>11}  "
                         f"{d.get('error') or d['note']}")
            continue
        br = f"{_p(d['power_lower'])}-{_p(d['power_upper'])}"
        ch = d["expected_chance_hits"]
        chs = "-" if isinstance(ch, str) else (f"{ch:.2g}" if ch < 100 else f"{ch:,.0f}")
        best = d["suggestions"][0] if d["suggestions"] else None
        nxt = (best["relation"], _p(best["power"])) if best else (
            ("(not needed)", "") if d["power"] >= pj["suggest_below"] else ("(none addable)", ""))
        line = (f"  {d['unit']:<16} {len(d['typed']):>5} {d['loci']:>4} {_p(d['power']):>6} "
                f"{br:>13}  {chs:>11}  {nxt[0]:<22} {nxt[1]:>6}")
        if timings:
            line += f"   {d['seconds']:>7.2f}"
        if d["note"]:
            line += f"   ({d['note']})"
        lines.append(line)
    return lines


def _sortkey(p):
    return 2.0 if isinstance(p, str) or p is None else float(p)


def run_phase(report: dict, search: dict, model, reader, cases, n_queries: int, notes: list,
              threads: int = 1):
    """The power table of a run (``report.power`` not ``"none"``), or None: every
    case unit up to ``report.power_cases`` (by unit id; the rest are named in a
    note), computed in this process after the search (``threads`` at once)."""
    method = report["power"]
    if method == "none" or cases is None or len(cases) == 0:
        return None
    t0 = time.perf_counter()
    ids = sorted(str(i) for i in cases.ids)
    cap = int(report["power_cases"])
    if len(ids) > cap:
        notes.append(f"power: computed for the first {cap} of {len(ids)} case units by id "
                     f"(report.power_cases); the others are not in the power table")
        ids = ids[:cap]
    units = reader.cases(ids)
    n_db = report["power_database"] if report["power_database"] is not None else int(n_queries)
    res = evaluate([units[i] for i in ids if i in units], model, float(search["threshold"]), n_db,
                   method=method, n_sim=int(report["power_simulations"]),
                   suggest_below=float(report["power_suggest_below"]), threads=threads)
    settings = _settings(method, float(search["threshold"]), n_db, report["power_simulations"],
                         report["power_suggest_below"])
    pj = power_json(res, settings)
    pj["seconds"] = round(time.perf_counter() - t0, 3)
    return pj


def _settings(method, threshold, n_db, n_sim, suggest_below) -> dict:
    return {"method": method, "threshold": float(threshold), "n_database": int(n_db),
            "n_sim": int(n_sim), "resolution": 0.002, "seed": 0,
            "suggest_below": float(suggest_below)}


def summary_lines(pj: dict | None) -> list:
    """The summary's power section (no timings: the summary is reproducible)."""
    if not pj:
        return []
    clean = dict(pj, cases=[{k: v for k, v in d.items() if k != "seconds"} for d in pj["cases"]])
    return table_lines(clean) + [
        "  power: probability that the true missing person reaches the threshold given the typed "
        "relatives (docs/power.md); chance hits: unrelated profiles expected to reach it in the "
        "database; next relative: the relative the family could still give that raises the "
        "power most, with the expected power once typed", ""]


def power_html(pj: dict | None) -> str:
    """The power table as an HTML section for the hit-review report
    (:mod:`engine.report_html`), or ``""`` when the run has none."""
    from html import escape

    from kinship.chance import format_lr

    if not pj:
        return ""
    rows = sorted(pj["cases"], key=lambda d: (_sortkey(d.get("power")), d["unit"]))
    err = "bracket" if pj["method"] == "exact" else "&plusmn; 4 s.e."
    out = ['<section class="page-break"><h2>Power of each family\'s references</h2>'
           f'<p class="note">Probability that the true missing person reaches LR '
           f'{escape(format_lr(pj["threshold"]))} given the typed relatives; chance hits among '
           f'{pj["n_database"]:,} unrelated profiles; the relative the family could still give that '
           f'raises the power most, with the expected power once typed (docs/power.md). Weakest '
           f'families first.</p><table><thead><tr><th>case</th><th class="num">typed</th>'
           f'<th class="num">loci</th><th class="num">power</th><th class="num">{err}</th>'
           '<th class="num">chance hits</th><th>next relative</th><th class="num">power with it</th>'
           '</tr></thead><tbody>']
    for d in rows:
        if "power" not in d or d.get("error"):
            out.append(f'<tr><td>{escape(d["unit"])}</td><td colspan="7">'
                       f'{escape(d.get("error") or d["note"])}</td></tr>')
            continue
        best = d["suggestions"][0] if d["suggestions"] else None
        ch = d["expected_chance_hits"]
        out.append(
            f'<tr><td>{escape(d["unit"])}</td><td class="num">{len(d["typed"])}</td>'
            f'<td class="num">{d["loci"]}</td><td class="num">{_p(d["power"])}</td>'
            f'<td class="num">{_p(d["power_lower"])}&ndash;{_p(d["power_upper"])}</td>'
            f'<td class="num">{"-" if isinstance(ch, str) else f"{ch:.2g}"}</td>'
            f'<td>{escape(best["relation"]) if best else "&ndash;"}</td>'
            f'<td class="num">{_p(best["power"]) if best else ""}</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------

def _from_job(job):
    """Case units, model, threshold and database size of a job (the engine's own
    readers: the cases are those the search compares)."""
    from .inputs import UnitReader, build_cases, open_input, scan_references
    from .model import ModelSpec, Recoder, get_model, load_frequencies, resolve_loci

    v = job.values
    ft, _ = load_frequencies(job)
    if not v["inputs"]["references"]:
        raise PowerInputError(f"{job.source}: inputs.references is not set: the power is that of "
                              f"the reference cases")
    rds = open_input(job, "references")
    qds = open_input(job, "queries") if v["inputs"]["queries"] else None
    loci, ds_names = resolve_loci(job, ft, qds if qds is not None else rds,
                                  rds if qds is not None else None)
    extra = {}
    for l, d in zip(loci, ds_names):
        labs = set(rds.alleles.get(d, ()))
        if qds is not None:
            labs |= set(qds.alleles.get(d, ()))
        extra[l] = sorted(labs)
    model = get_model(ModelSpec(ft, tuple(loci), job.mutation, v["model"]["theta"], extra))
    rec = Recoder(rds, loci, model.systems, ds_names)
    refs = scan_references(rds, rec)
    cases = build_cases(refs, v["search"]["invalid_cases"], rds.cases())
    reader = UnitReader(rds, rec, refs, cases)
    units = reader.cases([str(i) for i in cases.ids])
    n_db = v["report"]["power_database"]
    if n_db is None and qds is not None:
        n_db = sum(len(a) for a in qds.iter_shards(kind="query", loci=loci[:1]))
    return [units[str(i)] for i in cases.ids if str(i) in units], model, \
        float(v["search"]["threshold"]), n_db, list(cases.notes) + [
            f"case {c!r} left out: {why}" for c, why in cases.skipped.items()]


def _dataset_job(args):
    from .job import Job
    from .lr import parse_mutation_spec

    model = {"theta": args.theta if args.theta is not None else 0.0}
    if args.mutation is not None:
        if args.mutation_male is not None:
            model["mutation"] = {"female": parse_mutation_spec(args.mutation),
                                 "male": parse_mutation_spec(args.mutation_male, "--mutation-male")}
        else:
            model["mutation"] = parse_mutation_spec(args.mutation)
    for k, a in (("min_allele_freq", args.min_allele_freq), ("silent", args.silent)):
        if a is not None:
            model[k] = a
    inputs = {"references": args.dataset, "queries": args.dataset,
              "frequencies": args.frequencies or "nist1036_all"}
    if args.frequencies_format:
        inputs["frequencies_format"] = args.frequencies_format
    if getattr(args, "population", None):
        inputs["population"] = args.population
    if args.loci:
        inputs["loci"] = [x.strip() for x in args.loci.split(",") if x.strip()]
    d = {"inputs": inputs, "model": model, "search": {"modes": ["case"]},
         "output": {"path": "power-unused"}}
    return Job.from_dict(d, base_dir=Path.cwd(), source=f"--dataset {args.dataset}")


def _from_files(args):
    """Cases and a model from a .fam file or a ped file + genotype CSV."""
    import formats
    import kinship
    from kinship.power import power_model

    from .lr import LRInputError, _frequencies, _mutation

    settings = None
    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise PowerInputError(f"{path}: no such file")
        freqs_fam = formats.read_frequencies(path, format="fam")
        res = formats.import_file(path, format="familias", mode="lenient",
                                  extra_loci=tuple(freqs_fam.loci))
        cases, settings, src = list(res.cases), res.settings, path.name
        if not cases:
            raise PowerInputError(f"{path.name}: the file has no family with a missing person "
                                  f"(a DVI family); kinship power needs one")
    else:
        from formats.pedfile import read_ped

        if args.genotypes is None:
            raise PowerInputError("--ped needs --genotypes CALLS.csv (sample_id,locus,allele1,allele2)")
        for p in (args.ped, args.genotypes):
            if not Path(p).is_file():
                raise PowerInputError(f"{p}: no such file")
        cases = read_ped(args.ped)
        res = formats.import_file(args.genotypes, format="csv")
        src = f"{Path(args.ped).name} + {Path(args.genotypes).name}"
    prof = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    if args.case is not None:
        cases = [c for c in cases if c.id == args.case]
        if not cases:
            raise PowerInputError(f"--case {args.case!r}: no such case in {src}")
    try:
        if settings is not None and args.frequencies is None:
            freqs = freqs_fam
            if args.min_allele_freq is not None or args.silent is not None:
                args.frequencies, args.frequencies_format = args.file, "fam"
                freqs, _ = _frequencies(args)
        else:
            freqs, _ = _frequencies(args)
        mutation, _ = _mutation(args, settings, freqs)
    except LRInputError as e:
        raise PowerInputError(str(e)) from None
    theta = args.theta if args.theta is not None else (settings.theta if settings else 0.0)
    geno = {s: g for c in cases for s in c.samples.values() if s in prof for g in [prof[s]]}
    if not geno:
        raise PowerInputError(f"{src}: no typed relative of the case(s) has a profile")
    loci = None
    if args.loci:
        loci = [kinship.canonical_locus(x.strip()) for x in args.loci.split(",") if x.strip()]
    model = power_model(freqs, geno, loci, mutation, theta)
    units = []
    for c in cases:
        for m in c.missing:
            uid = c.id if len(c.missing) == 1 else f"{c.id}/{m}"
            units.append((uid, c, m))
    return units, geno, model


def _relatives(text):
    """The relation words of ``--relatives`` (comma-separated; "none": rank none)."""
    from kinship.cases import normalize_relation
    from kinship.power import SUGGESTIBLE

    if text is None:
        return SUGGESTIBLE
    if text.strip().lower() == "none":
        return ()
    out = []
    for w in (x.strip() for x in text.split(",") if x.strip()):
        try:
            word = normalize_relation(w)
        except ValueError as e:
            raise PowerInputError(f"--relatives: {e}") from None
        if word not in SUGGESTIBLE:
            raise PowerInputError(f"--relatives: {word!r} cannot be ranked; the relatives a family "
                                  f"can give: {', '.join(SUGGESTIBLE)}")
        out.append(word)
    return tuple(dict.fromkeys(out))


def compute(args) -> dict:
    """The ``kinship power`` result (the ``--json`` output)."""
    from .job import load_job

    srcs = [x for x in (args.file, args.dataset, args.ped) if x is not None]
    if len(srcs) != 1:
        raise PowerInputError("give one input: a job file (JOB.toml), --dataset DIR, a Familias "
                              ".fam FILE, or --ped FILE with --genotypes CALLS.csv")
    if args.method not in ("exact", "mc"):
        raise PowerInputError(f"--method {args.method!r}: expected exact or mc")
    if args.simulations < 2:
        raise PowerInputError(f"--simulations {args.simulations}: at least 2")
    if not 0.0 <= args.suggest_below <= 1.0:
        raise PowerInputError(f"--suggest-below {args.suggest_below}: a probability in [0, 1]")
    if args.threshold is not None and not (args.threshold > 0 and math.isfinite(args.threshold)):
        raise PowerInputError(f"--threshold {args.threshold}: a positive LR")
    if args.database is not None and args.database < 0:
        raise PowerInputError(f"--database {args.database}: a number of profiles >= 0")
    words = _relatives(args.relatives)
    kw = dict(method=args.method, n_sim=args.simulations, suggest_below=args.suggest_below,
              relatives=words)
    t0 = time.perf_counter()
    notes = []
    if args.file is not None and str(args.file).lower().endswith(".toml") or args.dataset is not None:
        if args.dataset is not None:
            job = _dataset_job(args)
        else:
            if any(getattr(args, k, None) is not None
                   for k in ("frequencies", "theta", "mutation", "loci", "population")):
                raise PowerInputError("a job file brings its own model: leave out --frequencies, "
                                      "--theta, --mutation and --loci (or edit the job's [model])")
            job = load_job(args.file)
        units, model, threshold, n_db, notes = _from_job(job)
        if args.case is not None:
            units = [u for u in units if u["id"] == args.case or u.get("case_id") == args.case]
            if not units:
                raise PowerInputError(f"--case {args.case!r}: no such case unit in {job.source}")
        threshold = args.threshold if args.threshold is not None else threshold
        n_db = args.database if args.database is not None else (n_db if n_db is not None else 10 ** 6)
        res = evaluate(units, model, threshold, n_db, threads=os.cpu_count() or 1, **kw)
        source = job.source
    elif args.file is not None and not str(args.file).lower().endswith(".fam"):
        raise PowerInputError(f"{args.file}: expected a job file (.toml) or a Familias .fam file "
                              f"(for a ped file use --ped FILE --genotypes CALLS.csv)")
    else:
        from kinship.power import case_power

        units, geno, model = _from_files(args)
        threshold = args.threshold if args.threshold is not None else 1e4
        n_db = args.database if args.database is not None else 10 ** 6
        res = []
        for uid, c, m in units:
            r = case_power(c, geno, model, threshold, n_db, missing=m, method=args.method,
                           n_sim=args.simulations, relatives=())
            if not r.error and r.power < args.suggest_below and words:
                r = case_power(c, geno, model, threshold, n_db, missing=m, method=args.method,
                               n_sim=args.simulations, relatives=words)
            res.append((uid, r, r.error))
        source = args.file or f"{args.ped} + {args.genotypes}"
    if not res:
        raise PowerInputError(f"{source}: no case with a relation or pedigree to evaluate")
    pj = power_json(res, _settings(args.method, threshold, n_db, args.simulations, args.suggest_below))
    pj.update(source=str(source), loci=list(model.loci), theta=model.theta,
              mutation=None if model.mutation is None else model.mutation.describe(),
              notes=notes, seconds=round(time.perf_counter() - t0, 3))
    return pj


def _cmd_power(args) -> int:
    import formats
    import kinship
    from kinship.cases import CaseError
    from kinship.mutation import MutationError
    from kinship.pedigree import PedigreeError

    from .errors import EngineError

    try:
        out = compute(args)
    except (PowerInputError, EngineError, formats.FormatError, kinship.LocusError,
            kinship.FrequencyError, CaseError, MutationError, PedigreeError, ValueError) as e:
        print(f"kinship power: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"kinship power: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    mut = out["mutation"]
    if mut is not None and mut.get("per_locus"):
        mut = f"per locus ({len(mut['per_locus'])} loci)"
    elif mut is not None:
        mut = json.dumps({k: v for k, v in mut.items() if k != "per_locus"})
    print(f"source: {out['source']}; {len(out['loci'])} loci; theta {out['theta']}; mutation "
          f"{mut or 'none'}")
    for line in table_lines(out, timings=True):
        print(line)
    if len(out["cases"]) == 1 and out["cases"][0].get("suggestions"):
        c = out["cases"][0]
        print(f"relatives to sample next for {c['unit']} (expected power once typed; "
              f"now {_p(c['power'])}):")
        for sg in c["suggestions"]:
            print(f"  {sg['relation']:<26} {_p(sg['power']):>6}  ({_p(sg['lower'])}-{_p(sg['upper'])})")
        for w, why in (c["details"].get("not_ranked") or {}).items():
            print(f"  {w:<26} not ranked: {why}")
    for n in out["notes"]:
        print(f"note: {n}")
    n = len(out["cases"])
    print(f"{n} case units in {out['seconds']:.1f} s ({out['seconds'] / max(n, 1):.2f} s per case)")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "power", help="the power of each family's references and which relative to sample next",
        description="Per case: the probability that the true missing person reaches the LR "
                    "threshold given the typed relatives, the chance hits expected in a database "
                    "of N unrelated profiles, and the relative the family could still give that "
                    "raises the power most. Give a job file, --dataset DIR, a Familias .fam file, "
                    "or --ped with --genotypes. See docs/power.md.")
    p.add_argument("file", nargs="?", help="a job file (JOB.toml) or a Familias .fam file")
    p.add_argument("--dataset", help="a profile dataset: its reference cases (model options below)")
    p.add_argument("--ped", help="a pedigree file (case, id, fid, mid, sex, sample, missing)")
    p.add_argument("--genotypes", help="--ped: long CSV of the calls (sample_id,locus,allele1,allele2)")
    p.add_argument("--case", help="only this case")
    p.add_argument("--threshold", type=float, help="LR threshold (default: the job's, else 1e4)")
    p.add_argument("--database", type=int, help="number of unrelated profiles searched (default: "
                                               "the job's queries, else 1e6)")
    p.add_argument("--method", default="exact", help="exact (convolution, certified bracket; "
                                                     "default) or mc (simulation)")
    p.add_argument("--simulations", type=int, default=2000, help="mc: simulations per number")
    p.add_argument("--relatives", help="relation words to rank, comma-separated, or none "
                                       "(default: every relative a family can give: "
                                       "father, mother, full-sibling, grandparents, ...)")
    p.add_argument("--suggest-below", type=float, default=0.99,
                   help="rank the next relative for cases whose power is below this (default 0.99)")
    from .lr import add_model_options

    add_model_options(p)
    p.set_defaults(func=_cmd_power)
