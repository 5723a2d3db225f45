"""Y-STR lineage search: find the paternal family of a found boy.

Public API::

    from kinship import ystr
    panel = ystr.get_panel("Yfiler Plus")
    db = ystr.YHaplotypes.from_records(records, panel)        # or from_long / from_arrays
    boys = ystr.YHaplotypes.from_records(query_records, panel)
    res = ystr.lineage_search(boys, db, estimator="kappa")    # mode "y-lineage"
    res.to_arrow()        # mismatches, steps, loci_compared, estimator, LR per m, ...

    ystr.step_probability(d=1, m=3, mu=0.002)                 # P(d | m)
    ystr.match_probability(boys, db, "clopper_pearson")
    ystr.lineage_lr(boy, man, match_probability=1e-4)         # one pair, per-locus table
    ystr.combine_with_autosomal(y_lr, autosomal_lr)           # same pedigree: LRs multiply

Modules: :mod:`.loci` (markers, copies, panels), :mod:`.haplotypes` (dense
arrays, parsing, bad-input rules), :mod:`.rates` (mutation counts with
provenance), :mod:`.stepwise` (P(d | m)), :mod:`.lineage` (the LR),
:mod:`.estimators` and :mod:`.disclap` (match probability), :mod:`.screen` and
:mod:`.search` (the search), :mod:`.thresholds` (recall of thresholds),
:mod:`.simulate` (Fisher-Wright lineages). The numba kernels
(:mod:`._kernels`) are imported on first search: importing this package
compiles nothing. Full documentation: ``docs/ystr.md``.
"""
from .disclap import DiscreteLaplaceMixture, fit_discrete_laplace
from .estimators import (
    AugmentedCount,
    BrennerKappa,
    ClopperPearson,
    DiscreteLaplace,
    HaplotypeCounts,
    MatchProbabilities,
    match_probability,
)
from .haplotypes import YHaplotypeError, YHaplotypes
from .lineage import PATERNAL_MEIOSES, LineageLR, combine_with_autosomal, lineage_lr
from .loci import YLocusError, YPanel, canonical_y_marker, get_panel, known_y_markers, panels
from .rates import LocusRate, RateError, YMutationRates
from .screen import YScreenHits, screen
from .search import MODE, YLineageResults, lineage_search
from .stepwise import step_probability, step_probability_table
from .thresholds import auto_thresholds, exact_match_miss_rate, recall, recall_table

__all__ = [
    "AugmentedCount", "BrennerKappa", "ClopperPearson", "DiscreteLaplace",
    "DiscreteLaplaceMixture", "HaplotypeCounts", "LineageLR", "LocusRate", "MODE",
    "MatchProbabilities", "PATERNAL_MEIOSES", "RateError", "YHaplotypeError", "YHaplotypes",
    "YLineageResults", "YLocusError", "YMutationRates", "YPanel", "YScreenHits",
    "auto_thresholds", "canonical_y_marker", "combine_with_autosomal", "exact_match_miss_rate",
    "fit_discrete_laplace", "get_panel", "known_y_markers", "lineage_lr", "lineage_search",
    "match_probability", "panels", "recall", "recall_table", "screen", "step_probability",
    "step_probability_table",
]
