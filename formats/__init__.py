"""formats: how profiles get into and out of strkin.

* Profile datasets: a directory of Parquet shards with a versioned schema
  (:func:`open_dataset`, :func:`write_profiles`, :class:`Dataset`,
  :class:`ProfileArrays`).
* Importers for GeneMapper exports, the long CSV, wide tables, Familias ``.fam``
  and CODIS CMF XML, with a samples manifest (:func:`import_file`), strict and
  lenient modes and a rejects file.
* Frequency-table readers (:func:`read_frequencies`).
* Reference cases (:class:`kinship.cases.Case`) from pedigree files
  (:func:`read_ped`, :func:`write_ped`) and Familias ``.fam`` files
  (``ImportResult.cases``, :func:`read_fam`; :func:`write_fam_case` writes a
  case with its H1/H2 pedigrees, database, mutation model and θ).
* Exporters for profiles and results (:func:`export_profiles`,
  :func:`write_results_csv`).
* Y-STR haplotypes: importers (:func:`import_y_file`) and Y haplotype datasets
  (:func:`write_y_haplotypes`, :func:`open_y_dataset`), see :mod:`formats.ystr`.

See ``docs/formats.md`` for the schema and the formats.
"""
from kinship._lazy import lazy_attributes

# Every name is loaded on first use (PEP 562, kinship._lazy): ``import formats``
# (and the ``kinship`` command's parser, through formats.cli) imports no pyarrow
# or numpy, and a search that reads Parquet datasets does not pay for the
# importers, exporters and Y-STR datasets (about 0.1 s: formats.ystr with
# kinship.ystr, formats.familias with formats.importing).
__getattr__, __dir__ = lazy_attributes(__name__, {
    "dataset": ("FORMAT_NAME", "MIN_SCHEMA_VERSION", "SCHEMA_VERSION", "Dataset", "ProfileArrays",
                "open_dataset", "rebuild_manifest", "write_cases", "write_sample_dropout",
                "write_profiles"),
    "errors": ("CorruptShardError", "DatasetError", "FamilyError", "DelimiterError",
               "DuplicateSampleError", "EncodingError", "FormatError", "HeaderError",
               "InputFormatError", "InvalidRowError", "MissingLocusError",
               "ProfileValidationError", "Reject", "SchemaTooNewError", "SchemaTooOldError",
               "SchemaVersionError", "XMLSecurityError"),
    "profile": ("KINDS", "RELATIONS", "SEXES", "Profile"),
    "export": ("PROFILE_FORMATS", "export_profiles", "write_results_csv"),
    "familias": ("FamPedigree", "FamSettings", "case_hypotheses", "fam_mutation_model", "read_fam",
                 "write_fam_case"),
    "freqio": ("FREQUENCY_FORMATS", "detect_frequency_format", "read_frequencies"),
    "families": ("check_families",),
    "importing": ("FORMATS", "ImportResult", "import_file", "write_rejects"),
    "manifest": ("read_manifest",),
    "pedfile": ("read_ped", "write_ped"),
    "ystr": ("Y_FORMAT_NAME", "Y_FORMATS", "Y_SCHEMA_VERSION", "YDataset", "YImportResult",
             "YSampleMeta", "import_y_file", "open_y_dataset", "rebuild_y_manifest",
             "write_y_haplotypes"),
}, globals())

__all__ = [
    "SCHEMA_VERSION", "MIN_SCHEMA_VERSION", "FORMAT_NAME",
    "Dataset", "ProfileArrays", "Profile", "open_dataset", "write_profiles", "write_cases", "write_sample_dropout", "rebuild_manifest",
    "import_file", "check_families", "ImportResult", "Reject", "write_rejects", "read_manifest",
    "read_frequencies", "detect_frequency_format", "export_profiles", "write_results_csv",
    "FORMATS", "PROFILE_FORMATS", "FREQUENCY_FORMATS", "KINDS", "RELATIONS", "SEXES",
    "FormatError", "InputFormatError", "EncodingError", "DelimiterError", "HeaderError",
    "InvalidRowError", "XMLSecurityError", "DatasetError", "FamilyError", "CorruptShardError",
    "SchemaVersionError", "SchemaTooNewError", "SchemaTooOldError", "DuplicateSampleError",
    "ProfileValidationError", "MissingLocusError",
    "import_y_file", "write_y_haplotypes", "open_y_dataset", "rebuild_y_manifest",
    "YDataset", "YImportResult", "YSampleMeta", "Y_FORMAT_NAME", "Y_FORMATS", "Y_SCHEMA_VERSION",
    "read_ped", "write_ped", "read_fam", "write_fam_case", "case_hypotheses",
    "fam_mutation_model", "FamPedigree", "FamSettings",
]
