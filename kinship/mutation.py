"""Mutation models for parent-to-child transmission.

A model turns the allele system of a locus into a row-stochastic matrix
``M[i, j] = P(child receives j | parent transmits i)``.  Definitions follow
pedmut (R) and Familias; see ``docs/mutation-models.md`` for the formulas, the
sources and worked examples.

* :class:`Equal` ``(rate)``: ``M[i, j] = rate / (A - 1)`` for ``j != i``,
  ``M[i, i] = 1 - rate``.
* :class:`Proportional` ``(rate)``: ``alpha = rate / sum_k p_k (1 - p_k)``,
  ``M = (1 - alpha) I + alpha 1 p^T``; an error if an entry exceeds 1.
* :class:`Stepwise` ``(rate, rate2, range)``: alleles fall into *microvariant
  groups* by their fractional part (``9``, ``10`` in one group; ``9.3``, ``10.3``
  in another).  Within the group of ``i``, the other alleles share ``rate`` in
  proportion to ``range ** |i - j|``; the alleles of other groups share
  ``rate2`` equally; the diagonal takes the rest (``1 - rate - rate2``, or
  ``1 - rate`` when every allele is in ``i``'s group, or ``1 - rate2`` when ``i``
  is alone in its group).  This is pedmut's ``stepwise`` and Familias'
  "Stepwise (unstationary)".
* :class:`ExtendedStepwise` ``(rate, rate2, range)``: Familias' extended stepwise
  model (see :class:`ExtendedStepwise`).
* :class:`Custom` ``(matrix, alleles)``: any row-stochastic matrix.

Sexes and loci: :class:`MutationModel` holds a female and a male model and
optional per-locus overrides.  The silent allele (see
:mod:`kinship.frequencies`) never mutates and is never a mutation target.

Every parent-to-child transmission uses the transmitting parent's model, in
both hypotheses, typed or untyped parent alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .frequencies import SILENT, LocusAlleles
from .markers import LocusError, canonical_locus

__all__ = [
    "Equal",
    "Proportional",
    "Stepwise",
    "ExtendedStepwise",
    "Custom",
    "MutationModel",
    "MutationError",
]


class MutationError(ValueError):
    """A mutation model that cannot be built for a locus."""


def _check_rate(name, v, cls):
    if v is None or not isinstance(v, (int, float)) or isinstance(v, bool) or not (0.0 <= v <= 1.0):
        raise MutationError(f"{cls}: {name} must be a number in [0, 1], got {v!r}")
    return float(v)


class _Base:
    def matrix(self, la: LocusAlleles) -> np.ndarray:
        labels = [a for a in la.alleles if a != SILENT]
        freqs = np.array([p for a, p in zip(la.alleles, la.freqs) if a != SILENT])
        try:
            core = self._core(labels, freqs, la.locus)
        except MutationError as e:
            raise MutationError(f"locus {la.locus}: {e}") from None
        if not la.silent:
            return core
        A = la.n_alleles
        M = np.eye(A)
        idx = [i for i, a in enumerate(la.alleles) if a != SILENT]
        M[np.ix_(idx, idx)] = core
        return M

    @property
    def is_null(self) -> bool:
        return False


@dataclass(frozen=True)
class Equal(_Base):
    """All mutations equally likely (pedmut ``equal``)."""

    rate: float

    def __post_init__(self):
        _check_rate("rate", self.rate, "Equal")

    def _core(self, labels, freqs, locus):
        A = len(labels)
        if A == 1:
            return np.ones((1, 1))
        M = np.full((A, A), self.rate / (A - 1))
        np.fill_diagonal(M, 1.0 - self.rate)
        return M

    @property
    def is_null(self):
        return self.rate == 0.0


@dataclass(frozen=True)
class Proportional(_Base):
    """Mutation to allele j in proportion to its frequency (pedmut ``proportional``)."""

    rate: float

    def __post_init__(self):
        _check_rate("rate", self.rate, "Proportional")

    def _core(self, labels, freqs, locus):
        A = len(labels)
        if A == 1:
            return np.ones((1, 1))
        # over the alleles that mutate (the silent allele is left out by the caller):
        # the frequencies scaled to sum to 1, so that every row sums to 1
        freqs = np.asarray(freqs, dtype=np.float64) / math.fsum(freqs)
        denom = float(np.sum(freqs * (1.0 - freqs)))
        alpha = self.rate / denom
        M = (1.0 - alpha) * np.eye(A) + alpha * freqs[None, :]
        if np.any(M > 1.0) or np.any(M < 0.0):
            raise MutationError(
                f"proportional model with rate {self.rate} gives probabilities outside "
                f"[0, 1] (alpha = {alpha:.4g}); reduce the rate"
            )
        return M

    @property
    def is_null(self):
        return self.rate == 0.0


def _numeric(labels, model):
    vals = []
    for a in labels:
        try:
            vals.append(float(a))
        except ValueError:
            raise MutationError(
                f"the {model} model needs numeric allele labels, found {a!r}"
            ) from None
    return np.array(vals)


def _micro_group(vals: np.ndarray) -> np.ndarray:
    # fractional part in tenths: 9 -> 0, 9.3 -> 3, 8.7 -> 7 (see docs/mutation-models.md)
    return np.rint((vals - np.floor(vals)) * 10).astype(int) % 10


@dataclass(frozen=True)
class Stepwise(_Base):
    """Stepwise model with microvariant rate (pedmut ``stepwise``, Familias
    "Stepwise (unstationary)").

    ``rate``: total probability of a mutation to another allele of the same
    microvariant group; ``rate2``: total probability of a mutation to an allele of
    another group; ``range``: the relative probability of n+1 versus n steps.
    """

    rate: float
    rate2: float = 0.0
    range: float = 0.5

    def __post_init__(self):
        _check_rate("rate", self.rate, "Stepwise")
        _check_rate("rate2", self.rate2, "Stepwise")
        if self.rate + self.rate2 > 1.0:
            raise MutationError(f"Stepwise: rate + rate2 must be <= 1, got {self.rate + self.rate2}")
        if not isinstance(self.range, (int, float)) or not self.range > 0:
            raise MutationError(f"Stepwise: range must be a positive number, got {self.range!r}")
        if not math.isfinite(self.range):
            raise MutationError(f"Stepwise: range must be finite, got {self.range!r}")

    def _core(self, labels, freqs, locus):
        A = len(labels)
        if A == 1:
            return np.ones((1, 1))
        x = _numeric(labels, "stepwise")
        grp = _micro_group(x)
        M = np.zeros((A, A))
        for i in range(A):
            same = grp == grp[i]
            same_other = same.copy()
            same_other[i] = False
            other = ~same
            n_same_other = int(same_other.sum())
            n_other = int(other.sum())
            diag = 1.0
            if n_same_other:
                w = self.range ** np.abs(x[same_other] - x[i])
                M[i, same_other] = self.rate * w / w.sum()
                diag -= self.rate
            if n_other:
                M[i, other] = self.rate2 / n_other
                diag -= self.rate2
            M[i, i] = diag
        return M

    @property
    def is_null(self):
        return self.rate == 0.0 and self.rate2 == 0.0


@dataclass(frozen=True)
class ExtendedStepwise(Stepwise):
    """Familias 3's "Extended stepwise" model (``.fam`` model code 4).

    It is the same matrix as :class:`Stepwise` with ``rate2``: integer-step
    mutations share ``rate`` in proportion to ``range ** steps`` within the
    microvariant group, and ``rate2`` is spread evenly over every allele of the
    other groups.  The Familias R documentation (``FamiliasLocus``) says the
    stepwise model with MutationRate2 "is called 'Extended stepwise' in Familias
    3.0", and pedFamilias reads code 4 as pedmut's ``stepwise``; see
    ``docs/mutation-models.md``.  The separate name keeps job files and imported
    Familias cases explicit about the model they asked for.
    """


@dataclass(frozen=True, eq=False)
class Custom(_Base):
    """A user matrix over named alleles: ``Custom({"9": {"9": 0.99, "10": 0.01}, ...})``
    or ``Custom(array, alleles=[...])``.  Alleles of the locus that the matrix does
    not name get identity rows (no mutation)."""

    matrix_: object
    alleles: tuple = ()

    def _core(self, labels, freqs, locus):
        from .markers import normalize_allele

        if isinstance(self.matrix_, Mapping):
            named = {normalize_allele(k): {normalize_allele(k2): float(v2) for k2, v2 in v.items()}
                     for k, v in self.matrix_.items()}
        else:
            arr = np.asarray(self.matrix_, dtype=float)
            al = [normalize_allele(a) for a in self.alleles]
            if arr.shape != (len(al), len(al)):
                raise MutationError("Custom: matrix must be square with one row per allele")
            named = {a: {b: arr[i, j] for j, b in enumerate(al)} for i, a in enumerate(al)}
        A = len(labels)
        M = np.eye(A)
        pos = {a: i for i, a in enumerate(labels)}
        for a, row in named.items():
            if a not in pos:
                continue
            i = pos[a]
            M[i, :] = 0.0
            for b, v in row.items():
                if b in pos:
                    M[i, pos[b]] = v
            s = M[i].sum()
            if abs(s - 1.0) > 1e-9:
                raise MutationError(f"Custom: row {a} sums to {s} over the locus alleles, not 1")
        if np.any(M < 0):
            raise MutationError("Custom: negative entries")
        return M


class MutationModel:
    """Female and male mutation models, with optional per-locus overrides.

    ``MutationModel(Stepwise(rate=0.002))`` uses one model for both sexes;
    ``MutationModel(female=..., male=...)`` sets them apart;
    ``per_locus={"D3S1358": MutationModel(...) or model}`` overrides loci.
    """

    def __init__(self, model=None, *, female=None, male=None, per_locus: Mapping | None = None):
        if model is not None and (female is not None or male is not None):
            raise ValueError("give either one model for both sexes or female= and male=, not both")
        self.female = female if model is None else model
        self.male = male if model is None else model
        for nm, m in (("female", self.female), ("male", self.male)):
            if m is not None and not isinstance(m, _Base):
                raise TypeError(f"{nm} mutation model must be Equal, Proportional, Stepwise, "
                                f"ExtendedStepwise or Custom, got {m!r}")
        self.per_locus: dict = {}
        for locus, m in (per_locus or {}).items():
            try:
                key = canonical_locus(locus)
            except LocusError:
                key = str(locus).strip()  # a locus of a user's own table
            if key in self.per_locus:
                raise ValueError(f"per_locus names locus {key} twice")
            self.per_locus[key] = m if isinstance(m, MutationModel) else MutationModel(m)

    def for_locus(self, locus: str) -> "MutationModel":
        return self.per_locus.get(locus, self)

    def check_loci(self, loci) -> None:
        """Refuse per-locus overrides for loci that are not evaluated (a typo
        would otherwise silently fall back to the default model)."""
        unknown = sorted(set(self.per_locus) - set(loci))
        if unknown:
            raise LocusError(
                f"the mutation model has per-locus overrides for {', '.join(unknown)}, which "
                f"the frequency table does not have; fix the locus names"
            )

    def matrices(self, la: LocusAlleles):
        """(female matrix or None, male matrix or None) for a locus."""
        mm = self.for_locus(la.locus)
        f = None if mm.female is None or mm.female.is_null else mm.female.matrix(la)
        m = None if mm.male is None or mm.male.is_null else mm.male.matrix(la)
        return f, m

    @property
    def is_null(self) -> bool:
        parts = [self.female, self.male] + [x for p in self.per_locus.values() for x in (p.female, p.male)]
        return all(p is None or p.is_null for p in parts)

    def describe(self) -> dict:
        def d(m):
            if m is None:
                return None
            if isinstance(m, Custom):
                return {"model": "custom"}
            out = {"model": type(m).__name__.lower()}
            out.update({k: v for k, v in m.__dict__.items()})
            return out

        return {
            "female": d(self.female),
            "male": d(self.male),
            "per_locus": {k: v.describe() for k, v in self.per_locus.items()},
        }

    def __repr__(self):
        return f"MutationModel(female={self.female!r}, male={self.male!r})"
