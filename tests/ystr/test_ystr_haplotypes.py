"""Y haplotype storage, parsing and the bad-input rules of the issue."""
import csv
from importlib import resources

import numpy as np
import pytest

from kinship.ystr import YHaplotypeError, YHaplotypes, YLocusError, YPanel, get_panel, panels
from kinship.ystr.haplotypes import (
    CODE_MISSING,
    CODE_NULL,
    DUPLICATED,
    FLAG_COPIES_ASSUMED_EQUAL,
    FLAG_DUPLICATION,
    FLAG_MICROVARIANT,
    FLAG_NULL,
    MISSING,
    NULL,
    codes_from_values,
    exact_distance,
)
from kinship.ystr.loci import resolve_y_marker

YFP = get_panel("Yfiler Plus")


def rec(**kw):
    base = {"sample": "s1", "DYS19": 14, "DYS385": "11,14", "DYS389I": 13, "DYS389II": 29}
    base.update(kw)
    return base


def slot(h, name, row=0):
    return int(h.allele[row, h.panel.slot_index(name)])


# -- panels -----------------------------------------------------------------------------
def test_shipped_panels_slot_counts():
    assert get_panel("Yfiler").n_slots == 17
    assert get_panel("PowerPlex Y23").n_slots == 23
    assert get_panel("Yfiler Plus").n_slots == 27
    assert get_panel("ppy23") is get_panel("PowerPlex Y23")


def test_yfiler_is_within_both_kit_lists_of_the_data_file():
    kit = {}
    f = resources.files("kinship").joinpath("data", "loci", "kit_markers.csv")
    with f.open() as fh:
        for row in csv.DictReader(l for l in fh if not l.startswith("#")):
            kit.setdefault(row["kit_panel"], set()).add(row["marker"])
    yfiler = set(get_panel("Yfiler").marker_names)
    assert yfiler <= kit["PowerPlexY23_IDX_v1.1"]
    assert yfiler <= kit["Yfiler_Plus_Panel_v1"]
    assert set(get_panel("Yfiler Plus").marker_names) == kit["Yfiler_Plus_Panel_v1"]


def test_marker_spellings():
    assert resolve_y_marker("Y-GATA-H4") == ("YGATAH4", None)
    assert resolve_y_marker("DYS385 a/b") == ("DYS385", None)
    assert resolve_y_marker("dys385b") == ("DYS385", 1)
    assert resolve_y_marker("DYS 389 II") == ("DYS389II", None)
    with pytest.raises(YLocusError, match="DYS389I"):
        resolve_y_marker("DYS3899")


def test_custom_panel_and_copies():
    p = YPanel.custom("x", ["DYS19", "DYS464", "DYS999"], copies={"DYS999": 1})
    assert p.slots == ("DYS19", "DYS464a", "DYS464b", "DYS464c", "DYS464d", "DYS999")
    with pytest.raises(YLocusError, match="cannot be redeclared"):
        YPanel.custom("x", ["DYS385"], copies={"DYS385": 3})
    with pytest.raises(YLocusError, match="DYS389I"):
        YPanel.custom("x", ["DYS389II"])


# -- reading ----------------------------------------------------------------------------
def test_basic_record_storage_and_sorted_multicopy():
    h = YHaplotypes.from_records([rec(DYS385="14/11", DYS448="null", DYS458="17.2")], YFP)
    assert slot(h, "DYS385a") == 110 and slot(h, "DYS385b") == 140
    assert slot(h, "DYS19") == 140
    assert slot(h, "DYS448") == NULL
    assert h.flags[0, YFP.slot_index("DYS448")] & FLAG_NULL
    assert slot(h, "DYS458") == 172
    assert h.flags[0, YFP.slot_index("DYS458")] & FLAG_MICROVARIANT
    assert slot(h, "DYS390") == MISSING
    assert not h.allele.flags.writeable


def test_copies_given_per_column():
    h = YHaplotypes.from_records([{"sample": "a", "DYS385a": 15, "DYS385b": "12"}], YFP)
    assert (slot(h, "DYS385a"), slot(h, "DYS385b")) == (120, 150)
    with pytest.raises(YHaplotypeError, match="only copies"):
        YHaplotypes.from_records([{"sample": "a", "DYS385a": 15}], YFP)


