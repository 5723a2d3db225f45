"""``kinship report``: the hit-review report (engine.report_html, report_svg,
report_recheck).  The browser checks are in test_engine_report_html_browser.py."""
from __future__ import annotations

import csv
import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.report_html import MODE_HYPOTHESES, mutations_needed
from engine.report_recheck import COLUMNS, DECISIONS, hit_key
from engine.report_svg import layout, pedigree_svg


# ---------------------------------------------------------------------------
# the demo's report (the session's demo run, tests/engine/conftest.py)
# ---------------------------------------------------------------------------

@pytest.fixture()
def demo(demo_run):
    return demo_run.results, demo_run.stdout


def _key(h):
    return hit_key(h["mode"], h["query_id"], h["case_id"], h["reference_id"])


class _Cells(HTMLParser):
    """Rows of the per-locus table: {locus: {"cells": [text...], "lr": attr, "class": cls}}."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self.links, self.srcs = {}, None, None, [], []
        self.heads, self._head = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for k in ("src", "href"):
            if k in a and tag != "a":
                self.srcs.append(a[k])
        if tag == "th" and self._row is None and not self.rows:
            self._head = []
        if tag == "tr" and "data-locus" in a:
            self._row = {"cells": [], "lr": None, "class": a.get("class", "")}
            self.rows[a["data-locus"]] = self._row
        elif self._row is not None and tag in ("td", "th"):
            self._cell = []
            if "data-lr" in a:
                self._row["lr"] = a["data-lr"]

    def handle_endtag(self, tag):
        if tag == "th" and self._head is not None:
            self.heads.append("".join(self._head))
            self._head = None
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._head is not None:
            self._head.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(path) -> _Cells:
    p = _Cells()
    p.feed(Path(path).read_text(encoding="utf-8"))
    return p


def test_demo_prints_the_report_and_every_hit_has_a_page(demo):
    results, out = demo
    assert "hit-review report" in out and "open it in a browser: file://" in out
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    pages = {p.name for p in (results / "report" / "hits").glob("*.html")}
    assert pages == {f"{_key(h)}.html" for h in hits}
    index = (results / "report" / "index.html").read_text(encoding="utf-8")
    for h in hits:
        assert f'href="hits/{_key(h)}.html"' in index


def test_per_locus_values_are_the_results_values(demo):
    """Every compared locus shows the LR the results hold (the exact float), the
    query's and the relatives' genotypes as the datasets hold them, and as many
    inconsistent loci as the engine counted."""
    import formats

    results, _ = demo
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    man = json.loads((results / "manifest.json").read_text())
    ds = formats.open_dataset(man["inputs"]["queries"]["path"])
    prof = {p.sample_id: p for p in ds.load().to_profiles()}
    checked = set()
    for h in hits:
        if h["mode"] == "y-lineage":
            continue
        page = _parse(results / "report" / "hits" / f"{_key(h)}.html")
        lrs = json.loads(h["per_locus_lr"])
        shown = {l: float(r["lr"]) for l, r in page.rows.items() if r["lr"] is not None}
        assert shown == lrs, (h["mode"], h["query_id"])
        incons = sum(1 for r in page.rows.values() if "incons" in r["class"])
        assert incons == h["loci_inconsistent"], (h["mode"], h["query_id"], h["case_id"])
        q = prof[h["query_id"]]
        for l, r in page.rows.items():
            want = "/".join(q.genotypes[l]) if l in q.genotypes else "–"
            assert r["cells"][1] == want                 # cells: locus, query, ...
            if h["mode"] not in ("case",) and h["reference_id"] in prof:
                ref = prof[h["reference_id"]]
                assert r["cells"][2] == ("/".join(ref.genotypes[l]) if l in ref.genotypes else "–")
        checked.add(h["mode"])
    assert {"case", "parent-child", "full-sibling", "identity", "duplicates"} <= checked


def test_the_genotypes_shown_give_the_lrs_shown(demo):
    """The per-locus LRs that kinship.likelihood_ratio computes from the genotypes
    the page shows, on the hypotheses the page states, are the LRs the page shows
    (1e-9): the page shows the profiles the LR was computed from, placed as drawn."""
    import kinship
    from engine.demo import DEMO_MUTATION
    from engine.family_export import case_of
    from kinship.tables import relationship_pedigrees

    import formats

    results, _ = demo
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    man = json.loads((results / "manifest.json").read_text())
    assert man["model"]["alleles_added"] == {} and man["model"]["theta"] == 0.0
    ds = formats.open_dataset(man["inputs"]["references"]["path"])
    ft = kinship.FrequencyTable.load("nist1036_all")
    step = kinship.Stepwise(rate=DEMO_MUTATION["rate"], rate2=DEMO_MUTATION["rate2"],
                            range=DEMO_MUTATION["range"])
    mut = kinship.MutationModel(female=step, male=step)
    picks = [next(h for h in hits if h["mode"] == "case" and h["case_id"] == "FAM01"),
             next(h for h in hits if h["mode"] == "case" and h["relatives"].startswith("MAT03")),
             next(h for h in hits if h["mode"] == "case" and h["loci_inconsistent"] > 0),
             next(h for h in hits if h["mode"] == "parent-child" and h["loci_inconsistent"] > 0),
             next(h for h in hits if h["mode"] == "full-sibling")]
    for h in picks:
        page = _parse(results / "report" / "hits" / f"{_key(h)}.html")
        heads = page.heads
        g = {}
        if h["mode"] == "case":
            case, _ = case_of(ds, h["case_id"])
            h1, h2 = case.hypotheses("Q", h["reference_id"] or None)
            names = ["Q"] + [case.person_of(t.split(" (")[0]) for t in heads[2:2 + len(case.samples)]]
        else:
            ref = next(p for p in ds.load().to_profiles() if p.sample_id == h["reference_id"])
            p1, p2 = relationship_pedigrees(h["mode"], {"M": "male", "F": "female"}.get(ref.sex, "male"),
                                            "paternal")
            h1, h2 = p1.records(), p2.records()
            names = ["Q", "R"]
        for locus, row in page.rows.items():
            for name, cell in zip(names, row["cells"][1:1 + len(names)]):
                if cell != "–":
                    g.setdefault(name, {})[locus] = tuple(cell.split("/"))
        ref_lr = kinship.likelihood_ratio(h1, h2, g, ft, mutation=mut)
        shown = {l: float(r["lr"]) for l, r in page.rows.items() if r["lr"] is not None}
        assert shown
        for l, v in shown.items():
            assert v == pytest.approx(ref_lr.per_locus[l], rel=1e-9), (h["mode"], h["query_id"], l)


def test_y_lineage_pages_show_both_haplotypes(demo):
    from formats.ystr import open_y_dataset

    results, _ = demo
    hits = [h for h in pq.read_table(results / "hits.parquet").to_pylist() if h["mode"] == "y-lineage"]
    man = json.loads((results / "manifest.json").read_text())
    hap, _ = open_y_dataset(man["inputs"]["y_queries"]["path"]).load()
    prof = {str(p): hap.profile(i) for i, p in enumerate(hap.profile_id)}
    assert hits
    for h in hits:
        page = _parse(results / "report" / "hits" / f"{_key(h)}.html")
        q, r = prof[h["query_id"]], prof[h["reference_id"]]
        assert set(page.rows) == set(q) | set(r)
        for m, row in page.rows.items():
            assert row["cells"][1:3] == [",".join(q[m]) if m in q else "–", ",".join(r[m]) if m in r else "–"]
        diff = json.loads(h["y_differences"])
        assert {m for m, row in page.rows.items() if "incons" in row["class"]} == set(diff)
        assert len(diff) == h["y_mismatches"]


def test_case_page_shows_every_typed_relative_and_the_frequencies_used(demo):
    import kinship
    from engine.family_export import case_of

    import formats

    results, _ = demo
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    man = json.loads((results / "manifest.json").read_text())
    ds = formats.open_dataset(man["inputs"]["references"]["path"])
    h = next(h for h in hits if h["mode"] == "case" and h["case_id"] == "FAM01")
    case, genos = case_of(ds, "FAM01")
    html = (results / "report" / "hits" / f"{_key(h)}.html").read_text(encoding="utf-8")
    page = _parse(results / "report" / "hits" / f"{_key(h)}.html")
    for sid in case.sample_ids:
        assert sid in html
    ft = kinship.FrequencyTable.load("nist1036_all")
    la = ft.locus_alleles("TH01", man["model"]["alleles_added"].get("TH01", ()))
    row = page.rows["TH01"]
    ncols = 1 + len(case.sample_ids)
    assert row["cells"][1 + ncols] != ""                # the frequencies cell
    for part in row["cells"][1 + ncols].split(" · "):
        a, f = part.split(": ")
        assert float(f.rstrip("*")) == pytest.approx(float(la.freqs[la.alleles.index(a)]), rel=1e-3)
    # the pedigree: every person of H1 but the missing person's own (unlinked) node,
    # the query in K1's or K2's place, the other missing child dashed
    m = h["reference_id"]
    assert f'data-id="{m}"' not in html
    other = ({"K1", "K2"} - {m}).pop()
    assert re.search(rf'<g class="person missing" data-id="{other}">', html)
    assert '<g class="person query"' in html
    # the hypotheses in words, with the relation vocabulary for relation-word cases
    h2 = next(h for h in hits if h["mode"] == "case" and h["relatives"].startswith("MAT00"))
    html2 = (results / "report" / "hits" / f"{_key(h2)}.html").read_text(encoding="utf-8")
    assert "the missing person&#x27;s mother" in html2 or "the missing person's mother" in html2


def test_mode_hypotheses_cover_every_mode():
    from engine.job import MODES

    assert set(MODE_HYPOTHESES) == set(MODES)


def test_report_files_are_private_and_self_contained(demo):
    results, _ = demo
    rep = results / "report"
    assert stat.S_IMODE(rep.stat().st_mode) == 0o700
    for p in [rep / "index.html", *(rep / "hits").glob("*.html")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        text = p.read_text(encoding="utf-8")
        page = _parse(p)
        # nothing fetched: no src/href to anything but the page's own files
        assert not [s for s in page.srcs + page.links if re.match(r"^(https?:)?//", s)]
        assert "<link" not in text and "@import" not in text and "url(" not in text
        assert "\x00" not in text
        for s in page.links:
            assert (p.parent / s.split("#")[0]).resolve().is_file(), (p.name, s)


def test_search_prints_the_top_hits_and_the_report_command(demo, tmp_path, capsys):
    import shutil

    results, _ = demo
    work = tmp_path / "demo"
    shutil.copytree(results.parent, work, ignore=shutil.ignore_patterns("results"))
    assert main(["search", str(work / "job.toml"), "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert "case: best hits" in out and "identity: best hits" in out
    hits = pq.read_table(work / "results" / "hits.parquet").to_pylist()
    best = max((h for h in hits if h["mode"] == "case"), key=lambda h: h["log10_lr"])
    assert re.search(rf"\n  {re.escape(best['query_id'])} +{re.escape(best['case_id'])}", out)
    assert f"review the hits in a browser: kinship report {work / 'results'}" in out
    assert not (work / "results" / "report").exists()       # the search itself writes no report


def test_changed_results_or_dataset_are_refused(demo, tmp_path, capsys):
    import shutil

    results, _ = demo
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    with open(copy / "hits.parquet", "ab") as f:
        f.write(b"x")
    assert main(["report", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "changed after the run" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["report", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "not the results directory of a run" in err and err.count("\n") == 1


# ---------------------------------------------------------------------------
# the re-check round trip
# ---------------------------------------------------------------------------

def _write_csv(path, rows, header=COLUMNS, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])


def test_recheck_round_trip(demo, tmp_path, capsys):
    import shutil

    results0, _ = demo
    results = tmp_path / "results"
    shutil.copytree(results0, results)
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    a, b = hits[0], hits[5]
    rows = [dict(hit_key=_key(a), mode=a["mode"], query_id=a["query_id"], case_id=a["case_id"],
                 reference_id=a["reference_id"], reviewer="A. Analyst", decision="confirmed",
                 comment='second kit agrees, "clean"', timestamp="2026-12-05T14:03:11Z"),
            dict(hit_key=_key(b), reviewer="B. Analyst", decision="Rejected", comment="",
                 timestamp="2026-12-05T15:00:00+01:00")]
    f = tmp_path / "recheck.csv"
    _write_csv(f, rows)
    assert main(["report", str(results), "--recheck", str(f)]) == 0
    assert "read 2 re-check entries" in capsys.readouterr().out
    store = results / "recheck.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    data = json.loads(store.read_text())
    imp = data["imports"][0]
    import hashlib

    assert imp["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest() and imp["rows"] == 2
    assert imp["run_id"] == json.loads((results / "manifest.json").read_text())["run"]["run_id"]
    assert imp["entries"][1]["decision"] == "rejected"
    assert imp["entries"][1]["timestamp"] == "2026-12-05T14:00:00Z"      # to UTC
    page = (results / "report" / "hits" / f"{_key(a)}.html").read_text(encoding="utf-8")
    assert '<span class="badge d-confirmed">confirmed</span> by A. Analyst' in page
    assert "second kit agrees, &quot;clean&quot;" in page
    index = (results / "report" / "index.html").read_text(encoding="utf-8")
    assert f'data-decision="confirmed" data-key="{_key(a)}"' in index
    assert f'data-decision="rejected" data-key="{_key(b)}"' in index
    assert "recheck.csv" in index
    # a later file wins; the earlier import is kept
    g = tmp_path / "later.csv"
    _write_csv(g, [dict(hit_key=_key(a), reviewer="C. Lead", decision="inconclusive")],
               header=("hit_key", "reviewer", "decision"), delimiter=";")
    assert main(["report", str(results), "--recheck", str(g)]) == 0
    data = json.loads(store.read_text())
    assert [i["file"] for i in data["imports"]] == ["recheck.csv", "later.csv"]
    index = (results / "report" / "index.html").read_text(encoding="utf-8")
    assert f'data-decision="inconclusive" data-key="{_key(a)}"' in index


@pytest.mark.parametrize("rows,header,expect", [
    ([{"hit_key": "0123456789abcdef", "reviewer": "A", "decision": "confirmed"}], COLUMNS,
     "row 2: hit_key '0123456789abcdef' is not a hit of these results"),
    ([{"hit_key": "KEY", "reviewer": "A", "decision": "confirmd"}], COLUMNS,
     "row 2: decision 'confirmd' is not one of confirmed, rejected, inconclusive, pending (did you mean 'confirmed'?)"),
    ([{"hit_key": "KEY", "reviewer": "A", "decision": "confirmed"},
      {"hit_key": "KEY", "reviewer": "", "decision": "confirmed"}], COLUMNS, "row 3: no reviewer"),
    ([{"hit_key": "KEY", "reviewer": "A", "decision": "confirmed", "timestamp": "yesterday"}], COLUMNS,
     "row 2: timestamp 'yesterday' is not ISO 8601"),
    ([{"hit_key": "KEY", "reviewer": "A", "decision": "confirmed", "query_id": "SOMEONE-ELSE"}], COLUMNS,
     "row 2: query_id 'SOMEONE-ELSE' is not that of hit"),
    ([{"hit_key": "KEY", "reviewer": "A"}], ("hit_key", "reviewer"), "row 1: missing column(s) decision"),
    ([{"hit_key": "KEY", "reviewer": "A", "decision": "confirmed"}], ("hit_key", "reviewer", "decison"),
     "row 1: missing column(s) decision"),
    ([], COLUMNS, "no entries"),
])
def test_bad_recheck_files(demo, tmp_path, capsys, rows, header, expect):
    results, _ = demo
    hits = pq.read_table(results / "hits.parquet").to_pylist()
    key = _key(hits[0])
    before = (results / "recheck.json").read_bytes() if (results / "recheck.json").exists() else None
    f = tmp_path / "bad.csv"
    _write_csv(f, [{k: (key if v == "KEY" else v) for k, v in r.items()} for r in rows], header=header)
    assert main(["report", str(results), "--recheck", str(f)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kinship: error: re-check file bad.csv")
    assert expect in err and err.count("\n") == 1 and "Traceback" not in err
    after = (results / "recheck.json").read_bytes() if (results / "recheck.json").exists() else None
    assert after == before                                  # nothing stored


def test_bad_recheck_bytes(demo, tmp_path, capsys):
    results, _ = demo
    f = tmp_path / "latin1.csv"
    f.write_bytes("hit_key,reviewer,decision\nx,Jos\xe9,confirmed\n".encode("latin-1"))
    assert main(["report", str(results), "--recheck", str(f)]) == 1
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["report", str(results), "--recheck", str(tmp_path / "missing.csv")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_decision_words_are_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text(encoding="utf-8")
    for d in DECISIONS:
        assert f"`{d}`" in text
    assert ",".join(COLUMNS) in text


# ---------------------------------------------------------------------------
# the pedigree layout and drawing
# ---------------------------------------------------------------------------

def _rec(i, f=None, m=None, sex="unknown"):
    return {"id": i, "father": f, "mother": m, "sex": sex}


PEDIGREES = {
    "trio": [_rec("FA", sex="male"), _rec("MO", sex="female"), _rec("Q", "FA", "MO")],
    # docs/engine.md's worked example: a half-brother by another woman, two missing children
    "half-sibs-two-missing": [
        _rec("GF", sex="male"), _rec("GM", sex="female"), _rec("MO", "GF", "GM", "female"),
        _rec("FA", sex="male"), _rec("W", sex="female"), _rec("HB", "FA", "W", "male"),
        _rec("K1", "FA", "MO", "male"), _rec("K2", "FA", "MO", "female")],
    # M with a partner and a child, M's parents and a sibling with a child (nephew)
    "partners": [
        _rec("F", sex="male"), _rec("Mo", sex="female"), _rec("M", "F", "Mo", "male"),
        _rec("P", sex="female"), _rec("C", "M", "P", "female"), _rec("S", "F", "Mo", "female"),
        _rec("SP", sex="male"), _rec("N", "SP", "S", "male")],
    # a man with two partners in a row below his parents (half-sibs on both sides)
    "two-partners": [
        _rec("GF", sex="male"), _rec("GM", sex="female"), _rec("A", "GF", "GM", "male"),
        _rec("W1", sex="female"), _rec("W2", sex="female"), _rec("C1", "A", "W1"), _rec("C2", "A", "W2")],
    # first cousins (kinship.tables' template) and a single person
    "cousins": [
        _rec("GF", sex="male"), _rec("GM", sex="female"), _rec("PR", "GF", "GM", "male"),
        _rec("PQ", "GF", "GM", "male"), _rec("SR", sex="female"), _rec("SQ", sex="female"),
        _rec("R", "PR", "SR"), _rec("Q", "PQ", "SQ")],
    "single": [_rec("X")],
}


@pytest.mark.parametrize("name", sorted(PEDIGREES))
def test_layout_places_every_person_below_their_parents(name):
    recs = PEDIGREES[name]
    pos = layout(recs)
    assert set(pos) == {r["id"] for r in recs}
    by_row = {}
    for pid, (x, g) in pos.items():
        by_row.setdefault(g, []).append(x)
    for xs in by_row.values():                        # no two persons on one spot
        xs = sorted(xs)
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(xs, xs[1:]))
    for r in recs:
        for p in (r["father"], r["mother"]):
            if p:
                assert pos[p][1] < pos[r["id"]][1]
        if r["father"] and r["mother"]:                # partners stand in one row
            assert pos[r["father"]][1] == pos[r["mother"]][1]
    assert min(x for x, _ in pos.values()) == 0 and min(g for _, g in pos.values()) == 0


def test_layout_of_the_half_sibling_family():
    pos = layout(PEDIGREES["half-sibs-two-missing"])
    # rows: grandparents; the mother, the father and his other partner; the children
    assert {p for p, (_, g) in pos.items() if g == 0} == {"GF", "GM"}
    assert {p for p, (_, g) in pos.items() if g == 1} == {"MO", "FA", "W"}
    # the father stands between his two partners
    assert pos["MO"][0] < pos["FA"][0] < pos["W"][0]
    # each child under its own parents' span
    assert pos["MO"][0] <= pos["K1"][0] and pos["HB"][0] >= pos["FA"][0]
    pos = layout(PEDIGREES["two-partners"])
    assert pos["W1"][0] < pos["A"][0] < pos["W2"][0] or pos["W2"][0] < pos["A"][0] < pos["W1"][0]


@pytest.mark.parametrize("name", sorted(PEDIGREES))
def test_drawing_has_every_person_and_parent_child_line(name):
    recs = PEDIGREES[name]
    svg = pedigree_svg(recs, roles={recs[-1]["id"]: "query"})
    drawn = re.findall(r'<g class="person [a-z]+" data-id="([^"]+)">', svg)
    assert sorted(drawn) == sorted(r["id"] for r in recs)
    lines = set(re.findall(r'<path class="descent" data-parent="([^"]+)" data-child="([^"]+)"', svg))
    want = {(p, r["id"]) for r in recs for p in (r["father"], r["mother"]) if p}
    assert lines == want
    assert svg.count("<rect") == sum(r["sex"] == "male" for r in recs)
    assert svg.count("<circle") == sum(r["sex"] == "female" for r in recs)


def test_layout_refuses_an_unknown_parent():
    with pytest.raises(ValueError, match="parent 'Z'"):
        layout([_rec("A", "Z")])


# ---------------------------------------------------------------------------
# mutations needed (worked by hand)
# ---------------------------------------------------------------------------

def test_mutations_needed_by_hand():
    from kinship.pedigree import Pedigree

    trio = Pedigree.from_records(PEDIGREES["trio"])
    # consistent: the child has one allele of each parent
    assert mutations_needed(trio, {"FA": ("10", "11"), "MO": ("12", "13"), "Q": ("11", "12")}) == 0
    # the child's 14 is in neither parent: one transmission mutated
    assert mutations_needed(trio, {"FA": ("10", "11"), "MO": ("12", "13"), "Q": ("11", "14")}) == 1
    # neither allele of the child is a parent's: both transmissions mutated
    assert mutations_needed(trio, {"FA": ("10", "10"), "MO": ("11", "11"), "Q": ("12", "12")}) == 2
    # one typed parent, homozygous for another allele than the homozygous child: the
    # untyped parent gives the child's allele, the typed one needs one mutation
    assert mutations_needed(trio, {"FA": ("10", "10"), "Q": ("12", "12")}) == 1
    # full siblings share nothing by descent with probability 1/4: never inconsistent
    sibs = Pedigree.from_records([_rec("F", sex="male"), _rec("M", sex="female"),
                                  _rec("A", "F", "M"), _rec("B", "F", "M")])
    assert mutations_needed(sibs, {"A": ("1", "2"), "B": ("3", "4")}) == 0
    # a grandchild typed with its grandparents (both): each allele of the child passes
    # through one untyped parent; GF 1/1, GM 2/2 -> parent P 1/2; child 3/3 of P and T:
    # P must pass a mutated allele (1 mutation), T is untyped
    three = Pedigree.from_records([_rec("GF", sex="male"), _rec("GM", sex="female"),
                                   _rec("P", "GF", "GM", "male"), _rec("T", sex="female"),
                                   _rec("C", "P", "T")])
    assert mutations_needed(three, {"GF": ("1", "1"), "GM": ("2", "2"), "C": ("3", "3")}) == 1
    assert mutations_needed(three, {"GF": ("1", "1"), "GM": ("2", "2"), "C": ("1", "3")}) == 0
