"""Locus names, allele labels and kits (kinship.markers).

Expected values come from the module's documented policy (kinship/markers.py
docstring), from the data provenance notes (kinship/data/README.md: canonical
spellings ``vWA``, ``TH01``, ``CSF1PO``, ``Penta D``, ``Penta E``,
``D22GATA198B05``), and from the kit definitions (GlobalFiler: the 20 CODIS core
loci + SE33, plus the Y marker DYS391).
"""
from __future__ import annotations

import re

import pytest

import kinship
from kinship import (
    AlleleError,
    FrequencyTable,
    LocusError,
    canonical_locus,
    get_kit,
    kits,
    likelihood_ratio,
    normalize_allele,
)
from kinship.markers import CODIS_CORE_20, is_amelogenin, is_off_ladder, known_loci

# ---------------------------------------------------------------------------
# locus names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, canonical",
    [
        # vWA: upper-case spelling used by many labs
        ("VWA", "vWA"),
        ("vWA", "vWA"),
        ("vwa", "vWA"),
        # TH01 written with the letter O (typing slip)
        ("THO1", "TH01"),
        ("TH01", "TH01"),
        ("TH 01", "TH01"),
        # CSF1PO written with the digit 0
        ("CSF1P0", "CSF1PO"),
        ("CSF1PO", "CSF1PO"),
        # Penta E in every separator / case style
        ("PENTA_E", "Penta E"),
        ("PentaE", "Penta E"),
        ("Penta-E", "Penta E"),
        ("penta e", "Penta E"),
        ("Penta E", "Penta E"),
        ("PENTA E", "Penta E"),
        # Penta D likewise
        ("PENTA_D", "Penta D"),
        ("PentaD", "Penta D"),
        ("penta d", "Penta D"),
        ("Penta-D", "Penta D"),
        # explicit aliases (kinship/markers.py _EXTRA_ALIASES)
        ("D22GATA", "D22GATA198B05"),
        ("D22GATA198B05", "D22GATA198B05"),
        ("FIBRA", "FGA"),
        ("FGA", "FGA"),
        # case only
        ("d8s1179", "D8S1179"),
        ("se33", "SE33"),
    ],
)
def test_canonical_locus_aliases(raw, canonical):
    assert canonical_locus(raw) == canonical


def _normalised_key(name):
    # the comparison key documented in kinship/markers.py: ignore case, blanks,
    # '_', '-', '.', and read the letter O as the digit 0
    return re.sub(r"[\s_.\-]", "", name).upper().replace("O", "0")


def test_canonical_names_are_fixed_points():
    # every known name maps to itself (no alias rewrites a real locus), except
    # names that share a key with another spelling (see test_penta_c_spelled_like_penta_d_and_e)
    keys = {}
    for name in known_loci():
        keys.setdefault(_normalised_key(name), []).append(name)
    for name in known_loci():
        if len(keys[_normalised_key(name)]) == 1:
            assert canonical_locus(name) == name


def test_penta_c_spelled_like_penta_d_and_e():
    keys = {}
    for name in known_loci():
        keys.setdefault(_normalised_key(name), []).append(name)
    assert {k: v for k, v in keys.items() if len(v) > 1} == {}
    assert canonical_locus("PENTA_C") == "Penta C"
    assert "Penta C" in FrequencyTable.load().loci


def test_codis_core_loci_are_known_and_canonical():
    for name in CODIS_CORE_20:
        assert canonical_locus(name) == name
    assert len(set(CODIS_CORE_20)) == 20


def test_unknown_locus_error_suggests_close_name():
    # 'D8S1197' is a transposition of 'D8S1179'
    with pytest.raises(LocusError) as ei:
        canonical_locus("D8S1197")
    msg = str(ei.value)
    assert "unknown locus 'D8S1197'" in msg
    assert "did you mean" in msg
    assert "'D8S1179'" in msg
    assert "known_loci()" in msg  # says where to look
    # LocusError keeps a readable message (KeyError would quote it)
    assert not msg.startswith('"')


def test_unknown_locus_without_close_match():
    with pytest.raises(LocusError, match=r"unknown locus 'QQQQQ'") as ei:
        canonical_locus("QQQQQ")
    assert "did you mean" not in str(ei.value)


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty_locus_name(raw):
    with pytest.raises(LocusError, match="empty locus name"):
        canonical_locus(raw)


