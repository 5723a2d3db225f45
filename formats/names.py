"""The names of the file formats the ``formats`` package reads and writes, in a
module that imports nothing: the command line lists them as argument choices
without loading the readers (``kinship search`` does not pay for the importers).
Each is defined here once and re-exported by the module that implements it."""
from __future__ import annotations

#: genotype file formats of ``kinship import`` (:mod:`formats.importing`)
FORMATS = ("genemapper", "csv", "wide", "familias", "cmf")

#: Y-STR file formats of ``kinship import-y`` (:mod:`formats.ystr`)
Y_FORMATS = ("genemapper", "csv", "cmf")

#: profile export formats of ``kinship export`` (:mod:`formats.export`)
PROFILE_FORMATS = ("csv", "wide", "genemapper", "cmf", "familias", "manifest")

#: the formats of a frequency file (:mod:`formats.freqio`), each with the words a
#: message uses for it
FORMAT_WORDS = {
    "csv": "csv (the project format: '# key=value' lines, then the header "
           "'marker,allele,frequency')",
    "familias": "familias (a marker name on its own line, then 'allele<TAB>frequency' lines)",
    "strider": "strider (a wide table: first column 'Allele', one column per marker)",
    "strider-xml": "strider-xml (the STRidER XML export: <frequencies><marker>...)",
    "fam": "fam (a Familias .fam file's frequency database)",
}
FREQUENCY_FORMATS = tuple(FORMAT_WORDS)