def test_three_values_at_two_copy_marker_are_a_flagged_duplication():
    h = YHaplotypes.from_records([rec(DYS385="11,13,14")], YFP)
    assert slot(h, "DYS385a") == DUPLICATED and slot(h, "DYS385b") == DUPLICATED
    assert h.flags[0, YFP.slot_index("DYS385a")] & FLAG_DUPLICATION
    assert h.extra[(0, "DYS385")] == (110, 130, 140)
    # not compared
    assert h.comparison_values()[0, YFP.slot_index("DYS385a")] == MISSING
    # and never dropped: it is written back out
    assert h.to_records()[0]["DYS385"] == "11,13,14"
    with pytest.raises(YHaplotypeError, match="3 values"):
        YHaplotypes.from_records([rec(DYS385="11,13,14")], YFP, duplications="error")


def test_two_values_at_single_copy_marker_are_a_duplication():
    h = YHaplotypes.from_records([rec(DYS19="14,15")], YFP)
    assert slot(h, "DYS19") == DUPLICATED and h.extra[(0, "DYS19")] == (140, 150)
    # the same value twice is a diploid-style export of one call
    h2 = YHaplotypes.from_records([rec(DYS19="14,14")], YFP)
    assert slot(h2, "DYS19") == 140 and not h2.extra


def test_multicopy_given_one_value_is_an_error_unless_asked():
    with pytest.raises(YHaplotypeError, match="write '14,14'"):
        YHaplotypes.from_records([rec(DYS385="14")], YFP)
    h = YHaplotypes.from_records([rec(DYS385="14")], YFP, single_value_multicopy="all_copies")
    assert (slot(h, "DYS385a"), slot(h, "DYS385b")) == (140, 140)
    assert h.flags[0, YFP.slot_index("DYS385a")] & FLAG_COPIES_ASSUMED_EQUAL


def test_unknown_y_marker_is_an_error_with_suggestion():
    with pytest.raises(YHaplotypeError, match="DYS3899.*DYS389"):
        YHaplotypes.from_records([rec(DYS3899=12)], YFP)


def test_autosomal_and_metadata_fields():
    h = YHaplotypes.from_records([rec(D8S1179="12,13", vWA=16)], YFP)
    assert len(h) == 1
    with pytest.raises(YHaplotypeError, match="autosomal"):
        YHaplotypes.from_records([rec(D8S1179="12,13")], YFP, skip_autosomal=False)
    with pytest.raises(YHaplotypeError, match="ignore_fields"):
        YHaplotypes.from_records([rec(batch="B7")], YFP)
    YHaplotypes.from_records([rec(batch="B7")], YFP, ignore_fields=["batch"])


@pytest.mark.parametrize("extra", [{"sex": "F"}, {"sex": "female"}, {"AMEL": "X"}, {"Amelogenin": "X,X"}])
def test_female_sample_is_an_error(extra):
    with pytest.raises(YHaplotypeError, match="female"):
        YHaplotypes.from_records([rec(**extra)], YFP)


def test_male_amelogenin_is_fine():
    YHaplotypes.from_records([rec(AMEL="X,Y", sex="M")], YFP)


def test_dys389ii_shorter_than_dys389i_is_an_error():
    with pytest.raises(YHaplotypeError, match="not longer than DYS389I"):
        YHaplotypes.from_records([rec(DYS389I=13, DYS389II=13)], YFP)
    with pytest.raises(YHaplotypeError, match="not longer"):
        YHaplotypes.from_records([rec(DYS389I=14, DYS389II=12)], YFP)


def test_off_ladder_and_malformed_alleles_are_errors():
    with pytest.raises(YHaplotypeError, match="off-ladder"):
        YHaplotypes.from_records([rec(DYS19="OL")], YFP)
    with pytest.raises(YHaplotypeError, match="malformed"):
        YHaplotypes.from_records([rec(DYS19="1O")], YFP)


def test_marker_not_in_panel():
    with pytest.raises(YHaplotypeError, match="not in panel"):
        YHaplotypes.from_records([rec(DYS518=38)], get_panel("Yfiler"))
    h = YHaplotypes.from_records([rec(DYS518=38)], get_panel("Yfiler"), extra_markers="ignore")
    assert "DYS518" not in h.panel.marker_names


def test_inferred_panel_in_catalogue_order():
    h = YHaplotypes.from_records([{"sample": 1, "DYS390": 23, "DYS19": 14}])
    assert h.panel.slots == ("DYS19", "DYS390")


