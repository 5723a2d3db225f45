"""``kinship simulate`` and ``kinship validate``.

:func:`register` adds both sub-commands to an argparse subparsers object (the
``kinship`` command collects such ``register`` functions); ``python -m
validation`` runs the same commands, ``validate`` by default.
"""
from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "main"]


def _mutation_args(p):
    p.add_argument("--mutation", choices=("default", "none"), default="default",
                   help="default: stepwise, male rate 0.002, female 0.0005 per meiosis (rate2 1e-6, "
                        "range 0.1); none: no mutation")
    p.add_argument("--male-rate", type=float, help="stepwise mutation rate of fathers (with --female-rate)")
    p.add_argument("--female-rate", type=float, help="stepwise mutation rate of mothers (with --male-rate)")


def _mutation(args):
    import kinship

    from .suite import default_mutation

    if args.male_rate is not None or args.female_rate is not None:
        if args.male_rate is None or args.female_rate is None:
            raise SystemExit("kinship: give both --male-rate and --female-rate (or neither)")
        return kinship.MutationModel(female=kinship.Stepwise(rate=args.female_rate, rate2=1e-6, range=0.1),
                                     male=kinship.Stepwise(rate=args.male_rate, rate2=1e-6, range=0.1))
    return None if args.mutation == "none" else default_mutation()


def _dropout_args(p):
    p.add_argument("--query-dropout", type=float, default=0.0,
                   help="dropout model (docs/dropout.md): each allele copy of a query's sample drops "
                        "out with this probability (validate: and the search scores with it)")
    p.add_argument("--reference-dropout", type=float, default=0.0,
                   help="the same for the references' samples")
    p.add_argument("--dropin", type=float, default=0.0,
                   help="drop-in probability c: allele a shows in a sample with c p_a")


def _csv_list(text):
    return [x.strip() for x in str(text).split(",") if x.strip()]


