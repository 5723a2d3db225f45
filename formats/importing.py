"""Import driver: from parsed rows to checked :class:`Profile` objects.

Every format parser (GeneMapper, long CSV, wide CSV, Familias ``.fam``, CODIS CMF)
turns its file into *rows*: one genotype call of one sample at one locus, with the
physical line it came from.  This module checks every row the same way and joins
the samples manifest:

=====================================  ==============================================
Row problem                            Reason given (the fix is in the message)
=====================================  ==============================================
malformed allele (``1O``, ``9..3``)    ``malformed allele '1O'...`` (+ "did you mean")
negative allele (``-1``)               ``...repeat numbers cannot be negative``
empty allele between called ones       ``empty allele``
off-ladder allele (``OL``, ``<8``)     imported as an untyped locus, with a note (below);
                                       ``off_ladder="error"``: ``off-ladder allele 'OL'...``
three or more alleles                  ``3 alleles at one locus (tri-allelic ...)``; CMF
                                       (or ``multi_allele="untyped"``): an untyped locus
homozygote written once                ``one allele given (homozygote written once?)``
                                       -- only where the format writes both alleles
                                       (long CSV); GeneMapper and CMF write a
                                       homozygote once, so one allele = homozygote
unknown locus                          ``unknown locus 'X'; did you mean ...``
same sample and locus, two genotypes   ``lines a and b give different genotypes``
sample not in the manifest             ``sample is not in the manifest ...``
manifest sample without genotypes      ``sample is in the manifest but not in ...``
=====================================  ==============================================

Strict mode raises :class:`InvalidRowError` for the first problem (manifest rows
first, then genotype rows in file order).  Lenient mode imports the good rows and
returns every rejected row with its reason; ``rejects_path`` writes them as CSV.
Every row is accounted for: ``n_imported + n_rejected == n_read``.

**Off-ladder and out-of-range calls** (:data:`OFF_LADDER_POLICY`): a call with an
off-ladder designation (``OL``, ``<6``, ``>17``) is not an allele label -- a "less
than 6" cannot be compared with another profile's alleles, and guessing a repeat
number would invent evidence -- so by default (``off_ladder="untyped"``) the locus
is left out of that sample (imported as untyped: the sample's other loci are
compared as usual) with a note naming file, line, sample and locus
(``ImportResult.left_out``, the provenance notes, ``note:`` lines of ``kinship
import``); the row counts as imported and the file never fails for it.  A lab that
has re-designated the allele against the ladder writes its label (``5``, ``18``,
``9.1``) instead.  ``off_ladder="error"`` (``--off-ladder error``) rejects the row
as before.  A rare microvariant with a label (``9.1``, ``13.2``, ``8.2``) is an
allele of its own: it is imported as given and, where the frequency table lacks
it, gets the table's minimum allele frequency (:mod:`kinship.frequencies`).  A
call of three or more alleles (a tri-allelic pattern or a mixture) follows the
same choice through ``multi_allele``: CODIS CMF stores such calls (the CMF 3.2
Appendix A example has them), so a CMF import leaves such a locus untyped with a
note; other formats reject the row unless ``multi_allele="untyped"``.  A sample
with mostly such loci is still refused whole as a mixture.

A row that names no allele at all is an untyped locus in GeneMapper exports
(drop-out, negative control) and is imported as untyped; in the long CSV format
it is an error (leave the row out instead).  Amelogenin rows set ``sex``
(X,X -> F; X,Y -> M) and are never stored as a genotype.
"""
from __future__ import annotations

import csv
import datetime as _dt
import os
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from kinship.markers import AlleleError, LocusError, canonical_locus, is_amelogenin, is_off_ladder, normalize_allele

from .errors import InputFormatError, InvalidRowError, Reject, excerpt
from .manifest import Manifest, read_manifest
from .parsed import Call, Parsed
from .profile import (
    RELATIONS,
    Profile,
    allele_sort_key,
    normalize_kind,
    normalize_relation,
    normalize_sex,
)

__all__ = ["Call", "Parsed", "ImportResult", "import_file", "FORMATS", "write_rejects",
           "OFF_LADDER_POLICY"]