def test_extra_loci_of_a_user_table_are_accepted():
    assert canonical_locus("myloc1", extra=("MYLOC1",)) == "MYLOC1"
    with pytest.raises(LocusError):
        canonical_locus("myloc1")


def test_locus_error_is_a_key_error():
    # callers that catch KeyError keep working
    with pytest.raises(KeyError):
        canonical_locus("not-a-locus-xyz")


# ---------------------------------------------------------------------------
# amelogenin
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["AMEL", "Amel", "amelogenin", "Amelogenin", "AM", "AMELX", "AMEL_Y"])
def test_amelogenin_recognised(raw):
    assert is_amelogenin(raw)
    assert canonical_locus(raw) == "AMEL"


@pytest.mark.parametrize("raw", ["D3S1358", "vWA", "TH01", "FGA"])
def test_str_loci_are_not_amelogenin(raw):
    assert not is_amelogenin(raw)


def test_amelogenin_never_a_frequency_table_locus():
    t = FrequencyTable.from_dict({"D3S1358": {"14": 0.5, "15": 0.5}, "AMEL": {"1": 1.0}})
    assert t.loci == ("D3S1358",)
    assert "AMEL" not in t


def test_amelogenin_in_genotypes_is_ignored_by_likelihood_ratio():
    # Paternity duo, mother untyped.  Father 14/15, child 14/14 at D3S1358,
    # p14 = 16/64 = 0.25.  Without mutation the paternity index is
    # 1 / (2 p14) = 2 (father passes 14 with prob 1/2; under H2 the child's
    # paternal allele is 14 with prob p14).  AMEL (X/Y calls, which are not
    # even valid STR alleles) must be skipped, not evaluated, not an error.
    freqs = kinship.FrequencyTable.from_dict({"D3S1358": {"14": 16 / 64, "15": 32 / 64, "16": 16 / 64}})
    h1 = [
        {"id": "AF", "sex": "male"},
        {"id": "M", "sex": "female"},
        {"id": "C", "father": "AF", "mother": "M", "sex": "male"},
    ]
    h2 = [{"id": "AF", "sex": "male"}, {"id": "C", "sex": "male"}]
    g = {
        "AF": {"D3S1358": ("14", "15"), "AMEL": ("X", "Y")},
        "C": {"D3S1358": ("14", "14"), "Amelogenin": ("X", "Y")},
    }
    r = likelihood_ratio(h1, h2, g, freqs)
    assert list(r.per_locus) == ["D3S1358"]
    assert "AMEL" not in r.likelihood_h1 and "AMEL" not in r.skipped
    assert r.total == pytest.approx(2.0, rel=1e-12)


# ---------------------------------------------------------------------------
# allele labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("09", "9"),  # leading zero dropped
        ("10.0", "10"),  # zero decimal dropped
        (13.2, "13.2"),  # float microvariant
        ("13.2", "13.2"),
        ("13.20", "13.2"),  # trailing zero of the decimal dropped
        ("9.30", "9.3"),
        ("9.3", "9.3"),
        (7, "7"),  # int
        (9.0, "9"),  # whole float
        (" 12 ", "12"),  # surrounding blanks
        ("007", "7"),
        (17.100000000000001, "17.1"),  # spreadsheet float noise (data README)
    ],
)
def test_normalize_allele(raw, expected):
    assert normalize_allele(raw) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        # letter O instead of zero
        ("1O", "malformed allele '1O': expected a repeat number such as '15' or a microvariant such as '9.3'"),
        ("9..3", "malformed allele '9..3': expected a repeat number such as '15'"),
        ("-1", "malformed allele '-1': repeat numbers cannot be negative"),
        ("", "empty allele"),
        ("   ", "empty allele"),
        (None, "empty allele"),
        (float("nan"), "empty allele (NaN)"),
        ("OL", "off-ladder allele 'OL': it cannot be compared with other profiles"),
        ("ol", "off-ladder allele 'ol'"),
        ("<8", "off-ladder allele '<8'"),
        (">27", "off-ladder allele '>27'"),
        ("9.33", "malformed allele '9.33': microvariants have one decimal digit"),
        ("X", "malformed allele 'X'"),
        ("9,3", "malformed allele '9,3'"),
        (True, "malformed allele True"),
    ],
)
def test_malformed_alleles(raw, message):
    with pytest.raises(AlleleError) as ei:
        normalize_allele(raw)
    assert message in str(ei.value)


