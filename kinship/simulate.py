"""Simulated families with a missing child, for demos, tests and validation.

Founders are real genotypes (the bundled NIST 1036 U.S. profiles, public
domain) or draws from a frequency table.  Each family has a missing child (the
*query* in the search) and typed relatives (the *references* of the case) in one
of these structures:

``both-parents``, ``father``, ``mother``, ``parent-sibling`` (father and a full
sibling), ``grandparents`` (paternal grandparents), ``siblings`` (two full
siblings), ``half-sibling`` (a paternal half sibling).

Transmission is Mendelian: each parent passes one of its two alleles at random,
mutated by that parent's sex-specific mutation matrix (the same models as the
likelihood code).  Optional genotyping errors (an allele replaced by a
neighbouring allele) and allele dropout (a heterozygote called as a
homozygote) can be added to every typed person.  Everything is reproducible
from the seed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping, Sequence

import numpy as np

from .frequencies import FrequencyTable
from .mutation import MutationModel

__all__ = ["load_nist_genotypes", "FamilySimulator", "STRUCTURES", "SimulatedSample"]

# the family structures live in a module without numpy (the command line lists them)
from .structures import STRUCTURES  # noqa: E402


def load_nist_genotypes() -> dict[str, dict[str, tuple[str, str]]]:
    """The bundled NIST 1036 genotypes: ``{sample: {locus: (a1, a2)}}``.

    Source: NIST STRBase 1036 U.S. population set (revised 2017), public domain;
    see ``kinship/data/README.md``.
    """
    path = resources.files("kinship").joinpath("data", "genotypes", "nist1036_genotypes.csv")
    out: dict[str, dict[str, tuple[str, str]]] = {}
    with path.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["sample"], {})[row["marker"]] = (row["allele1"], row["allele2"])
    return out


@dataclass
class SimulatedSample:
    sample_id: str
    kind: str
    case_id: str
    relation: str
    sex: str
    genotypes: dict


class FamilySimulator:
    """Simulate missing-child families and unrelated persons.

    ``founders``: real founder genotypes (``{id: {locus: (a, b)}}``) drawn
    without replacement, falling back to frequency draws when exhausted (or
    ``None`` to always draw from ``frequencies``).
    """

    def __init__(
        self,
        frequencies: FrequencyTable,
        loci: Sequence[str],
        mutation: MutationModel | None = None,
        founders: Mapping[str, Mapping[str, tuple]] | None = None,
        seed: int = 1,
        error_rate: float = 0.0,
        dropout_rate: float = 0.0,
    ):
        self.freqs = frequencies
        self.loci = [frequencies.resolve_locus(l) for l in loci]
        self.rng = np.random.default_rng(seed)
        if mutation is not None and not isinstance(mutation, MutationModel):
            mutation = MutationModel(mutation)
        extra = {l: set() for l in self.loci}
        if founders:
            for g in founders.values():
                for l in self.loci:
                    if l in g:
                        extra[l].update(g[l])
        self.systems = {l: frequencies.locus_alleles(l, sorted(extra[l])) for l in self.loci}
        self.mats = {}
        for l, s in self.systems.items():
            f, m = (None, None) if mutation is None else mutation.matrices(s)
            self.mats[l] = {"female": f, "male": m}
        self.error_rate = float(error_rate)
        self.dropout_rate = float(dropout_rate)
        self._pool = list(founders.items()) if founders else []
        order = self.rng.permutation(len(self._pool)) if self._pool else []
        self._pool = [self._pool[i] for i in order]
        self.n_real_founders = 0
        self.n_drawn_founders = 0

    # -- persons ------------------------------------------------------------------
    def founder(self) -> dict:
        if self._pool:
            _, g = self._pool.pop()
            if all(l in g for l in self.loci):
                self.n_real_founders += 1
                return {l: tuple(g[l]) for l in self.loci}
        self.n_drawn_founders += 1
        out = {}
        for l in self.loci:
            s = self.systems[l]
            p = s.freqs / s.freqs.sum()
            a, b = self.rng.choice(len(p), size=2, p=p)
            out[l] = (s.alleles[a], s.alleles[b])
        return out

    def child(self, father: dict, mother: dict) -> dict:
        out = {}
        for l in self.loci:
            out[l] = (self._transmit(father[l], l, "male"), self._transmit(mother[l], l, "female"))
        return out

    def _transmit(self, pair, locus, sex):
        s = self.systems[locus]
        a = pair[self.rng.integers(2)]
        M = self.mats[locus][sex]
        if M is None:
            return a
        i = s.alleles.index(a)
        j = self.rng.choice(s.n_alleles, p=M[i] / M[i].sum())
        return s.alleles[j]

    def _observe(self, g: dict) -> dict:
        if self.error_rate == 0 and self.dropout_rate == 0:
            return {l: tuple(sorted(v, key=float)) for l, v in g.items()}
        out = {}
        for l, (a, b) in g.items():
            s = self.systems[l]
            if a != b and self.rng.random() < self.dropout_rate:
                b = a
            als = [a, b]
            for k in range(2):
                if self.rng.random() < self.error_rate:
                    i = s.alleles.index(als[k])
                    j = min(max(i + (1 if self.rng.random() < 0.5 else -1), 0), s.n_alleles - 1)
                    als[k] = s.alleles[j]
            out[l] = tuple(sorted(als, key=float))
        return out

    # -- families -----------------------------------------------------------------
    def family(self, case_id: str, structure: str):
        """(query sample, reference samples) for one family."""
        if structure not in STRUCTURES:
            raise KeyError(f"unknown family structure {structure!r}; known: {', '.join(STRUCTURES)}")
        sexes = ["male", "female"]
        fa, mo = self.founder(), self.founder()
        refs: list[SimulatedSample] = []
        if structure == "grandparents":
            pgf, pgm = fa, mo
            fa = self.child(pgf, pgm)
            mo = self.founder()
        child = self.child(fa, mo)
        csex = sexes[self.rng.integers(2)]
        query = SimulatedSample(f"{case_id}-Q", "query", "", "", csex, self._observe(child))
        for role, relation in STRUCTURES[structure]:
            if role == "father":
                g, sex = fa, "male"
            elif role == "mother":
                g, sex = mo, "female"
            elif role in ("sib", "sib2"):
                g, sex = self.child(fa, mo), sexes[self.rng.integers(2)]
            elif role == "hsib":
                g, sex = self.child(fa, self.founder()), sexes[self.rng.integers(2)]
            elif role == "pgf":
                g, sex = pgf, "male"
            elif role == "pgm":
                g, sex = pgm, "female"
            refs.append(SimulatedSample(f"{case_id}-{role}", "reference", case_id, relation, sex, self._observe(g)))
        return query, refs

    def pedigree_genotypes(self, pedigree) -> dict:
        """True genotypes of every person of ``pedigree`` (a
        :class:`kinship.pedigree.Pedigree`, or records) by gene dropping: founders
        from the founder pool (or drawn from the frequencies), each child one allele
        of each parent, mutated by the parent's sex-specific model."""
        from .pedigree import Pedigree

        ped = Pedigree.from_records(pedigree)
        out = {}
        for pid in ped.order:
            p = ped.persons[pid]
            out[pid] = self.founder() if p.father is None else self.child(out[p.father], out[p.mother])
        return out

    def case_family(self, case, sample_prefix: str | None = None):
        """Samples of one family given as a :class:`kinship.cases.Case`: a query per
        missing person (``"<prefix><person>-Q"``) and a reference per typed person
        (its sample id, ``case_id`` = the case's, relation from the case's relation
        words or ``""``).  Returns ``(queries, references, truth)`` with ``truth``
        ``{query id: missing person}``."""
        g = self.pedigree_genotypes(case.pedigree)
        pre = f"{case.id}-" if sample_prefix is None else sample_prefix
        sexes = ["male", "female"]
        queries, refs, truth = [], [], {}
        for m in case.missing:
            sx = case.pedigree.persons[m].sex
            if sx == "unknown":
                sx = sexes[self.rng.integers(2)]
            q = SimulatedSample(f"{pre}{m}-Q" if len(case.missing) > 1 else f"{pre}Q", "query", "", "",
                                sx, self._observe(g[m]))
            queries.append(q)
            truth[q.sample_id] = m
        for p in case.typed:
            sid = case.samples[p]
            sx = case.pedigree.persons[p].sex
            if sx == "unknown":
                sx = sexes[self.rng.integers(2)]
            refs.append(SimulatedSample(sid, "reference", case.id, case.relations.get(sid, ""), sx,
                                        self._observe(g[p])))
        return queries, refs, truth

    def relation_family(self, case_id: str, relations, missing_sex: str = "unknown"):
        """One family of references given by relation words (``[(role, relation)]``,
        sample ids ``"<case>-<role>"``) around one missing child: ``(query,
        references)`` as :meth:`family`."""
        from .cases import case_from_relations

        case = case_from_relations(case_id, [(f"{case_id}-{r}", w, "") for r, w in relations],
                                   missing_sex=missing_sex)
        qs, refs, _ = self.case_family(case)
        return qs[0], refs

    def population(self, n_cases: int, n_unrelated: int = 0, proportions: Mapping[str, float] | None = None,
                   n_unrelated_references: int = 0, prefix: str = "C"):
        """Samples and a truth table for ``n_cases`` families plus unrelated persons.

        Returns ``(samples, truth)`` where ``truth`` maps each planted query id to
        ``(case_id, structure)``.  Unrelated queries have ids ``U...``; unrelated
        single-reference cases (a father with no planted child) ``R...``.
        """
        proportions = dict(proportions or {"both-parents": 0.4, "father": 0.2, "mother": 0.1,
                                           "parent-sibling": 0.1, "grandparents": 0.1, "siblings": 0.1})
        names = list(proportions)
        w = np.array([proportions[n] for n in names], dtype=float)
        w /= w.sum()
        samples: list[SimulatedSample] = []
        truth = {}
        width = max(4, len(str(n_cases)))
        for i in range(n_cases):
            st = names[self.rng.choice(len(names), p=w)]
            cid = f"{prefix}{i:0{width}d}"
            q, refs = self.family(cid, st)
            samples.append(q)
            samples.extend(refs)
            truth[q.sample_id] = (cid, st)
        for i in range(n_unrelated):
            samples.append(SimulatedSample(f"U{i:0{width}d}", "query", "", "", ["male", "female"][self.rng.integers(2)],
                                           self._observe(self.founder())))
        for i in range(n_unrelated_references):
            cid = f"R{i:0{width}d}"
            samples.append(SimulatedSample(f"{cid}-father", "reference", cid, "father", "male",
                                           self._observe(self.founder())))
        return samples, truth
