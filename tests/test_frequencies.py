"""Frequency tables and the missing-allele policy (kinship.frequencies).

The policy under test is the one documented at the top of
kinship/frequencies.py: the table is stored and reported as given; sums further
than 0.02 from 1 are errors unless ``renormalise=True``; absent alleles get the
minimum allele frequency (user value, else 5/(2N), else an error); the allele
system used for computation (``locus_alleles``) sums to 1: added alleles keep
the minimum frequency, the table's alleles and the silent allele are scaled by
(1 - sum added) / (their sum).

Small tables use frequencies that are multiples of 1/64, so sums are exact in
binary floating point.  Bundled-table values (N, sums) are read from the CSV
files themselves with the csv module, not through the code under test.
"""
from __future__ import annotations

import csv
import hashlib
import math
from importlib import resources

import numpy as np
import pytest

import kinship
from kinship import FrequencyError, FrequencyTable, MissingAlleleError, likelihood_ratio

D3 = "D3S1358"
TH = "TH01"

SMALL = {
    D3: {"14": 16 / 64, "15": 32 / 64, "16": 16 / 64},
    TH: {"6": 8 / 64, "7": 24 / 64, "9.3": 32 / 64},
}


def _csv_path(population):
    root = resources.files("kinship").joinpath("data", "frequencies")
    for sub in ("", "popstr", "strider2015"):
        p = root.joinpath(sub, population + ".csv") if sub else root.joinpath(population + ".csv")
        if p.is_file():
            return p
    raise FileNotFoundError(population)


def _read_raw(population):
    """(header dict, {marker: {allele: float}}) read straight from the bundled CSV."""
    text = _csv_path(population).read_text(encoding="utf-8")
    meta, body = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            k, _, v = line[1:].partition("=")
            meta[k.strip()] = v.strip()
        elif line.strip():
            body.append(line)
    rows = list(csv.reader(body))
    assert rows[0] == ["marker", "allele", "frequency"]
    table = {}
    for m, a, f in rows[1:]:
        table.setdefault(m, {})[a] = float(f)
    return meta, table


# ---------------------------------------------------------------------------
# from_dict: used exactly as given
# ---------------------------------------------------------------------------


def test_from_dict_values_used_exactly():
    t = FrequencyTable.from_dict(SMALL)
    assert t.loci == (D3, TH)
    assert t.alleles(D3) == {"14": 0.25, "15": 0.5, "16": 0.25}
    assert t.frequency(TH, "9.3") == 0.5
    assert t.frequency(D3, "15") == 0.5


def test_sum_within_tolerance_is_stored_as_given():
    # 0.5 + 0.49 = 0.99, within the default tolerance 0.02 -> stored as given
    # (the computation scales it to 1: test_locus_alleles_scales_a_table_...)
    t = FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.49}})
    assert t.frequency(D3, "14") == 0.5
    assert t.frequency(D3, "15") == 0.49
    assert sum(t.alleles(D3).values()) == pytest.approx(0.99)


def test_allele_labels_and_locus_names_are_normalised():
    t = FrequencyTable.from_dict({"VWA": {"09": 0.25, 10.0: 0.75}})
    assert t.loci == ("vWA",)
    assert t.alleles("vWA") == {"9": 0.25, "10": 0.75}
    assert t.resolve_locus("VWA") == "vWA"


def test_zero_frequency_alleles_are_dropped():
    t = FrequencyTable.from_dict({D3: {"14": 0.0, "15": 1.0}})
    assert t.alleles(D3) == {"15": 1.0}


def test_sum_far_from_one_is_an_error():
    # 0.5 + 0.3 = 0.8: 0.2 from 1 > 0.02
    with pytest.raises(FrequencyError) as ei:
        FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.3}})
    msg = str(ei.value)
    assert "locus D3S1358" in msg
    assert "sum to 0.8" in msg
    assert "renormalise=True" in msg


def test_sum_tolerance_parameter():
    FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.45}}, sum_tolerance=0.06)
    with pytest.raises(FrequencyError, match="sum to 0.95"):
        FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.45}}, sum_tolerance=0.01)


