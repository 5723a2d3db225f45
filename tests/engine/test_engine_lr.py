"""``kinship lr`` (issue 16, item 2): the LR of one case from a Familias file, a
ped file plus genotypes, or command-line genotypes.

paternity.fam: pedFamilias' README (magnusdv/pedFamilias, "Example") reads the
file and reports ``forrel::kinshipLR(peds)`` H1:H2 = 760.3445 with the file's
own model (extended stepwise, female 0.001, male 0.002).  The other example
files have no LR in their documentation: the command must give the library's
value for the parsed file.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import formats
import kinship
from engine.cli import main

DATA = Path(__file__).resolve().parents[1] / "formats" / "data"


def run_json(capsys, *argv):
    rc = main(["lr", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def run_err(capsys, *argv):
    rc = main(["lr", *map(str, argv)])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in err
    return err


def library_lr(name, h1=None, h2=None, case=None, query=None):
    path = DATA / name
    t = formats.read_frequencies(path, format="fam")
    res = formats.import_file(path, format="familias", mode="lenient", extra_loci=tuple(t.loci))
    prof = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    m = res.settings.mutation_model(t.loci)
    if case is None:
        peds = {p.name: p.records for p in res.pedigrees}
        names = list(peds)
        r1, r2 = peds[h1 or names[0]], peds[h2 or names[1]]
        return kinship.likelihood_ratio(r1, r2, prof, t, m, res.settings.theta)
    c = next(c for c in res.cases if c.id == case)
    a, b = c.hypotheses(query)
    g = {p: prof[s] for p, s in c.samples.items()}
    g[query] = prof[query]
    return kinship.likelihood_ratio(a, b, g, t, m, res.settings.theta)


def test_paternity_fam_gives_familias_documented_lr(capsys):
    out = run_json(capsys, DATA / "paternity.fam")
    assert out["total"] == pytest.approx(760.3445, rel=1e-6)     # pedFamilias README
    assert len(out["loci"]) == 10 and out["inconsistent"] == []
    assert out["model"]["theta"] == 0 and "stepwise-extended" in out["model"]["mutation"]
    lr = library_lr("paternity.fam")
    for row in out["loci"]:
        assert row["lr"] == pytest.approx(lr.per_locus[row["locus"]], rel=1e-12)
        assert row["log10_lr"] == pytest.approx(math.log10(row["lr"]))


def test_paternity_table_output(capsys):
    assert main(["lr", str(DATA / "paternity.fam")]) == 0
    out = capsys.readouterr().out
    assert "total" in out and "760.344" in out and "theta 0" in out and "D3S1358" in out


@pytest.mark.parametrize("name, h1, h2", [
    ("kinship-riddle.fam", None, None),
    ("kinship-riddle.fam", "H3", "H4"),
    ("Missing-son-conditioned.fam", None, None),
])
def test_standard_files_give_the_library_value(capsys, name, h1, h2):
    argv = [DATA / name] + (["--h1", h1, "--h2", h2] if h1 else [])
    out = run_json(capsys, *argv)
    lr = library_lr(name, h1, h2)
    assert out["total"] == pytest.approx(lr.total, rel=1e-12)


@pytest.mark.parametrize("name, case, query", [
    ("Solution_4_9_2.fam", "F1", "V1"),
    ("Solution_4_9_2.fam", "F3", "V7"),
    ("KETPex497.fam", "am1", "V1"),
    ("dvi-example.fam", "Reference family 1", "V2"),
])
def test_dvi_files_give_the_library_value(capsys, name, case, query):
    out = run_json(capsys, DATA / name, "--case", case, "--query", query)
    lr = library_lr(name, case=case, query=query)
    assert out["total"] == pytest.approx(lr.total, rel=1e-12, nan_ok=True)


def test_fam_whose_database_does_not_sum_to_one(capsys):
    # halfsib_case.fam: vWA's listed alleles sum to 0.5 (a course file, cut down):
    # a one-line error, as a job gives
    err = run_err(capsys, DATA / "halfsib_case.fam")
    assert "vWA" in err and "sum" in err


def test_fam_overrides(capsys):
    out = run_json(capsys, DATA / "paternity.fam", "--mutation", "none", "--theta", "0.01")
    assert out["model"]["mutation"] == "none" and out["model"]["theta"] == 0.01
    assert out["total"] != pytest.approx(760.3445, rel=1e-3)


def test_relation_duo_against_hand_derived_lr(capsys):
    out = run_json(capsys, "--relation", "father", "--ref", "D3S1358=15/16,vWA=14/17",
                   "--query", "D3S1358=16/16,vWA=14/18")
    ft = kinship.FrequencyTable.load("nist1036_all")

    def p(locus, a):
        la = ft.locus_alleles(locus)
        return float(la.freqs[la.alleles.index(a)])

    # father 15/16, child 16/16: 1/(2 p16); father 14/17, child 14/18: 1/(4 p14)
    per = {r["locus"]: r["lr"] for r in out["loci"]}
    assert per["D3S1358"] == pytest.approx(1 / (2 * p("D3S1358", "16")), rel=1e-9)
    assert per["vWA"] == pytest.approx(1 / (4 * p("vWA", "14")), rel=1e-9)
    assert out["total"] == pytest.approx(per["D3S1358"] * per["vWA"], rel=1e-12)


def test_relation_exclusion_is_flagged(capsys):
    out = run_json(capsys, "--relation", "father", "--ref", "D3S1358=15/15",
                   "--query", "D3S1358=17/18")
    assert out["total"] == 0 and out["inconsistent"] == ["D3S1358"]
    out = run_json(capsys, "--relation", "father", "--ref", "D3S1358=15/15",
                   "--query", "D3S1358=16/18", "--mutation", "stepwise:0.002")
    assert 0 < out["total"] < 1 and out["loci"][0]["inconsistent"] is True


def test_ped_and_genotype_csv(capsys, tmp_path):
    (tmp_path / "f.ped").write_text("case\tid\tfid\tmid\tsex\tsample\tmissing\n"
                                    "c1\tAF\t0\t0\t1\tS-AF\t0\n"
                                    "c1\tMO\t0\t0\t2\t\t0\n"
                                    "c1\tCH\tAF\tMO\t1\t\t1\n")
    (tmp_path / "g.csv").write_text("sample_id,locus,allele1,allele2\n"
                                    "S-AF,D3S1358,15,16\nS-AF,vWA,14,17\n"
                                    "Q1,D3S1358,16,16\nQ1,vWA,14,18\n")
    out = run_json(capsys, "--ped", tmp_path / "f.ped", "--genotypes", tmp_path / "g.csv",
                   "--query", "Q1")
    duo = run_json(capsys, "--relation", "father", "--ref", "D3S1358=15/16,vWA=14/17",
                   "--query", "D3S1358=16/16,vWA=14/18")
    assert out["total"] == pytest.approx(duo["total"], rel=1e-12)


@pytest.mark.parametrize("argv, words", [
    ([], "no case given"),
    (["missing.fam"], "no such file"),
    ([DATA / "paternity.fam", "--h1", "nope"], "no such pedigree"),
    ([DATA / "Solution_4_9_2.fam"], "--case"),
    ([DATA / "Solution_4_9_2.fam", "--case", "F9", "--query", "V1"], "no family"),
    (["--relation", "cousin-ish", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16"],
     "relation"),
    (["--relation", "father", "--ref", "D3S1358=15/16/17", "--query", "D3S1358=16/16"],
     "two alleles"),
    (["--relation", "father", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16",
      "--mutation", "stepwise:x"], "number"),
    (["--relation", "father", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16",
      "--frequencies", "no_such_population"], "neither a file"),
])
def test_bad_input_is_one_line_without_genotypes(capsys, argv, words):
    err = run_err(capsys, *argv)
    assert words in err and len(err.strip().splitlines()) == 1
    assert "15/16" not in err and "16/16" not in err
