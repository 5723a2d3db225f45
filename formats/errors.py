"""Typed errors of the ``formats`` package and the record of one rejected input row.

Every error says *where* (file, line, sample, locus), *what* was found, and *how to
fix it*.  Messages never repeat a genotype: at most the single offending allele
label is quoted.

Hierarchy::

    FormatError (ValueError)
    ├── InputFormatError            bad input file (file-level or row-level)
    │   ├── EncodingError           not decodable with the expected encoding
    │   ├── DelimiterError          wrong column delimiter
    │   ├── HeaderError             required columns missing
    │   ├── InvalidRowError         one row rejected (strict mode raises this)
    │   └── XMLSecurityError        DOCTYPE / ENTITY declarations in XML
    └── DatasetError                a profile dataset (directory of Parquet shards)
        ├── CorruptShardError       truncated / unreadable / inconsistent shard
        ├── SchemaVersionError      shard or manifest written with another schema
        │   ├── SchemaTooNewError
        │   └── SchemaTooOldError
        ├── DuplicateSampleError    a sample_id already in the dataset
        └── ProfileValidationError  a Profile that cannot be stored as given

``MissingLocusError`` (a :class:`kinship.LocusError`) is raised when a frequency
table lacks a locus that the profiles use.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from kinship.markers import LocusError

__all__ = [
    "FormatError",
    "InputFormatError",
    "EncodingError",
    "DelimiterError",
    "HeaderError",
    "InvalidRowError",
    "XMLSecurityError",
    "FamilyError",
    "DatasetError",
    "DatasetWriteError",
    "CorruptShardError",
    "SchemaVersionError",
    "SchemaTooNewError",
    "SchemaTooOldError",
    "DuplicateSampleError",
    "ProfileValidationError",
    "MissingLocusError",
    "Reject",
    "excerpt",
    "sanitize",
]

#: longest excerpt of an input field that a message quotes (a sample id is cut at
#: ``SAMPLE_MAX``): an error says which field is wrong, it never copies input
EXCERPT_MAX = 24
SAMPLE_MAX = 64
#: longest reason or fix text kept in a message or a rejects file
TEXT_MAX = 1000
_CTRL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def excerpt(value, limit: int = EXCERPT_MAX) -> str:
    """A short, cut excerpt of an input field for a message: control characters
    (newlines, tabs) shown as ``?``, at most ``limit`` characters, and the number of
    characters cut (``'AB…[+4093 chars]'``).  Never the whole of a long field."""
    if value is None:
        return ""
    s = _CTRL_ANY.sub("?", str(value))
    if len(s) <= limit:
        return s
    return f"{s[:limit]}…[+{len(s) - limit} chars]"


def sanitize(text, value=None, limit: int = TEXT_MAX) -> str:
    """A reason or fix text made safe for messages: the offending field ``value``,
    where the text quotes it and it is longer than an excerpt, is cut to an
    excerpt; control characters are replaced; the text is capped."""
    if text is None:
        return text
    s = str(text)
    if value is not None and len(str(value)) > EXCERPT_MAX:
        v = str(value)
        cut = excerpt(v)
        for form in (v, repr(v)[1:-1], v.strip()):
            if form and len(form) > EXCERPT_MAX:
                s = s.replace(form, cut)
    s = _CTRL_ANY.sub("?", s)
    if len(s) > limit:
        s = s[:limit] + "…"
    return s


def _where(file=None, line=None, sample=None, locus=None) -> str:
    parts = []
    if file:
        parts.append(os.path.basename(os.fspath(file)))
    if line:
        parts.append(f"line {line}")
    if sample:
        parts.append(f"sample {excerpt(sample, SAMPLE_MAX)!r}")
    if locus:
        parts.append(f"locus {excerpt(locus)}")
    return ", ".join(parts)


class FormatError(ValueError):
    """Base class of every error raised by :mod:`formats`."""


class InputFormatError(FormatError):
    """An input file that cannot be read as the format it claims to be.

    Attributes ``file``, ``line`` (1-based physical line, or None), ``sample``,
    ``locus``, ``reason`` and ``fix`` are set where known; ``str(err)`` joins them.
    """

    def __init__(self, reason: str, *, file=None, line=None, sample=None, locus=None,
                 fix: str | None = None, value: str | None = None):
        self.file = os.fspath(file) if file is not None else None
        self.line = line
        self.sample = excerpt(sample, SAMPLE_MAX) if sample else sample
        self.locus = excerpt(locus) if locus else locus
        self.reason = reason = sanitize(reason, value)
        self.fix = fix = sanitize(fix, value)
        self.value = excerpt(value) if value else value
        where = _where(file, line, sample, locus)
        msg = f"{where}: {reason}" if where else reason
        if fix:
            msg += f". Fix: {fix}"
        super().__init__(msg)


class EncodingError(InputFormatError):
    """The file's bytes are not text in the expected encoding."""