def test_renormalise_divides_by_sum():
    # 0.5 / 0.8 = 0.625, 0.3 / 0.8 = 0.375
    t = FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.3}}, renormalise=True)
    assert t.frequency(D3, "14") == pytest.approx(0.625, rel=1e-15)
    assert t.frequency(D3, "15") == pytest.approx(0.375, rel=1e-15)
    # counts are accepted as well: 3 : 1
    t = FrequencyTable.from_dict({D3: {"14": 3, "15": 1}}, renormalise=True)
    assert t.alleles(D3) == {"14": 0.75, "15": 0.25}


@pytest.mark.parametrize(
    "bad, shown",
    [(-0.25, "-0.25"), (float("nan"), "nan"), (float("inf"), "inf")],
)
def test_negative_nan_inf_frequency_names_locus_and_allele(bad, shown):
    with pytest.raises(FrequencyError) as ei:
        FrequencyTable.from_dict({D3: {"14": 0.5, "15": bad, "16": 0.5}})
    msg = str(ei.value)
    assert "locus D3S1358" in msg and "allele 15" in msg
    assert shown in msg
    assert "finite number >= 0" in msg


@pytest.mark.parametrize("bad", ["abc", None, [0.5]])
def test_non_numeric_frequency_names_locus_and_allele(bad):
    with pytest.raises(FrequencyError) as ei:
        FrequencyTable.from_dict({TH: {"7": 0.5, "9.3": bad}})
    msg = str(ei.value)
    assert "locus TH01" in msg and "allele 9.3" in msg and "is not a number" in msg


@pytest.mark.parametrize("labels", [("9", "09"), (9, "9.0"), ("9.3", "9.30")])
def test_duplicate_alleles_after_normalisation(labels):
    a, b = labels
    with pytest.raises(FrequencyError) as ei:
        FrequencyTable.from_dict({TH: {a: 0.5, b: 0.5}})
    assert "locus TH01" in str(ei.value) and "listed twice" in str(ei.value)


def test_duplicate_locus_via_alias():
    with pytest.raises(FrequencyError, match=r"locus 'VWA' appears twice \(as 'vWA'\)"):
        FrequencyTable.from_dict({"vWA": {"16": 1.0}, "VWA": {"17": 1.0}})


def test_malformed_allele_label_in_table():
    with pytest.raises(FrequencyError, match=r"locus D3S1358: malformed allele '1O'"):
        FrequencyTable.from_dict({D3: {"1O": 0.5, "15": 0.5}})


def test_empty_table_and_empty_locus():
    with pytest.raises(FrequencyError, match="has no loci"):
        FrequencyTable.from_dict({})
    with pytest.raises(FrequencyError, match="locus D3S1358: no alleles"):
        FrequencyTable.from_dict({D3: {}})


def test_unknown_locus_of_table_names_it():
    t = FrequencyTable.from_dict(SMALL)
    with pytest.raises(kinship.LocusError) as ei:
        t.resolve_locus("FGA")
    assert "'FGA' is not in frequency table" in str(ei.value)
    assert "D3S1358" in str(ei.value)  # lists what the table has


# ---------------------------------------------------------------------------
# missing alleles
# ---------------------------------------------------------------------------


def test_user_min_allele_freq_scalar():
    t = FrequencyTable.from_dict(SMALL, min_allele_freq=1 / 128)
    assert t.frequency(D3, "13") == 1 / 128
    assert t.frequency(TH, "8") == 1 / 128
    assert t.min_allele_frequency(D3) == 1 / 128


def test_user_min_allele_freq_per_locus_with_alias_keys():
    t = FrequencyTable.from_dict(SMALL, min_allele_freq={"d3s1358": 0.01, "THO1": 0.02})
    assert t.frequency(D3, "13") == 0.01
    assert t.frequency(TH, "10") == 0.02


def test_user_min_beats_sample_size():
    t = FrequencyTable.from_dict(SMALL, n=100, min_allele_freq={D3: 0.01})
    assert t.min_allele_frequency(D3) == 0.01
    # TH01 has no user value: falls back to 5/(2N) = 5/200
    assert t.min_allele_frequency(TH) == 5 / 200


def test_five_over_two_n_from_n():
    # NRC II: 5 / (2N); N = 100 -> 0.025
    t = FrequencyTable.from_dict(SMALL, n=100)
    assert t.frequency(D3, "13") == 0.025
    assert t.n_for(D3) == 100


