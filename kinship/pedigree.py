"""Pedigrees: persons, parents, sexes, validated.

A pedigree is a list of records ``{"id", "father", "mother", "sex"}``.
Founders have ``father = mother = None``; a non-founder names both parents, and
both must be in the pedigree.  ``sex`` is ``"male"``, ``"female"`` or
``"unknown"`` (``"m"``/``"f"``/``1``/``2`` are accepted); a father must be male,
a mother female.  Cycles (a person among their own ancestors) are errors.
Loops (inbreeding, e.g. cousin marriage) are allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

__all__ = ["Person", "Pedigree", "PedigreeError"]


class PedigreeError(ValueError):
    """An inconsistent pedigree, naming the person at fault."""


_SEX = {
    "male": "male", "m": "male", "1": "male", "man": "male",
    "female": "female", "f": "female", "2": "female", "woman": "female",
    "unknown": "unknown", "u": "unknown", "0": "unknown", "": "unknown", "none": "unknown",
}


def _sex(value, pid) -> str:
    key = "none" if value is None else str(value).strip().lower()
    if key not in _SEX:
        raise PedigreeError(f"person {pid!r}: sex must be 'male', 'female' or 'unknown', got {value!r}")
    return _SEX[key]


@dataclass(frozen=True)
class Person:
    id: str
    father: str | None
    mother: str | None
    sex: str

    @property
    def is_founder(self) -> bool:
        return self.father is None


class Pedigree:
    """A validated pedigree.  ``order`` lists persons with parents before children."""

    def __init__(self, persons: Iterable[Person]):
        self.persons: dict[str, Person] = {}
        for p in persons:
            if p.id in self.persons:
                raise PedigreeError(f"person {p.id!r} appears twice in the pedigree")
            self.persons[p.id] = p
        for p in self.persons.values():
            if (p.father is None) != (p.mother is None):
                raise PedigreeError(
                    f"person {p.id!r} has only one parent given (father={p.father!r}, "
                    f"mother={p.mother!r}); give both parents (add an untyped one) or none"
                )
            if p.father is None:
                continue
            for role, pid, need in (("father", p.father, "male"), ("mother", p.mother, "female")):
                if pid == p.id:
                    raise PedigreeError(f"person {p.id!r} is given as their own {role}")
                if pid not in self.persons:
                    raise PedigreeError(
                        f"person {p.id!r}: {role} {pid!r} is not in the pedigree; add "
                        f"{pid!r} as a person (founder if unknown)"
                    )
                sex = self.persons[pid].sex
                if sex != need:
                    raise PedigreeError(
                        f"person {pid!r} is the {role} of {p.id!r} but has sex {sex!r}; "
                        f"a {role} must be {need}"
                    )
            if p.father == p.mother:
                raise PedigreeError(f"person {p.id!r} has the same father and mother {p.father!r}")
        self.order = self._topological()
        self.children: dict[str, list[str]] = {pid: [] for pid in self.persons}
        for pid in self.order:
            p = self.persons[pid]
            if p.father is not None:
                self.children[p.father].append(pid)
                self.children[p.mother].append(pid)

    def _topological(self) -> list[str]:
        state: dict[str, int] = {}
        order: list[str] = []

        def visit(pid, path):
            s = state.get(pid, 0)
            if s == 2:
                return
            if s == 1:
                cyc = " -> ".join(path[path.index(pid):] + [pid])
                raise PedigreeError(f"the pedigree has a cycle: {cyc} (a person is their own ancestor)")
            state[pid] = 1
            p = self.persons[pid]
            if p.father is not None:
                visit(p.father, path + [pid])
                visit(p.mother, path + [pid])
            state[pid] = 2
            order.append(pid)

        for pid in self.persons:
            visit(pid, [])
        return order

    @classmethod
    def from_records(cls, records) -> "Pedigree":
        if isinstance(records, Pedigree):
            return records
        persons = []
        for i, r in enumerate(records):
            if isinstance(r, Person):
                persons.append(r)
                continue
            if not isinstance(r, Mapping):
                raise PedigreeError(f"pedigree record {i} must be a dict with id, father, mother, sex")
            unknown = set(r) - {"id", "father", "mother", "sex"}
            if unknown:
                raise PedigreeError(f"pedigree record {i} ({r.get('id')!r}): unknown keys {sorted(unknown)}")
            if "id" not in r or r["id"] is None or str(r["id"]) == "":
                raise PedigreeError(f"pedigree record {i} has no id")
            pid = str(r["id"])
            fa = r.get("father")
            mo = r.get("mother")
            persons.append(
                Person(
                    pid,
                    None if fa in (None, "", 0, "0") else str(fa),
                    None if mo in (None, "", 0, "0") else str(mo),
                    _sex(r.get("sex"), pid),
                )
            )
        return cls(persons)

    def __contains__(self, pid) -> bool:
        return pid in self.persons

    def __len__(self) -> int:
        return len(self.persons)

    @property
    def founders(self) -> list[str]:
        return [pid for pid in self.order if self.persons[pid].father is None]

    def ancestors(self, pid: str) -> set[str]:
        out: set[str] = set()
        stack = [pid]
        while stack:
            p = self.persons[stack.pop()]
            if p.father is not None:
                for q in (p.father, p.mother):
                    if q not in out:
                        out.add(q)
                        stack.append(q)
        return out

    def renamed(self, names: Mapping[str, str]) -> "Pedigree":
        """This pedigree with the persons of ``names`` (``{old id: new id}``; the
        others keep theirs) renamed: the same persons, parents, sexes and order,
        without validating again.  The new ids must be distinct from each other and
        from the ids kept (a renaming of a valid pedigree is then valid)."""
        def f(x):
            return None if x is None else names.get(x, x)

        new = Pedigree.__new__(Pedigree)
        new.persons = {f(i): Person(f(i), f(p.father), f(p.mother), p.sex)
                       for i, p in self.persons.items()}
        new.order = [f(i) for i in self.order]
        new.children = {f(i): [f(c) for c in cs] for i, cs in self.children.items()}
        return new

    def with_person(self, person: Person) -> "Pedigree":
        return Pedigree(list(self.persons.values()) + [person])

    def records(self) -> list[dict]:
        return [
            {"id": p.id, "father": p.father, "mother": p.mother, "sex": p.sex}
            for p in (self.persons[i] for i in self.order)
        ]
