"""What every format parser hands to the import driver (:mod:`formats.importing`):
the rows it read (:class:`Call`, one genotype call of one sample at one locus) and
the file's other content (:class:`Parsed`).  The parsers (:mod:`formats.table`,
:mod:`formats.familias`, :mod:`formats.cmf`, :mod:`formats.ystr`) import these
types from here; the driver imports the parsers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Call", "Parsed"]


@dataclass
class Call:
    """One input row: the alleles of one sample at one locus, as written."""

    line: int
    sample: str
    locus: str
    alleles: list
    key: object = None      # unique row id (default: the line); wide tables use (line, column)
    single: str | None = None  # per-row reading of a lone allele (overrides the format's)

    def __post_init__(self):
        if self.key is None:
            self.key = self.line


@dataclass
class Parsed:
    """What a format parser hands to :func:`formats.importing.assemble`."""

    file: str
    format: str
    sha256: str
    encoding: str = "utf-8"
    calls: list = field(default_factory=list)
    rejects: list = field(default_factory=list)       # structural row rejects
    hints: dict = field(default_factory=dict)         # sample -> {kind, case_id, relation, sex, kit}
    single_allele: str = "homozygote"                  # format default for one allele
    no_call: str = "untyped"                           # "untyped" or "error"
    notes: list = field(default_factory=list)
    cases: list = field(default_factory=list)         # kinship.cases.Case (pedigree formats)
    pedigrees: list = field(default_factory=list)     # formats.familias.FamPedigree (.fam)
    settings: object = None                            # formats.familias.FamSettings (.fam)
    extra_loci: tuple = ()                             # loci the file itself defines (.fam database)
    multi_allele: str = "error"                        # three or more alleles: "error" or "untyped"

    @property
    def n_rows(self) -> int:
        return len(self.calls) + len(self.rejects)