def register(subparsers) -> None:
    """Add ``simulate`` and ``validate`` to ``subparsers``."""
    from .names import MODES, PANELS, STRUCTURES

    s = subparsers.add_parser(
        "simulate", help="simulate families and unrelated persons as a profile dataset with a truth table",
        description="Simulate families with a missing child (the queries) and their typed relatives (the "
                    "references of each case), unrelated queries and unrelated cases; write Parquet shards "
                    "and a truth table. Reproducible from --seed; memory bounded by --shard-size.",
    )
    s.add_argument("out", metavar="OUT", help="dataset directory to create")
    s.add_argument("--cases", type=int, required=True, metavar="N", help="number of families (cases)")
    s.add_argument("--unrelated", type=int, default=0, metavar="N", help="unrelated queries (default 0)")
    s.add_argument("--unrelated-cases", type=int, default=0, metavar="N",
                   help="cases (a father) with no missing child in the data (default 0)")
    s.add_argument("--structures", default="both-parents=0.4,father=0.2,mother=0.1,parent-sibling=0.1,"
                                            "grandparents=0.1,siblings=0.1",
                   help=f"proportions NAME=WEIGHT,... of {', '.join(STRUCTURES)}")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--kit", help="use the autosomal loci of this kit (kinship.kits())")
    g.add_argument("--panel", choices=tuple(PANELS), help="a validation panel: " + ", ".join(PANELS))
    g.add_argument("--loci", type=_csv_list, help="comma-separated loci")
    s.add_argument("--frequencies", default="nist1036_all", help="bundled population or CSV file")
    s.add_argument("--founders", choices=("nist", "frequencies"), default="nist",
                   help="nist: real NIST 1036 genotypes first, then draws; frequencies: always draw")
    _mutation_args(s)
    s.add_argument("--error-rate", type=float, default=0.0, help="per-allele genotyping error rate")
    s.add_argument("--dropout-rate", type=float, default=0.0,
                   help="older rule: a heterozygote called as the homozygote of its first allele")
    _dropout_args(s)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--shard-size", type=int, default=1_000_000, help="profiles per shard (memory bound)")
    s.add_argument("--truth", metavar="PATH", help="truth table (default OUT/_truth.csv; .parquet for Parquet)")
    s.set_defaults(func=_simulate)

    v = subparsers.add_parser(
        "validate", help="measure recall and chance hits on simulated data; write tables and plots",
        description="Simulate each panel and mode, search, and report recall, false hits per query, LR "
                    "distributions and checks of the theory (see docs/validation.md).",
    )
    v.add_argument("--out", default="validation-results", help="directory for the tables and plots")
    v.add_argument("--panels", type=_csv_list, default=["codis20", "vfp23"],
                   help=f"comma-separated, of {', '.join(PANELS)} (default codis20,vfp23)")
    v.add_argument("--modes", type=_csv_list, default=list(MODES),
                   help=f"comma-separated, of {', '.join(MODES)} (default all)")
    v.add_argument("--cases", type=int, default=None,
                   help="families per panel and mode (default 1000; --calibration: 15000 families)")
    v.add_argument("--unrelated", type=int, default=None,
                   help="unrelated queries (default 1000; --calibration: 40000)")
    v.add_argument("--unrelated-cases", type=int, default=None, metavar="N",
                   help="--calibration: unrelated one-father cases (default 25000)")
    v.add_argument("--frequencies", default="nist1036_all")
    v.add_argument("--founders", choices=("nist", "frequencies"), default="nist")
    _mutation_args(v)
    v.add_argument("--theta", type=float, default=0.0)
    v.add_argument("--error-rate", type=float, default=0.0)
    v.add_argument("--dropout-rate", type=float, default=0.0,
                   help="older rule, simulated only (not scored): a heterozygote called as the "
                        "homozygote of its first allele")
    _dropout_args(v)
    v.add_argument("--seed", type=int, default=1)
    v.add_argument("--chance-cases", type=int, default=100,
                   help="cases per mode for the exact expected values (0 = all cases)")
    v.add_argument("--resolution", type=float, default=2e-3, help="grid of the exact method, log10 units")
    v.add_argument("--search-threshold", type=float, default=100.0,
                   help="LR threshold of the search under test (default 100)")
    v.add_argument("--runner", choices=("auto", "engine", "direct"), default="auto",
                   help="the search under test: the engine (auto: when present) or kinship.search")
    v.add_argument("--work", help="keep the simulated datasets in this directory")
    v.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    v.add_argument("--families", action="store_true",
                   help="instead: recall of mother's-side family structures through the engine, "
                        "against the true pedigree and the exact expectation (validation.families); "
                        "--cases families per structure (default 1000), 15 CODIS loci")
    v.add_argument("--calibration", action="store_true",
                   help="instead: recall, false hits per query and the calibration of the posterior "
                        "columns, per mode (case, parent-child, full-sibling), of engine runs on one "
                        "simulated database with planted relatives and 20%% partial profiles "
                        "(validation.calibration); writes calibration.md and calibration.json to --out")
    v.set_defaults(func=_validate)


def _simulate(args) -> int:
    from .simulate import resolve_loci, simulate_dataset
    from .suite import PANELS

    loci = args.loci or (list(PANELS[args.panel]) if args.panel else None)
    import formats

    freqs = formats.read_frequencies(args.frequencies)   # a file of any format, or a bundled name
    r = simulate_dataset(args.out, args.cases, args.unrelated, proportions=args.structures,
                         n_unrelated_cases=args.unrelated_cases, loci=resolve_loci(freqs, loci, args.kit),
                         kit=args.kit, frequencies=freqs,
                         founders="nist" if args.founders == "nist" else None, mutation=_mutation(args),
                         error_rate=args.error_rate, dropout_rate=args.dropout_rate, seed=args.seed,
                         shard_size=args.shard_size, truth=args.truth,
                         query_dropout=args.query_dropout, reference_dropout=args.reference_dropout,
                         dropin=args.dropin)
    d = r.to_dict()
    d.pop("parameters", None)
    print(json.dumps(d, indent=1))
    return 0


