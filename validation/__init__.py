"""validation: simulated populations and the statistical validation of searches.

* :mod:`validation.simulate` — families with a missing child, unrelated persons
  and unrelated cases, written as Parquet profile shards with a truth table
  (:func:`simulate_dataset`), reproducibly and in bounded memory.
* :mod:`validation.suite` — runs searches on simulated data and reports, per
  mode and threshold, recall, false hits per query, LR distributions and checks
  of the theory (:func:`run_suite`); :mod:`validation.plots` draws them.
* :mod:`validation.cli` — the ``kinship simulate`` and ``kinship validate``
  commands (``python -m validation`` runs the latter).

The chance-hit estimates themselves are science and live in :mod:`kinship.chance`.
See ``docs/validation.md``.
"""
from kinship._lazy import lazy_attributes

# loaded on first use (PEP 562, kinship._lazy): the ``kinship`` command's parser
# imports validation.cli without numpy
__getattr__, __dir__ = lazy_attributes(__name__, {
    "simulate": ("STRUCTURES", "PopulationSimulator", "SimulationResult", "parse_proportions",
                 "read_truth", "simulate_dataset"),
}, globals())

__all__ = [
    "STRUCTURES", "PopulationSimulator", "SimulationResult", "parse_proportions", "read_truth",
    "simulate_dataset",
]