def test_off_ladder_message_says_how_to_fix():
    with pytest.raises(AlleleError) as ei:
        normalize_allele(">27")
    assert "re-designate it against the allelic ladder or leave the locus untyped" in str(ei.value)


@pytest.mark.parametrize("raw", ["OL", "ol", "<8", "> 27", ">27.3"])
def test_is_off_ladder(raw):
    assert is_off_ladder(raw)


@pytest.mark.parametrize("raw", ["8", "9.3", "1O", ""])
def test_is_not_off_ladder(raw):
    assert not is_off_ladder(raw)


def test_allele_error_is_a_value_error():
    with pytest.raises(ValueError):
        normalize_allele("1O")


def test_float_with_two_decimals_is_rejected_like_its_string():
    with pytest.raises(AlleleError, match="one decimal digit"):
        normalize_allele(9.33)


# ---------------------------------------------------------------------------
# kits
# ---------------------------------------------------------------------------


def test_kits_loaded():
    ks = kits()
    assert len(ks) >= 20
    assert "GlobalFiler_Panel_v1" in ks


def test_globalfiler_loci():
    k = get_kit("GlobalFiler")
    assert k.panel == "GlobalFiler_Panel_v1"
    assert k.name == "GlobalFiler PCR Amplification Kit"
    auto = k.autosomal_loci
    # GlobalFiler = 20 CODIS core + SE33 autosomal (21), plus DYS391 and amelogenin
    assert len(auto) >= 21
    assert set(CODIS_CORE_20) <= set(auto)
    assert "SE33" in auto
    assert "DYS391" in k.loci and "DYS391" not in auto
    for locus in auto:
        assert canonical_locus(locus) == locus
    # the ladder names the TH01 9.3 microvariant
    assert "9.3" in k.ladder["TH01"]


@pytest.mark.parametrize(
    "query",
    ["GlobalFiler_Panel_v1", "globalfiler_panel_v1", "GlobalFiler PCR Amplification Kit",
     "globalfiler", "GLOBALF"],
)
def test_get_kit_by_name_or_prefix(query):
    assert get_kit(query).panel == "GlobalFiler_Panel_v1"


def test_get_kit_exact_name_wins_over_prefix():
    # 'SGM_Plus_v2' is an exact panel name
    assert get_kit("SGM_Plus_v2").panel == "SGM_Plus_v2"


def test_get_kit_ambiguous():
    with pytest.raises(KeyError) as ei:
        get_kit("PowerPlex")
    msg = str(ei.value)
    assert "kit name 'PowerPlex' is ambiguous" in msg
    assert "PowerPlex_16_IDX_v2.0" in msg and "PowerPlex_Fusion_6C_Panels_IDX_v1.1" in msg


def test_get_kit_unknown_lists_panels():
    with pytest.raises(KeyError) as ei:
        get_kit("NoSuchKit")
    msg = str(ei.value)
    assert "unknown kit 'NoSuchKit'" in msg
    assert "GlobalFiler_Panel_v1" in msg


def test_known_loci_against_a_plain_reading_of_the_tables():
    """known_loci() (whole-file reads) names exactly the loci a plain csv.DictReader
    of every bundled frequency table and of the kit list finds, one spelling per
    locus (the spelling without an underscore where two differ)."""
    import csv
    from importlib import resources

    from kinship.markers import _key

    names = set()
    root = resources.files("kinship").joinpath("data")
    todo = [root.joinpath("frequencies")]
    while todo:
        for e in todo.pop().iterdir():
            if e.is_dir():
                todo.append(e)
            elif e.name.endswith(".csv") and e.name != "INDEX.csv":
                text = [ln for ln in e.read_text(encoding="utf-8").splitlines(True)
                        if not ln.startswith("#")]
                field = next(csv.reader(text[:1]))[0]
                names |= {row[field] for row in csv.DictReader(text)}
    text = [ln for ln in root.joinpath("loci", "kit_markers.csv").read_text(encoding="utf-8")
            .splitlines(True) if not ln.startswith("#")]
    names |= {row["marker"] for row in csv.DictReader(text)}
    by_key = {}
    for n in sorted(names, key=lambda x: ("_" in x, x)):
        by_key.setdefault(_key(n), n)
    assert known_loci() == tuple(sorted(by_key.values()))
    assert {"vWA", "TH01", "Penta E", "D22S1045", "SE33"} <= set(known_loci())