def test_from_long_rows():
    rows = [
        {"sample": "a", "marker": "DYS19", "allele1": "14", "allele2": "14"},
        {"sample": "a", "marker": "DYS385", "allele1": "11", "allele2": "14"},
        {"sample": "a", "marker": "DYS389I", "allele1": "13", "allele2": ""},
        {"sample": "a", "marker": "DYS389II", "allele1": "29", "allele2": None},
        {"sample": "b", "marker": "DYS385a", "allele1": "12"},
        {"sample": "b", "marker": "DYS385b", "allele1": "12"},
    ]
    h = YHaplotypes.from_long(rows, YFP)
    assert list(h.profile_id) == ["a", "b"]
    assert slot(h, "DYS19") == 140
    assert (slot(h, "DYS385a", 1), slot(h, "DYS385b", 1)) == (120, 120)
    rows.append({"sample": "c", "marker": "DYS385", "allele1": "12", "sex": "F"})
    with pytest.raises(YHaplotypeError, match="female"):
        YHaplotypes.from_long(rows, YFP, sex_key="sex")


# -- comparison view and codes -------------------------------------------------------------
def test_dys389_compared_as_segments():
    h = YHaplotypes.from_records([rec(DYS389I=13, DYS389II=29), rec(sample="s2", DYS389I=13, DYS389II="")], YFP)
    c = h.comparison_values()
    i1, i2 = YFP.dys389_slots()
    assert c[0, i1] == 130 and c[0, i2] == 160
    assert c[1, i2] == MISSING  # II missing: segment unknown
    assert h.allele[0, i2] == 290  # stored raw
    assert YFP.compare_slots[i2] == "DYS389II-I"


def test_screen_codes_by_hand():
    # 4 * whole + fraction class (.1 -> 1, .2 -> 2, .3 and above -> 3); 254 null, 255 missing
    vals = np.array([[140, 172, 103, 105, NULL, MISSING]])
    assert codes_from_values(vals).tolist() == [[56, 70, 43, 43, CODE_NULL, CODE_MISSING]]


def test_exact_distance_by_hand():
    a = np.array([[140, 142, 140, NULL, NULL, 130, MISSING]])
    b = np.array([[160, 150, 140, NULL, 150, 131, 150]])
    # slot 0: 2 steps; slot 1: 14.2 vs 15 -> 1 whole + decimals differ -> 2 steps... whole
    # parts 14 and 15 differ by 1, decimals differ: 1 + 1 = 2; slot 2 equal; slot 3 null=null;
    # slot 4 null vs call: 1 step; slot 5: 13 vs 13.1: 0 + 1 = 1; slot 6 not compared
    mm, st, nc = exact_distance(a, b)
    assert (int(mm[0]), int(st[0]), int(nc[0])) == (4, 2 + 2 + 1 + 1, 6)


def test_subset_concat_and_to_panel_roundtrip():
    h = YHaplotypes.from_records([rec(), rec(sample="s2", DYS19="14,15")], YFP)
    sub = h[[1]]
    assert sub.extra == {(0, "DYS19"): (140, 150)}
    both = YHaplotypes.concat([h, sub])
    assert len(both) == 3 and (2, "DYS19") in both.extra
    small = h.to_panel("Yfiler")
    assert small.n_slots == 17 and small.to_panel(YFP).allele[0, YFP.slot_index("DYS19")] == 140
    back = YHaplotypes.from_records(h.to_records(), YFP)
    assert np.array_equal(back.allele, h.allele) and back.extra == h.extra


def test_from_arrays_validation():
    a = np.full((1, YFP.n_slots), MISSING, np.int16)
    i = YFP.slot_index("DYS385a")
    a[0, i] = 140
    with pytest.raises(YHaplotypeError, match="partly typed"):
        YHaplotypes.from_arrays(YFP, a)
    a[0, i], a[0, i + 1] = 150, 140
    with pytest.raises(YHaplotypeError, match="sorted"):
        YHaplotypes.from_arrays(YFP, a)
    a[0, i], a[0, i + 1] = DUPLICATED, DUPLICATED
    with pytest.raises(YHaplotypeError, match="extra"):
        YHaplotypes.from_arrays(YFP, a)
    YHaplotypes.from_arrays(YFP, a, extra={(0, "DYS385"): (120, 130, 140)})