#: Genotype formats understood by :func:`import_file`.
from .names import FORMATS  # noqa: E402  (defined there for the command line)

#: What an import does with calls that are not a pair of allele labels (module doc).
OFF_LADDER_POLICY = {
    "off-ladder (OL, <6, >17)": "locus left untyped for that sample, with a note "
                                "(off_ladder='error': the row is rejected)",
    "rare microvariant (9.1, 13.2)": "an allele of its own; absent from the table it gets the "
                                     "table's minimum allele frequency",
    "three or more alleles": "CMF: locus left untyped for that sample, with a note; other "
                             "formats: rejected (multi_allele='untyped' to leave it untyped)",
}


@dataclass
class ImportResult:
    """The outcome of :func:`import_file`.

    ``n_read`` counts the data rows of the genotype file, ``n_imported`` those whose
    content is in ``profiles`` (untyped no-call rows, amelogenin rows and exact
    repeats included), ``n_rejected`` those in ``rejects``.  The manifest has its own
    counts.  ``provenance`` is what :func:`formats.write_profiles` stores.
    """

    profiles: list
    rejects: list
    n_read: int
    n_imported: int
    n_rejected: int
    format: str = ""
    source: str = ""
    manifest_read: int = 0
    manifest_used: int = 0
    manifest_rejected: int = 0
    n_untyped: int = 0
    n_duplicate: int = 0
    provenance: dict = field(default_factory=dict)
    rejects_path: str | None = None
    #: the families of the file as :class:`kinship.cases.Case` (``.fam`` DVI families,
    #: a standard-module case with a missing person), its pedigrees
    #: (:class:`formats.familias.FamPedigree`) and settings (θ, mutation:
    #: :class:`formats.familias.FamSettings`)
    cases: list = field(default_factory=list)
    pedigrees: list = field(default_factory=list)
    settings: object = None
    #: lenient mode: rows imported with an implausible allele (outside the ladder range)
    warnings: list = field(default_factory=list)
    #: loci accepted although not known loci: ``extra_loci=`` and the loci the file's own
    #: frequency database defines (a ``.fam`` file); pass them on to
    #: :func:`formats.write_profiles` (``extra_loci=``), as ``kinship import`` does
    extra_loci: tuple = ()
    #: calls imported as an untyped locus under the import policy (off-ladder alleles,
    #: three or more alleles where the format allows them): one note per row
    left_out: list = field(default_factory=list)
    #: the dropout probability the samples manifest states per imported sample
    #: (its optional ``dropout`` column); stored with the dataset by ``kinship import``
    #: (:func:`formats.write_sample_dropout`)
    dropout: dict = field(default_factory=dict)

    def summary(self) -> str:
        s = (f"{os.path.basename(self.source)}: read {self.n_read} rows, imported "
             f"{self.n_imported}, rejected {self.n_rejected}; {len(self.profiles)} profiles")
        extra = []
        if self.n_untyped:
            extra.append(f"{self.n_untyped} no-call rows imported as untyped")
        if self.n_duplicate:
            extra.append(f"{self.n_duplicate} exact repeats merged")
        if self.left_out:
            extra.append(f"{len(self.left_out)} off-ladder or multi-allele calls imported as an "
                         f"untyped locus (see the notes)")
        if self.warnings:
            extra.append(f"WARNING: {len(self.warnings)} rows with an allele outside the ladder "
                         f"range imported as given (see the notes)")
        if extra:
            s += " (" + ", ".join(extra) + ")"
        encs = [f"{src.get('file')}: {src.get('encoding')}" for src in
                (self.provenance or {}).get("sources", [])
                if src.get("encoding") not in (None, "", "utf-8", "xml")]
        if encs:
            s += f" (encoding {'; '.join(encs)})"
        if self.manifest_read:
            s += (f". Manifest: read {self.manifest_read} rows, used {self.manifest_used}, "
                  f"rejected {self.manifest_rejected}")
        return s


# --------------------------------------------------------------------------------------
# Row checks
# --------------------------------------------------------------------------------------
_norm = lru_cache(maxsize=8192)(normalize_allele)