def test_five_over_two_n_per_locus():
    t = FrequencyTable.from_dict(SMALL, n=100, n_by_locus={"THO1": 10})
    assert t.min_allele_frequency(D3) == 5 / 200
    assert t.min_allele_frequency(TH) == 5 / 20  # N = 10 at TH01
    assert t.n_for(TH) == 10


def test_bundled_nist_uses_five_over_2072():
    # nist1036_all.csv header: n=1036, typed_individuals_by_marker CSF1PO:1036,
    # TPOX:1035 -> 5/(2*1036) = 5/2072 and 5/(2*1035) = 5/2070
    meta, _ = _read_raw("nist1036_all")
    assert meta["n"] == "1036"
    assert "TPOX:1035" in meta["typed_individuals_by_marker"]
    t = FrequencyTable.load()
    assert t.name == "nist1036_all"
    assert t.n == 1036
    assert t.min_allele_frequency("CSF1PO") == 5 / 2072
    assert t.frequency("CSF1PO", "3") == 5 / 2072  # CSF1PO 3 is not in the table
    assert "3" not in t.alleles("CSF1PO")
    assert t.min_allele_frequency("TPOX") == 5 / 2070


def test_bundled_fbi2015_n_from_allele_counts():
    # fbi2015_caucasian.csv: n_alleles_by_marker D3S1358:404 -> N = 404/2 = 202
    # individuals -> min = 5 / (2 * 202) = 5/404
    meta, _ = _read_raw("fbi2015_caucasian")
    assert "D3S1358:404" in meta["n_alleles_by_marker"]
    t = FrequencyTable.load("fbi2015_caucasian")
    assert t.n_for("D3S1358") == 202
    assert t.min_allele_frequency("D3S1358") == 5 / 404


def test_n_alleles_by_marker_is_halved(tmp_path):
    # Only the allele count is given (no n=): N = 300/2 = 150 individuals,
    # min = 5/(2*150) = 5/300.  An odd count 301 floors to 150 as well.
    p = tmp_path / "t.csv"
    p.write_text(
        "# n_alleles_by_marker=D3S1358:300;TH01:41\n"
        "marker,allele,frequency\n"
        "D3S1358,14,0.5\nD3S1358,15,0.5\nTH01,7,1.0\n",
        encoding="utf-8",
    )
    t = FrequencyTable.from_csv(p)
    assert t.n is None
    assert t.min_allele_frequency(D3) == 5 / 300
    assert t.min_allele_frequency(TH) == 5 / 40  # 41 // 2 = 20 individuals


def test_no_sample_size_no_user_value_is_an_error():
    t = FrequencyTable.from_dict(SMALL)
    assert t.min_allele_frequency(D3) is None
    with pytest.raises(MissingAlleleError) as ei:
        t.frequency(D3, "13")
    msg = str(ei.value)
    assert "allele 13 at locus D3S1358" in msg
    assert "5/(2N)" in msg
    assert "min_allele_freq=" in msg
    # a per-locus dict that misses the locus falls back to N, here absent
    t = FrequencyTable.from_dict(SMALL, min_allele_freq={TH: 0.01})
    with pytest.raises(MissingAlleleError, match="min_allele_freq"):
        t.frequency(D3, "13")


def test_missing_allele_error_policy():
    t = FrequencyTable.from_dict(SMALL, n=100, min_allele_freq=0.01, missing_allele="error")
    assert t.frequency(D3, "14") == 0.25  # present alleles unaffected
    with pytest.raises(MissingAlleleError) as ei:
        t.frequency(D3, "13")
    assert "allele 13 at locus D3S1358" in str(ei.value)
    assert "missing_allele='error'" in str(ei.value)
    with pytest.raises(MissingAlleleError):
        t.locus_alleles(D3, ["13"])


def test_missing_allele_policy_must_be_known():
    with pytest.raises(ValueError, match="missing_allele must be 'min' or 'error'"):
        FrequencyTable.from_dict(SMALL, missing_allele="ignore")


