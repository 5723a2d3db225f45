"""Reading text tables the way labs write them: encodings, BOMs, delimiters, headers.

* Text is UTF-8 unless told otherwise.  A UTF-8 byte-order mark (what Excel writes
  with "CSV UTF-8") is removed; UTF-16 with a BOM (Excel "Unicode text") is decoded.
  Any other non-UTF-8 file is an :class:`EncodingError` naming the line, with a
  guess (GBK/GB18030 for Chinese Windows, Windows-1252 for Western Windows) and the
  ``encoding=`` to pass.
* Binary files (an ``.xlsx`` saved instead of exported, a Parquet file) are refused
  with what they look like.
* Line endings LF, CRLF and CR-only (classic Mac) are all read.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

from .errors import DelimiterError, EncodingError, InputFormatError

__all__ = ["Text", "read_text", "iter_rows", "header_key", "header_excerpt", "sniff_delimiter", "DELIMITER_NAMES"]

DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}

csv.field_size_limit(1 << 24)


@dataclass(frozen=True)
class Text:
    path: str
    text: str
    encoding: str
    sha256: str
    bom: str = ""


def _line_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    line = before.count(b"\n") + 1 if b"\n" in data else before.count(b"\r") + 1
    col = offset - max(before.rfind(b"\n"), before.rfind(b"\r"))
    return line, col


def _guess_encoding(data: bytes) -> str | None:
    """A best guess for non-UTF-8 text: 'gbk' when it decodes as GB18030 with CJK
    characters, else 'cp1252' when that decodes."""
    try:
        t = data.decode("gb18030")
        if re.search(r"[\u4e00-\u9fff]", t):
            return "gbk"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return None


def read_text(path, encoding: str | None = None, *, what: str = "file") -> Text:
    """Read and decode a text file (see module doc); raise typed errors."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputFormatError(f"{what} not found", file=p, fix="check the path") from None
    except IsADirectoryError:
        raise InputFormatError(f"{what} is a directory, not a file", file=p,
                               fix="give the path of the file") from None
    except OSError as e:
        raise InputFormatError(f"cannot read {what}: {e.strerror}", file=p,
                               fix="check the path and its permissions") from None
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(b"PK\x03\x04"):
        raise InputFormatError(
            "this is a zip archive (an Excel .xlsx workbook?), not a text table", file=p,
            fix="export the table as tab-delimited text or CSV (GeneMapper: File > Export "
                "Table; Excel: Save As > CSV UTF-8)",
        )
    if data.startswith(b"PAR1"):
        raise InputFormatError(
            "this is a Parquet file, not a text table", file=p,
            fix="open profile shards with formats.open_dataset(), or export them with "
                "'kinship export'",
        )
    bom = ""
    if encoding:
        enc = encoding
        try:
            codecs.lookup(enc)
        except LookupError:
            raise EncodingError(f"unknown encoding {encoding!r}", file=p,
                                fix="use a Python codec name such as 'utf-8', 'gbk', 'cp1252'") from None
        if enc.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") and data.startswith(codecs.BOM_UTF8):
            data_ = data[3:]
            bom = "utf-8"
        else:
            data_ = data
    elif data.startswith(codecs.BOM_UTF8):
        enc, data_, bom = "utf-8", data[3:], "utf-8"
    elif data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        enc, data_, bom = "utf-16", data, "utf-16"
    else:
        enc, data_ = "utf-8", data
        if b"\x00" in data[:4096]:
            raise InputFormatError(
                "the file contains NUL bytes: it is binary, or UTF-16 without a byte-order "
                "mark", file=p,
                fix="export the table as text (UTF-8), or pass encoding='utf-16-le'",
            )
    try:
        text = data_.decode(enc)
    except UnicodeDecodeError as e:
        off = e.start + (len(data) - len(data_))
        line, col = _line_of_offset(data, off)
        guess = _guess_encoding(data_) if not encoding else None
        bad = data[off: off + 1].hex().upper()
        if guess == "gbk":
            hint = ("it looks like GBK/GB18030 (Chinese Windows). Re-save the file as UTF-8, "
                    "or pass encoding='gbk' (command line: --encoding gbk)")
        elif guess == "cp1252":
            hint = ("it looks like Windows-1252 (Western Windows). Re-save the file as UTF-8, "
                    "or pass encoding='cp1252' (command line: --encoding cp1252)")
        else:
            hint = "re-save the file as UTF-8, or pass the file's encoding with encoding=..."
        raise EncodingError(
            f"not valid {enc} text (byte 0x{bad} at column {col})", file=p, line=line,
            fix=hint,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
        bom = bom or "utf-8"
    return Text(p, text, enc, sha, bom)


_VALUE_LIKE = re.compile(r"^[\s<>]*[0-9OolI]+([.,][0-9]+)?[\s<>]*$|^[XY]$")


def header_excerpt(line: str, max_fields: int = 8) -> str:
    """What a message may show of a first line that is not the expected header:
    its first fields, each cut short, with every field that looks like an allele
    or a number replaced by ``…`` (a file without a header starts with a data row,
    whose genotype must not be copied into the message)."""
    from .errors import excerpt

    fields = re.split(r"[\t,;|]", line)
    shown = ["\u2026" if _VALUE_LIKE.match(f.strip() or "x") else excerpt(f.strip(), 20)
             for f in fields[:max_fields]]
    if len(fields) > max_fields:
        shown.append(f"\u2026 {len(fields) - max_fields} more")
    return repr(", ".join(shown))


def header_key(name: str) -> str:
    """Column-name key: case, spaces, dots, underscores and hyphens ignored
    (``"Sample Name"``, ``"Sample.Name"``, ``"SampleName"`` -> ``"samplename"``)."""
    return re.sub(r"[\s._\-]", "", str(name)).lower()


def first_line(text: str) -> str:
    m = re.search(r"\r\n|\r|\n", text)
    return text[: m.start()] if m else text


def split_header(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def sniff_delimiter(line: str, has_columns, allowed: Sequence[str], path, what: str,
                    given: str | None = None) -> str:
    """Pick the delimiter that makes ``has_columns(header)`` true.

    ``given`` forces a delimiter.  A delimiter outside ``allowed`` that would work is
    a :class:`DelimiterError` telling the user to pass it explicitly.
    """
    if given:
        return given
    for d in allowed:
        if has_columns(split_header(line, d)):
            return d
    for d in ("\t", ",", ";", "|"):
        if d not in allowed and has_columns(split_header(line, d)):
            names = " or ".join(DELIMITER_NAMES.get(a, repr(a)) for a in allowed)
            flag = {"\t": "tab", ",": ",", ";": ";", "|": "|"}[d]
            raise DelimiterError(
                f"the columns are separated by {DELIMITER_NAMES[d]}s, but a {what} is "
                f"{names}-separated", file=path, line=1,
                fix=f"re-export the file {names}-separated, or pass delimiter={d!r} "
                    f"(command line: --delimiter '{flag}') to read it as it is",
            )
    return ""


def iter_rows(text: str, delimiter: str, path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line number, fields)`` for each record; blank lines are
    skipped.  Quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise InputFormatError(
                f"cannot split the line into fields ({str(e)[:80]})", file=path, line=last + 1,
                fix="check for an unbalanced double quote (\") in this line",
            ) from None
        start = last + 1
        last = reader.line_num
        if last > start and any("\n" in c or "\r" in c for c in row):
            # a quoted field that runs over line ends: in a genotype table or a
            # manifest this is a stray or unclosed double quote, and the lines it
            # swallowed would be read as one field (and their genotypes copied into
            # the message).  A file-level error; nothing of the field is quoted.
            end = "the end of the file" if _at_end(reader) else f"line {last}"
            raise InputFormatError(
                f"a double quote (\") opened on this line is not closed before {end}: "
                f"{last - start + 1} lines ({start}..{last}) would be read as one field",
                file=path, line=start,
                fix="remove the stray double quote or close it on the same line (a field "
                    "of a genotype table or manifest never spans lines), then import again",
            )
        if not row or all(c.strip() == "" for c in row):
            continue
        yield start, row


def _at_end(reader) -> bool:
    try:
        next(reader)
    except StopIteration:
        return True
    except csv.Error:
        return False
    return False