def _validate(args) -> int:
    from .suite import SuiteConfig, run_suite

    if not args.no_plots and not args.calibration and not args.families:
        # check the optional dependency before the suite runs, not after
        from .plots import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as e:
            print(f"kinship validate: error: {e}", file=sys.stderr)
            return 1
    mut = _mutation(args)
    if args.calibration:
        return _validate_calibration(args, mut)
    if args.cases is None:
        args.cases = 1000
    if args.unrelated is None:
        args.unrelated = 1000
    if args.families:
        return _validate_families(args, mut)
    cfg = SuiteConfig(
        panels=tuple(args.panels), modes=tuple(args.modes), n_cases=args.cases, n_unrelated=args.unrelated,
        frequencies=args.frequencies, founders="nist" if args.founders == "nist" else None,
        mutation=mut if (args.male_rate is not None) else args.mutation, theta=args.theta,
        error_rate=args.error_rate, dropout_rate=args.dropout_rate, seed=args.seed,
        query_dropout=args.query_dropout, reference_dropout=args.reference_dropout, dropin=args.dropin,
        chance_cases=None if args.chance_cases == 0 else args.chance_cases, resolution=args.resolution,
        search_threshold=args.search_threshold, runner=args.runner, work_dir=args.work,
        keep_data=bool(args.work),
    )
    run_suite(cfg, out=args.out, plots=not args.no_plots)
    print(f"wrote {args.out}/summary.md, results.csv, results.json"
          + ("" if args.no_plots else " and the plots"))
    return 0


def _validate_families(args, mut) -> int:
    from pathlib import Path

    from .families import FAMILY_STRUCTURES, family_recall, summary_markdown

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in FAMILY_STRUCTURES:
        r = family_recall(name, n_families=args.cases, seed=args.seed, mutation=mut,
                          n_unrelated=min(args.unrelated, 100))
        rows.append(r)
        print(f"{name}: recall {r['recall_engine']:.3f} (true pedigree {r['recall_true_pedigree']:.3f}, "
              f"expected {r['recall_expected']:.3f}, z {r['z']:+.2f}; on the father's side "
              f"{r['recall_wrong_side']:.3f})")
    (out / "families.md").write_text(summary_markdown(rows), encoding="utf-8")
    slim = [{k: v for k, v in r.items() if not k.startswith(("log10_", "engine_found"))} for r in rows]
    (out / "families.json").write_text(json.dumps(slim, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}/families.md and families.json")
    return 0


def _validate_calibration(args, mut) -> int:
    from .calibration import posterior_calibration, write_calibration

    r = posterior_calibration(n_cases=15_000 if args.cases is None else args.cases,
                              n_unrelated=40_000 if args.unrelated is None else args.unrelated,
                              n_unrelated_cases=25_000 if args.unrelated_cases is None else args.unrelated_cases,
                              mutation=mut, seed=args.seed, work=args.work)
    for m, v in r["modes"].items():
        print(f"{m}: recall {v['recall_full']:.3f} (full profiles), {v['recall_partial']:.3f} (partial); "
              f"false hits per query {v['false_hits_per_query']:.2e}; sum of posteriors "
              f"{v['calibrated']['posterior']['expected_true']:.1f} for {v['true_hits']} true of "
              f"{v['hits']} hits at the calibrated prior {v['calibrated']['prior']:.4f}")
    write_calibration(r, args.out)
    print(f"wrote {args.out}/calibration.md and calibration.json ({r['n_profiles']} profiles, "
          f"{r['seconds']['total']} s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation",
                                     description="Simulated populations and the validation suite.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("simulate", "validate", "-h", "--help"):
        argv = ["validate"] + argv
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