def test_locus_alleles_adds_absent_and_scales_the_table_alleles():
    t = FrequencyTable.from_dict(SMALL, min_allele_freq=1 / 64)
    la = t.locus_alleles(D3, ["13", "15", "17"])
    # sorted by repeat number; 13 and 17 added with exactly 1/64 each; the
    # table's alleles (sum 1) make room: scale = (1 - 2/64) / 1 = 62/64, so
    # 16/64 -> 16*62/4096 = 31/128 and 32/64 -> 31/64 (all exact in binary)
    assert la.alleles == ("13", "14", "15", "16", "17")
    assert la.freqs.tolist() == [1 / 64, 31 / 128, 31 / 64, 31 / 128, 1 / 64]
    assert la.added == ("13", "17")
    assert la.scale == 62 / 64
    assert la.freqs.sum() == 1.0
    # the values as given are kept alongside
    assert la.given_freqs.tolist() == [1 / 64, 16 / 64, 32 / 64, 16 / 64, 1 / 64]
    assert not la.silent
    # the table itself is unchanged
    assert t.alleles(D3) == SMALL[D3]
    assert t.frequency(D3, "14") == 16 / 64


def test_locus_alleles_scales_a_table_that_does_not_sum_to_one():
    # 0.5 + 0.49 = 0.99 (accepted): the computation uses p / 0.99
    t = FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.49}})
    la = t.locus_alleles(D3)
    assert la.freqs.tolist() == pytest.approx([0.5 / 0.99, 0.49 / 0.99], rel=1e-15)
    assert la.scale == pytest.approx(1 / 0.99, rel=1e-15)
    assert la.freqs.sum() == pytest.approx(1.0, abs=1e-15)
    assert la.given_freqs.tolist() == [0.5, 0.49]
    # stored and reported as given
    assert t.frequency(D3, "15") == 0.49


def test_added_alleles_that_leave_no_room_are_an_error():
    t = FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.5}}, min_allele_freq=0.5)
    t.locus_alleles(D3, ["13"])                     # 0.5 added: scale 0.5, fine
    with pytest.raises(FrequencyError, match="leaves nothing for the table's own alleles"):
        t.locus_alleles(D3, ["13", "16"])           # 1.0 added


def test_sum_tolerance_is_inclusive():
    # 0.2 + 0.3 + 0.48 is 0.98 in decimal, just below in binary: accepted at 0.02
    FrequencyTable.from_dict({D3: {"14": 0.2, "15": 0.3, "16": 0.48}})
    with pytest.raises(FrequencyError, match="sum to 0.979"):
        FrequencyTable.from_dict({D3: {"14": 0.2, "15": 0.3, "16": 0.479}})


def test_locus_alleles_with_renormalise_scales_like_any_table():
    # table 0.5 : 0.3, renormalised once at construction -> stored 0.625, 0.375;
    # absent allele 13 then gets min 0.05 exactly, and the table's alleles are
    # scaled by (1 - 0.05) / (0.625 + 0.375) = 0.95: 0.59375, 0.35625
    t = FrequencyTable.from_dict({D3: {"14": 0.5, "15": 0.3}}, renormalise=True, min_allele_freq=0.05)
    la = t.locus_alleles(D3, ["13"])
    assert la.freqs.tolist() == pytest.approx([0.05, 0.59375, 0.35625], rel=1e-15)
    assert la.freqs[0] == t.frequency(D3, "13") == 0.05
    # the stored (reported) table is the renormalised one
    assert t.frequency(D3, "14") == pytest.approx(0.625, rel=1e-15)
    assert la.given_freqs[1] == t.frequency(D3, "14")
    # without an added allele the system is the stored table (scale 1 to rounding)
    assert t.locus_alleles(D3).freqs.tolist() == pytest.approx([0.625, 0.375], rel=1e-15)


def test_renormalise_changes_no_likelihood_without_a_silent_allele():
    # within the tolerance, renormalise=True only changes what is stored: the
    # computation scales each locus to 1 either way
    raw = {D3: {"14": 0.3, "15": 0.2, "16": 0.49}}        # 0.99
    a = FrequencyTable.from_dict(raw, min_allele_freq=0.01)
    b = FrequencyTable.from_dict(raw, min_allele_freq=0.01, renormalise=True)
    assert a.checksum() != b.checksum()
    for extra in ([], ["13"]):
        np.testing.assert_allclose(a.locus_alleles(D3, extra).freqs, b.locus_alleles(D3, extra).freqs,
                                   rtol=1e-15, atol=0)


def test_locus_alleles_microvariant_sort_order():
    t = FrequencyTable.from_dict(SMALL, min_allele_freq=1 / 64)
    la = t.locus_alleles(TH, ["10", "9"])
    assert la.alleles == ("6", "7", "9", "9.3", "10")


