"""The dropout model in the engine (issue 15, item 1; ``docs/dropout.md``).

Every reported LR, per locus and in total, equals ``kinship.likelihood_ratio``
with the same per-sample dropout and drop-in (identity: a brute-force sum over
the person's true genotype, computed here), in every autosomal mode; dropout 0 is
the run of before, bit for bit; the screen stays exact with dropout on (a run at
the threshold equals a run at LR > 0 filtered at the threshold); a child's sample
with dropped alleles is missed without the model and found with it.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import engine
import formats
import kinship
from kinship.cases import case_pedigree
from kinship.likelihood import evidence_matrix
from kinship.tables import relationship_pedigrees

from enginelib import make_job, read, simulate
from enginelib import rows as rows_of

LOCI6 = ("TPOX", "CSF1PO", "TH01", "D5S818", "D13S317", "D16S539")
SEXW = {"M": "male", "F": "female", "": "unknown"}
MODES = ["case", "parent-child", "full-sibling", "identity", "duplicates"]
C = 0.02          # drop-in of every sample
D_REF = 0.05      # every reference's dropout


def _dataset(tmp_path, seed=5):
    profs, _ = simulate(n_cases=6, n_unrelated=4, n_unrelated_references=2, seed=seed, loci=LOCI6)
    # a father and his child whose paternal allele dropped out at two loci (the child
    # looks homozygous for the maternal allele): an exclusion without the model
    fa = {"TPOX": ("8", "11"), "CSF1PO": ("10", "12"), "TH01": ("6", "9.3"),
          "D5S818": ("11", "13"), "D13S317": ("8", "12"), "D16S539": ("9", "13")}
    ch = {"TPOX": ("8", "9"), "CSF1PO": ("11", "11"), "TH01": ("7", "7"),
          "D5S818": ("11", "12"), "D13S317": ("12", "14"), "D16S539": ("9", "11")}
    profs.append(formats.Profile("DEG-father", fa, "reference", "DEGCASE", "father", "M"))
    profs.append(formats.Profile("DEG-child", ch, "query", sex="F"))
    # a retyped query with a dropped allele (duplicates) and its direct sample (identity)
    u = next(p for p in profs if p.kind == "query" and p.sample_id.startswith("U"))
    g = dict(u.genotypes)
    a = g["TH01"]
    g["TH01"] = (a[0], a[0])
    profs.append(formats.Profile("U-retyped", g, "query", sex=u.sex))
    profs.append(formats.Profile("U-self", dict(u.genotypes), "reference", "SELF", "self", u.sex))
    ds = tmp_path / "ds"
    formats.write_profiles(ds, profs)
    return ds, {p.sample_id: p for p in profs}, u.sample_id


def _sample_file(tmp_path, d):
    f = tmp_path / "dropout.csv"
    f.write_text("sample_id,dropout\n" + "".join(f"{k},{v}\n" for k, v in d.items()))
    return f


def _d(sid, by_id, per):
    return per.get(sid, D_REF if by_id[sid].kind == "reference" else 0.0)


def _pair_lr(hit, mode, by_id, ft, per):
    r = by_id[hit["reference_id"]]
    q = by_id[hit["query_id"]]
    h1, h2 = relationship_pedigrees(mode, SEXW[r.sex] or "male", "paternal")
    return kinship.likelihood_ratio(h1, h2, {"R": r.genotypes, "Q": q.genotypes}, ft,
                                    dropout={"R": _d(r.sample_id, by_id, per),
                                             "Q": _d(q.sample_id, by_id, per)}, dropin=C)


def _case_lr(hit, by_id, ft, per):
    q = by_id[hit["query_id"]]
    refs = [p for p in by_id.values() if p.kind == "reference" and p.case_id == hit["case_id"]
            and p.relation not in ("self", "")]
    h1 = case_pedigree([(p.sample_id, p.relation, SEXW[p.sex]) for p in refs],
                       missing_sex=SEXW[q.sex] or "male").records()
    h2 = []
    for rec in h1:
        rec = dict(rec)
        rec.update({k: ("M_case" if rec[k] == "M" else rec[k]) for k in ("id", "father", "mother")})
        h2.append(rec)
    h2.append({"id": "M", "father": None, "mother": None, "sex": "unknown"})
    g = {p.sample_id: p.genotypes for p in refs}
    g["M"] = q.genotypes
    drop = {p.sample_id: _d(p.sample_id, by_id, per) for p in refs}
    drop["M"] = _d(q.sample_id, by_id, per)
    return kinship.likelihood_ratio(h1, h2, g, ft, dropout=drop, dropin=C)


def _identity_locus_lr(gr, gq, la, dr, dq):
    """Two samples of one person X (θ = 0): Σ_x E_R[x] E_Q[x] P(x) / (P(R) P(Q)),
    each P the observed call's probability, summed over X's true ordered genotype."""
    i = {a: k for k, a in enumerate(la.alleles)}
    A, p = la.n_alleles, np.asarray(la.freqs)
    ER = evidence_matrix((i[gr[0]], i[gr[1]]), A, None, p, dr, C)
    EQ = evidence_matrix((i[gq[0]], i[gq[1]]), A, None, p, dq, C)
    P = np.outer(p, p)
    return float((ER * EQ * P).sum() / ((ER * P).sum() * (EQ * P).sum()))


def _check(hits, by_id, ft, per, modes):
    for mode in modes:
        rows = [h for h in hits if h["mode"] == mode]
        assert rows, mode
        for h in rows[:30]:
            got = json.loads(h["per_locus_lr"])
            if mode in ("identity", "duplicates"):
                r, q = by_id[h["reference_id"]], by_id[h["query_id"]]
                want = {l: _identity_locus_lr(r.genotypes[l], q.genotypes[l], ft.locus_alleles(l),
                                              _d(r.sample_id, by_id, per),
                                              _d(q.sample_id, by_id, per)) for l in got}
            else:
                ref = (_case_lr(h, by_id, ft, per) if mode == "case"
                       else _pair_lr(h, mode, by_id, ft, per))
                want = ref.per_locus
            for l, v in got.items():
                assert v == pytest.approx(want[l], rel=1e-9, abs=1e-300), (mode, l, h["query_id"])
            tot = sum(math.log10(want[l]) for l in got)
            assert h["log10_lr"] == pytest.approx(tot, rel=1e-9, abs=1e-9), mode


def _check_alternatives(hits, by_id, ft, per):
    """The alternative relationships use the same dropout: a pairwise hit's
    full-sibling (parent-child) alternative is kinship.likelihood_ratio of that
    relationship with the samples' dropout; a duo case's full-sibling placement (a
    child of M's typed father) is the hit's own LR."""
    n_pair = n_case = 0
    for h in hits:
        if h["relationship_lrs"] is None:
            continue
        alt = json.loads(h["relationship_lrs"])
        if h["mode"] in ("parent-child", "full-sibling"):
            other = "full-sibling" if h["mode"] == "parent-child" else "parent-child"
            ref = _pair_lr(h, other, by_id, ft, per)
            want = sum(math.log10(v) for v in ref.per_locus.values()) if ref.total > 0 else -math.inf
            assert alt[other] == pytest.approx(want, rel=1e-9, abs=1e-9)
            n_pair += 1
        elif h["mode"] == "case":
            refs = [p for p in by_id.values() if p.kind == "reference" and p.case_id == h["case_id"]
                    and p.relation not in ("self", "")]
            if [p.relation for p in refs] == ["father"]:
                assert alt["full-sibling"] == pytest.approx(alt["missing-person"], rel=1e-9,
                                                            abs=1e-9)
                n_case += 1
    assert n_pair and n_case


def test_engine_lrs_equal_likelihood_ratio_with_dropout(tmp_path):
    ds, by_id, u = _dataset(tmp_path)
    per = {"DEG-child": 0.2, "U-retyped": 0.1, u: 0.1}
    f = _sample_file(tmp_path, per)
    job = make_job(ds, tmp_path / "out", MODES, inputs__loci=list(LOCI6),
                   model__dropout={"queries": 0.0, "references": D_REF}, model__dropin=C,
                   model__dropout_samples=str(f), search__threshold=1e-12, search__top_k=200,
                   search__case_top_k=200, report__relationships="ranked",
                   report__relationships_max=100000)
    res = engine.run(job)
    ft = kinship.FrequencyTable.load("nist1036_all")
    hits = res.hits.to_pylist()
    _check(hits, by_id, ft, per, MODES)
    _check_alternatives(hits, by_id, ft, per)
    # the degraded child is found with its father (case and parent-child modes)
    for mode, key, other in (("parent-child", "reference_id", "DEG-father"),
                             ("case", "case_id", "DEGCASE")):
        h = next(h for h in hits if h["mode"] == mode and h["query_id"] == "DEG-child"
                 and h[key] == other)
        assert math.isfinite(h["log10_lr"]) and h["loci_inconsistent"] == 0
    # the d used per sample is recorded
    rec = (res.path / "dropout.csv").read_text().splitlines()
    assert rec[0] == "sample_id,role,dropout,source"
    assert "DEG-child,query,0.2,file" in rec
    assert "DEG-father,reference,0.05,job" in rec
    m = res.manifest["dropout"]
    assert m["dropin"] == C and m["queries"]["0.2"] == 1
    # the chance hits were computed for every query-dropout group
    assert not res.manifest["chance_hits"]["case"]["errors"]
    # without the model the child is excluded by its father
    res0 = engine.run(make_job(ds, tmp_path / "out0", ["case", "parent-child"],
                               inputs__loci=list(LOCI6), search__threshold=1e-300,
                               search__top_k=200))
    assert not [h for h in res0.hits.to_pylist() if h["query_id"] == "DEG-child"
                and (h["reference_id"] == "DEG-father" or h["case_id"] == "DEGCASE")]


def test_dropout_zero_is_the_run_of_before(tmp_path):
    ds, _, _ = _dataset(tmp_path)
    kw = dict(inputs__loci=list(LOCI6), search__threshold=1.0, search__top_k=50)
    a = engine.run(make_job(ds, tmp_path / "a", MODES, **kw))
    b = engine.run(make_job(ds, tmp_path / "b", MODES, model__dropout=0.0, model__dropin=0.0, **kw))
    assert a.manifest["job_key"] == b.manifest["job_key"]
    assert a.manifest["model_key"] == b.manifest["model_key"]
    assert read(tmp_path / "a").equals(read(tmp_path / "b"))
    assert (tmp_path / "a" / "summary.txt").read_bytes() == (tmp_path / "b" / "summary.txt").read_bytes()
    assert not (tmp_path / "b" / "dropout.csv").exists() and "dropout" not in b.manifest


@pytest.mark.parametrize("threshold", [1e2, 1e4])
def test_screen_is_exact_with_dropout(tmp_path, threshold):
    ds, _, _ = _dataset(tmp_path, seed=9)
    kw = dict(inputs__loci=list(LOCI6), model__dropout="estimate", model__dropin=0.01,
              search__top_k=100000, search__case_top_k=100000, search__max_inconsistent=1,
              execution__block_size=5, execution__query_chunk=4, report__chance_method="none",
              report__relationships="none")
    at = engine.run(make_job(ds, tmp_path / "t", MODES, search__threshold=threshold, **kw))
    full = engine.run(make_job(ds, tmp_path / "f", MODES, search__threshold=1e-300, **kw))
    key = ("mode", "query_id", "case_id", "reference_id")

    def pairs(t, thr):
        return {tuple(h[k] for k in key): h["log10_lr"] for h in t.to_pylist()
                if h["log10_lr"] >= math.log10(thr) - 1e-12}

    assert pairs(at.hits, threshold) == pairs(full.hits, threshold)
    assert pairs(at.hits, threshold)


def test_estimate_matches_the_core(tmp_path):
    """The engine's vectorised estimate is kinship.estimate_dropout on the model's
    allele systems (before the rounding to engine.dropout.ESTIMATE_STEP)."""
    from engine.dropout import estimate_codes
    from kinship.likelihood import estimate_dropout
    from kinship.search import ScoringModel

    ft = kinship.FrequencyTable.load("nist1036_all")
    profs, _ = simulate(n_cases=4, n_unrelated=6, seed=3, loci=LOCI6)
    rng = np.random.default_rng(0)
    genos = []
    for p in profs:
        g = dict(p.genotypes)
        for l in LOCI6:
            if rng.random() < 0.3:
                g[l] = (g[l][0], g[l][0])
        genos.append(g)
    sm = ScoringModel(ft, LOCI6)
    got = estimate_codes(sm.encode(genos), sm.systems)
    want = [estimate_dropout(g, ft) for g in genos]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert max(want) > 0


def test_observed_genotype_law_with_dropout():
    """The chance hits' H2 law of the observed call: Σ_g E[g_obs, g] P(g), and the
    rest (nothing seen) is d² per locus without drop-in; a table compiled with the
    same dropout has E_H2[LR] = 1 under it (θ = 0)."""
    from kinship.chance import exceedance, genotype_probabilities
    from kinship.search import ScoringModel

    ft = kinship.FrequencyTable.load("nist1036_all")
    sm = ScoringModel(ft, LOCI6)
    d = 0.2
    pg = genotype_probabilities(sm, "hw", dropout=d)
    for l, s in enumerate(sm.systems):
        G = s.n_alleles * (s.n_alleles + 1) // 2
        tot = pg[sm.offsets[l]:sm.offsets[l] + G].sum()
        assert tot == pytest.approx(1 - d * d, rel=1e-12)
        # a call a/a: true a/a seen (1 - d²), or a/x with x dropped (d (1 - d))
        p = np.asarray(s.freqs)
        a = 0
        want = p[a] ** 2 * (1 - d * d) + 2 * p[a] * (p.sum() - p[a]) * d * (1 - d)
        assert pg[sm.offsets[l]] == pytest.approx(want, rel=1e-12)
    codes = sm.encode([{l: ("8", "11") if l == "TPOX" else None for l in LOCI6}])
    for l, loc in enumerate(LOCI6):
        if loc != "TPOX":
            codes[0, l] = sm.encode([{loc: tuple(sm.systems[l].alleles[:2])}])[0, l]
    t = sm.compile_pairwise("parent-child", ["R"], codes, ["male"], ref_dropout=0.1,
                            query_dropout=d, dropin=0.0)
    e = exceedance(t, 0, [1.0], model=sm, dropout=d)
    assert e.mean_lr == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("bad", [-0.1, 1.0, "x", {"queries": 2}, {"other": 0.1}, True])
def test_job_dropout_validation(tmp_path, bad):
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"], model__dropout=bad)
    with pytest.raises(engine.JobError, match="model.dropout"):
        engine.Job.from_dict(job)


def test_dropout_file_errors_name_the_line(tmp_path):
    ds, _, _ = _dataset(tmp_path)
    f = tmp_path / "d.csv"
    f.write_text("sample_id,dropout\nDEG-child,0.2\nDEG-father,1.5\n")
    job = make_job(ds, tmp_path / "out", ["parent-child"], model__dropout_samples=str(f))
    with pytest.raises(engine.InputError, match=r"line 3, sample DEG-father"):
        engine.run(job)


@pytest.mark.parametrize("dq,df,dm,c", [(0.3, 0.0, 0.1, 0.0), (0.0, 0.2, 0.0, 0.03), (0.15, 0.1, 0.25, 0.02)])
def test_couple_closed_form_with_dropout(dq, df, dm, c):
    """The couple (trio) closed form with dropout (ScoringModel._compile_couples_dropout)
    equals the exact pedigree likelihood with the same dropout (case_table, itself
    tested against kinship.likelihood_ratio), with sex-specific mutation and a locus
    where the mother is untyped."""
    from kinship.cases import case_pedigree
    from kinship.search import ScoringModel
    from kinship.tables import case_table

    ft = kinship.FrequencyTable.load("nist1036_all")
    mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1),
                                male=kinship.Stepwise(rate=0.004, rate2=1e-6, range=0.1))
    sm = ScoringModel(ft, LOCI6[:3], mutation=mut)
    fa = sm.encode([{"TPOX": ("8", "11"), "CSF1PO": ("10", "10"), "TH01": ("6", "9.3")}])[0]
    mo = sm.encode([{"TPOX": ("9", "9"), "CSF1PO": ("11", "12"), "TH01": None}])[0]
    case = {"id": "c", "missing_sex": "unknown",
            "relatives": [("F", "father", "male", fa), ("Mo", "mother", "female", mo)],
            "dropout": {"F": df, "Mo": dm}}
    t = sm.compile_cases([case], query_dropout=dq, dropin=c)
    ped = case_pedigree([("F", "father", "male"), ("Mo", "mother", "female")])
    for l, s in enumerate(sm.systems):
        calls = {}
        for pid, cd in (("F", fa), ("Mo", mo)):
            if cd[l][0] >= 0:
                calls[pid] = (s.alleles[cd[l][0]], s.alleles[cd[l][1]])
        want = case_table(ped, "M", calls, s, mut, 0.0, dropout=dq,
                          relative_dropout={"F": df, "Mo": dm}, dropin=c)
        G = len(want.lr)
        got = t.lr[0, sm.offsets[l]:sm.offsets[l] + G]
        np.testing.assert_allclose(got, want.lr, rtol=1e-9, atol=0)
        assert np.array_equal(t.inconsistent[0, sm.offsets[l]:sm.offsets[l] + G].astype(bool),
                              want.inconsistent)


def test_changed_dropout_is_a_changed_unit(tmp_path):
    """A sample whose stated dropout changes is compared again by an incremental run
    (its fingerprint includes d); the result equals a fresh run's."""
    ds, by_id, u = _dataset(tmp_path)
    f = tmp_path / "d.csv"
    kw = dict(inputs__loci=list(LOCI6), model__dropout_samples=str(f), search__threshold=1e-6,
              search__top_k=20, report__relationships="none")
    f.write_text("sample_id,dropout\nDEG-child,0.1\nDEG-father,0.05\nNOT-HERE,0.1\n")
    r1 = engine.run(make_job(ds, tmp_path / "inc", ["case", "parent-child"], **kw))
    # a stated sample that is in no dataset is said, not silently dropped
    assert any("1 samples of the file are in no dataset" in n for n in r1.manifest["run"]["notes"])
    f.write_text("sample_id,dropout\nDEG-child,0.2\nDEG-father,0.05\n")
    r2 = engine.run(make_job(ds, tmp_path / "inc", ["case", "parent-child"], **kw))
    st = r2.manifest["run"]["modes"]["parent-child"]
    assert st["incremental"] and st["queries_changed"] == 1
    fresh = engine.run(make_job(ds, tmp_path / "fresh", ["case", "parent-child"], **kw))
    drop = ("expected_chance_hits",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in r2.hits.to_pylist()] == \
        [{k: v for k, v in h.items() if k not in drop} for h in fresh.hits.to_pylist()]
    assert r2.hits.column("expected_chance_hits").to_pylist() == \
        fresh.hits.column("expected_chance_hits").to_pylist()


@pytest.mark.parametrize("rel", ["full-sibling", "paternal-half-sibling", "paternal-grandfather"])
def test_single_relative_tables_with_dropout(rel):
    """A single relative's case table with dropout (ScoringModel.single_relative_tables:
    the joint over unordered true genotypes folded with both samples' evidence)
    equals the exact pedigree likelihood with the same dropout (case_table)."""
    from kinship.cases import case_pedigree
    from kinship.search import ScoringModel
    from kinship.tables import case_table

    ft = kinship.FrequencyTable.load("nist1036_all")
    mut = kinship.MutationModel(kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
    sm = ScoringModel(ft, LOCI6[:2], mutation=mut)
    codes = sm.encode([{"TPOX": ("8", "8"), "CSF1PO": ("10", "12")}])[0]
    case = {"id": "c", "missing_sex": "unknown", "relatives": [("R", rel, "male", codes)],
            "dropout": {"R": 0.2}}
    t = sm.compile_cases([case], query_dropout=0.1, dropin=0.01)
    ped = case_pedigree([("R", rel, "male")])
    for l, s in enumerate(sm.systems):
        want = case_table(ped, "M", {"R": (s.alleles[codes[l][0]], s.alleles[codes[l][1]])}, s, mut,
                          0.0, dropout=0.1, relative_dropout={"R": 0.2}, dropin=0.01)
        G = len(want.lr)
        np.testing.assert_allclose(t.lr[0, sm.offsets[l]:sm.offsets[l] + G], want.lr, rtol=1e-9)


def test_dropout_stated_in_the_samples_manifest(tmp_path):
    """The samples manifest's optional ``dropout`` column, stored with the dataset at
    import (``formats.write_sample_dropout`` via ``kinship import``), is the d every
    search of the dataset uses: the same hits as the same values in a job's
    ``dropout_samples`` file; the file still comes first; a bad value is a rejected
    manifest row naming line and sample."""
    from engine.cli import main as cli

    ds, by_id, u = _dataset(tmp_path)
    per = {"DEG-child": 0.2, "U-retyped": 0.1}
    # genotypes as a long CSV, and a manifest with the dropout column
    geno = tmp_path / "geno.csv"
    rows = ["sample_id,locus,allele1,allele2"]
    for sid, p in by_id.items():
        rows += [f"{sid},{l},{a},{b}" for l, (a, b) in p.genotypes.items()]
    geno.write_text("\n".join(rows) + "\n")
    man = tmp_path / "samples.csv"
    lines = ["sample_id,kind,case_id,relation,sex,dropout"]
    for sid, p in by_id.items():
        lines.append(f"{sid},{p.kind},{p.case_id},{p.relation},{p.sex},{per.get(sid, '')}")
    man.write_text("\n".join(lines) + "\n")
    out_ds = tmp_path / "imported"
    assert cli(["import", str(geno), "--format", "csv", "--manifest", str(man), "--out", str(out_ds)]) == 0
    assert formats.open_dataset(out_ds).sample_dropout() == per
    kw = dict(inputs__loci=list(LOCI6), search__threshold=1e-12, search__top_k=200,
              search__case_top_k=200)
    stated = engine.run(make_job(out_ds, tmp_path / "stated", ["case", "parent-child"], **kw))
    f = _sample_file(tmp_path, per)
    filed = engine.run(make_job(out_ds, tmp_path / "filed", ["case", "parent-child"],
                                model__dropout_samples=str(f), **kw))
    drop = ["per_locus_lr"]
    assert rows_of(stated.hits, drop) == rows_of(filed.hits, drop)
    rec = (stated.path / "dropout.csv").read_text().splitlines()
    assert "DEG-child,query,0.2,dataset" in rec
    h = next(h for h in stated.hits.to_pylist() if h["mode"] == "parent-child"
             and h["query_id"] == "DEG-child" and h["reference_id"] == "DEG-father")
    assert h["loci_inconsistent"] == 0
    # a job's file overrides the stated value
    g = _sample_file(tmp_path, {"DEG-child": 0.3})
    over = engine.run(make_job(out_ds, tmp_path / "over", ["parent-child"],
                               model__dropout_samples=str(g), **kw))
    assert "DEG-child,query,0.3,file" in (over.path / "dropout.csv").read_text().splitlines()
    # a bad value: the manifest row is rejected with its line and the sample
    man.write_text(man.read_text().replace("DEG-child,query,,,F,0.2", "DEG-child,query,,,F,1.5"))
    res = formats.import_file(geno, format="csv", manifest=man, mode="lenient")
    bad = [r for r in res.rejects if r.sample == "DEG-child" and "dropout" in r.reason]
    assert bad and bad[0].line == lines.index("DEG-child,query,,,F,0.2") + 1
