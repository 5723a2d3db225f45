"""Fisher-Wright simulation of paternal lineages under the single-step model.

Used to measure the recall of the lineage search and to build benchmark
databases; nothing here is needed to run a search.

Model
-----
* A haploid Wright-Fisher population of ``n_men`` men per generation, constant
  size, non-overlapping generations: every man of generation ``t`` picks his
  father uniformly at random from generation ``t - 1``.
* Each son inherits his father's haplotype; every slot then mutates
  independently with its per-meiosis rate ``mu_s``, by +1 or -1 repeat with
  probability ``mu_s / 2`` each (the model of :mod:`kinship.ystr.stepwise`).
  Simulation runs in the comparison view (DYS389II as II-I), so the DYS389I
  segment and the II-I segment mutate independently; the stored DYS389II is their
  sum. Copies of a multi-copy marker mutate independently and are re-sorted.
  Alleles are kept within 1..62 repeats.
* Generation 0 is made of ``n_founders`` founder haplotypes, each copied to an
  equal share of the men; founder haplotypes scatter around per-slot centres
  (the middle ladder allele of the panel's kit where known) with a two-sided
  geometric spread, so that unrelated lineages differ at most slots.

The last ``keep`` generations are kept with their father links, so that
:func:`relative_pairs` can draw pairs of men exactly ``m`` meioses apart on the
pedigree (father-son 1, brothers 2, uncle-nephew 3, cousins 4, ...).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .haplotypes import MISSING, YHaplotypes
from .loci import DYS389II, YPanel, get_panel

__all__ = ["WFPopulation", "simulate_population", "relative_pairs", "mutate", "haplotypes_from_comparison"]


def _ladder_centres(panel: YPanel) -> np.ndarray:
    """Per comparison slot: the middle allele of the kit ladder (15 where unknown)."""
    lad: dict[str, list[float]] = {}
    f = resources.files("kinship").joinpath("data", "loci", "kit_markers.csv")
    with f.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            vals = [float(x) for x in row["ladder_alleles"].split() if float(x).is_integer()]
            if vals:
                lad.setdefault(row["marker"], vals)
    out = []
    for m in panel.markers:
        v = lad.get(m.name)
        c = float(np.median(v)) if v else 15.0
        if m.name == DYS389II:
            c1 = float(np.median(lad.get("DYS389I", [13.0])))
            c = c - c1
        out.extend([c] * m.copies)
    return np.round(np.array(out)).astype(np.int32)


def haplotypes_from_comparison(panel: YPanel, cmp: np.ndarray, ids=None) -> YHaplotypes:
    """Stored haplotypes from comparison values (DYS389II = DYS389I + II-I segment)."""
    a = np.array(cmp, dtype=np.int16, copy=True)
    d = panel.dys389_slots()
    if d is not None:
        i1, i2 = d
        ok = (a[:, i1] >= 0) & (a[:, i2] >= 0)
        a[:, i2] = np.where(ok, a[:, i1] + a[:, i2], MISSING)
    for _, idx in panel.multicopy_groups():
        a[:, list(idx)] = np.sort(a[:, list(idx)], axis=1)
    return YHaplotypes(panel, a, ids)


def mutate(cmp: np.ndarray, slot_rates, rng: np.random.Generator, panel: YPanel, meioses: int = 1) -> np.ndarray:
    """Comparison values after ``meioses`` single-step meioses (whole repeats only)."""
    x = np.array(cmp, dtype=np.int32, copy=True)
    mu = np.asarray(slot_rates, dtype=float)
    groups = [list(idx) for _, idx in panel.multicopy_groups()]
    for _ in range(int(meioses)):
        hit = rng.random(x.shape) < mu
        if hit.any():
            sign = np.where(rng.random(x.shape) < 0.5, -10, 10)
            x = np.where(hit & (x >= 0), np.clip(x + sign, 10, 620), x)
        for g in groups:
            x[:, g] = np.sort(x[:, g], axis=1)
    return x


@dataclass
class WFPopulation:
    """The last generations of a Wright-Fisher run.

    ``cmp[g]``: comparison values (int32, tenths) of generation ``g`` (0 = oldest
    kept); ``father[g]``: index of each man's father in generation ``g - 1``
    (``father[0]`` is all -1).
    """

    panel: YPanel
    slot_rates: np.ndarray
    cmp: list
    father: list

    @property
    def n_generations(self) -> int:
        return len(self.cmp)

    def generation(self, g: int) -> YHaplotypes:
        ids = [f"g{g}_{i}" for i in range(self.cmp[g].shape[0])]
        return haplotypes_from_comparison(self.panel, self.cmp[g], ids)

    def all_men(self) -> tuple[YHaplotypes, np.ndarray]:
        """Every kept man as one haplotype set, and the first global row of each generation."""
        offs = np.cumsum([0] + [c.shape[0] for c in self.cmp])
        hs = YHaplotypes.concat([self.generation(g) for g in range(self.n_generations)])
        return hs, offs


def simulate_population(
    panel: YPanel | str,
    slot_rates,
    *,
    n_men: int = 10_000,
    generations: int = 200,
    n_founders: int = 200,
    keep: int = 7,
    spread: float = 0.6,
    seed: int = 0,
) -> WFPopulation:
    """Run the Wright-Fisher model above; keep the last ``keep`` generations."""
    panel = get_panel(panel)
    rng = np.random.default_rng(seed)
    mu = np.asarray(slot_rates, dtype=float)
    if mu.shape != (panel.n_slots,):
        raise ValueError(f"slot_rates must have {panel.n_slots} entries")
    S = panel.n_slots
    centre = _ladder_centres(panel)
    # founders: centre + two-sided geometric offsets (P(|off| = k) ~ spread^k)
    mag = rng.geometric(1.0 - spread, size=(n_founders, S)) - 1
    sign = np.where(rng.random((n_founders, S)) < 0.5, -1, 1)
    founders = np.clip(centre + sign * mag, 1, 62) * 10
    for _, idx in panel.multicopy_groups():
        founders[:, list(idx)] = np.sort(founders[:, list(idx)], axis=1)
    x = founders[np.arange(n_men) % n_founders].astype(np.int32)
    kept_cmp, kept_fat = [], []
    total = int(generations)
    for t in range(1, total + 1):
        fat = rng.integers(0, n_men, n_men)
        x = mutate(x[fat], mu, rng, panel, 1)
        if t > total - keep:
            kept_cmp.append(x)
            kept_fat.append(fat if kept_cmp[:-1] else np.full(n_men, -1))
    return WFPopulation(panel, mu, kept_cmp, kept_fat)


def relative_pairs(pop: WFPopulation, m: int, n_pairs: int, seed: int = 1):
    """Draw pairs exactly ``m`` meioses apart on the simulated paternal pedigree.

    Returns an int array ``(n_pairs, 4)``: generation and index of man A (last
    generation), generation and index of man B. The split of ``m`` into A's and B's
    distance to their most recent common paternal ancestor is drawn uniformly among
    those the kept generations allow (B's distance <= A's; B is the ancestor itself
    when his distance is 0).
    """
    rng = np.random.default_rng(seed)
    G = pop.n_generations
    T = G - 1
    splits = [(ga, m - ga) for ga in range(1, m + 1) if m - ga <= ga and ga <= T]
    if not splits:
        raise ValueError(f"{G} kept generations cannot hold relatives {m} meioses apart")
    # children lists per generation
    kids = []
    for g in range(G):
        if g == 0:
            kids.append(None)
            continue
        f = pop.father[g]
        order = np.argsort(f, kind="stable")
        starts = np.searchsorted(f[order], np.arange(pop.cmp[g - 1].shape[0] + 1))
        kids.append((order, starts))
    out = []
    tries = 0
    while len(out) < n_pairs:
        tries += 1
        if tries > 200 * n_pairs:
            raise RuntimeError("could not draw enough relative pairs; enlarge the population")
        ga, gb = splits[rng.integers(len(splits))]
        a = int(rng.integers(pop.cmp[T].shape[0]))
        line = [a]  # line[k] = ancestor k generations above A
        for k in range(1, ga + 1):
            line.append(int(pop.father[T - k + 1][line[-1]]))
        M = line[ga]
        gM = T - ga
        if gb == 0:
            out.append((T, a, gM, M))
            continue
        order, starts = kids[gM + 1]
        sons = order[starts[M]:starts[M + 1]]
        sons = sons[sons != line[ga - 1]]
        if sons.size == 0:
            continue
        b = int(rng.choice(sons))
        gbgen = gM + 1
        ok = True
        for _ in range(gb - 1):
            order, starts = kids[gbgen + 1]
            s = order[starts[b]:starts[b + 1]]
            if s.size == 0:
                ok = False
                break
            b = int(rng.choice(s))
            gbgen += 1
        if ok:
            out.append((T, a, gbgen, b))
    return np.array(out, dtype=np.int64)
