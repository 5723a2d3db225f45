"""Families at import: the case of every reference, checked against its profiles.

A reference belongs to a case (``case_id``).  The case is described either by
the relation words of its references (:func:`kinship.cases.case_from_relations`)
or by a family pedigree stored with the dataset (:func:`formats.write_cases`,
from a ped file or a Familias ``.fam`` file).  Before anything is written, the
importer checks each case that the import touches, with the references already
in the dataset and the new ones together:

* the relation words can be placed on one pedigree, and every recorded sex
  agrees with the place (a "father" typed female by amelogenin is an error);
* the typed relatives are not excluded as drawn: a pair of relatives that
  cannot be related as the pedigree says without mutation at two loci or more
  is an error naming the case, the samples and the loci (a sample mix-up or a
  wrong relation); one such locus is a note (a mutation can explain it).

Messages name cases, samples and loci, never alleles.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from kinship.cases import (Case, CaseError, case_from_relations, consistency_error,
                           consistency_note, inconsistencies)

from .errors import FamilyError

__all__ = ["check_families", "relation_cases"]

def relation_cases(references: Sequence, exclude: Iterable[str] = ()) -> list:
    """The cases described by relation words, one per ``case_id`` of
    ``references`` (profiles with ``kind="reference"``; ``self`` and empty
    relations are left out), except the case ids in ``exclude`` (they have a
    pedigree).  A case that cannot be placed raises :class:`FamilyError`."""
    skip = set(exclude)
    by_case: dict = {}
    for p in references:
        if p.kind != "reference" or p.case_id in skip or p.relation in ("", "self"):
            continue
        by_case.setdefault(p.case_id, []).append(p)
    out = []
    for cid, ps in sorted(by_case.items()):
        rels = [(p.sample_id, p.relation, p.sex) for p in ps]   # the case model reads M/F
        ms = "male" if any(r[1] == "child" for r in rels) else "unknown"
        try:
            out.append(case_from_relations(cid, rels, missing_sex=ms))
        except CaseError as e:
            raise FamilyError(f"{e}. Fix: correct the relations in the samples manifest") from None
    return out


def check_families(new_profiles: Sequence, dataset=None, new_cases: Sequence[Case] = ()) -> list:
    """Check every case touched by an import (see the module doc); returns the
    notes, raises :class:`FamilyError` for a family that contradicts itself.

    ``new_profiles``: the profiles about to be written; ``dataset``: the dataset
    they are written to (a path or an opened :class:`formats.Dataset`; None or not
    yet existing: the new profiles alone); ``new_cases``: pedigrees about to be
    stored."""
    from .dataset import open_dataset

    refs = {p.sample_id: p for p in new_profiles if p.kind == "reference"}
    stored: dict = {}
    ds = dataset
    if ds is not None and not hasattr(ds, "cases"):
        ds = open_dataset(dataset) if (Path(dataset) / "_dataset.json").exists() else None
    touched = {p.case_id for p in refs.values()} | {c.id for c in new_cases}
    if ds is not None:
        stored = ds.cases()
        if touched:
            import numpy as np

            arr = ds.load(kind="reference")
            rows = np.nonzero(np.isin(np.asarray(arr.case_id, dtype=object).astype(str),
                                      sorted(touched)))[0]
            for p in arr.take(rows).to_profiles() if len(rows) else []:
                refs.setdefault(p.sample_id, p)
    pedigrees = {c.id: c for c in stored.values() if c.id in touched}
    pedigrees.update({c.id: c for c in new_cases})
    cases = list(pedigrees.values()) + relation_cases(list(refs.values()), exclude=pedigrees)
    notes = []
    for case in cases:
        if case.id not in touched:
            continue
        linked = {s: refs[s] for s in case.samples.values() if s in refs}
        for p, s in case.samples.items():
            if s not in refs or refs[s].case_id != case.id:
                where = "is not a reference of the import or the dataset" if s not in refs else \
                    f"belongs to case {refs[s].case_id!r}"
                raise FamilyError(
                    f"case {case.id!r}: person {p!r} is linked to sample {s!r}, which {where}. Fix: "
                    f"import the sample as a reference with case_id {case.id!r}, or correct the "
                    f"sample column of the pedigree")
        try:
            case.check_sexes({s: p.sex for s, p in linked.items()})
        except CaseError as e:
            raise FamilyError(str(e)) from None
        found = inconsistencies(case, {s: p.genotypes for s, p in linked.items()})
        msg = consistency_error(case, found)
        if msg:
            raise FamilyError(msg)
        note = consistency_note(case, found)
        if note:
            notes.append(note)
    return notes
