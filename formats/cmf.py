"""CODIS CMF (Common Message Format) XML profiles: import and export.

CMF 3.2 (FBI "CODIS CMF 3.2 Interface Specification", Appendix A/B)::

    <CODISImportFile xmlns="urn:CODISImportFile-schema">
      <HEADERVERSION>3.2</HEADERVERSION> <MESSAGETYPE>Import</MESSAGETYPE> ...
      <KIT>PowerPlex 16</KIT>                                  (optional)
      <SPECIMEN CASEID="..." SOURCEID="..." PARTIAL="...">
        <SPECIMENID>IMP_0001A</SPECIMENID>
        <SPECIMENCATEGORY>Forensic, Unknown</SPECIMENCATEGORY>
        <LOCUS KIT="...">
          <LOCUSNAME>CSF1PO</LOCUSNAME> <READINGBY>..</READINGBY> <READINGDATETIME>..</READINGDATETIME>
          <ALLELE><ALLELEVALUE>10</ALLELEVALUE></ALLELE> ...
        </LOCUS> ...
      </SPECIMEN> ...
    </CODISImportFile>

Import: one row per ``LOCUS`` element (its line).  A homozygote is written once
(one ``ALLELE``) and read as a homozygote.  ``SPECIMENID`` -> ``sample_id``,
``CASEID`` -> ``case_id``, the header or locus ``KIT`` -> ``kit``; amelogenin sets
``sex``.  ``SPECIMENCATEGORY`` gives the kind where it is unambiguous:

=====================================  ===================================
SPECIMENCATEGORY                       kind / relation
=====================================  ===================================
Unidentified Person, Forensic Unknown  query
Missing Person                         reference / self
Biological Father / Mother             reference / father / mother
Biological Sibling                     reference / full-sibling
Biological Child                       reference / child
Maternal/Paternal Relative, others     (from the manifest / default kind)
=====================================  ===================================

Export writes CMF 3.2 with these categories (other relations as "Maternal
Relative"/"Paternal Relative" are ambiguous, so they are written as "Other"), and
an amelogenin locus when the sex is known.  CODIS limits SPECIMENID to 24
characters; longer IDs are an error.  XML is parsed safely
(:mod:`formats.xmlsafe`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from xml.sax.saxutils import escape, quoteattr

from .errors import InputFormatError, Reject
from .parsed import Call, Parsed
from .xmlsafe import parse_xml

__all__ = ["parse_cmf", "write_cmf", "CATEGORY_TO_KIND", "relation_to_category"]

CATEGORY_TO_KIND = {
    "unidentified person": ("query", ""),
    "forensic, unknown": ("query", ""),
    "missing person": ("reference", "self"),
    "biological father": ("reference", "father"),
    "biological mother": ("reference", "mother"),
    "biological sibling": ("reference", "full-sibling"),
    "biological child": ("reference", "child"),
}

_REL_TO_CAT = {
    "self": "Missing Person",
    "father": "Biological Father",
    "mother": "Biological Mother",
    "full-sibling": "Biological Sibling",
    "child": "Biological Child",
}


def relation_to_category(kind: str, relation: str) -> str:
    if kind == "query":
        return "Unidentified Person"
    return _REL_TO_CAT.get(relation, "Other")


def parse_cmf(path) -> Parsed:
    fname = os.fspath(path)
    try:
        with open(fname, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise InputFormatError(f"cannot read the file ({e.strerror})", file=fname,
                               fix="check the path") from None
    sha = hashlib.sha256(data).hexdigest()
    root = parse_xml(data, fname)
    if root.tag not in ("CODISImportFile", "CODISRapidImportFile"):
        raise InputFormatError(
            f"the root element is <{root.tag}>, not <CODISImportFile>", file=fname,
            line=root.line, fix="give a CODIS CMF import file")
    specimens = root.findall("SPECIMEN")
    if not specimens:
        raise InputFormatError(
            "the CMF file has no SPECIMEN (no profile)", file=fname, line=root.line,
            fix="export at least one specimen, or check that this is the right file")
    header_kit = root.findtext("KIT", "") or ""
    # CMF stores every allele seen at a locus (tri-allelic patterns, PARTIAL specimens):
    # a call of three or more alleles is valid CMF, left untyped by the import (with a note)
    p = Parsed(fname, "cmf", sha, "xml", single_allele="homozygote", no_call="untyped",
               multi_allele="untyped")
    for sp in specimens:
        sid = (sp.findtext("SPECIMENID", "") or "").strip()
        cat = (sp.findtext("SPECIMENCATEGORY", "") or "").strip()
        loci = sp.findall("LOCUS")
        if not sid:
            for loc in loci or [sp]:
                p.rejects.append(Reject(fname, loc.line, "", loc.findtext("LOCUSNAME", "") or "",
                                        "SPECIMEN without SPECIMENID",
                                        "give every SPECIMEN a SPECIMENID"))
            continue
        hint = {}
        kr = CATEGORY_TO_KIND.get(cat.lower())
        if kr:
            hint["kind"], rel = kr
            if rel:
                hint["relation"] = rel
        elif cat:
            # a category that says nothing strkin can use (Other, a relative
            # without the relation, a typo): the kind must come from a manifest
            hint["unknown_category"] = cat
        case = sp.attrib.get("CASEID", "").strip()
        if case:
            hint["case_id"] = case
        kit = header_kit
        for loc in loci:
            if loc.attrib.get("KIT"):
                kit = kit or loc.attrib["KIT"]
        if kit:
            hint["kit"] = kit.strip()
        p.hints[sid] = hint
        for loc in loci:
            name = loc.findtext("LOCUSNAME")
            if name is None or not name.strip():
                p.rejects.append(Reject(fname, loc.line, sid, "", "LOCUS without LOCUSNAME",
                                        "add the LOCUSNAME of this locus, or delete the LOCUS"))
                continue
            alleles = []
            for al in loc.findall("ALLELE"):
                v = al.findtext("ALLELEVALUE")
                alleles.append("" if v is None else v)
            if "" in alleles:
                p.rejects.append(Reject(fname, loc.line, sid, name.strip(),
                                        "empty allele: an ALLELE without ALLELEVALUE",
                                        "add the ALLELEVALUE, or delete the empty ALLELE"))
                continue
            p.calls.append(Call(loc.line, sid, name.strip(), alleles))
    return p


def write_cmf(profiles, path, *, source_lab: str = "NONE", destination_ori: str = "NONE",
              user: str = "STRKIN", kit: str | None = None, reading_by: str = "STRKIN") -> str:
    """Write profiles as a CODIS CMF 3.2 import file (homozygotes written once)."""
    now = _dt.datetime.now().replace(microsecond=0).isoformat()
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<CODISImportFile xmlns="urn:CODISImportFile-schema">',
           "  <HEADERVERSION>3.2</HEADERVERSION>",
           "  <MESSAGETYPE>Import</MESSAGETYPE>",
           f"  <DESTINATIONORI>{escape(destination_ori)}</DESTINATIONORI>",
           f"  <SOURCELAB>{escape(source_lab)}</SOURCELAB>",
           f"  <SUBMITBYUSERID>{escape(user)}</SUBMITBYUSERID>",
           f"  <SUBMITDATETIME>{now}</SUBMITDATETIME>"]
    if kit:
        out.append(f"  <KIT>{escape(kit)}</KIT>")
    for p in profiles:
        if len(p.sample_id) > 24:
            raise ValueError(
                f"sample {p.sample_id!r}: CODIS SPECIMENID is at most 24 characters; "
                f"shorten the ID before exporting to CMF")
        attrs = f" CASEID={quoteattr(p.case_id)}" if p.case_id else ""
        out.append(f"  <SPECIMEN{attrs}>")
        out.append(f"    <SPECIMENID>{escape(p.sample_id)}</SPECIMENID>")
        out.append(f"    <SPECIMENCATEGORY>{relation_to_category(p.kind, p.relation)}"
                   f"</SPECIMENCATEGORY>")
        loci = list(p.genotypes.items())
        if p.sex in ("M", "F"):
            loci.append(("AMEL", ("X", "Y") if p.sex == "M" else ("X", "X")))
        for l, (a, b) in loci:
            out.append("    <LOCUS>")
            out.append(f"      <LOCUSNAME>{escape(l)}</LOCUSNAME>")
            out.append(f"      <READINGBY>{escape(reading_by)}</READINGBY>")
            out.append(f"      <READINGDATETIME>{now}</READINGDATETIME>")
            for v in ((a,) if a == b else (a, b)):
                out.append(f"      <ALLELE><ALLELEVALUE>{escape(v)}</ALLELEVALUE></ALLELE>")
            out.append("    </LOCUS>")
        out.append("  </SPECIMEN>")
    out.append("</CODISImportFile>")
    from .perms import protect

    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(out) + "\n")
    protect(path)
    return os.fspath(path)