# ---------------------------------------------------------------------------
# silent alleles
# ---------------------------------------------------------------------------


def test_silent_allele_every_locus():
    t = FrequencyTable.from_dict(SMALL, silent=1 / 64)
    la = t.locus_alleles(D3)
    assert la.alleles == ("14", "15", "16", "silent")  # silent last
    # the table sums to 1, with the silent allele to 65/64: everything is scaled
    # by 64/65 so that the system sums to 1
    assert la.freqs.tolist() == pytest.approx([16 / 65, 32 / 65, 16 / 65, 1 / 65], rel=1e-15)
    assert la.given_freqs.tolist() == [16 / 64, 32 / 64, 16 / 64, 1 / 64]
    assert la.silent
    assert t.silent_frequency(D3) == 1 / 64
    assert t.frequency(TH, "silent") == 1 / 64


def test_silent_allele_per_locus():
    t = FrequencyTable.from_dict(SMALL, silent={"d3s1358": 0.002})
    assert t.silent_frequency(D3) == 0.002
    assert t.silent_frequency(TH) == 0.0
    assert not t.locus_alleles(TH).silent
    with pytest.raises(MissingAlleleError, match="no silent allele frequency set for locus TH01"):
        t.frequency(TH, "silent")


@pytest.mark.parametrize("bad", [1.0, -0.01, 1.5])
def test_silent_frequency_out_of_range(bad):
    with pytest.raises(FrequencyError, match=r"silent allele frequency at D3S1358 must be in \[0, 1\)"):
        FrequencyTable.from_dict(SMALL, silent={D3: bad})


def test_silent_allele_in_a_paternity_duo():
    # Father called 15/15, child called 16/16, mother untyped.  Table p14 = 1/4,
    # p15 = 1/2, p16 = 1/4 and silent 1/64: 65/64 in all, so the allele system
    # is q = 64/65 x that: q14 = 16/65, q15 = 32/65, q16 = 16/65, s = 1/65
    # (every founder allele, untyped ones too, is drawn from q).
    # Without a silent allele this is an exclusion.  With it:
    # H1: the father must be 15/s (prob 2 q15 s), pass s (1/2), and the child's
    #     maternal allele must be 16 (q16):  L1 = q15 s q16 = 32*16/65^3 = 512/274625.
    # H2: P(father call) = q15^2 + 2 q15 s = q15 (q15 + 2 s) = 32*34/65^2,
    #     P(child call)  = q16 (q16 + 2 s) = 16*18/65^2,
    #     L2 = 32*34*16*18/65^4 = 313344/17850625.
    # LR = s / ((q15 + 2 s)(q16 + 2 s)) = 65 / (34*18) = 65/612.
    t = FrequencyTable.from_dict({D3: SMALL[D3]}, silent=1 / 64)
    h1 = [
        {"id": "AF", "sex": "male"},
        {"id": "M", "sex": "female"},
        {"id": "C", "father": "AF", "mother": "M", "sex": "male"},
    ]
    h2 = [{"id": "AF", "sex": "male"}, {"id": "C", "sex": "male"}]
    g = {"AF": {D3: ("15", "15")}, "C": {D3: ("16", "16")}}
    r = likelihood_ratio(h1, h2, g, t)
    assert r.likelihood_h1[D3] == pytest.approx(512 / 274625, rel=1e-12)
    assert r.likelihood_h2[D3] == pytest.approx(313344 / 17850625, rel=1e-12)
    assert r.per_locus[D3] == pytest.approx(65 / 612, rel=1e-12)
    assert r.inconsistent == []
    # and without the silent allele it is an exclusion
    r0 = likelihood_ratio(h1, h2, g, FrequencyTable.from_dict({D3: SMALL[D3]}))
    assert r0.per_locus[D3] == 0.0


def test_silent_allele_with_theta_homozygous_founders():
    # Balding-Nichols urn (docs/mutation-models.md §6) with a silent allele s:
    # the k-th founder allele is a with prob (c_a θ + (1-θ) p_a)/(1 + (k-2) θ).
    # One founder called 15/15.  Table p15 = 1/2 with silent 1/64 (65/64 in
    # all), so q15 = 32/65, qs = 1/65: ordered pairs (15,15), (15,s), (s,15):
    # q15 (θ + (1-θ) q15) + 2 q15 (1-θ) qs.
    theta, p15, ps = 0.05, 32 / 65, 1 / 65
    t = FrequencyTable.from_dict({D3: SMALL[D3]}, silent=1 / 64)
    one = [{"id": "A", "sex": "male"}]
    r = likelihood_ratio(one, one, {"A": {D3: ("15", "15")}}, t, theta=theta)
    exp = p15 * (theta + (1 - theta) * p15) + 2 * p15 * (1 - theta) * ps
    assert r.likelihood_h1[D3] == pytest.approx(exp, rel=1e-12)
    assert r.per_locus[D3] == 1.0