@lru_cache(maxsize=65536)
def _implausible(locus: str, label: str):
    from .plausible import implausible

    return implausible(locus, label)
_is_amel = lru_cache(maxsize=4096)(is_amelogenin)
_is_ol = lru_cache(maxsize=4096)(is_off_ladder)
_CTRL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=65536)
def _pair(a: str, b: str) -> tuple:
    return tuple(sorted((a, b), key=allele_sort_key))
#: cell values that mean "no allele" (R writes NA for missing values)
_NA = {"NA", "N/A"}


@lru_cache(maxsize=4096)
def _canon(name: str, extra: tuple) -> str:
    return canonical_locus(name, extra=extra or None)


def _suggest_allele(label: str) -> str | None:
    s = label.strip()
    s2 = s.replace("O", "0").replace("o", "0").replace("l", "1").replace("I", "1")
    s2 = re.sub(r"\.{2,}", ".", s2).replace(",", ".")
    if s2 != s:
        try:
            return _norm(s2)
        except AlleleError:
            return None
    return None


def allele_fix(label: str) -> str:
    if is_off_ladder(label):
        return ("re-designate the allele against the allelic ladder, or delete the row to "
                "leave the locus untyped for this sample")
    sug = _suggest_allele(label)
    if sug is not None:
        return f"did you mean '{sug}'? Correct the allele label in the source file"
    if label.strip().startswith("-"):
        return "write the repeat number without a sign; delete the row if the locus is untyped"
    return ("correct the allele label in the source file (a repeat number such as '15' or a "
            "microvariant such as '9.3')")


def _sex_from_amel(labels: list[str]) -> str | None:
    s = {a.strip().upper() for a in labels}
    if not s or not s <= {"X", "Y"}:
        return None
    return "M" if "Y" in s else "F"


def _reject_row(rejected: dict, file: str, c: Call, reason: str, fix: str, value: str = "",
                locus: str | None = None, phase: int = 1):
    if c.key not in rejected:
        lc = c.locus if locus is None else locus
        rejected[c.key] = (phase, Reject(file, c.line, c.sample, lc, reason, fix, value))



def _cmf_categories() -> list:
    from .cmf import CATEGORY_TO_KIND

    return [c.title() for c in CATEGORY_TO_KIND]


def _not_in_manifest(manifest, sample: str) -> tuple[str, str]:
    """Reason and fix for the rows of ``sample``, which has no entry in ``manifest``."""
    if sample in manifest.rejected_samples:
        reason = (f"the manifest row of this sample (line "
                  f"{manifest.rejected_samples[sample]}) was rejected")
        fix = "fix that manifest row"
    else:
        reason = f"sample is not in the manifest {os.path.basename(manifest.file)}"
        fix = ("add a row for it to the manifest (sample_id,kind,case_id,relation,sex), "
               "or remove its rows from the genotype file")
    return reason, fix

#: a sample with at least this many loci of three or more alleles, and at least
#: MIXTURE_SHARE of its called loci so, is a mixture, not a single-source profile
MIXTURE_LOCI = 2
MIXTURE_SHARE = 0.2


def _not_a_person(n_multi: int, n_called: int, n_typed: int):
    """(reason, fix) when a sample is not the single-source profile of a person:
    no typed locus (a negative control, an allelic ladder, an empty well), or
    mostly mixture calls; None otherwise.  Applied in every mode: such a sample
    never enters a dataset, where it would be compared (and match) as a person."""
    if n_multi >= MIXTURE_LOCI and n_multi >= MIXTURE_SHARE * max(n_called, 1):
        return (f"{n_multi} of its {n_called} called loci have three or more alleles: a mixture, "
                f"not the single-source profile of a person",
                "deconvolute the mixture with a probabilistic genotyping tool and import the "
                "person's profile, or leave the sample out")
    if n_typed == 0:
        return ("no typed locus: not the profile of a person (a negative control, an allelic "
                "ladder or an empty sample)", "leave the sample out of the import")
    return None


