"""Helpers shared by the engine tests: small simulated datasets and jobs."""
from __future__ import annotations

import copy
from pathlib import Path

import pyarrow.parquet as pq

import formats
import kinship
from kinship.simulate import FamilySimulator

#: ten CODIS loci with few alleles: pair tables compile in well under a second
LOCI = ("CSF1PO", "D13S317", "D16S539", "D3S1358", "D5S818", "D7S820", "D8S1179", "TH01",
        "TPOX", "vWA")
SEX = {"male": "M", "female": "F"}
ALL_STRUCTURES = {"both-parents": 0.3, "father": 0.15, "mother": 0.1, "parent-sibling": 0.1,
                  "grandparents": 0.1, "siblings": 0.1, "half-sibling": 0.15}


def simulate(n_cases=12, n_unrelated=12, n_unrelated_references=4, seed=1, loci=LOCI,
             mutation=None, proportions=None, prefix="C", kit=""):
    ft = kinship.FrequencyTable.load("nist1036_all")
    sim = FamilySimulator(ft, loci, mutation=mutation, seed=seed)
    samples, truth = sim.population(n_cases, n_unrelated=n_unrelated,
                                    n_unrelated_references=n_unrelated_references,
                                    proportions=proportions or ALL_STRUCTURES, prefix=prefix)
    profs = [formats.Profile(s.sample_id, s.genotypes, s.kind, s.case_id, s.relation,
                             SEX[s.sex], kit) for s in samples]
    return profs, truth


def prefixed(profiles, prefix):
    """``profiles`` whose sample and case ids all start with ``prefix`` (simulate's
    own prefix names the cases; unrelated queries and references get it here)."""
    for p in profiles:
        if not p.sample_id.startswith(prefix):
            p.sample_id = prefix + p.sample_id
            p.case_id = prefix + p.case_id if p.case_id else ""
    return profiles


def rename(profiles, suffix):
    out = []
    for p in profiles:
        q = copy.deepcopy(p)
        q.sample_id = p.sample_id + suffix
        if q.case_id:
            q.case_id = p.case_id + suffix
        out.append(q)
    return out


def make_job(ds, out, modes, **kw):
    job = {
        "inputs": {"queries": str(ds), "references": str(ds), "frequencies": "nist1036_all"},
        "model": {"theta": 0.0, "mutation": "none"},
        # the test panels are small (6 to 10 loci): every pair is reported
        "search": {"modes": list(modes), "threshold": 1e4, "top_k": 5, "min_loci": 1},
        "output": {"path": str(out)},
        "execution": {"threads": 2, "progress": False},
    }
    for k, v in kw.items():
        sec, key = k.split("__")
        job.setdefault(sec, {})[key] = v
    return job


def read(out) -> "pyarrow.Table":
    return pq.read_table(Path(out) / "hits.parquet")


def rows(table, drop=()):
    return [{k: v for k, v in r.items() if k not in drop} for r in table.to_pylist()]
