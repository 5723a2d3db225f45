"""Take a hit or a case back to the lab's tools: a Familias ``.fam`` file or a
pedtools-style ped file.

``kinship export RESULTS --query Q [--case C] --format fam`` writes the hit of
query ``Q`` (its best case-mode hit, or the one with case ``C``): the case's
persons and genotypes, the query, the H1 pedigree (the query in the place of
the missing person it was compared as) and H2 (the query unrelated), the
frequency database of the run, its mutation model and θ
(:func:`formats.familias.write_fam_case`; this project's importer reads it back
to the same LR).  ``kinship export DATASET --case C --format fam`` writes a case
without a query.  ``--format ped`` writes the H1 pedigree (or the case pedigree)
as a tab-separated pedtools ped file with one ``a/b`` genotype column per locus,
read in R by ``pedtools::readPed(file, sep = "\\t")``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

__all__ = ["export_family", "case_of"]


def case_of(dataset, case_id: str, references=None, stored_cases=None):
    """The :class:`kinship.cases.Case` of ``case_id`` in a profile dataset: its
    stored pedigree, or the pedigree of its references' relation words; and the
    references' genotypes ``{sample id: {locus: (a, b)}}``.  ``references`` (the
    dataset's reference :class:`formats.Profile` objects) and ``stored_cases``
    (``dataset.cases()``) save reading them again for each of many cases."""
    from kinship.cases import CaseError, case_from_relations

    if references is None:
        references = dataset.load(kind="reference").to_profiles()
    refs = [p for p in references if p.case_id == case_id]
    stored = (dataset.cases() if stored_cases is None else stored_cases).get(case_id)
    if stored is None:
        rel = [(p.sample_id, p.relation, p.sex)     # the case model reads M/F
               for p in refs if p.relation not in ("", "self")]
        if not rel:
            raise InputError(f"case {case_id!r}: no reference of {dataset.path} is placed on a pedigree "
                             f"(no such case, or no relation words)")
        ms = "male" if any(r[1] == "child" for r in rel) else "unknown"
        try:
            stored = case_from_relations(case_id, rel, missing_sex=ms)
        except CaseError as e:
            raise InputError(str(e)) from None
    linked = set(stored.samples.values())
    return stored, {p.sample_id: p.genotypes for p in refs if p.sample_id in linked}


def _results_context(results: Path):
    """(job, hits table) of a results directory."""
    import pyarrow.parquet as pq

    from .job import Job

    try:
        man = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{results} has no manifest.json: not the results directory of a run") from None
    src = man.get("job_source") or ""
    base = Path(src).parent if src and Path(src).exists() else results.parent
    job = Job.from_dict(man["job"], base_dir=base, source=src or str(results))
    return job, pq.read_table(results / "hits.parquet")


def export_family(source, out, fmt: str = "fam", case_id: str | None = None,
                  query_id: str | None = None, missing: str | None = None,
                  frequencies: str | None = None, frequencies_format: str = "auto",
                  population: str | None = None) -> str:
    """Write a hit (``query_id``, from a results directory) or a case (``case_id``,
    from a results directory or a dataset) as ``fmt`` ``"fam"`` or ``"ped"`` to
    ``out``; returns a one-line description of what was written."""
    import formats

    from .model import load_frequencies

    source = Path(source)
    is_results = (source / "manifest.json").exists() and (source / "hits.parquet").exists()
    mutation, theta, ft, loci = None, 0.0, None, None
    if is_results:
        job, hits = _results_context(source)
        ft, _ = load_frequencies(job)
        mutation = job.mutation
        theta = float(job["model"]["theta"])
        loci = job["inputs"]["loci"]
        refs_ds = formats.open_dataset(job.path(job["inputs"]["references"]))
        q_ds = formats.open_dataset(job.path(job["inputs"]["queries"]))
        if query_id is not None:
            rows = [h for h in hits.to_pylist() if h["mode"] == "case" and h["query_id"] == query_id
                    and (case_id is None or h["case_id"] == case_id)
                    and (missing is None or h["reference_id"] in ("", missing))]
            if not rows:
                raise InputError(f"no case-mode hit of query {query_id!r}"
                                 f"{f' with case {case_id!r}' if case_id else ''} in {source}")
            best = max(rows, key=lambda h: h["log10_lr"])
            case_id = best["case_id"]
            missing = best["reference_id"] or missing
    else:
        refs_ds = q_ds = formats.open_dataset(source)
        if query_id is not None:
            raise InputError("--query needs a results directory (the hit of a run); with a dataset "
                             "give --case alone")
        if frequencies is None:
            raise InputError("exporting a case from a dataset needs --frequencies (a bundled "
                             "population such as nist1036_all, or a table file)")
    if frequencies is not None:
        # a file in any frequency format, or a bundled population name
        ft = formats.read_frequencies(frequencies, format=frequencies_format,
                                      **({"population": population} if population else {}))
    if case_id is None:
        raise InputError("give --case CASE (a case) or --query QUERY (a hit of a results directory)")
    case, genotypes = case_of(refs_ds, case_id)
    if missing is not None and missing not in case.missing:
        raise InputError(f"case {case_id!r} has no missing person {missing!r} "
                         f"(missing: {', '.join(case.missing)})")
    query = None
    if query_id is not None:
        qp = [p for p in q_ds.load(kind="query").to_profiles() if p.sample_id == query_id]
        if not qp:
            raise InputError(f"query {query_id!r} is not in {q_ds.path}")
        query = (query_id, qp[0].genotypes)
    if fmt == "fam":
        formats.familias.write_fam_case(out, case, genotypes, ft, loci, mutation, theta, query,
                                        missing=missing)
    elif fmt == "ped":
        _write_genotype_ped(out, case, genotypes, query, missing)
    else:
        raise InputError(f"unknown family export format {fmt!r}: fam or ped")
    what = f"the hit of query {query_id!r} with case {case_id!r}" if query else f"case {case_id!r}"
    return f"wrote {what} ({len(case.pedigree)} persons) as {fmt} to {out}"


def _write_genotype_ped(out, case, genotypes, query, missing):
    """H1 (the query as the missing person) or the case pedigree as a pedtools ped
    file: id, fid, mid, sex (1 male, 2 female, 0 unknown), one column per locus."""
    m = missing or case.missing[0]
    name = {p: case.samples.get(p, p) for p in case.pedigree.persons}
    geno = {p: genotypes.get(case.samples[p], {}) for p in case.samples}
    if query is not None:
        name[m] = query[0]
        geno[m] = query[1]
    loci = sorted({l for g in geno.values() for l in g}, key=str.lower)
    lines = ["\t".join(["id", "fid", "mid", "sex"] + loci)]
    sex = {"male": "1", "female": "2"}
    for pid in case.pedigree.order:
        p = case.pedigree.persons[pid]
        g = geno.get(pid, {})
        lines.append("\t".join([name[pid], name[p.father] if p.father else "0",
                                name[p.mother] if p.mother else "0", sex.get(p.sex, "0")]
                               + ["/".join(g[l]) if l in g else "-/-" for l in loci]))
    text = "\n".join(lines) + "\n"
    if str(out) == "-":
        import sys

        sys.stdout.write(text)
    else:
        from formats.dataset import _atomic_write_bytes

        _atomic_write_bytes(Path(out), text.encode("utf-8"))
