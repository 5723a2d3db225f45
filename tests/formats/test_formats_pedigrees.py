"""Pedigrees and cases from Familias ``.fam`` files and ped files; the ``.fam``
case writer.

The ``.fam`` files are copies in ``tests/formats/data`` (see its README for the
provenance); the expectations below were read by hand from the file text.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

import kinship
from formats import import_file, read_frequencies
from formats.errors import InputFormatError
from formats.familias import (
    case_hypotheses,
    fam_mutation_model,
    read_fam,
    relation_from_label,
    write_fam_case,
)
from formats.pedfile import read_ped, write_ped
from formats.profile import allele_sort_key
from kinship.cases import Case, case_from_relations
from kinship.mutation import MutationError

DATA = Path(__file__).parent / "data"


def fam(name, **kw):
    kw.setdefault("mode", "lenient")
    return import_file(DATA / name, format="familias", **kw)


def recs(ped):
    """{id: (father, mother, sex)} of a FamPedigree or Case pedigree."""
    rows = ped.records if hasattr(ped, "records") and isinstance(ped.records, list) else ped.records()
    return {r["id"]: (r["father"], r["mother"], r["sex"]) for r in rows}


# ---------------------------------------------------------------------------
# labels -> relation words
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("label, word", [
    ("Maternal grandfather", "maternal-grandfather"),
    ("GF [Maternal grandfather]", "maternal-grandfather"),
    ("Maternal grandmother", "maternal-grandmother"),
    ("Paternal grandfather", "paternal-grandfather"),
    ("Paternal uncle", "paternal-uncle"),
    ("Maternal aunt", "maternal-aunt"),
    ("Maternal half sister", "maternal-half-sibling"),
    ("Paternal Half Sister", "paternal-half-sibling"),
    ("maternal half-brother", "maternal-half-sibling"),
    ("Maternal cousin", "maternal-first-cousin"),
    ("Paternal first cousin", "paternal-first-cousin"),
    ("Maternal great grandfather", "maternal-great-grandfather"),
    ("N [Niece]", "niece"), ("Nephew", "nephew"),
    # side-less words: the aliases of kinship.cases (paternal)
    ("Grandfather", "paternal-grandfather"), ("Uncle", "paternal-uncle"),
    ("Cousin", "paternal-first-cousin"), ("half-sister", "paternal-half-sibling"),
    # Familias spellings
    ("F2 [daugther]", "child"), ("fullsib", "full-sibling"), ("halfsib", "paternal-half-sibling"),
    ("Wife", "partner"), ("Husband", "partner"), ("GMI-1 [Spouse]", "partner"),
    ("F [Father]", "father"), ("Mother", "mother"), ("Brother", "full-sibling"),
    ("Son", "child"), ("Missing person", "self"),
    # no relation
    ("MP", ""), ("R1", ""), ("Father_of_Niece_Nephew", ""), ("Maternal father", ""),
    ("Maternal brother", ""), ("", ""),
])
def test_relation_from_label(label, word):
    assert relation_from_label(label) == word


def test_maternal_label_is_not_the_paternal_word():
    # the old mapping read "Maternal grandfather" as "grandfather" (the paternal one)
    assert relation_from_label("Maternal grandfather") != relation_from_label("Grandfather")


# ---------------------------------------------------------------------------
# standard-module pedigrees
# ---------------------------------------------------------------------------

def test_paternity_pedigrees_and_settings():
    res = fam("paternity.fam")
    assert [p.name for p in res.pedigrees] == ["H1", "H2"]
    h1, h2 = res.pedigrees
    # persons AF (#TRUE#), MO (#FALSE#), CH (#TRUE#); H1: 0 -> 2, 1 -> 2
    assert recs(h1) == {"AF": (None, None, "male"), "MO": (None, None, "female"),
                        "CH": ("AF", "MO", "male")}
    assert recs(h2) == {"AF": (None, None, "male"), "MO": (None, None, "female"),
                        "CH": (None, None, "male")}
    assert res.cases == []          # no missing person: two hypotheses, not a case
    s = res.settings
    assert s.theta == 0.0 and s.database == "unknown" and len(s.loci) == 10
    d = s.loci["D3S1358"]
    assert (d["female_rate"], d["male_rate"], d["female_model"], d["male_model"]) == \
        (0.001, 0.002, 4, 4)
    assert (d["female_range"], d["male_range"], d["female_rate2"], d["male_rate2"]) == \
        (0.1, 0.1, 1e-6, 1e-6)
    assert d["silent"] is False and d["silent_frequency"] == 0 and d["database_size"] == 1000
    notes = res.provenance["import"]["notes"]
    assert any("theta" in n and "0" in n for n in notes)
    assert any("stepwise-extended rate 0.001" in n and "rate 0.002" in n and "10 loci" in n
               for n in notes)
    m = fam_mutation_model(s)
    f = m.for_locus("D3S1358")
    assert isinstance(f.female, kinship.ExtendedStepwise) and f.female.rate == 0.001
    assert (f.male.rate, f.male.rate2, f.male.range) == (0.002, 1e-6, 0.1)


def test_paternity_lr_from_the_file(nist):
    # the file's pedigrees, genotypes, database and mutation model give an LR
    res = fam("paternity.fam")
    t = read_frequencies(DATA / "paternity.fam", format="fam")
    geno = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    h1, h2 = (p.records for p in res.pedigrees)
    r = kinship.likelihood_ratio(h1, h2, geno, t, fam_mutation_model(res.settings, t.loci),
                                 res.settings.theta)
    assert r.total > 1


def test_halfsib_case_crlf():
    res = fam("halfsib_case.fam")
    hs, un = res.pedigrees
    assert (hs.name, un.name) == ("HS", "UN")
    # persons 1 (F), 2 (M), NN1 (M), NN2 (M), 3 (F); HS: 0->2, 4->3, 1->2, 1->3
    assert recs(hs) == {"1": (None, None, "female"), "2": (None, None, "male"),
                        "NN1": ("2", "1", "male"), "NN2": ("2", "3", "male"),
                        "3": (None, None, "female")}
    assert all(f is None for f, _, _ in recs(un).values())


def test_kinship_riddle_bad_pedigree_is_left_out_with_a_note():
    res = fam("kinship-riddle.fam")
    assert [p.name for p in res.pedigrees] == ["H1", "H3", "H4"]
    h1, h3, h4 = res.pedigrees
    r1 = recs(h1)
    assert r1["S1"] == ("1", "2", "male") and r1["S2"] == ("1", "2", "male")
    r3 = recs(h3)   # S2 is a grandchild of 1 and 2 through "4"
    assert r3["4"] == ("1", "2", "male") and r3["S2"] == ("4", "5", "male")
    assert all(f is None for f, _, _ in recs(h4).values())
    # H2 gives S2 two women as parents; the note names the file, line and persons
    note = next(n for n in res.provenance["import"]["notes"] if "'H2' left out" in n)
    assert "kinship-riddle.fam, line 167" in note and "'S2'" in note and "two mothers" in note
    assert len(res.profiles) == 2 and res.n_rejected == 0   # the profiles still import


def test_missing_son_standard_case_and_one_parent():
    res = fam("Missing-son-conditioned.fam")
    h1, h2 = res.pedigrees
    assert h1.name == "H1: father" and h1.added == ("added_1",)
    assert recs(h1) == {"MP": ("REF", "added_1", "male"), "REF": (None, None, "male"),
                        "added_1": (None, None, "female")}
    (case,) = res.cases
    assert case.id == "Missing-son-conditioned" and case.missing == ("MP",)
    assert dict(case.samples) == {"REF": "REF"}
    ref = res.profiles[0]
    assert (ref.sample_id, ref.kind, ref.case_id) == ("REF", "reference", "Missing-son-conditioned")
    # PENTA_E: female equal (0), male stationary stepwise (3), range 0.1/0.5, rate2 0/1e-5
    pe = res.settings.loci["PENTA_E"]
    assert (pe["female_model"], pe["male_model"], pe["female_range"], pe["male_range"],
            pe["female_rate2"], pe["male_rate2"]) == (0, 3, 0.1, 0.5, 0.0, 1e-5)
    mm = fam_mutation_model(res.settings).for_locus(kinship.canonical_locus("PENTA_E"))
    assert isinstance(mm.female, kinship.Equal)
    assert type(mm.male) is kinship.Stepwise and mm.male.rate2 == 1e-5
    with pytest.raises(MutationError, match="stationary stepwise"):
        fam_mutation_model(res.settings, stationary="error")


# ---------------------------------------------------------------------------
# DVI families -> cases
# ---------------------------------------------------------------------------

def test_dvi_solution_4_9_2_cases():
    res = fam("Solution_4_9_2.fam")
    by = {c.id: c for c in res.cases}
    assert set(by) == {"F1", "F2 [daugther]", "F3"}
    f1 = by["F1"]
    assert f1.missing == ("M1",) and dict(f1.samples) == {"R1": "F1/R1"}
    assert recs(f1.pedigree)["M1"] == ("R1", "added_1", "female")
    # two missing persons: the daughter M2 of R2 and her child M3
    f2 = by["F2 [daugther]"]
    assert set(f2.missing) == {"M2", "M3"}
    r2 = recs(f2.pedigree)
    assert r2["M2"][0] == "R2" and r2["M3"][1] == "M2"
    assert dict(f2.samples) == {"R2": "F2 [daugther]/R2"}
    # F3: M4 is a full sister of R3's father FA3
    r3 = recs(by["F3"].pedigree)
    assert r3["M4"] == ("GF3", "GM3", "female") and r3["FA3"] == ("GF3", "GM3", "male")
    assert r3["R3"][0] == "FA3" and by["F3"].missing == ("M4",)
    # every typed person of a case is an imported reference profile of that family
    prof = {p.sample_id: p for p in res.profiles}
    for c in res.cases:
        for sid in c.samples.values():
            assert (prof[sid].kind, prof[sid].case_id) == ("reference", c.id)
    assert res.settings.theta == 0.01
    assert any("theta (Theta/Kinship/Fst) 0.01" in n for n in res.provenance["import"]["notes"])


def test_dvi_example_three_missing_males():
    res = fam("dvi-example.fam", extra_loci=["L1"])
    (case,) = res.cases
    assert case.id == "Reference family 1"
    # "Missing person" (not in the person list) is the father of Missing male 2 with R
    assert set(case.missing) == {"Missing person", "Missing male 2", "Missing male 3"}
    r = recs(case.pedigree)
    assert r["Missing person"] == (None, None, "male")
    assert r["Missing male 2"] == ("Missing person", "R", "male")
    assert r["Missing male 3"][0] == "Missing male 2"
    assert "Missing male 1" not in case.pedigree     # listed, but in no relation
    assert dict(case.samples) == {"R": "Reference family 1/R"}


def test_dvi_ketp497_missing_parent_sex_from_partner():
    res = fam("KETPex497.fam")
    by = {c.id: c for c in res.cases}
    assert set(by) == {"am1", "am2", "am3"}
    r1 = recs(by["am1"].pedigree)
    assert r1["C"] == ("F", "Missing person", "female")
    assert r1["Missing person"][2] == "female"
    assert dict(by["am1"].samples) == {"C": "am1/C", "F": "am1/F"}
    r3 = recs(by["am3"].pedigree)
    assert r3["Missing person"][:2] == r3["S"][:2] == ("EM2", "EF2")
    for c in by.values():
        assert c.missing == ("Missing person",)


def test_read_fam_helper():
    peds, cases, settings = read_fam(DATA / "paternity.fam")
    assert [p.name for p in peds] == ["H1", "H2"] and cases == [] and settings.theta == 0


# ---------------------------------------------------------------------------
# ped files
# ---------------------------------------------------------------------------

GOOD = """# a comment
case\tid\tfid\tmid\tsex\tsample\tmissing
c1\tF\t0\t0\t1\t\t0
c1\tMo\t0\t0\t2\tS-MO\t0
c1\tMP\tF\tMo\t1\t\t1
c1\tB\tF\tMo\t0\tS-B\t0
c2\tX\t0\t0\t1\tS-X\t0
c2\tY\tX\tW\t2\t\t1
c2\tW\t0\t0\t2\t\t0
"""


def test_read_ped_tab(tmp_path):
    p = tmp_path / "fams.ped"
    p.write_text(GOOD)
    c1, c2 = read_ped(p)
    assert (c1.id, c1.missing, dict(c1.samples)) == ("c1", ("MP",), {"Mo": "S-MO", "B": "S-B"})
    assert recs(c1.pedigree)["MP"] == ("F", "Mo", "male")
    assert recs(c1.pedigree)["B"] == ("F", "Mo", "unknown")
    assert recs(c2.pedigree)["Y"] == ("X", "W", "female")   # parent after child is fine


@pytest.mark.parametrize("sep", [",", " "])
def test_read_ped_comma_and_space(tmp_path, sep):
    text = f"id{sep}fid{sep}mid{sep}sex{sep}sample{sep}missing\n" \
           f"F{sep}0{sep}0{sep}1{sep}S1{sep}0\nMo{sep}NA{sep}NA{sep}2{sep}NA{sep}0\n" \
           f"M{sep}F{sep}Mo{sep}2{sep}NA{sep}1\n"
    p = tmp_path / "one.txt"
    p.write_text(text)
    (c,) = read_ped(p, case_id="K")
    assert c.id == "K" and c.missing == ("M",) and dict(c.samples) == {"F": "S1"}
    (c,) = read_ped(p)
    assert c.id == "one"


HEAD = "case\tid\tfid\tmid\tsex\tsample\tmissing\n"


@pytest.mark.parametrize("rows, line, words", [
    # unknown parent id
    ("k\tA\t0\t0\t1\tS1\t0\nk\tM\tA\tZZ\t1\t\t1\n", 3, ["mother 'ZZ'", "not a person"]),
    # parent of the wrong sex
    ("k\tA\t0\t0\t2\tS1\t0\nk\tB\t0\t0\t2\t\t0\nk\tM\tA\tB\t1\t\t1\n", 4,
     ["father 'A'", "female", "must be male"]),
    # a cycle
    ("k\tA\tM\tB\t1\tS1\t0\nk\tB\t0\t0\t2\t\t0\nk\tM\tA\tB\t1\t\t1\n", None, ["cycle"]),
    # only one parent
    ("k\tA\t0\t0\t1\tS1\t0\nk\tM\tA\t0\t1\t\t1\n", 3, ["only the father", "untyped mother"]),
    # duplicate id
    ("k\tA\t0\t0\t1\tS1\t0\nk\tA\t0\t0\t1\t\t1\n", 3, ["used twice", "lines 2 and 3"]),
    # no missing person
    ("k\tA\t0\t0\t1\tS1\t0\nk\tM\t0\t0\t1\t\t0\n", 2, ["no missing person"]),
    # a sample linked twice
    ("k\tA\t0\t0\t1\tS1\t0\nk\tB\t0\t0\t1\tS1\t0\nk\tM\tA\tC\t1\t\t1\nk\tC\t0\t0\t2\t\t0\n", 3,
     ["sample 'S1' is linked twice", "line 2"]),
    # a missing person with a sample
    ("k\tA\t0\t0\t1\tS1\t1\n", 2, ["marked missing and linked"]),
])
def test_ped_errors(tmp_path, rows, line, words):
    p = tmp_path / "bad.ped"
    p.write_text(HEAD + rows)
    with pytest.raises(InputFormatError) as ei:
        read_ped(p)
    e = ei.value
    msg = str(e)
    assert "bad.ped" in msg and "case 'k'" in msg and "Fix:" in msg
    if line is not None:
        assert e.line == line and f"line {line}" in msg
    else:
        assert e.line in (2, 3, 4)
    for w in words:
        assert w in msg
    assert "person '" in msg or "no missing person" in msg or "cycle" in msg


def test_ped_header_required(tmp_path):
    p = tmp_path / "nohead.ped"
    p.write_text("A\t0\t0\t1\tS1\t0\n")
    with pytest.raises(InputFormatError, match="header lacks"):
        read_ped(p)
    p.write_text("id\tfid\tmid\tsex\tsample\tmissing\nA\t0\t0\n")
    with pytest.raises(InputFormatError, match="3 columns, the header has 6"):
        read_ped(p)


def _some_cases():
    c1 = case_from_relations("c1", [("S1", "maternal-grandfather", "M"), ("S2", "full-sibling", "F"),
                                    ("S3", "paternal-uncle", "")], "male")
    c2 = Case.from_pedigree("two missing", [
        {"id": "R", "father": None, "mother": None, "sex": "female"},
        {"id": "X", "father": None, "mother": None, "sex": "male"},
        {"id": "M2", "father": "X", "mother": "R", "sex": "male"},
        {"id": "W", "father": None, "mother": None, "sex": "female"},
        {"id": "M1", "father": "M2", "mother": "W", "sex": "unknown"},
    ], ("M1", "M2"), {"R": "S-R"})
    return [c1, c2]


def test_ped_round_trip(tmp_path):
    cases = _some_cases()
    p = tmp_path / "rt.ped"
    write_ped(p, cases)
    back = read_ped(p)
    assert [c.to_dict() | {"source": ""} for c in back] == \
        [c.to_dict() | {"source": ""} for c in cases]
    assert back[1].missing == ("M1", "M2")          # the order of the missing persons
    buf = io.StringIO()
    write_ped(buf, back)
    assert buf.getvalue() == p.read_text()


# ---------------------------------------------------------------------------
# the .fam case writer
# ---------------------------------------------------------------------------

def _genotypes(freqs, loci, rng):
    out = {}
    for l in loci:
        al = sorted(freqs.alleles(l))
        out[l] = tuple(sorted(rng.sample(al, 2), key=allele_sort_key))
    return out


@pytest.mark.parametrize("theta", [0.0, 0.02])
def test_write_fam_case_round_trip_lr(tmp_path, nist, theta):
    rng = random.Random(11)
    loci = list(nist.loci)[:10]
    case = case_from_relations("c1", [("S1", "maternal-grandfather", "M"),
                                      ("S2", "full-sibling", "F"), ("S3", "father", "")], "male")
    geno = {s: _genotypes(nist, loci, rng) for s in case.samples.values()}
    qg = _genotypes(nist, loci, rng)
    qg[loci[2]] = tuple(sorted(("5.1", qg[loci[2]][1]), key=allele_sort_key))  # not in the table
    mut = kinship.MutationModel(
        female=kinship.Stepwise(0.001, 0.0001, 0.5), male=kinship.Equal(0.002),
        per_locus={loci[0]: kinship.MutationModel(kinship.Proportional(0.003)),
                   loci[3]: kinship.MutationModel(kinship.ExtendedStepwise(0.002, 1e-5, 0.1))})
    h1, h2 = case_hypotheses(case, "Q")
    want = kinship.likelihood_ratio(h1, h2, {**geno, "Q": qg}, nist, mut, theta)

    f = tmp_path / "case.fam"
    write_fam_case(f, case, geno, nist, loci, mut, theta, ("Q", qg))
    res = import_file(f, format="familias")
    # same persons and genotypes
    got = {p.sample_id: dict(p.genotypes) for p in res.profiles}
    assert got == {**geno, "Q": qg}
    # same pedigrees
    assert [p.name for p in res.pedigrees] == ["H1", "H2"]
    assert recs(res.pedigrees[0]) == {r["id"]: (r["father"], r["mother"], r["sex"]) for r in h1}
    assert recs(res.pedigrees[1]) == {r["id"]: (r["father"], r["mother"], r["sex"]) for r in h2}
    # theta and mutation settings
    s = res.settings
    assert s.theta == theta
    d0, d1, d3 = s.loci[loci[0]], s.loci[loci[1]], s.loci[loci[3]]
    assert (d0["female_model"], d0["male_model"], d0["female_rate"]) == (1, 1, 0.003)
    assert (d1["female_model"], d1["female_rate"], d1["female_rate2"], d1["female_range"]) == \
        (4, 0.001, 0.0001, 0.5)
    assert (d1["male_model"], d1["male_rate"]) == (0, 0.002)
    assert (d3["female_model"], d3["male_rate2"]) == (4, 1e-5)
    # the case comes back (from H2, where the missing person keeps its place)
    (c,) = res.cases
    assert c.missing == ("M",) and recs(c.pedigree) == recs(case.pedigree)
    # the same LR from the file alone
    t = read_frequencies(f, format="fam")
    got_lr = kinship.likelihood_ratio(res.pedigrees[0].records, res.pedigrees[1].records, got, t,
                                      fam_mutation_model(s, t.loci), s.theta)
    assert got_lr.total == pytest.approx(want.total, rel=1e-12)
    for l in loci:
        assert got_lr.per_locus[l] == pytest.approx(want.per_locus[l], rel=1e-12)


def test_write_fam_case_without_query_and_odd_missing_id(tmp_path, nist):
    (c,) = [c for c in _some_cases() if c.id == "two missing"]
    c = Case.from_pedigree("k", [dict(r, id={"M1": "X1", "M2": "X2"}.get(r["id"], r["id"]),
                                      father={"M2": "X2"}.get(r["father"], r["father"]))
                                 for r in c.pedigree.records()], ("X1", "X2"), {"R": "S-R"})
    loci = list(nist.loci)[:3]
    f = tmp_path / "k.fam"
    write_fam_case(f, c, {"S-R": _genotypes(nist, loci, random.Random(1))}, nist, loci)
    res = import_file(f, format="familias")
    (ped,) = res.pedigrees
    r = recs(ped)
    # missing persons whose ids are not missing-person names are written "Missing <id>"
    assert r["Missing X1"][:2] == ("Missing X2", "W")
    assert r["Missing X1"][2] == "female"             # unknown sex: Familias writes female
    (back,) = res.cases
    assert set(back.missing) == {"Missing X1", "Missing X2"}
    assert dict(back.samples) == {"S-R": "S-R"}


def test_write_fam_case_refuses_custom(tmp_path, nist):
    case = case_from_relations("c", [("S1", "father", "M")], "male")
    loci = list(nist.loci)[:2]
    geno = {"S1": _genotypes(nist, loci, random.Random(2))}
    mut = kinship.MutationModel(kinship.Custom({"10": {"10": 1.0}}))
    with pytest.raises(ValueError, match="Custom"):
        write_fam_case(tmp_path / "x.fam", case, geno, nist, loci, mut, 0.0, ("Q", geno["S1"]))