def assemble(parsed: Parsed, *, manifest: Manifest | None = None, mode: str = "strict",
             single_allele: str | None = None, extra_loci=(), default_kind: str = "query",
             kit: str = "", allele_check: str = "warn", off_ladder: str = "untyped",
             multi_allele: str | None = None) -> tuple[list, list, dict]:
    """Check rows, resolve duplicates, join the manifest.  Returns
    ``(profiles, rejects, stats)``; in strict mode raises on the first reject.
    ``off_ladder`` / ``multi_allele``: ``"untyped"`` imports such a call as an
    untyped locus of that sample with a note (``stats["left_out"]``), ``"error"``
    rejects the row (see :data:`OFF_LADDER_POLICY`)."""
    file = parsed.file
    multi = multi_allele or parsed.multi_allele
    single = single_allele or parsed.single_allele
    extra = tuple(extra_loci) + tuple(l for l in parsed.extra_loci if l not in extra_loci)
    rejected: dict[object, tuple[int, Reject]] = {}
    for i, r in enumerate(parsed.rejects):
        rejected[("structural", i)] = (1, r)
    by_sample: dict[str, list[Call]] = {}
    good: dict[str, dict[str, list]] = {}      # sample -> locus -> [(line, pair)]
    amel: dict[str, list] = {}                 # sample -> [(line, sex)]
    untyped: dict[object, Call] = {}
    implausible_notes: list = []
    left_out: list = []                        # notes of calls imported as untyped loci

    def leave_out(c, what):
        left_out.append(f"{os.path.basename(file)}, line {c.line}, sample {excerpt(c.sample, 64)!r}, "
                        f"locus {c.locus}: {what}; the locus is left untyped for this sample")
    n_multi: dict[str, int] = {}               # sample -> loci with three or more alleles
    n_called: dict[str, int] = {}              # sample -> locus rows with an allele
    for c in parsed.calls:
        c.sample = (c.sample or "").strip()
        by_sample.setdefault(c.sample, []).append(c)
        if not c.sample:
            _reject_row(rejected, file, c, "empty sample name",
                        "fill in the sample name, or delete the row")
            continue
        if _CTRL.search(c.sample):
            _reject_row(rejected, file, c, "the sample name contains a control character",
                        "remove tabs/newlines from the sample name")
            continue
        raw_locus = (c.locus or "").strip()
        cells = [a.strip() for a in c.alleles]
        if _NA.intersection(cells):
            cells = ["" if a in _NA else a for a in cells]
        while cells and cells[-1] == "":
            cells.pop()
        if not raw_locus:
            _reject_row(rejected, file, c, "empty locus name",
                        "fill in the marker name, or delete the row", locus="")
            continue
        if _is_amel(raw_locus):
            c.locus = "AMEL"
            if "" in cells:
                _reject_row(rejected, file, c, "empty allele before a called one",
                            "move the alleles into the first allele columns")
                continue
            if not cells:
                untyped[c.key] = c
                continue
            sex = _sex_from_amel(cells)
            if sex is None or len(cells) > 2:
                bad = next((a for a in cells if a.upper() not in ("X", "Y")), cells[-1])
                _reject_row(rejected, file, c,
                            "amelogenin alleles must be X and/or Y (at most two)",
                            "correct the amelogenin call, or delete the row (sex is then unknown)",
                            value=bad)
                continue
            amel.setdefault(c.sample, []).append((c.key, sex))
            continue
        try:
            locus = _canon(raw_locus, extra)
        except LocusError as e:
            _reject_row(rejected, file, c, str(e).split(" Known loci")[0],
                        "correct the marker name, or if it is a real locus missing from the "
                        "known list pass extra_loci=[...] (command line: --extra-locus NAME)",
                        value=raw_locus, locus=raw_locus)
            continue
        c.locus = locus
        if "" in cells:
            _reject_row(rejected, file, c, "empty allele: an allele column is empty before a "
                        "called allele", "move the alleles into the first allele columns, or "
                        "fill in the missing allele", value="")
            continue
        if not cells:
            if parsed.no_call == "untyped":
                untyped[c.key] = c
            else:
                _reject_row(rejected, file, c, "no allele given (empty allele)",
                            "write both alleles (e.g. 12,12 for a homozygote), or delete the "
                            "row to leave the locus untyped")
            continue
        n_called[c.sample] = n_called.get(c.sample, 0) + 1
        if len(cells) > 2:
            n_multi[c.sample] = n_multi.get(c.sample, 0) + 1
            if multi == "untyped":
                leave_out(c, f"{len(cells)} alleles at one locus (a tri-allelic pattern or a "
                             f"mixture; a kinship profile holds two)")
                continue
            _reject_row(rejected, file, c,
                        f"{len(cells)} alleles at one locus (a tri-allelic pattern or a mixture); "
                        f"a kinship profile holds two alleles per locus",
                        "check the call; for a true tri-allelic pattern or a mixture delete the "
                        "row to leave the locus untyped for this sample", value=cells[2])
            continue
        ol = next((a for a in cells if _is_ol(a)), None)
        if ol is not None and off_ladder == "untyped":
            leave_out(c, f"off-ladder allele {excerpt(ol)!r} (not an allele label: it cannot be "
                         f"compared with other profiles)")
            continue
        try:
            labels = [_norm(a) for a in cells]
        except AlleleError as e:
            bad = ""
            for a in cells:
                try:
                    _norm(a)
                except AlleleError:
                    bad = a
                    break
            _reject_row(rejected, file, c, str(e), allele_fix(bad), value=bad)
            continue
        odd = next((r for r in (_implausible(locus, a) for a in labels) if r), None)
        if odd is not None:
            if allele_check == "strict":
                _reject_row(rejected, file, c, odd,
                            "check the call and the export (a 0 or 999 is an empty or filler "
                            "value, not an allele); correct it, or delete the row to leave the "
                            "locus untyped; to keep it, import with allele_check='warn' "
                            "(--allele-check warn), which imports it with a warning")
                continue
            implausible_notes.append(f"{os.path.basename(file)}, line {c.line}, sample "
                                     f"{excerpt(c.sample, 64)!r}: {odd}; imported as given")
        if len(labels) == 1:
            if (single_allele or c.single or single) == "homozygote":
                labels = labels * 2
            else:
                _reject_row(rejected, file, c,
                            "one allele given (homozygote written once?); this format writes "
                            "both alleles of a homozygote",
                            f"write the allele twice (e.g. {labels[0]},{labels[0]}); if your "
                            f"file writes homozygotes once, pass single_allele='homozygote' "
                            f"(command line: --single-allele homozygote)", value=labels[0])
                continue
        pair = _pair(labels[0], labels[1])
        good.setdefault(c.sample, {}).setdefault(locus, []).append((c.key, pair))

    n_duplicate = 0
    by_key = {c.key: c for c in parsed.calls}
    # conflicting repeats of one sample and locus
    for sample, loci in good.items():
        for locus, entries in list(loci.items()):
            pairs = {p for _, p in entries}
            if len(pairs) > 1:
                lines = sorted({by_key[k].line for k, _ in entries})
                for k, _ in entries:
                    _reject_row(rejected, file, by_key[k],
                                f"lines {', '.join(map(str, lines))} give different genotypes for "
                                f"this sample and locus",
                                "keep the correct row and delete the others (if these are "
                                "different samples, give them different names)")
                del loci[locus]
            else:
                n_duplicate += len(entries) - 1
    for sample, entries in list(amel.items()):
        if len({s for _, s in entries}) > 1:
            lines = sorted({by_key[k].line for k, _ in entries})
            for k, _ in entries:
                _reject_row(rejected, file, by_key[k],
                            f"lines {', '.join(map(str, lines))} give different amelogenin calls",
                            "keep the correct row and delete the others")
            del amel[sample]

    profiles: list[Profile] = []
    made: set[str] = set()
    for sample, calls in by_sample.items():
        if not sample:
            continue
        live = [c for c in calls if c.key not in rejected]
        if not live:
            continue
        hints = dict(parsed.hints.get(sample, {}))
        entry = None
        if manifest is not None:
            entry = manifest.entries.get(sample)
            if entry is None:
                reason, fix = _not_in_manifest(manifest, sample)
                for c in live:
                    _reject_row(rejected, file, c, reason, fix, locus="")
                continue
        meta = {
            "kind": hints.get("kind") or default_kind,
            "case_id": hints.get("case_id", ""),
            "relation": hints.get("relation", ""),
            "sex": hints.get("sex", ""),
            "kit": hints.get("kit", "") or kit,
        }
        if entry is None and hints.get("unknown_category"):
            for c in live:
                _reject_row(rejected, file, c,
                            f"SPECIMENCATEGORY {excerpt(hints['unknown_category'])!r} does not say "
                            f"whether the sample is a query or a reference (known: "
                            f"{', '.join(_cmf_categories())})",
                            "give the sample's kind, case_id and relation in a samples manifest "
                            "(--manifest), or correct the category", locus="")
            continue
        if entry is not None:
            meta.update(kind=entry.kind, case_id=entry.case_id, relation=entry.relation)
            if entry.kit:
                meta["kit"] = entry.kit
        amel_sex = amel.get(sample, [(None, None)])[0][1]
        msex = entry.sex if entry is not None else ""
        if msex:
            meta["sex"] = msex
            if amel_sex and amel_sex != msex:
                for k, _ in amel.get(sample, []):
                    _reject_row(rejected, file, by_key[k],
                                f"amelogenin indicates {'male' if amel_sex == 'M' else 'female'} "
                                f"but the manifest says {'male' if msex == 'M' else 'female'}",
                                "check for a sample swap; correct the manifest or the call (an "
                                "AMELY deletion can hide Y in a male)")
        elif amel_sex:
            meta["sex"] = amel_sex
        try:
            kind = normalize_kind(meta["kind"])
            relation = normalize_relation(meta["relation"])
            sex = normalize_sex(meta["sex"])
            if kind == "query" and relation:
                raise ValueError(f"a query has no relation (got {relation!r})")
            if kind == "reference" and not meta["case_id"]:
                raise ValueError("a reference needs a case_id")
        except ValueError as e:
            for c in live:
                _reject_row(rejected, file, c, f"sample metadata: {e}",
                            "give kind, case_id and relation for this sample in a manifest "
                            f"(--manifest); relations: {', '.join(RELATIONS)}", locus="")
            continue
        live = [c for c in calls if c.key not in rejected]
        if not live:
            continue
        genos = {locus: entries[0][1] for locus, entries in good.get(sample, {}).items()
                 if any(k not in rejected for k, _ in entries)}
        why = _not_a_person(n_multi.get(sample, 0), n_called.get(sample, 0), len(genos))
        if why:
            for c in live:
                _reject_row(rejected, file, c, why[0], why[1], locus="")
            continue
        profiles.append(Profile(sample, genos, kind, meta["case_id"], relation, sex,
                                str(meta["kit"] or "")))
        made.add(sample)

    rejects = [r for _, r in sorted(rejected.values(), key=lambda t: (t[0], t[1].line or 0))]
    man_rejects: list[Reject] = []
    if manifest is not None:
        man_rejects = list(manifest.rejects)
        for sid, e in manifest.entries.items():
            if sid in made:
                continue
            if sid in by_sample:
                reason = "no genotype row of this sample could be imported (see its rejected rows)"
                fix = "fix the sample's rejected genotype rows"
            else:
                reason = (f"sample is in the manifest but not in the genotype file "
                          f"{os.path.basename(file)}")
                fix = "add its genotypes to the genotype file, or remove it from the manifest"
            man_rejects.append(Reject(manifest.file, e.line, sid, "", reason, fix))
    n_rejected = len(rejected)
    n_untyped = sum(1 for l in untyped if l not in rejected)
    stats = {
        "n_read": parsed.n_rows,
        "n_rejected": n_rejected,
        "n_imported": parsed.n_rows - n_rejected,
        "n_untyped": n_untyped,
        "n_duplicate": n_duplicate,
        "manifest_rejects": man_rejects,
        "warnings": implausible_notes,
        "left_out": left_out,
    }
    if mode == "strict":
        early = list(manifest.rejects) if manifest is not None else []
        late = man_rejects[len(early):]
        ordered = early + rejects + late
        if ordered:
            raise InvalidRowError.from_reject(ordered[0])
    return profiles, rejects, stats


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def _frequency_table(path, fmt: str):
    """A frequency table given where profiles are expected: say so."""
    from .freqio import FORMAT_WORDS

    raise InputFormatError(
        f"the file is a frequency table ({FORMAT_WORDS[fmt]}), not profiles", file=path, line=1,
        fix="give it where a frequency table is taken (a job's inputs.frequencies, "
            "--frequencies), and import the lab's genotype export instead")


