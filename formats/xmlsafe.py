"""A small, safe XML reader built on the standard library's expat.

* DOCTYPE, ENTITY and external-entity declarations are refused
  (:class:`XMLSecurityError`) before anything is expanded, so billion-laughs and
  external-entity (XXE) documents cannot do harm (``defusedxml`` is not needed).
* Every element records the line it starts on, so errors can name it.
* Namespaces are dropped (``{urn:...}SPECIMEN`` and ``cmf:SPECIMEN`` both become
  ``SPECIMEN``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from xml.parsers import expat

from .errors import InputFormatError, XMLSecurityError

__all__ = ["Element", "parse_xml"]


@dataclass
class Element:
    tag: str
    attrib: dict
    line: int
    children: list = field(default_factory=list)
    text: str = ""

    def find(self, tag: str):
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def findall(self, tag: str):
        return [c for c in self.children if c.tag == tag]

    def findtext(self, tag: str, default: str | None = None):
        c = self.find(tag)
        return c.text if c is not None else default


def _local(name: str) -> str:
    name = name.rsplit(" ", 1)[-1]
    return name.rsplit(":", 1)[-1]


def parse_xml(data: bytes, fname) -> Element:
    """Parse ``data`` into an :class:`Element` tree; raise typed errors."""
    fname = os.fspath(fname)
    parser = expat.ParserCreate(namespace_separator=" ")
    try:
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    except AttributeError:  # pragma: no cover
        pass
    root: list[Element] = []
    stack: list[Element] = []
    texts: list[list[str]] = []

    def refuse(what):
        def handler(*args):
            raise XMLSecurityError(
                f"the XML declares {what}; DOCTYPE and ENTITY declarations are refused for "
                f"security (entity expansion, external entities)", file=fname,
                line=parser.CurrentLineNumber,
                fix="remove the <!DOCTYPE ...> / <!ENTITY ...> declarations; CODIS CMF and STRidER files "
                    "do not need them")
        return handler

    parser.StartDoctypeDeclHandler = refuse("a DOCTYPE")
    parser.EntityDeclHandler = refuse("an ENTITY")
    parser.UnparsedEntityDeclHandler = refuse("an unparsed ENTITY")
    parser.ExternalEntityRefHandler = refuse("an external entity reference")

    def start(name, attrs):
        el = Element(_local(name), {_local(k): v for k, v in attrs.items()},
                     parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(el)
        else:
            root.append(el)
        stack.append(el)
        texts.append([])

    def end(name):
        el = stack.pop()
        el.text = "".join(texts.pop()).strip()

    def chars(data):
        if texts:
            texts[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except InputFormatError:
        raise
    except expat.ExpatError as e:
        msg = expat.ErrorString(e.code) if hasattr(e, "code") else str(e)
        fix = "the XML is malformed or truncated; export it again"
        if "encoding" in msg:
            fix = "convert the file to UTF-8 and fix the encoding in its <?xml ...?> declaration"
        raise InputFormatError(f"malformed XML ({msg}, column {e.offset})", file=fname,
                               line=e.lineno, fix=fix) from None
    except (LookupError, UnicodeError, ValueError) as e:
        # an encoding declared in <?xml ...?> that Python does not know, or bytes that
        # do not decode with it
        raise InputFormatError(
            f"cannot decode the XML with its declared encoding ({type(e).__name__}: "
            f"{str(e)[:100]})", file=fname, line=parser.CurrentLineNumber,
            fix="convert the file to UTF-8 and declare encoding=\"UTF-8\"") from None
    if not root:
        raise InputFormatError("the XML document has no root element", file=fname,
                               fix="export the file again")
    return root[0]
