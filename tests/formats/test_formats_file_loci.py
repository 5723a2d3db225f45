"""Loci from a file's own frequency database (issue 15, item 4): a Familias ``.fam``
file defines its loci in its database, so its import accepts them although they
are not known loci (dvir's ``dvi-example.fam`` and its locus ``L1``), the file's
database is their frequency table, and the engine searches them."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import engine
import formats
import kinship
from formats import import_file, open_dataset
from formats.cli import register

DATA = Path(__file__).parent / "data"
DVI = DATA / "dvi-example.fam"


def run(argv):
    parser = argparse.ArgumentParser(prog="kinship")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_dvi_example_imports_strict_with_its_own_locus():
    res = import_file(DVI, format="familias", mode="strict")
    assert (res.n_read, res.n_imported, res.n_rejected) == (4, 4, 0)
    assert res.extra_loci == ("L1",)
    assert {q.sample_id: q.genotypes["L1"] for q in res.profiles} == {
        "V1": ("1", "1"), "V2": ("2", "2"), "V3": ("1", "2"), "Reference family 1/R": ("1", "1")}
    assert any("locus 'L1' is not a known locus; accepted" in n
               for n in res.provenance["import"]["notes"])
    # the same import with the locus named explicitly gives the same profiles
    again = import_file(DVI, format="familias", mode="strict", extra_loci=["L1"])
    assert again.extra_loci == ("L1",)
    assert [p.genotypes for p in again.profiles] == [p.genotypes for p in res.profiles]


def test_unknown_locus_elsewhere_is_still_an_error(tmp_path):
    # only a file's own database defines loci: a long CSV naming L1 is refused
    p = tmp_path / "g.csv"
    p.write_text("sample_id,locus,allele1,allele2\nS1,L1,1,2\n")
    with pytest.raises(formats.InvalidRowError, match="unknown locus 'L1'"):
        import_file(p, format="csv")


def test_cli_import_and_search_with_the_fam_database(tmp_path, capsys):
    out = tmp_path / "dvi"
    assert run(["import", DVI, "--out", out]) == 0
    text = capsys.readouterr().out
    assert "note: locus 'L1' is not a known locus" in text
    ds = open_dataset(out)
    a = ds.load()
    assert "L1" in a.loci and len(a.sample_id) == 4
    # the .fam file's database is the frequency table of its locus
    ft = formats.read_frequencies(DVI, format="fam")
    assert ft.loci == ("L1",) and ft.frequency("L1", "1") == pytest.approx(0.05)
    job = {"inputs": {"queries": str(out), "references": str(out), "frequencies": str(DVI),
                      "frequencies_format": "fam"},
           "search": {"modes": ["case", "parent-child"], "threshold": 1e-9, "min_loci": 1},
           "output": {"path": str(tmp_path / "res")},
           "execution": {"threads": 1, "progress": False}}
    hits = engine.run(job).hits.to_pylist()
    (case,) = ds.cases().values()
    by = {p.sample_id: p for p in import_file(DVI, format="familias").profiles}
    rows = [h for h in hits if h["mode"] == "case"]
    assert rows
    for h in rows:
        h1, h2 = case.hypotheses("Q", h["reference_id"])
        g = {p: by[case.samples[p]].genotypes for p in case.samples}
        g["Q"] = by[h["query_id"]].genotypes
        want = kinship.likelihood_ratio(h1, h2, g, ft).total
        assert 10 ** h["log10_lr"] == pytest.approx(want, rel=1e-9)
    # V1 (1/1) as the son of R (1/1): LR = 1 / p(1) = 20
    pc = next(h for h in hits if h["mode"] == "parent-child" and h["query_id"] == "V1")
    assert json.loads(pc["per_locus_lr"])["L1"] == pytest.approx(20.0)
