"""Incremental runs: after new queries and references arrive (or a case gains a
relative, or profiles disappear), a run compares only what changed against
everything and merges with the earlier results -- and the ranked hits are
identical to a full re-run on the same data."""
from __future__ import annotations

import shutil

import pyarrow.parquet as pq

import engine
import formats

from enginelib import make_job, prefixed, simulate

MODES = ["case", "parent-child", "full-sibling", "duplicates"]
KW = dict(search__threshold=0.01, search__top_k=2, search__case_top_k=2,
          execution__block_size=6, execution__query_chunk=10)


def _full(ds, out):
    return engine.run(make_job(ds, out, MODES, **KW))


def _same(a, b):
    assert (a / "hits.parquet").read_bytes() == (b / "hits.parquet").read_bytes()
    assert (a / "summary.txt").read_text() == (b / "summary.txt").read_text()


def test_new_data_then_full_equals_incremental(tmp_path):
    ds = tmp_path / "ds"
    first, _ = simulate(n_cases=10, n_unrelated=10, n_unrelated_references=3, seed=41)
    formats.write_profiles(ds, first)
    inc = tmp_path / "inc"
    r1 = _full(ds, inc)
    # a case in the top-k of a query with more than top_k hits gains a relative: a
    # changed case, and that query must be scored again (its (k+1)-th hit was not kept)
    counts = pq.read_table(inc / "_state" / "counts.parquet").to_pylist()
    n = {c["id"]: c["n"] for c in counts if c["mode"] == "case" and c["side"] == "query"}
    target = next(h["case_id"] for h in r1.hits.to_pylist()
                  if h["mode"] == "case" and h["rank"] is not None and n[h["query_id"]] > 2)
    new = prefixed(simulate(n_cases=5, n_unrelated=6, n_unrelated_references=2, seed=42, prefix="N")[0],
                   "N")
    donor = next(p for p in new if p.kind == "query")
    new.append(formats.Profile(f"{target}-extra-sib", dict(donor.genotypes), "reference", target,
                               "full-sibling", "F"))
    # a retyped copy of an old query: a new duplicate pair with an old query
    old_q = next(p for p in first if p.kind == "query")
    new.append(formats.Profile(old_q.sample_id + "-again", dict(old_q.genotypes), "query", sex=old_q.sex))
    formats.write_profiles(ds, new)
    r2 = _full(ds, inc)
    st = r2.manifest["run"]["modes"]
    assert st["case"]["incremental"] and st["case"]["references_changed"] == 1
    assert st["case"]["queries_new"] == sum(p.kind == "query" for p in new)
    assert st["parent-child"]["references_new"] == sum(p.kind == "reference" for p in new)
    assert st["case"]["queries_rescored"] >= 1          # the best hit of a query was dropped
    # fewer pairs than a full run
    full = _full(ds, tmp_path / "full")
    assert r2.manifest["run"]["pairs_total"] < 0.8 * full.manifest["run"]["pairs_total"]
    _same(inc, tmp_path / "full")
    # nothing new: nothing scored, same output
    r3 = _full(ds, inc)
    assert r3.manifest["run"]["pairs_total"] == 0
    _same(inc, tmp_path / "full")


def test_removed_profiles_and_new_alleles(tmp_path):
    ds = tmp_path / "ds"
    profs, _ = simulate(n_cases=10, n_unrelated=8, n_unrelated_references=3, seed=43)
    formats.write_profiles(ds, profs)
    inc = tmp_path / "inc"
    r1 = _full(ds, inc)
    # the dataset is rebuilt at the same path without one case and two queries
    gone_case = next(h["case_id"] for h in r1.hits.to_pylist() if h["mode"] == "case")
    gone_q = [h["query_id"] for h in r1.hits.to_pylist() if h["mode"] == "parent-child"][:2]
    keep = [p for p in profs if p.case_id != gone_case and p.sample_id not in gone_q]
    shutil.rmtree(ds)
    formats.write_profiles(ds, keep)
    r2 = _full(ds, inc)
    st = r2.manifest["run"]["modes"]
    assert st["case"]["references_removed"] == 1 and st["case"]["queries_removed"] == len(set(gone_q))
    _same(inc, _full(ds, tmp_path / "full").path)
    # an allele the frequency table does not have changes the allele system: all again
    extra = formats.Profile("X-new-allele", {"TPOX": ("8", "30"), "TH01": ("6", "9.3")}, "query")
    formats.write_profiles(ds, [extra])
    r3 = _full(ds, inc)
    assert any("compared again" in n for n in r3.manifest["run"]["notes"])
    assert not r3.manifest["run"]["modes"]["case"]["incremental"]
    _same(inc, _full(ds, tmp_path / "full2").path)


def test_state_of_an_earlier_fingerprint_version_is_scored_again(tmp_path):
    """Results whose run state fingerprints profiles another way (an earlier
    strkin) cannot tell what changed: the next run compares every pair again,
    says so, and equals a full run."""
    import pyarrow as pa

    ds = tmp_path / "ds"
    profs, _ = simulate(n_cases=6, n_unrelated=6, n_unrelated_references=2, seed=44)
    formats.write_profiles(ds, profs)
    inc = tmp_path / "inc"
    _full(ds, inc)
    units = inc / "_state" / "units.parquet"
    t = pq.read_table(units)
    assert t.schema.metadata[b"strkin.fingerprint_version"] == b"2"
    old = t.replace_schema_metadata(None)     # as written by version 1
    pq.write_table(old.set_column(2, "fp", pa.array([b"x" * 16] * old.num_rows, pa.binary())), units)
    more = prefixed(simulate(n_cases=2, n_unrelated=3, n_unrelated_references=1, seed=45, prefix="N")[0],
                    "N")
    formats.write_profiles(ds, more)
    r = _full(ds, inc)
    assert any("fingerprints profiles differently" in n for n in r.manifest["run"]["notes"])
    assert not r.manifest["run"]["modes"]["case"]["incremental"]
    _same(inc, _full(ds, tmp_path / "full").path)