def test_bundled_table_paternity_index():
    # nist1036_all, CSF1PO: father 10/11, child 10/12, mother untyped.
    # H1: father passes 10 (1/2), mother's allele 12 (p12): L1 = P(AF) p12 / 2
    # H2: L2 = P(AF) * 2 p10 p12  ->  LR = 1 / (4 p10), with p10 the frequency
    # of the allele system: the CSV's value divided by the CSV's CSF1PO sum
    # (which is 1 only to ~1e-10).
    _, raw = _read_raw("nist1036_all")
    p10 = raw["CSF1PO"]["10"] / math.fsum(raw["CSF1PO"].values())
    h1 = [
        {"id": "AF", "sex": "male"},
        {"id": "M", "sex": "female"},
        {"id": "C", "father": "AF", "mother": "M", "sex": "male"},
    ]
    h2 = [{"id": "AF", "sex": "male"}, {"id": "C", "sex": "male"}]
    g = {"AF": {"CSF1PO": ("10", "11")}, "C": {"CSF1PO": ("10", "12")}}
    r = likelihood_ratio(h1, h2, g, FrequencyTable.load())
    assert r.per_locus["CSF1PO"] == pytest.approx(1 / (4 * p10), rel=1e-12)


def test_bundled_table_rare_allele_gets_five_over_2n_in_the_lr():
    # CSF1PO allele 3 is not in nist1036_all: it gets 5/(2*1036) = 5/2072.
    # Father 3/10, child 3/3, mother untyped: LR = 1/(2 p3) = 2072/10 = 207.2
    h1 = [
        {"id": "AF", "sex": "male"},
        {"id": "M", "sex": "female"},
        {"id": "C", "father": "AF", "mother": "M", "sex": "male"},
    ]
    h2 = [{"id": "AF", "sex": "male"}, {"id": "C", "sex": "male"}]
    g = {"AF": {"CSF1PO": ("3", "10")}, "C": {"CSF1PO": ("3", "3")}}
    r = likelihood_ratio(h1, h2, g, FrequencyTable.load())
    assert r.per_locus["CSF1PO"] == pytest.approx(207.2, rel=1e-12)


# ---------------------------------------------------------------------------
# bundled populations
# ---------------------------------------------------------------------------

CHINA = "china_han_gbt37223_appD_transcribed"


def test_every_bundled_population_loads():
    pops = kinship.populations()
    assert len(pops) >= 100
    assert "nist1036_all" in pops and "fbi2015_caucasian" in pops and CHINA in pops
    for pop in pops:
        if pop == CHINA:
            continue
        t = FrequencyTable.load(pop)
        assert t.name == pop
        assert len(t.loci) >= 1
        for locus in t.loci:
            s = sum(t.alleles(locus).values())
            assert abs(s - 1.0) <= 0.02, (pop, locus, s)
        prov = t.provenance
        assert prov["file"] == pop + ".csv"
        # the checksum is that of the file's own bytes (no BOM, LF line ends)
        raw = _csv_path(pop).read_bytes()
        assert prov["file_sha256"] == hashlib.sha256(raw).hexdigest(), pop
        assert "source" in prov


def test_china_table_needs_renormalise_because_se33_sums_to_0954():
    _, raw = _read_raw(CHINA)
    raw_sum = sum(raw["SE33"].values())
    assert raw_sum == pytest.approx(0.954, abs=5e-4)  # per kinship/data/README.md
    with pytest.raises(FrequencyError) as ei:
        FrequencyTable.load(CHINA)
    msg = str(ei.value)
    assert "locus SE33" in msg and "sum to 0.954" in msg and "renormalise=True" in msg
    t = FrequencyTable.load(CHINA, renormalise=True)
    got = t.alleles("SE33")
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
    for a, p in raw["SE33"].items():
        assert got[kinship.normalize_allele(a)] == pytest.approx(p / raw_sum, rel=1e-12)
    # other loci are divided by their own (near-1) sums
    d6 = raw["D6S1017"]
    assert t.frequency("D6S1017", "10") == pytest.approx(d6["10"] / sum(d6.values()), rel=1e-12)
    # the table gives no sample size
    assert t.n is None and t.min_allele_frequency("SE33") is None