def _detect_format(path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as e:
        raise InputFormatError(f"cannot read the file ({e.strerror})", file=path,
                               fix="check the path") from None
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if h.startswith(b"<") and re.search(rb"<frequencies[\s>]", h):
        _frequency_table(path, "strider-xml")
    if h.startswith(b"<"):
        return "cmf"
    if h.startswith(b'"Output from Familias') or str(path).lower().endswith(".fam"):
        return "familias"
    from .textio import header_key
    try:
        line = h.decode("utf-8", "replace").splitlines()[0] if h else ""
    except IndexError:
        line = ""
    keys = {header_key(x) for x in re.split(r"[\t,;|]", line)}
    if {"samplename", "marker"} <= keys or ("marker" in keys and any(k.startswith("allele") for k in keys)):
        return "genemapper"
    if ("locus" in keys or "marker" in keys) and ({"allele1", "allele2"} & keys):
        return "csv"
    if keys & {"sampleid", "sample", "samplename"}:
        return "wide"
    from .freqio import detect_frequency_format
    from .textio import header_excerpt

    try:
        freq = detect_frequency_format(path)
    except (InputFormatError, ValueError):
        freq = None
    if freq is not None:
        _frequency_table(path, freq)
    raise InputFormatError(
        f"cannot tell the file's format from its first line {header_excerpt(line)}", file=path,
        line=1, fix=f"pass format= (command line: --format), one of {', '.join(FORMATS)}",
    )


def write_rejects(rejects, path) -> str:
    """Write rejects as CSV (``file,line,sample,locus,value,reason,fix``), atomically."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    from .perms import file_mode, make_dir

    make_dir(d)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            os.fchmod(fh.fileno(), file_mode())
            w = csv.writer(fh)
            w.writerow(Reject.FIELDS)
            for r in rejects:
                w.writerow(r.as_row())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def import_file(path, format: str = "auto", manifest=None, mode: str = "strict",
                rejects_path=None, *, encoding: str | None = None, delimiter: str | None = None,
                single_allele: str | None = None, extra_loci=(), default_kind: str = "query",
                kit: str = "", sample_column: str | None = None,
                manifest_encoding: str | None = None, allele_check: str = "warn",
                off_ladder: str = "untyped", multi_allele: str | None = None) -> ImportResult:
    """Read a genotype file into :class:`Profile` objects.

    ``format``: ``"genemapper"`` (GeneMapper / GeneMapper ID-X genotype table),
    ``"csv"`` (long ``sample_id,locus,allele1,allele2``), ``"wide"`` (one row per
    sample, columns ``<locus> 1``/``<locus> 2``; also Familias DVI import tables),
    ``"familias"`` (``.fam``), ``"cmf"`` (CODIS CMF XML) or ``"auto"``.
    ``manifest``: path of a samples manifest (see :mod:`formats.manifest`).
    ``mode``: ``"strict"`` raises :class:`InvalidRowError` at the first bad row;
    ``"lenient"`` imports the good rows and returns the rejects (and writes them to
    ``rejects_path`` when given).  ``single_allele``: ``"homozygote"`` or
    ``"error"`` overrides the format's reading of a lone allele.  ``default_kind``
    is the kind of samples that neither the file nor a manifest describes.

    ``off_ladder``: ``"untyped"`` (default) imports a call with an off-ladder
    allele (``OL``, ``<6``, ``>17``) as an untyped locus of that sample, with a
    note (``ImportResult.left_out``); ``"error"`` rejects the row.
    ``multi_allele``: the same choice for a call of three or more alleles; the
    default is the format's (``"untyped"`` for CODIS CMF, which stores such calls,
    ``"error"`` otherwise).  See :data:`OFF_LADDER_POLICY`.

    File-level problems (unreadable file, wrong encoding or delimiter, missing
    columns, malformed XML) raise :class:`InputFormatError` in both modes.
    """
    from . import cmf, familias, table

    if mode not in ("strict", "lenient"):
        raise ValueError("mode must be 'strict' or 'lenient'")
    if single_allele not in (None, "homozygote", "error"):
        raise ValueError("single_allele must be 'homozygote' or 'error'")
    fmt = (format or "auto").lower()
    if fmt == "auto":
        fmt = _detect_format(path)
    man = read_manifest(manifest, encoding=manifest_encoding) if manifest is not None else None
    if fmt == "genemapper":
        parsed = table.parse_genemapper(path, encoding=encoding, delimiter=delimiter,
                                        sample_column=sample_column)
    elif fmt in ("csv", "long"):
        parsed = table.parse_long_csv(path, encoding=encoding, delimiter=delimiter)
    elif fmt == "wide":
        parsed = table.parse_wide(path, encoding=encoding, delimiter=delimiter,
                                  sample_column=sample_column)
    elif fmt in ("familias", "fam"):
        parsed = familias.parse_fam(path, encoding=encoding)
    elif fmt in ("cmf", "codis"):
        parsed = cmf.parse_cmf(path)
    else:
        raise ValueError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    if allele_check not in ("warn", "strict"):
        raise ValueError("allele_check must be 'warn' or 'strict'")
    if off_ladder not in ("untyped", "error"):
        raise ValueError("off_ladder must be 'untyped' or 'error'")
    if multi_allele not in (None, "untyped", "error"):
        raise ValueError("multi_allele must be 'untyped' or 'error'")
    profiles, rejects, st = assemble(parsed, manifest=man, mode=mode, single_allele=single_allele,
                                     extra_loci=extra_loci, default_kind=default_kind, kit=kit,
                                     allele_check=allele_check, off_ladder=off_ladder,
                                     multi_allele=multi_allele)
    man_rejects = st["manifest_rejects"]
    n_early = len(man.rejects) if man else 0
    all_rejects = man_rejects[:n_early] + rejects + man_rejects[n_early:]
    m_rej_lines = {r.line for r in man_rejects}
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    sources = [{"file": os.path.basename(os.fspath(path)), "sha256": parsed.sha256,
                "format": fmt, "encoding": parsed.encoding, "role": "genotypes"}]
    if man is not None:
        sources.append({"file": os.path.basename(man.file), "sha256": man.sha256,
                        "format": "manifest", "encoding": man.encoding, "role": "manifest"})
    res = ImportResult(
        profiles=profiles, rejects=all_rejects, n_read=st["n_read"],
        n_imported=st["n_imported"], n_rejected=st["n_rejected"], format=fmt,
        source=os.fspath(path),
        manifest_read=man.n_read if man else 0,
        manifest_used=(man.n_read - len(m_rej_lines)) if man else 0,
        manifest_rejected=len(m_rej_lines) if man else 0,
        n_untyped=st["n_untyped"], n_duplicate=st["n_duplicate"],
        cases=list(parsed.cases), pedigrees=list(parsed.pedigrees), settings=parsed.settings,
        provenance={
            "sources": sources,
            "import": {"mode": mode, "imported_at": now, "n_read": st["n_read"],
                       "n_imported": st["n_imported"], "n_rejected": st["n_rejected"],
                       "notes": list(parsed.notes) + st["left_out"][:100] + st["warnings"][:100]},
        },
    )
    res.warnings = list(st["warnings"])
    res.left_out = list(st["left_out"])
    if man is not None:
        res.dropout = {p.sample_id: man.entries[p.sample_id].dropout for p in profiles
                       if p.sample_id in man.entries and man.entries[p.sample_id].dropout is not None}
    res.extra_loci = tuple(extra_loci) + tuple(l for l in parsed.extra_loci if l not in extra_loci)
    if rejects_path is not None and mode == "lenient":
        res.rejects_path = write_rejects(all_rejects, rejects_path)
    return res
