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


#: what the detector may decide between (charset-normalizer's names): the encodings
#: labs' Windows machines write
_CANDIDATES = ["utf_8", "utf_16", "cp1252", "latin_1", "gb18030"]
_FAMILY = {"utf_8": "utf-8", "utf_16": "utf-16", "cp1252": "cp1252", "latin_1": "cp1252",
           "iso8859_1": "cp1252", "iso8859_15": "cp1252", "gb18030": "gbk", "gbk": "gbk",
           "gb2312": "gbk"}


def detect_encoding(data: bytes) -> str | None:
    """The encoding of ``data`` as charset-normalizer decides it among UTF-8,
    UTF-16, Windows-1252/Latin-1 and GBK/GB18030 (``"utf-8"``, ``"utf-16"``,
    ``"cp1252"``, ``"gbk"``), checked for unlikely characters; None if none fits."""
    try:
        t = data.decode("gb18030")     # short Chinese text: the detector needs more bytes
        if re.search(r"[\u4e00-\u9fff]", t) and unlikely_char(t) is None:
            return "gbk"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a dependency
        return _guess_encoding(data)
    best = from_bytes(data[: 1 << 20], cp_isolation=_CANDIDATES).best()
    fam = _FAMILY.get(best.encoding) if best is not None else None
    if fam is not None:
        try:
            if unlikely_char(data.decode(fam)) is None:
                return fam
        except UnicodeDecodeError:
            pass
    return _guess_encoding(data)


_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_MIXED = re.compile(rf"[A-Za-z\u00c0-\u024f][{_CJK}]|[{_CJK}][A-Za-z\u00c0-\u024f]")
_ODD = re.compile(r"[\u0080-\u009f\ue000-\uf8ff\ufffd]")


def unlikely_char(text: str):
    """``(offset, reason)`` of the first character a wrong decoding typically
    produces (a C1 control or private-use character, U+FFFD, or a CJK character
    inside a word of Latin letters, as Latin-1 bytes read as GBK give ``M黮ler``);
    None when the text looks right."""
    m = _ODD.search(text)
    if m:
        return m.start(), f"character U+{ord(m.group()[0]):04X} (a control, private-use or replacement character)"
    m = _MIXED.search(text)
    if m:
        c = next(ch for ch in m.group() if re.match(f"[{_CJK}]", ch))
        return m.start(), f"character U+{ord(c):04X} (a CJK character inside a word of Latin letters)"
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
        guess = detect_encoding(data_) if not encoding else None
        bad = data[off: off + 1].hex().upper()
        if guess == "gbk":
            hint = ("it looks like GBK/GB18030 (Chinese Windows; detected by charset-normalizer). "
                    "Re-save the file as UTF-8, or pass encoding='gbk' (command line: --encoding gbk)")
        elif guess == "cp1252":
            hint = ("it looks like Windows-1252/Latin-1 (Western Windows; detected by "
                    "charset-normalizer). Re-save the file as UTF-8, or pass encoding='cp1252' "
                    "(command line: --encoding cp1252)")
        elif guess == "utf-16":
            hint = ("it looks like UTF-16 without a byte-order mark. Re-save the file as UTF-8, "
                    "or pass encoding='utf-16-le' (command line: --encoding utf-16-le)")
        else:
            hint = "re-save the file as UTF-8, or pass the file's encoding with encoding=..."
        raise EncodingError(
            f"not valid {enc} text (byte 0x{bad} at column {col})", file=p, line=line,
            fix=hint,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
        bom = bom or "utf-8"
    if codecs.lookup(enc).name not in ("utf-8", "utf-8-sig"):
        odd = unlikely_char(text)
        if odd is not None:
            off, why = odd
            line = text.count("\n", 0, off) + 1 if "\n" in text else text.count("\r", 0, off) + 1
            other = detect_encoding(data_)
            hint = (f"the file is probably not {enc}" +
                    (f"; it looks like {other} (detected by charset-normalizer): pass "
                     f"encoding='{other}' (command line: --encoding {other})"
                     if other and codecs.lookup(other).name != codecs.lookup(enc).name else
                     "; pass the file's real encoding with encoding=..., or re-save it as UTF-8"))
            raise EncodingError(
                f"decoding the file as {enc} gives an unlikely {why}: the wrong encoding would "
                f"store garbled sample names", file=p, line=line, fix=hint)
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
