"""Reference cases: typed relatives placed on a pedigree around a missing person.

A case is a set of references, each with its *relation to the missing person*
``M`` (the vocabulary of the profile schema).  :func:`case_pedigree` places them:

================  ==========================================================
relation          placement
================  ==========================================================
``self``          a direct sample of M (identity; no pedigree)
``father``        M's father
``mother``        M's mother
``full-sibling``  child of M's father and mother
``half-sibling``  child of M's father and another (untyped) mother; write
                  ``maternal-half-sibling`` for a child of M's mother
``child``         child of M and an untyped partner
``grandfather``   father of M's father (``maternal-grandfather``: of M's mother)
``grandmother``   mother of M's father (``maternal-grandmother``: of M's mother)
``uncle``/``aunt``  full sibling of M's father (``maternal-uncle``/``maternal-aunt``:
                  of M's mother)
================  ==========================================================

Untyped connecting persons (M's parents, a grandparent's partner, ...) are added
as needed.  The default side is paternal where the relation does not say; the
side matters only through the sex-specific mutation rates and through which
relatives share ancestors, and it is recorded with every case.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .pedigree import Pedigree, Person

__all__ = ["RELATIONS", "case_pedigree", "CaseError", "MISSING"]

MISSING = "M"

RELATIONS = (
    "self", "father", "mother", "full-sibling", "half-sibling", "maternal-half-sibling",
    "child", "grandfather", "grandmother", "maternal-grandfather", "maternal-grandmother",
    "uncle", "aunt", "maternal-uncle", "maternal-aunt",
)


class CaseError(ValueError):
    """A set of relatives that cannot be placed on one pedigree."""


def case_pedigree(relatives, missing_sex: str = "unknown") -> Pedigree:
    """Pedigree around missing person ``"M"`` from ``[(ref_id, relation, sex), ...]``.

    Sex of a reference may be ``"unknown"`` where the relation fixes it
    (father/grandfather/uncle are male; mother/grandmother/aunt female).
    """
    persons: dict[str, Person] = {}
    relatives = list(relatives)
    ids = [r[0] for r in relatives]
    if len(set(ids)) != len(ids):
        raise CaseError(f"a reference appears twice in the case: {ids}")
    reserved = {"M", "_MF", "_MM", "_PGF", "_PGM", "_MGF", "_MGM", "_HSM", "_HSF", "_CP"}
    for rid in ids:
        if rid in reserved:
            raise CaseError(f"reference id {rid!r} is reserved for the case pedigree; rename it")

    rel_of = {rid: rel for rid, rel, _ in relatives}
    sex_of = {}
    fixed = {
        "father": "male", "grandfather": "male", "maternal-grandfather": "male",
        "uncle": "male", "maternal-uncle": "male",
        "mother": "female", "grandmother": "female", "maternal-grandmother": "female",
        "aunt": "female", "maternal-aunt": "female",
    }
    for rid, rel, sex in relatives:
        if rel not in RELATIONS:
            raise CaseError(
                f"reference {rid!r}: unknown relation {rel!r}; known relations: {', '.join(RELATIONS)}"
            )
        if rel == "self":
            raise CaseError(
                f"reference {rid!r} is a direct sample of the missing person (relation 'self'): "
                "score it in identity mode, not on a pedigree"
            )
        s = (sex or "unknown").lower()
        s = {"m": "male", "f": "female", "": "unknown"}.get(s, s)
        if rel in fixed:
            if s not in ("unknown", fixed[rel]):
                raise CaseError(f"reference {rid!r}: relation {rel!r} needs sex {fixed[rel]}, recorded {s}")
            s = fixed[rel]
        sex_of[rid] = s

    def typed(rel):
        return [rid for rid, r in rel_of.items() if r == rel]

    def one(rel):
        lst = typed(rel)
        if len(lst) > 1:
            raise CaseError(f"the case has {len(lst)} references with relation {rel!r}: {lst}")
        return lst[0] if lst else None

    def add(pid, sex, father=None, mother=None):
        persons[pid] = Person(pid, father, mother, sex)

    father = one("father") or "_MF"
    mother = one("mother") or "_MM"
    need_parents = any(
        r in rel_of.values()
        for r in ("father", "mother", "full-sibling", "half-sibling", "maternal-half-sibling",
                  "grandfather", "grandmother", "maternal-grandfather", "maternal-grandmother",
                  "uncle", "aunt", "maternal-uncle", "maternal-aunt")
    )
    # paternal grandparents exist if any paternal grandparent/uncle/aunt is typed
    pgf = one("grandfather") or "_PGF"
    pgm = one("grandmother") or "_PGM"
    mgf = one("maternal-grandfather") or "_MGF"
    mgm = one("maternal-grandmother") or "_MGM"
    paternal_gp = any(r in rel_of.values() for r in ("grandfather", "grandmother", "uncle", "aunt"))
    maternal_gp = any(
        r in rel_of.values()
        for r in ("maternal-grandfather", "maternal-grandmother", "maternal-uncle", "maternal-aunt")
    )
    if paternal_gp:
        add(pgf, "male")
        add(pgm, "female")
    if maternal_gp:
        add(mgf, "male")
        add(mgm, "female")
    if need_parents:
        add(father, "male", *((pgf, pgm) if paternal_gp else (None, None)))
        add(mother, "female", *((mgf, mgm) if maternal_gp else (None, None)))
        add(MISSING, missing_sex, father, mother)
    else:
        add(MISSING, missing_sex)
    for rid in typed("full-sibling"):
        add(rid, sex_of[rid], father, mother)
    if typed("half-sibling"):
        add("_HSM", "female")
        for rid in typed("half-sibling"):
            add(rid, sex_of[rid], father, "_HSM")
    if typed("maternal-half-sibling"):
        add("_HSF", "male")
        for rid in typed("maternal-half-sibling"):
            add(rid, sex_of[rid], "_HSF", mother)
    for rel, gf, gm in (("uncle", pgf, pgm), ("aunt", pgf, pgm),
                        ("maternal-uncle", mgf, mgm), ("maternal-aunt", mgf, mgm)):
        for rid in typed(rel):
            add(rid, sex_of[rid], gf, gm)
    kids = typed("child")
    if kids:
        if missing_sex not in ("male", "female"):
            # M's sex decides whether M is the father or the mother of the child
            raise CaseError(
                "a case with a 'child' reference needs the missing person's sex "
                "(is M the child's father or mother?)"
            )
        add("_CP", "female" if missing_sex == "male" else "male")
        for rid in kids:
            par = (MISSING, "_CP") if missing_sex == "male" else ("_CP", MISSING)
            add(rid, sex_of[rid], *par)
    return Pedigree(list(persons.values()))