class DelimiterError(InputFormatError):
    """The table uses a column delimiter that the format does not use."""


class HeaderError(InputFormatError):
    """Required columns are missing from the header."""


class InvalidRowError(InputFormatError):
    """One input row was rejected; raised in strict mode, recorded in lenient mode."""

    @classmethod
    def from_reject(cls, r: "Reject") -> "InvalidRowError":
        return cls(r.reason, file=r.file, line=r.line, sample=r.sample, locus=r.locus,
                   fix=r.fix, value=r.value)


class XMLSecurityError(InputFormatError):
    """An XML document with DOCTYPE or ENTITY declarations (refused, never expanded)."""


class FamilyError(FormatError):
    """A family that contradicts itself: its typed relatives excluded as drawn, a
    sex that contradicts the pedigree, a pedigree that cannot be (named case and
    persons, never an allele)."""


class DatasetError(FormatError):
    """A problem with a profile dataset (a directory of Parquet shards)."""


class CorruptShardError(DatasetError):
    """A shard that is truncated, unreadable, or inconsistent with its dataset."""


class DatasetWriteError(DatasetError, OSError):
    """A write to a dataset failed on the file system (disk full, read-only,
    permissions); nothing of the write is left.  Also an ``OSError``."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class SchemaVersionError(DatasetError):
    """A shard or dataset manifest written with a schema version this code does not read."""

    def __init__(self, message: str, *, found=None, supported=None, path=None):
        self.found = found
        self.supported = supported
        self.path = os.fspath(path) if path is not None else None
        super().__init__(message)


class SchemaTooNewError(SchemaVersionError):
    """Written by a newer strkin: upgrade strkin to read it."""


class SchemaTooOldError(SchemaVersionError):
    """Written by an older strkin whose schema is no longer read: re-import the sources."""


class DuplicateSampleError(DatasetError):
    """A sample_id that is already in the dataset (or twice in one write)."""


class ProfileValidationError(DatasetError):
    """A :class:`formats.Profile` whose fields break the schema rules."""


class MissingLocusError(LocusError):
    """A frequency table lacks a locus that the profiles use."""


@dataclass(frozen=True)
class Reject:
    """One rejected input row (written to the rejects file in lenient mode).

    ``value`` is the offending field itself (an allele label, a locus name, a
    relation...), never the whole genotype.
    """

    file: str
    line: int | None
    sample: str
    locus: str
    reason: str
    fix: str
    value: str = ""

    FIELDS = ("file", "line", "sample", "locus", "value", "reason", "fix")

    def __post_init__(self):
        # what a reject may carry: the sample id and locus, and a cut excerpt of the
        # offending field; never a genotype, never the rest of a file
        object.__setattr__(self, "sample", excerpt(self.sample, SAMPLE_MAX))
        object.__setattr__(self, "locus", excerpt(self.locus))
        object.__setattr__(self, "reason", sanitize(self.reason, self.value))
        object.__setattr__(self, "fix", sanitize(self.fix, self.value))
        object.__setattr__(self, "value", excerpt(self.value))

    def message(self) -> str:
        where = _where(self.file, self.line, self.sample, self.locus)
        return f"{where}: {self.reason}. Fix: {self.fix}"

    def as_row(self) -> list[str]:
        return [os.path.basename(self.file), "" if self.line is None else str(self.line),
                self.sample, self.locus, self.value, self.reason, self.fix]
