"""``kinship report RESULTS/``: the hit-review report of a run, as static HTML.

The report is for the people a hit goes to: the analyst who re-checks it, the
investigator, a court.  It is self-contained: every page carries its own CSS,
JavaScript and SVG drawings; nothing is fetched from the network, no font, no
script, no image.  It is written to ``RESULTS/report/``:

* ``index.html``: the run (what was searched, with what model), per mode a plot
  of this run's hits against the chance hits the run expects (inline SVG), and
  the hits ranked by LR with filters (mode, LR threshold, re-check decision);
* ``hits/<hit key>.html``: one page per hit: the hypotheses in words, the
  pedigree drawn with the typed persons and the query in the missing person's
  place, a per-locus table (the query's and every typed relative's genotypes,
  the allele frequencies the run used, the locus LR, loci inconsistent without
  mutation and the number of mutations they need), the total LR, the posterior
  and the expected chance hits each with a sentence, the re-check form and the
  provenance of the run.

The genotypes come from the run's own inputs: the datasets the manifest names,
each shard checked against the checksum the run recorded (a dataset changed
since the run is an error, not a silent mismatch).  The values come from the
results (``hits.parquet``, whose checksum is checked against the manifest);
nothing is recomputed but the consistency of each locus without mutation.

The pages hold genotypes: they are written private (:mod:`formats.perms`) and
should be handled as the profiles themselves are.  The re-check round trip is
:mod:`engine.report_recheck`; ``docs/report.md`` describes it all.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from html import escape
from pathlib import Path

from .errors import InputError
from .report_assets import COMMON_JS, CSS, HIT_JS, INDEX_JS
from .report_recheck import (COLUMNS, DECISIONS, current_decisions, hit_key, load_recheck,
                             read_recheck, store_recheck)
from .report_svg import lr_plot_svg, pedigree_svg

__all__ = ["write_report", "MODE_HYPOTHESES", "REPORT_DIR", "locus_rows", "mutations_needed"]

REPORT_DIR = "report"

#: H1 of each mode in words ({q}: the query, {r}: the other side, {line}: the
#: linking parent of search.line).  H2 is always "unrelated".
MODE_HYPOTHESES = {
    "case": "{q} is the missing person{m} of {c}",
    "identity": "{q} and reference {r} are the same person",
    "parent-child": "reference {r} is a parent of {q}",
    "full-sibling": "{q} and reference {r} are full siblings",
    "half-sibling": "{q} and reference {r} are half-siblings through their {line}",
    "grandparent": "reference {r} is a grandparent of {q} through {q}'s {line}",
    "avuncular": "reference {r} is a full sibling of {q}'s {line} (an uncle or aunt)",
    "first-cousin": "{q} and reference {r} are first cousins, through {q}'s {line}",
    "duplicates": "queries {q} and {r} are the same person (one person typed twice)",
    "y-lineage": "{q} and reference {r} are men of one paternal line, a few meioses apart",
}
_LINE = {"paternal": "father", "maternal": "mother"}


# ---------------------------------------------------------------------------
# small formatting helpers
# ---------------------------------------------------------------------------

def _lr_text(log10_lr) -> str:
    from kinship.chance import format_lr

    if log10_lr is None or log10_lr != log10_lr:
        return "n/a"
    if log10_lr == -math.inf:
        return "0"
    if log10_lr == math.inf:
        return "infinite"
    if log10_lr > 300:
        return f"10^{log10_lr:.1f}"
    return format_lr(10.0 ** log10_lr)


def _num(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _count(x) -> str:
    from .chance import fmt_count

    return "n/a" if x is None else fmt_count(float(x))


def _gt(g) -> str:
    return "/".join(g) if g else "–"


def _page(title: str, body: str, scripts: str = "", head_extra: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{escape(title)}</title><style>{CSS}</style>{head_extra}</head>"
            f"<body>{body}{f'<script>{scripts}</script>' if scripts else ''}</body></html>\n")


def _version() -> str:
    from kinship import __version__

    return str(__version__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# consistency of one locus without mutation, and the mutations it needs
# ---------------------------------------------------------------------------

def mutations_needed(pedigree, calls: dict, dropout: dict | None = None, dropin: float = 0.0):
    """The least number of mutations that explain ``calls`` (``{person: (a, b)}``
    allele labels) on ``pedigree`` (a :class:`kinship.pedigree.Pedigree`): 0 when
    they are consistent without mutation.  Found as the order of the likelihood
    in a small mutation rate e (``L(e) ~ c e^k``, an equal-probability model over
    the alleles seen and one other allele), from ``L(1e-3) / L(1e-4) ~ 10^k``;
    the allele frequencies do not matter (any positive ones).  ``dropout``
    (``{person: d}``) and ``dropin``: the run's dropout model (``docs/dropout.md``):
    calls it explains without mutation (an allele dropped out) are consistent, as
    the engine counts them."""
    calls = {p: c for p, c in calls.items() if c}
    if len(calls) < 2:
        return 0
    # the answer depends on which calls share which alleles, not on the labels: alleles
    # numbered by first appearance over the persons in pedigree order; memoised on
    # that pattern (most loci of a report repeat a few patterns)
    order = [p for p in pedigree.order if p in calls] + sorted(p for p in calls if p not in pedigree.order)
    idx: dict = {}
    for p in order:
        for a in calls[p]:
            idx.setdefault(a, len(idx))
    key = (tuple((q.id, q.father, q.mother, q.sex) for q in (pedigree.persons[x] for x in pedigree.order)),
           tuple((p, tuple(sorted((idx[calls[p][0]], idx[calls[p][1]])))) for p in order),
           tuple(sorted((p, float(d)) for p, d in (dropout or {}).items() if p in calls and d)),
           float(dropin or 0.0))
    hit = _MUT_MEMO.get(key)
    if hit is not None:
        return hit[0]
    k = _mutations_needed(pedigree, {p: (idx[c[0]], idx[c[1]]) for p, c in calls.items()},
                          len(idx) + 1, dropout, dropin)
    if len(_MUT_MEMO) > 100_000:
        _MUT_MEMO.clear()
    _MUT_MEMO[key] = (k,)
    return k


_MUT_MEMO: dict = {}


def _mutations_needed(pedigree, ic: dict, A: int, dropout, dropin):
    """:func:`mutations_needed` on allele indices ``ic`` (``A``: the alleles seen
    and one other, all equally frequent)."""
    import numpy as np

    from kinship.likelihood import locus_likelihood

    freqs = np.full(A, 1.0 / A)
    if locus_likelihood(pedigree, ic, A, freqs) > 0:
        return 0
    drop = {p: float(d) for p, d in (dropout or {}).items() if p in ic and d}
    if (drop or dropin) and locus_likelihood(pedigree, ic, A, freqs, dropout=drop or None,
                                             dropin=float(dropin)) > 0:
        return 0

    def lik(e):
        M = np.full((A, A), e / (A - 1))
        np.fill_diagonal(M, 1.0 - e)
        return locus_likelihood(pedigree, ic, A, freqs, female_M=M, male_M=M)

    hi, lo = lik(1e-3), lik(1e-4)
    if not (hi > 0 and lo > 0):
        return None
    return max(1, int(round(math.log10(hi / lo))))


# ---------------------------------------------------------------------------
# the run: results, job, inputs
# ---------------------------------------------------------------------------

def _check_shards(ds, recorded_run: dict, role: str) -> None:
    """Every shard the run read (``recorded_run["shards"]``, from the manifest) is
    still in dataset ``ds`` with the checksum the run recorded (the dataset
    itself checks the bytes against it while loading)."""
    now = {s["file"]: s.get("sha256") for s in ds.manifest.get("shards", [])}
    for s in recorded_run.get("shards", []):
        if s["file"] not in now:
            raise InputError(f"the run's {role} dataset {ds.path} no longer holds shard {s['file']} "
                             f"that the run searched. Fix: restore it")
        if s.get("sha256") and now[s["file"]] not in (None, s["sha256"]):
            raise InputError(f"the run's {role} dataset {ds.path} changed since the run: shard "
                             f"{s['file']} is not the one searched. Fix: report on the results of a "
                             f"run over the dataset as it is now")


class _Run:
    """Everything the pages need, read once: manifest, hits, job, frequency
    table, the profiles of the hits' samples and the cases."""

    def __init__(self, results: Path):
        import pyarrow.parquet as pq

        from .family_export import _results_context
        from .model import load_frequencies

        self.path = results
        if not (results / "manifest.json").is_file() or not (results / "hits.parquet").is_file():
            raise InputError(f"{results} is not the results directory of a run (no manifest.json "
                             f"and hits.parquet). Fix: give the output.path of a kinship search")
        try:
            self.manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{results / 'manifest.json'} is damaged (not JSON)") from None
        want = (self.manifest.get("outputs", {}).get("hits") or {}).get("sha256")
        if want and _sha256(results / "hits.parquet") != want:
            raise InputError(f"{results / 'hits.parquet'} was changed after the run: its sha256 "
                             f"differs from the one manifest.json records. Fix: run the search "
                             f"again, or restore the file")
        self.job, _ = _results_context(results)
        self.hits = pq.read_table(results / "hits.parquet").to_pylist()
        self.model = self.manifest.get("model") or {}
        self.line = self.job["search"].get("line", "paternal")
        self._ft = None
        self._load_frequencies = lambda: load_frequencies(self.job)[0]
        self._profiles = None
        self._cases = {}
        # the dropout model of the run (engine.dropout): the d of each sample, drop-in
        self.dropin = float((self.manifest.get("dropout") or {}).get("dropin") or 0.0)
        self.dropout = {}
        f = results / "dropout.csv"
        if self.manifest.get("dropout") and f.is_file():
            import csv

            with open(f, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    if float(row["dropout"]):
                        self.dropout[row["sample_id"]] = float(row["dropout"])

    # -- frequencies ----------------------------------------------------------------
    def freqs(self, locus: str) -> dict:
        """``{allele: (frequency used, added?)}`` of the run's allele system at
        ``locus`` (the table plus the alleles the datasets added)."""
        if self._ft is None:
            self._ft = self._load_frequencies()
            self._la = {}
        if locus not in self._la:
            extra = (self.model.get("alleles_added") or {}).get(locus, ())
            try:
                la = self._ft.locus_alleles(locus, extra)
            except (KeyError, ValueError):
                self._la[locus] = {}
            else:
                self._la[locus] = {a: (float(f), a in la.added) for a, f in zip(la.alleles, la.freqs)}
        return self._la[locus]

    # -- profiles -------------------------------------------------------------------
    def _datasets(self):
        import formats

        inp = self.manifest.get("inputs") or {}
        out = {}
        for role in ("queries", "references"):
            d = inp.get(role)
            if not d:
                continue
            path = Path(d["path"])
            if not path.exists():
                raise InputError(f"the run's {role} dataset {path} no longer exists: the report shows "
                                 f"the genotypes the run searched and needs it. Fix: restore it")
            ds = formats.open_dataset(path)
            _check_shards(ds, d, role)
            out[role] = ds
        return out

    def y_profiles(self) -> dict:
        """``{sample id: {marker: alleles}}`` of the y-lineage hits' men, from the
        run's Y datasets (each shard checked as for the profiles)."""
        if getattr(self, "_y", None) is None:
            from formats.ystr import open_y_dataset

            need = {i for h in self.hits if h["mode"] == "y-lineage"
                    for i in (h["query_id"], h["reference_id"])}
            self._y = {}
            inp = self.manifest.get("inputs") or {}
            for role in ("y_queries", "y_references"):
                d = inp.get(role)
                if not d or not need:
                    continue
                path = Path(d["path"])
                if not path.exists():
                    raise InputError(f"the run's {role} dataset {path} no longer exists: the report "
                                     f"shows the haplotypes the run searched and needs it. Fix: restore it")
                ds = open_y_dataset(path)
                _check_shards(ds, d, role)
                hap, _ = ds.load()
                for i, pid in enumerate(hap.profile_id):
                    if str(pid) in need:
                        self._y[str(pid)] = hap.profile(i)
        return self._y

    def profiles(self) -> dict:
        """``{sample id: formats.Profile}`` of the hits' queries and references."""
        import numpy as np

        if self._profiles is None:
            self._ds = self._datasets()
            need = {h["query_id"] for h in self.hits}
            need |= {h["reference_id"] for h in self.hits if h["reference_id"]}
            cases = {h["case_id"] for h in self.hits if h["mode"] == "case"}
            prof = {}
            self._refs = []
            for role, ds in self._ds.items():
                kind = "query" if role == "queries" else "reference"
                arr = ds.load(kind=kind)
                ids = [str(s) for s in arr.sample_id]
                cids = [str(c) for c in arr.case_id]
                take = [i for i, (s, c) in enumerate(zip(ids, cids))
                        if s in need or (kind == "reference" and c in cases)]
                sub = arr.take(np.asarray(take, dtype=np.int64)).to_profiles() if take else []
                for p in sub:
                    prof[p.sample_id] = p
                if kind == "reference":
                    self._refs = sub
            self._profiles = prof
        return self._profiles

    def case(self, case_id: str):
        """(:class:`kinship.cases.Case`, genotypes of its typed samples)."""
        from .family_export import case_of

        if case_id not in self._cases:
            self.profiles()
            ds = self._ds.get("references")
            if ds is None:
                raise InputError("the run has no references dataset")
            if not hasattr(self, "_stored"):
                self._stored = ds.cases()
            self._cases[case_id] = case_of(ds, case_id, references=self._refs,
                                           stored_cases=self._stored)
        return self._cases[case_id]


# ---------------------------------------------------------------------------
# one hit: who is compared, the pedigree, the per-locus table
# ---------------------------------------------------------------------------

_AUTOSOMAL_PAIR = ("parent-child", "full-sibling", "half-sibling", "grandparent", "avuncular",
                   "first-cousin")


def _sex_word(s: str) -> str:
    from kinship.cases import _sex

    return _sex(s)


def hit_persons(run: _Run, h: dict) -> dict:
    """The hit's persons: ``records`` (the H1 pedigree, or None), ``roles``,
    ``labels``, ``columns`` (``[(person id, heading, genotypes)]``: the query
    first, then every typed relative) and ``relatives`` (sentences)."""
    from kinship.cases import RELATIONS
    from kinship.tables import relationship_pedigrees

    prof = run.profiles()
    q = h["query_id"]
    qp = prof.get(q)
    qg = qp.genotypes if qp else {}
    mode = h["mode"]
    out = {"records": None, "roles": {}, "labels": {}, "columns": [("Q", f"{q} (query)", qg)],
           "relatives": [], "missing": ""}
    if mode == "case":
        case, genos = run.case(h["case_id"])
        m = h["reference_id"] or case.missing[0]
        out["missing"] = m
        qid = "Q"                        # the query's node: a name no person of the case has
        while qid in case.pedigree:
            qid += "'"
        h1, _ = case.hypotheses(qid, m)
        # the missing person's own node is left unlinked and untyped in H1: not drawn
        out["records"] = [r for r in h1 if r["id"] != m]
        for pid in case.pedigree.order:
            out["labels"][pid] = [pid]
        for pid, sid in case.samples.items():
            rel = case.relations.get(sid)
            out["roles"][pid] = "typed"
            out["labels"][pid] = [sid] + ([rel] if rel else ([f"person {pid}"] if pid != sid else []))
            out["columns"].append((pid, f"{sid} ({rel or 'person ' + pid})", genos.get(sid, {})))
            if rel:
                out["relatives"].append(f"{sid}: {RELATIONS[rel].description}")
            else:
                out["relatives"].append(f"{sid}: person {pid} of the pedigree drawn below")
        for other in case.missing:
            if other != m:
                out["roles"][other] = "missing"
                out["labels"][other] = [other, "missing"]
        out["roles"][qid] = "query"
        out["labels"][qid] = [q, f"query as {m}"]
        out["calls_ids"] = {"Q": qid}
    elif mode in _AUTOSOMAL_PAIR or mode in ("identity", "duplicates", "y-lineage"):
        r = h["reference_id"]
        rp = prof.get(r)
        rg = rp.genotypes if rp else {}
        heading = f"{r} ({'other query' if mode == 'duplicates' else (rp.relation or 'reference') if rp else 'reference'})"
        out["columns"].append(("R", heading, rg))
        if rp is not None and rp.case_id and mode != "duplicates":
            out["relatives"].append(f"{r}: reference of case {rp.case_id}"
                                    + (f", {RELATIONS[rp.relation].description}"
                                       if rp.relation in RELATIONS else ""))
        if mode in _AUTOSOMAL_PAIR:
            sex = _sex_word(rp.sex if rp else "")
            h1, _ = relationship_pedigrees(mode, sex if sex in ("male", "female") else "male", run.line)
            recs = h1.records()
            qsex = _sex_word(qp.sex if qp else "")
            for rec in recs:
                if rec["id"] == "R" and sex not in ("male", "female"):
                    rec["sex"] = "unknown"
                if rec["id"] == "Q":
                    rec["sex"] = qsex
            out["records"] = recs
            for rec in recs:
                out["labels"][rec["id"]] = [""]
            out["roles"]["R"] = "typed"
            out["labels"]["R"] = [r, "reference"]
            out["roles"]["Q"] = "query"
            out["labels"]["Q"] = [q, "query"]
            out["calls_ids"] = {"Q": "Q", "R": "R"}
    return out


def locus_rows(run: _Run, h: dict, persons: dict) -> list:
    """Per-locus rows: ``{"locus", "genotypes" [per column], "freqs" {allele:
    (f, added)}, "lr" (the results' value, None when not compared), "compared",
    "inconsistent", "mutations"}`` over every locus typed by the query or a
    relative; the compared loci first, in the run's locus order."""
    from kinship.pedigree import Pedigree

    lrs = json.loads(h["per_locus_lr"]) if h.get("per_locus_lr") else {}
    cols = persons["columns"]
    order = list(run.model.get("loci") or [])
    typed = {l for _, _, g in cols for l in g}
    loci = [l for l in order if l in lrs] + sorted((l for l in lrs if l not in order), key=str.lower)
    loci += [l for l in order if l in typed and l not in lrs]
    loci += sorted((l for l in typed if l not in lrs and l not in order), key=str.lower)
    ped = Pedigree.from_records(persons["records"]) if persons.get("records") else None
    ids = persons.get("calls_ids", {})
    rows = []
    for l in loci:
        gs = [g.get(l) for _, _, g in cols]
        alleles = []
        for g in gs:
            for a in g or ():
                if a not in alleles:
                    alleles.append(a)
        fr = run.freqs(l)
        row = {"locus": l, "genotypes": gs, "freqs": {a: fr.get(a, (None, False)) for a in alleles},
               "lr": lrs.get(l), "compared": l in lrs, "inconsistent": False, "mutations": 0}
        if l in lrs:
            if h["mode"] in ("identity", "duplicates"):
                same = gs[0] is not None and gs[1] is not None and sorted(gs[0]) == sorted(gs[1])
                row["inconsistent"] = not same
                row["mutations"] = None if same else "differs"
            elif ped is not None:
                calls, drop = {}, {}
                for (pid, _, g) in cols:
                    node = ids.get(pid, pid)
                    if g.get(l):
                        calls[node] = tuple(g[l])
                    sid = (persons.get("labels", {}).get(node) or [pid])[0]
                    if getattr(run, "dropout", None) and sid in run.dropout:
                        drop[node] = run.dropout[sid]
                k = mutations_needed(ped, calls, drop, getattr(run, "dropin", 0.0))
                row["inconsistent"] = k != 0
                row["mutations"] = k
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------

def _hyp(h: dict, line: str, missing: str = "") -> tuple:
    q = escape(h["query_id"])
    r = escape(h["reference_id"] or "")
    c = escape(h["case_id"] or "")
    m = f" {escape(missing)}" if missing else ""
    h1 = MODE_HYPOTHESES[h["mode"]].format(q=f"<b>{q}</b>", r=f"<b>{r}</b>", c=f"family <b>{c}</b>", m=m,
                                           line=_LINE.get(line, line))
    if h["mode"] == "case":
        h2 = (f"<b>{q}</b> is unrelated to the family; the relatives are related to each other "
              f"as drawn")
    elif h["mode"] == "duplicates":
        h2 = f"<b>{q}</b> and <b>{r}</b> are two unrelated persons"
    else:
        h2 = f"<b>{q}</b> and <b>{r}</b> are unrelated"
    return h1, h2


def _posterior_sentence(h: dict, run: _Run) -> str:
    p = run.job["search"].get("prior", 0.5)
    post = h.get("posterior")
    if post is None:
        return "No posterior is computed for this hit."
    from .merge import EXCLUSIVE_MODES

    if h["mode"] in EXCLUSIVE_MODES:
        s = (f"With a prior probability of {p:g} that the sought person is among the candidates this "
             f"query was compared with, spread evenly over them, and the LRs of all of them, the "
             f"probability that <b>this</b> candidate is the one is {_num(post)}")
        pm = h.get("posterior_min")
        if pm is not None and abs(pm - post) > 1e-12:
            s += f" (at least {_num(pm)}, counting every candidate not listed at its bound)"
        return s + "."
    return (f"With {p:g} relatives of this kind expected among the candidates compared, each "
            f"candidate is a priori related with probability p/N; given this hit's LR, the "
            f"probability that this reference is related to the query as the mode says is "
            f"{_num(post)}.")


def _chance_sentence(h: dict, run: _Run) -> str:
    e = h.get("expected_chance_hits")
    ch = (run.manifest.get("chance_hits") or {}).get(h["mode"]) or {}
    n = ch.get("comparisons")
    if e is None:
        return ("The run did not compute the chance hits of this mode (report.chance_method = "
                "\"none\", or the mode has none).")
    where = f" among the {_count(n)} comparisons of this search" if n else " in this search"
    return (f"About {_count(e)} unrelated pairs are expected to reach an LR this high by chance "
            f"alone{where}: the smaller this number, the less a hit of this size can be a "
            f"coincidence of searching many profiles.")


def _lr_sentence(h: dict, h1: str, h2: str) -> str:
    t = _lr_text(h["log10_lr"])
    if h["log10_lr"] == -math.inf:
        return f"The DNA excludes that {h1} (LR 0) without mutation."
    return (f"The DNA profiles are <b>{escape(t)}</b> times more probable if {h1} than if {h2} "
            f"(log10 LR {h['log10_lr']:.2f}).")


def _provenance_html(run: _Run) -> str:
    m = run.manifest
    r = m.get("run", {})
    mod = m.get("model", {})
    inp = m.get("inputs", {})
    facts = [
        ("software", ", ".join(f"{k} {v}" for k, v in (m.get("software") or {}).items())),
        ("run", f"{r.get('run_id', '')} (started {r.get('started', '')}, finished {r.get('finished', '')})"),
        ("job", f"{m.get('job_source', '')}; job key {m.get('job_key', '')}; model key {m.get('model_key', '')}"),
        ("modes", ", ".join(run.job["search"]["modes"])),
        ("search", ", ".join(f"{k} = {v}" for k, v in run.job["search"].items() if k != "modes")),
        ("model", f"θ = {mod.get('theta')}; mutation {json.dumps(mod.get('mutation'), sort_keys=True)}"),
        ("frequencies", f"{mod.get('frequencies', '')}; sha256 {mod.get('frequencies_sha256', '')}"
         + (f"; alleles added with the minimum frequency: "
            f"{sum(len(v) for v in (mod.get('alleles_added') or {}).values())}" if mod.get('alleles_added') else "")),
        ("loci", ", ".join(mod.get("loci") or [])),
    ]
    for role, d in sorted(inp.items()):
        if not isinstance(d, dict) or "shards" not in d:
            continue
        sh = "; ".join(f"{s['file']} sha256 {s.get('sha256', '')}" for s in d["shards"])
        facts.append((f"input {role}", f"{d.get('path', '')}: {sh}"))
    for k, o in (m.get("outputs") or {}).items():
        facts.append((f"output {k}", f"{o.get('file', '')}: {o.get('rows', '')} rows; sha256 {o.get('sha256', '')}"
                      if "rows" in o else f"{o.get('file', '')}: sha256 {o.get('sha256', '')}"))
    return ('<dl class="facts mono">' + "".join(f"<dt>{escape(a)}</dt><dd>{escape(str(b))}</dd>"
                                                for a, b in facts) + "</dl>")


def _decision_badge(d) -> str:
    if not d:
        return '<span class="badge d-none">not re-checked</span>'
    return f'<span class="badge d-{escape(d["decision"])}">{escape(d["decision"])}</span>'


def _other(h: dict) -> str:
    if h["mode"] == "case":
        return h["case_id"] + (f" / {h['reference_id']}" if h["reference_id"] else "")
    return h["reference_id"]


def _hit_page(run: _Run, h: dict, key: str, decision, prev_next: tuple, generated: str) -> tuple:
    """(html, per-locus rows) of one hit's page."""
    persons = hit_persons(run, h)
    h1, h2 = _hyp(h, run.line, persons.get("missing", ""))
    mode = h["mode"]
    body = [f'<header class="top"><h1>Hit: {escape(h["query_id"])} — {escape(mode)} — '
            f'{escape(_other(h))}</h1><div class="sub">strkin hit review · run '
            f'{escape(str(run.manifest.get("run", {}).get("run_id", "")))} · hit key '
            f'<span class="mono">{key}</span> · report written {escape(generated)} by strkin {escape(_version())}</div></header><main>']
    prv, nxt = prev_next
    body.append('<nav class="crumbs noprint"><a href="../index.html">← all hits</a>'
                + (f' · <a href="{prv}.html">previous hit</a>' if prv else "")
                + (f' · <a href="{nxt}.html">next hit</a>' if nxt else "") + "</nav>")
    body.append('<p class="sensitive">Holds DNA genotypes: sensitive personal data. Keep it where the '
                'profiles are kept.</p>')
    body.append("<h2>The question</h2>")
    body.append(f'<div class="hyp"><b>H1</b>: {h1}.</div><div class="hyp"><b>H2</b>: {h2}.</div>')
    if persons["relatives"]:
        body.append("<p>Typed relatives: " + "; ".join(escape(s) for s in persons["relatives"]) + ".</p>")
    # the numbers
    body.append("<h2>The evidence</h2><div class=\"cards\">")
    body.append(f'<div class="card"><div>Likelihood ratio</div><div class="v">{escape(_lr_text(h["log10_lr"]))}'
                f'</div><p class="explain">{_lr_sentence(h, h1, h2)}</p></div>')
    body.append(f'<div class="card"><div>Posterior</div><div class="v">{_num(h.get("posterior"))}</div>'
                f'<p class="explain">{_posterior_sentence(h, run)}</p></div>')
    body.append(f'<div class="card"><div>Expected chance hits</div><div class="v">'
                f'{_count(h.get("expected_chance_hits"))}</div><p class="explain">'
                f'{_chance_sentence(h, run)}</p></div></div>')
    facts = [("loci compared", h["loci_compared"]), ("loci inconsistent without mutation", h["loci_inconsistent"]),
             ("rank among the query's hits", h.get("rank") if h.get("rank") is not None else "–"),
             ("rank among the hits of this " + ("case" if mode == "case" else "reference"),
              h.get("case_rank") if h.get("case_rank") is not None else "–")]
    if h.get("best_relationship"):
        alts = json.loads(h["relationship_lrs"]) if h.get("relationship_lrs") else {}
        facts.append(("best supported relationship", h["best_relationship"]))
        if alts:
            facts.append(("log10 LR of each relationship",
                          ", ".join(f"{k} {'-inf' if v is None or v == -math.inf else f'{v:.2f}'}"
                                    for k, v in alts.items())))
    body.append('<dl class="facts">' + "".join(f"<dt>{escape(str(a))}</dt><dd>{escape(str(b))}</dd>"
                                               for a, b in facts) + "</dl>")
    if h.get("best_relationship") and h["best_relationship"] not in (mode, "missing-person") and \
            not (mode == "duplicates" and h["best_relationship"] == "identity"):
        body.append(f'<p class="note"><b>Another relationship explains the pair better</b>: '
                    f'{escape(h["best_relationship"])} (see the LRs above).</p>')
    # pedigree
    if persons["records"]:
        body.append("<h2>The pedigree under H1</h2><figure>")
        body.append(pedigree_svg(persons["records"], persons["labels"], persons["roles"],
                                 title=f"H1 pedigree of hit {key}"))
        body.append('<figcaption class="legend-ped"><span><i class="sw" style="background:#9fb7d9"></i>'
                    'typed relative</span><span><i class="sw" style="background:#ffd9a8;border-color:#c0392b">'
                    '</i>the query, in the missing person\'s place</span><span><i class="sw" '
                    'style="border-style:dashed;border-color:#c0392b"></i>another missing person</span>'
                    '<span><i class="sw"></i>untyped</span><span>square: male, circle: female, '
                    'diamond: unknown</span></figcaption></figure>')
    elif mode in ("identity", "duplicates"):
        body.append("<p class=\"note\">Under H1 both profiles are of one person: no pedigree.</p>")
    rows = []
    if mode == "y-lineage":
        body.append(_y_section(h, run))
    else:
        rows = locus_rows(run, h, persons)
        body.append(_locus_table(h, persons, rows))
    # re-check
    body.append(_recheck_form(key, decision))
    body.append("<h2>Provenance</h2>" + _provenance_html(run))
    body.append("</main>")
    hit_js = json.dumps({"hit_key": key, "mode": mode, "query_id": h["query_id"],
                         "case_id": h["case_id"] or "", "reference_id": h["reference_id"] or ""})
    store = json.dumps(f"strkin-recheck:{run.manifest.get('run', {}).get('run_id', '')}")
    js = (f"var HIT = {hit_js}; var STORE_KEY = {store};" + COMMON_JS + HIT_JS).replace("</", "<\\/")
    return _page(f"{h['query_id']} — {mode} — {_other(h)}", "".join(body), js), rows


def _locus_table(h: dict, persons: dict, rows: list) -> str:
    cols = persons["columns"]
    out = ["<h2>Per locus</h2>",
           '<p class="note">Genotypes as typed; allele frequencies as the run used them (the '
           'table\'s, rescaled where alleles absent from it were added with the minimum frequency, '
           'marked *); the locus LR as the results hold it. A locus is inconsistent when the typed '
           'persons cannot be related as H1 says without a mutation; the last column gives the '
           'least number of mutations that explain it (the LR uses the run\'s mutation model). '
           'Greyed loci were not compared (typed on one side only).</p>',
           "<table class=\"loci\"><thead><tr><th>locus</th>"
           + "".join(f"<th>{escape(head)}</th>" for _, head, _ in cols)
           + "<th>allele frequencies used</th><th class=\"num\">LR</th>"
           "<th>without mutation</th></tr></thead><tbody>"]
    for r in rows:
        cls = "incons" if r["inconsistent"] else ("" if r["compared"] else "notcmp")
        fr = " · ".join(f"{escape(a)}: {_num(f) if f is not None else '?'}{'*' if added else ''}"
                        for a, (f, added) in r["freqs"].items())
        if not r["compared"]:
            note, lr = "not compared", "–"
        else:
            lr = _num(r["lr"])
            k = r["mutations"]
            if not r["inconsistent"]:
                note = "consistent"
            elif k == "differs":
                note = "genotypes differ (left out of the identity LR)"
            elif k is None:
                note = "inconsistent"
            else:
                note = f"inconsistent: {k} mutation{'s' if k != 1 else ''} needed"
        lr_attr = f' data-lr="{r["lr"]!r}"' if r["compared"] else ""
        out.append(f'<tr class="{cls}" data-locus="{escape(r["locus"])}"><th>{escape(r["locus"])}</th>'
                   + "".join(f"<td>{escape(_gt(g))}</td>" for g in r["genotypes"])
                   + f'<td class="mono">{fr}</td><td class="num"{lr_attr}>{lr}</td><td>{note}</td></tr>')
    total = h["log10_lr"]
    out.append(f'</tbody><tfoot><tr><th colspan="{len(cols) + 2}">total (product over the compared '
               f'loci)</th><td class="num">{escape(_lr_text(total))}</td><td>{h["loci_inconsistent"]} '
               f'inconsistent</td></tr></tfoot></table>')
    return "".join(out)


def _y_section(h: dict, run: _Run) -> str:
    out = ["<h2>Y-STR lineage</h2>"]
    facts = [("loci compared", h["loci_compared"]), ("mismatched loci", h.get("y_mismatches")),
             ("summed repeat steps", h.get("y_steps")), ("estimator", h.get("y_estimator")),
             ("match probability of the query's haplotype", _num(h.get("y_match_probability"))),
             ("count in the population sample", f"{h.get('y_match_count')} of {h.get('y_population_size')}")]
    out.append('<dl class="facts">' + "".join(f"<dt>{escape(a)}</dt><dd>{escape(str(b))}</dd>"
                                              for a, b in facts) + "</dl>")
    per_m = json.loads(h["y_lr_per_m"]) if h.get("y_lr_per_m") else {}
    if per_m:
        out.append('<table><thead><tr><th>meioses m</th><th class="num">LR(m)</th></tr></thead><tbody>'
                   + "".join(f'<tr><td>{escape(k)}</td><td class="num">{_num(v)}</td></tr>'
                             for k, v in per_m.items()) + "</tbody></table>")
    diff = json.loads(h["y_differences"]) if h.get("y_differences") else {}
    ys = run.y_profiles()
    qh, rh = ys.get(h["query_id"], {}), ys.get(h["reference_id"], {})
    markers = list(qh) + [m for m in rh if m not in qh]
    out.append("<h3>Haplotypes</h3>" if markers else "")
    if markers:
        rows = []
        for mk in markers:
            a, b = qh.get(mk), rh.get(mk)
            d = diff.get(mk)
            cls = "incons" if d is not None else ("" if a and b else "notcmp")
            note = (f"differs: {escape(str(d))}" if d is not None
                    else ("same" if a and b else "typed on one side only"))
            rows.append(f'<tr class="{cls}" data-locus="{escape(mk)}"><th>{escape(mk)}</th>'
                        f'<td>{escape(",".join(a) if a else "–")}</td><td>{escape(",".join(b) if b else "–")}</td>'
                        f'<td>{note}</td></tr>')
        out.append(f'<table class="loci"><thead><tr><th>Y marker</th><th>{escape(h["query_id"])} (query)</th>'
                   f'<th>{escape(h["reference_id"])} (reference)</th><th>query minus reference (repeats)'
                   f'</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    elif diff:
        out.append('<table><thead><tr><th>locus</th><th class="num">query minus reference '
                   '(repeats)</th></tr></thead><tbody>'
                   + "".join(f'<tr><td>{escape(k)}</td><td class="num">{escape(str(v))}</td></tr>'
                             for k, v in diff.items()) + "</tbody></table>")
    if not diff:
        out.append("<p>The haplotypes agree at every compared locus.</p>")
    comb = json.loads(h["combined_with"]) if h.get("combined_with") else []
    for c in comb:
        out.append(f"<p>Combined with {escape(str(c.get('with')))} ({escape(str(c.get('relationship')))}): "
                   f"log10 LR {c.get('log10_lr', 0):.2f} = autosomal {c.get('autosomal_log10_lr', 0):.2f} "
                   f"+ Y {c.get('y_log10_lr', 0):.2f}.</p>")
    return "".join(out)


def _recheck_form(key: str, decision) -> str:
    opts = "".join(f'<option value="{escape(d)}"{" selected" if decision and decision["decision"] == d else ""}>'
                   f'{escape(d)} — {escape(t)}</option>' for d, t in DECISIONS.items())
    out = ["<h2>Re-check</h2>"]
    if decision:
        out.append(f'<p>Recorded: {_decision_badge(decision)} by {escape(decision.get("reviewer", ""))}'
                   f'{" at " + escape(decision["timestamp"]) if decision.get("timestamp") else ""}'
                   f'{": " + escape(decision["comment"]) if decision.get("comment") else ""} '
                   f'<span class="note">(file {escape(decision.get("source", ""))}, imported '
                   f'{escape(decision.get("imported", ""))})</span></p>')
    else:
        out.append("<p>Not re-checked yet.</p>")
    rv = escape(decision.get("reviewer", "")) if decision else ""
    cm = escape(decision.get("comment", "")) if decision else ""
    out.append(f'<form class="recheck" id="recheck" data-hit-key="{key}">'
               f'<label for="reviewer">Reviewer</label><input type="text" id="reviewer" name="reviewer" value="{rv}">'
               f'<label for="decision">Decision</label><select id="decision" name="decision">'
               f'<option value="">— choose —</option>{opts}</select>'
               f'<label for="comment">Comment</label><textarea id="comment" name="comment" rows="3">{cm}</textarea>'
               f'<p><button type="submit">Download re-check file</button> <span id="recheck-msg" class="note">'
               f'</span></p><p class="note noprint">The file (CSV: {", ".join(COLUMNS)}) goes back into the '
               f'results with <span class="mono">kinship report RESULTS --recheck FILE</span>; nothing is '
               f'sent anywhere.</p></form>')
    return "".join(out)


def _index_page(run: _Run, paged: list, decisions: dict, generated: str, left_out: dict,
                recheck: dict) -> str:
    m = run.manifest
    r = m.get("run", {})
    modes = [x for x in run.job["search"]["modes"]]
    thr = float(run.job["search"]["threshold"])
    body = [f'<header class="top"><h1>strkin hit review</h1><div class="sub">run '
            f'{escape(str(r.get("run_id", "")))} · finished {escape(str(r.get("finished", "")))} · '
            f'{escape(str(m.get("job_source", "")))} · report written {escape(generated)} by strkin {escape(_version())}</div></header><main>']
    body.append('<p class="sensitive">Holds DNA genotypes on the hit pages: sensitive personal data. '
                'Keep it where the profiles are kept.</p>')
    n_hits = len(run.hits)
    inp = m.get("inputs", {})
    nq = (inp.get("queries") or {}).get("n_queries")
    nr = (inp.get("references") or {}).get("n_references")
    nc = (inp.get("references") or {}).get("n_cases")
    body.append(f'<p class="big">{n_hits} hits in {len(modes)} modes; '
                f'{nq if nq is not None else "?"} queries against {nr if nr is not None else "?"} references '
                f'({nc if nc is not None else "?"} cases); threshold LR {escape(_lr_text(math.log10(thr)) if thr > 0 else "0")}. '
                f'{sum(1 for k in decisions if k in {p[1] for p in paged})} hits re-checked.</p>')
    dec_opts = "".join(f'<option value="{escape(d)}">{escape(d)}</option>' for d in DECISIONS)
    mode_opts = "".join(f'<option value="{escape(x)}">{escape(x)}</option>' for x in modes)
    body.append('<div class="filters noprint"><label>mode <select id="f-mode"><option value="">all</option>'
                f'{mode_opts}</select></label><label>log10 LR at least <input id="f-lr" type="number" '
                f'step="0.5" style="width:6em" placeholder="any"></label><label>decision <select id="f-dec">'
                f'<option value="">all</option><option value="none">not re-checked</option>{dec_opts}'
                '</select></label><button id="export-all" type="button">Download the re-check entries made '
                'in this browser</button><span id="export-msg" class="note"></span></div>')
    by_mode = {}
    for h, key in paged:
        by_mode.setdefault(h["mode"], []).append((h, key))
    for mode in modes:
        rows = by_mode.get(mode, [])
        ch = (m.get("chance_hits") or {}).get(mode) or {}
        body.append(f'<section class="mode page-break" data-mode="{escape(mode)}"><h2>{escape(mode)}: '
                    f'{len([h for h in run.hits if h["mode"] == mode])} hits '
                    f'(<span class="shown">{len(rows)}</span> shown)</h2>')
        h1_words = MODE_HYPOTHESES[mode].format(q="the query", r="R", c="the case\'s family", m="",
                                                line=_LINE.get(run.line, run.line))
        body.append(f'<p class="note">H1: {escape(h1_words)}; '
                    f'H2: unrelated.'
                    + (f" {escape(str(ch.get('comparisons_counted', '')))} compared." if ch else "") + "</p>")
        pts = [(math.log10(t["threshold"]), t["expected"]) for t in ch.get("thresholds", []) if t["threshold"] > 0]
        mode_hits = [h for h in run.hits if h["mode"] == mode]
        # each hit's own value where it was compared on the mode's full set of loci (a
        # partial profile's chance hits are computed on its own loci: its page has them)
        full = max((h["loci_compared"] for h in mode_hits), default=0)
        pts += [(h["log10_lr"], h["expected_chance_hits"]) for h in mode_hits
                if h.get("expected_chance_hits") is not None and h["loci_compared"] == full]
        cap = ("Solid: the number of this run's hits with LR at least x. "
               + ("Dashed: the number of unrelated pairs expected to reach x by chance in this search "
                  "(as the run computed it). Hits far above the dashed line are more than chance "
                  "explains." if pts else "The run computes no chance expectation for this mode."))
        mthr = (float((run.job.values.get("y_lineage") or {}).get("threshold", 0.0))
                if mode == "y-lineage" else thr)
        body.append("<figure>" + lr_plot_svg([h["log10_lr"] for h in mode_hits], pts, mode,
                                             math.log10(mthr) if mthr > 0 else None)
                    + f'<figcaption class="note">{escape(cap)}</figcaption></figure>')
        if not rows:
            body.append("<p>No hits.</p></section>")
            continue
        other = "case" if mode == "case" else ("other query" if mode == "duplicates" else "reference")
        body.append(f'<table class="hits"><thead><tr><th class="num">#</th><th>query</th><th>{other}</th>'
                    '<th>relatives</th><th class="num">LR</th><th class="num">log10 LR</th>'
                    '<th class="num">posterior</th><th class="num">chance hits</th><th class="num">loci</th>'
                    '<th class="num">incons.</th><th>best relationship</th><th>re-check</th></tr></thead><tbody>')
        for i, (h, key) in enumerate(rows, 1):
            d = decisions.get(key)
            rel = h["relatives"] or ""
            body.append(
                f'<tr class="hit" data-lr="{h["log10_lr"]!r}" data-decision="{escape(d["decision"]) if d else "none"}" '
                f'data-key="{key}"><td class="num">{i}</td><td><a href="hits/{key}.html">{escape(h["query_id"])}</a>'
                f'</td><td>{escape(_other(h))}</td><td>{escape(rel[:90] + ("…" if len(rel) > 90 else ""))}</td>'
                f'<td class="num">{escape(_lr_text(h["log10_lr"]))}</td><td class="num">{h["log10_lr"]:.2f}</td>'
                f'<td class="num">{_num(h.get("posterior"))}</td><td class="num">{_count(h.get("expected_chance_hits"))}</td>'
                f'<td class="num">{h["loci_compared"]}</td><td class="num">{h["loci_inconsistent"]}</td>'
                f'<td>{escape(h.get("best_relationship") or "–")}</td><td>{_decision_badge(d)}</td></tr>')
        body.append("</tbody></table>")
        if left_out.get(mode):
            body.append(f'<p class="note">{left_out[mode]} more hits of this mode have no page '
                        f'(--max-pages); they are in hits.parquet.</p>')
        body.append("</section>")
    from .power import power_html

    body.append(power_html(m.get("power")))
    notes = r.get("notes") or []
    if notes:
        body.append('<section class="page-break"><h2>Notes of the run</h2><ul>'
                    + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul></section>")
    imps = recheck.get("imports", [])
    body.append("<h2>Re-check files read back</h2>")
    if imps:
        body.append("<table><thead><tr><th>file</th><th>sha256</th><th class=\"num\">rows</th><th>imported</th>"
                    "<th>by</th></tr></thead><tbody>"
                    + "".join(f"<tr><td>{escape(i.get('file', ''))}</td><td class=\"mono\">{escape(i.get('sha256', ''))}"
                              f"</td><td class=\"num\">{i.get('rows', '')}</td><td>{escape(i.get('imported', ''))}</td>"
                              f"<td>{escape(i.get('imported_by', ''))}</td></tr>" for i in imps)
                    + "</tbody></table>")
    else:
        body.append("<p>None yet: fill in the form on a hit page, download the file and read it back with "
                    "<span class=\"mono\">kinship report RESULTS --recheck FILE</span>.</p>")
    body.append("<h2>Provenance</h2>" + _provenance_html(run) + "</main>")
    store = json.dumps(f"strkin-recheck:{r.get('run_id', '')}")
    js = (f"var STORE_KEY = {store}; var RUN_ID = {json.dumps(str(r.get('run_id', '')))};"
          + COMMON_JS + INDEX_JS).replace("</", "<\\/")
    return _page("strkin hit review", "".join(body), js)


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------

def write_report(results, out=None, recheck=(), max_pages: int | None = 1000) -> dict:
    """Write the report of results directory ``results`` to ``out`` (default
    ``RESULTS/report``); first read back the re-check files ``recheck`` (each
    validated whole, then stored in ``RESULTS/recheck.json``).  ``max_pages``:
    hit pages per mode, the highest LRs first (None: every hit).  Returns
    ``{"index": path, "pages": n, "recheck": [import records], "left_out": {mode: n}}``."""
    from formats.dataset import _atomic_write_bytes
    from formats.perms import make_dir

    results = Path(results)
    run = _Run(results)
    keys = {}
    for h in run.hits:
        k = hit_key(h["mode"], h["query_id"], h["case_id"], h["reference_id"])
        keys[k] = h
    stored = []
    if recheck:
        parsed = [(f, read_recheck(f, keys)) for f in recheck]     # every file valid before any is stored
        runinfo = {"run_id": run.manifest.get("run", {}).get("run_id"), "job_key": run.manifest.get("job_key")}
        for f, entries in parsed:
            stored.append(store_recheck(results, f, entries, runinfo))
    data = load_recheck(results)
    decisions = current_decisions(data)
    out = Path(out) if out is not None else results / REPORT_DIR
    make_dir(out / "hits")
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    # pages: per mode, the highest LRs first
    modes = list(run.job["search"]["modes"])
    order = {m: i for i, m in enumerate(modes)}
    ranked = sorted(((h, hit_key(h["mode"], h["query_id"], h["case_id"], h["reference_id"])) for h in run.hits),
                    key=lambda t: (order.get(t[0]["mode"], 99), -t[0]["log10_lr"], t[0]["query_id"],
                                   t[0]["case_id"], t[0]["reference_id"]))
    paged, left_out, count = [], {}, {}
    for h, k in ranked:
        c = count.get(h["mode"], 0)
        if max_pages is not None and c >= max_pages:
            left_out[h["mode"]] = left_out.get(h["mode"], 0) + 1
            continue
        count[h["mode"]] = c + 1
        paged.append((h, k))
    written = set()
    for i, (h, k) in enumerate(paged):
        prv = paged[i - 1][1] if i > 0 and paged[i - 1][0]["mode"] == h["mode"] else None
        nxt = paged[i + 1][1] if i + 1 < len(paged) and paged[i + 1][0]["mode"] == h["mode"] else None
        html, _ = _hit_page(run, h, k, decisions.get(k), (prv, nxt), generated)
        _atomic_write_bytes(out / "hits" / f"{k}.html", html.encode("utf-8"))
        written.add(f"{k}.html")
    for p in (out / "hits").glob("*.html"):       # pages of hits these results no longer hold
        if p.name not in written:
            p.unlink()
    index = out / "index.html"
    _atomic_write_bytes(index, _index_page(run, paged, decisions, generated, left_out, data).encode("utf-8"))
    return {"index": index, "pages": len(paged), "recheck": stored, "left_out": left_out}