def test_unknown_population_suggests():
    with pytest.raises(KeyError) as ei:
        FrequencyTable.load("nist1036_al")
    assert "unknown population 'nist1036_al'" in str(ei.value)
    assert "nist1036_all" in str(ei.value)


def test_load_accepts_a_path(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("# n=50\nmarker,allele,frequency\nD3S1358,14,0.25\nD3S1358,15,0.75\n")
    t = FrequencyTable.load(str(p))
    assert t.name == "mine" and t.n == 50
    assert t.frequency(D3, "13") == 5 / 100
    assert t.provenance["file_sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_from_csv_bad_header(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("locus,allele,freq\nD3S1358,14,1.0\n")
    with pytest.raises(FrequencyError, match="expected the header 'marker,allele,frequency'"):
        FrequencyTable.from_csv(p)


def test_from_csv_repeated_allele(tmp_path):
    p = tmp_path / "rep.csv"
    p.write_text("marker,allele,frequency\nD3S1358,14,0.5\nD3S1358,14,0.5\n")
    with pytest.raises(FrequencyError, match="allele 14 of D3S1358 repeated"):
        FrequencyTable.from_csv(p)


# ---------------------------------------------------------------------------
# checksum and CSV round trip
# ---------------------------------------------------------------------------


def test_checksum_independent_of_dict_order():
    a = FrequencyTable.from_dict(SMALL, n=100)
    reordered = {locus: dict(reversed(list(SMALL[locus].items()))) for locus in reversed(list(SMALL))}
    b = FrequencyTable.from_dict(reordered, n=100)
    assert a.checksum() == b.checksum()
    assert len(a.checksum()) == 64 and int(a.checksum(), 16) >= 0


def test_checksum_changes_with_a_value_or_the_policy():
    base = FrequencyTable.from_dict(SMALL).checksum()
    changed = {D3: {"14": 17 / 64, "15": 31 / 64, "16": 16 / 64}, TH: SMALL[TH]}
    assert FrequencyTable.from_dict(changed).checksum() != base
    assert FrequencyTable.from_dict(SMALL, min_allele_freq=0.01).checksum() != base
    assert FrequencyTable.from_dict(SMALL, n=100).checksum() != base
    assert FrequencyTable.from_dict(SMALL, silent=0.001).checksum() != base
    assert FrequencyTable.from_dict(SMALL, missing_allele="error").checksum() != base


def test_csv_round_trip_small(tmp_path):
    t = FrequencyTable.from_dict(SMALL, n=100)
    p = tmp_path / "rt.csv"
    p.write_text(t.to_csv(), encoding="utf-8")
    u = FrequencyTable.from_csv(p)
    assert u.loci == t.loci
    for locus in t.loci:
        assert u.alleles(locus) == t.alleles(locus)  # exact (repr of floats)
    assert u.n == 100
    assert u.checksum() == t.checksum()


def test_csv_round_trip_bundled_frequencies_exact(tmp_path):
    for pop in ("nist1036_all", "fbi2015_caucasian"):
        t = FrequencyTable.load(pop)
        p = tmp_path / f"{pop}.csv"
        p.write_text(t.to_csv(), encoding="utf-8")
        u = FrequencyTable.from_csv(p)
        assert u.loci == t.loci
        for locus in t.loci:
            assert u.alleles(locus) == t.alleles(locus)


@pytest.mark.parametrize("pop, locus", [("nist1036_all", "TPOX"), ("popstr_china_han", "CSF1PO")])
def test_csv_round_trip_keeps_minimum_allele_frequency(tmp_path, pop, locus):
    t = FrequencyTable.load(pop)
    p = tmp_path / "rt.csv"
    p.write_text(t.to_csv(), encoding="utf-8")
    u = FrequencyTable.from_csv(p)
    assert t.min_allele_frequency(locus) is not None
    assert u.min_allele_frequency(locus) == t.min_allele_frequency(locus)
