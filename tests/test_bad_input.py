"""Bad input through the public entry point ``kinship.likelihood_ratio``.

Each test asserts the exception type and the parts of the message an analyst
needs to find the fault: the person id, the locus and the allele.
"""
from __future__ import annotations

import pytest

import kinship
from kinship import (
    FrequencyError,
    FrequencyTable,
    GenotypeError,
    LocusError,
    MissingAlleleError,
    PedigreeError,
    likelihood_ratio,
)

D3 = "D3S1358"
VWA = "vWA"

FREQS = FrequencyTable.from_dict(
    {
        D3: {"14": 16 / 64, "15": 32 / 64, "16": 16 / 64},
        VWA: {"16": 8 / 64, "17": 56 / 64},
    }
)


def M(pid, father=None, mother=None):
    return {"id": pid, "father": father, "mother": mother, "sex": "male"}


def F(pid, father=None, mother=None):
    return {"id": pid, "father": father, "mother": mother, "sex": "female"}


#: paternity: H1 AF is the father of C; H2 an unrelated man X is
TRIO = [M("AF"), F("MO"), M("C", "AF", "MO")]
UNREL = [M("AF"), F("MO"), M("X"), M("C", "X", "MO")]
GENO = {
    "AF": {D3: ("14", "15")},
    "MO": {D3: ("16", "16")},
    "C": {D3: ("14", "16")},
}


def lr(h1=TRIO, h2=UNREL, genotypes=GENO, frequencies=FREQS, **kw):
    return likelihood_ratio(h1, h2, genotypes, frequencies, **kw)


def with_child(call, locus=D3):
    g = {k: dict(v) for k, v in GENO.items()}
    g["C"] = {locus: call}
    return g


def test_the_valid_case_works():
    # sanity check of the fixture: trio with AF 14/15, mother 16/16, child
    # 14/16: LR = 1/(2 p14) = 2
    assert lr().total == pytest.approx(2.0, rel=1e-12)


# ---------------------------------------------------------------------------
# pedigrees
# ---------------------------------------------------------------------------


def test_male_mother():
    h1 = [M("AF"), M("MO"), M("C", "AF", "MO")]
    with pytest.raises(PedigreeError) as ei:
        lr(h1=h1)
    msg = str(ei.value)
    assert "'MO' is the mother of 'C'" in msg
    assert "sex 'male'" in msg and "a mother must be female" in msg


def test_female_father():
    h1 = [F("AF"), F("MO"), M("C", "AF", "MO")]
    with pytest.raises(PedigreeError, match="'AF' is the father of 'C' but has sex 'female'"):
        lr(h1=h1)


def test_unknown_sex_parent():
    h1 = [{"id": "AF", "sex": "unknown"}, F("MO"), M("C", "AF", "MO")]
    with pytest.raises(PedigreeError, match="'AF' is the father of 'C' but has sex 'unknown'"):
        lr(h1=h1)


def test_invalid_sex_value():
    h1 = [{"id": "AF", "sex": "yes"}, F("MO"), M("C", "AF", "MO")]
    with pytest.raises(PedigreeError, match=r"person 'AF': sex must be 'male', 'female' or 'unknown', got 'yes'"):
        lr(h1=h1)


def test_father_missing_from_pedigree():
    h1 = [M("AF"), F("MO"), M("C", "Z", "MO")]
    with pytest.raises(PedigreeError) as ei:
        lr(h1=h1)
    msg = str(ei.value)
    assert "person 'C'" in msg and "father 'Z' is not in the pedigree" in msg
    assert "add 'Z' as a person" in msg


def test_mother_missing_from_h2():
    h2 = [M("AF"), F("MO"), M("X"), M("C", "X", "MOTHER")]
    with pytest.raises(PedigreeError, match="person 'C': mother 'MOTHER' is not in the pedigree"):
        lr(h2=h2)


@pytest.mark.parametrize("which", ["father", "mother"])
def test_only_one_parent_given(which):
    rec = {"id": "C", "sex": "male", which: "AF" if which == "father" else "MO"}
    h1 = [M("AF"), F("MO"), rec]
    with pytest.raises(PedigreeError) as ei:
        lr(h1=h1)
    msg = str(ei.value)
    assert "person 'C' has only one parent given" in msg
    assert "give both parents" in msg


def test_cycle():
    # AF is the father of C and C is the father of AF
    h1 = [M("AF", "C", "MO"), F("MO"), M("C", "AF", "MO")]
    with pytest.raises(PedigreeError) as ei:
        lr(h1=h1)
    msg = str(ei.value)
    assert "cycle" in msg and "AF" in msg and "C" in msg
    assert "their own ancestor" in msg


def test_longer_cycle():
    # G -> P -> C -> G
    h1 = [M("AF"), F("MO"), M("G", "C", "MO"), M("P", "G", "MO"), M("C", "P", "MO")]
    with pytest.raises(PedigreeError, match="cycle"):
        lr(h1=h1, genotypes={"AF": GENO["AF"]}, h2=[M("AF")])


def test_own_parent():
    h1 = [M("AF"), F("MO"), M("C", "C", "MO")]
    with pytest.raises(PedigreeError, match="person 'C' is given as their own father"):
        lr(h1=h1)


def test_same_person_twice_in_pedigree():
    h1 = TRIO + [M("C")]
    with pytest.raises(PedigreeError, match="person 'C' appears twice in the pedigree"):
        lr(h1=h1)


def test_unknown_record_key_is_named():
    # a misspelt key must not be ignored silently (it would drop a parent)
    h1 = [M("AF"), F("MO"), {"id": "C", "sex": "male", "father": "AF", "mum": "MO"}]
    with pytest.raises(PedigreeError, match=r"\('C'\): unknown keys \['mum'\]"):
        lr(h1=h1)


def test_record_without_id():
    with pytest.raises(PedigreeError, match="pedigree record 1 has no id"):
        lr(h1=[M("AF"), {"sex": "female"}, M("C", "AF", "MO")])


def test_genotype_for_person_not_in_pedigree():
    g = dict(GENO, Q={D3: ("14", "15")})
    with pytest.raises(PedigreeError) as ei:
        lr(genotypes=g)
    msg = str(ei.value)
    assert "genotypes are given for 'Q'" in msg and "not in H1" in msg
    assert "every typed person must appear in both hypotheses" in msg


def test_typed_person_missing_from_h2():
    # H2 with MO left out although she is typed
    h2 = [M("AF"), M("X"), F("M2"), M("C", "X", "M2")]
    with pytest.raises(PedigreeError) as ei:
        lr(h2=h2)
    msg = str(ei.value)
    assert "genotypes are given for 'MO'" in msg and "not in H2" in msg


# ---------------------------------------------------------------------------
# loci and alleles
# ---------------------------------------------------------------------------


def test_unknown_locus_names_person_and_locus():
    g = dict(GENO, C={D3: ("14", "16"), "D99S999": ("10", "11")})
    with pytest.raises(LocusError) as ei:
        lr(genotypes=g)
    msg = str(ei.value)
    assert "person 'C'" in msg
    assert "locus 'D99S999' is not in frequency table" in msg
    assert "D3S1358" in msg  # lists the table's loci


def test_known_locus_absent_from_the_table():
    # FGA is a real locus but not in this table
    g = dict(GENO, AF={D3: ("14", "15"), "FGA": ("20", "21")})
    with pytest.raises(LocusError) as ei:
        lr(genotypes=g)
    assert "person 'AF'" in str(ei.value) and "'FGA'" in str(ei.value)


def test_locus_alias_is_resolved_not_an_error():
    g = dict(GENO, C={"d3s1358": ("14", "16")})
    assert lr(genotypes=g).per_locus == lr().per_locus


def test_allele_absent_from_table_without_sample_size():
    with pytest.raises(MissingAlleleError) as ei:
        lr(genotypes=with_child(("14", "13")))
    msg = str(ei.value)
    assert "allele 13" in msg and "locus D3S1358" in msg
    assert "typed in: C" in msg
    assert "min_allele_freq" in msg


def test_allele_absent_names_every_person_carrying_it():
    g = with_child(("14", "13"))
    g["AF"] = {D3: ("13", "15")}
    with pytest.raises(MissingAlleleError) as ei:
        lr(genotypes=g)
    msg = str(ei.value)
    assert "allele 13" in msg and "AF" in msg and "C" in msg


def test_allele_absent_with_missing_allele_error_policy():
    t = FrequencyTable.from_dict({D3: {"14": 0.25, "15": 0.5, "16": 0.25}}, n=100, missing_allele="error")
    with pytest.raises(MissingAlleleError) as ei:
        lr(genotypes=with_child(("14", "13")), frequencies=t)
    msg = str(ei.value)
    assert "allele 13" in msg and "locus D3S1358" in msg and "typed in: C" in msg


def test_tri_allelic_call():
    with pytest.raises(GenotypeError) as ei:
        lr(genotypes=with_child(("14", "15", "16")))
    msg = str(ei.value)
    assert "person 'C', locus D3S1358" in msg
    assert "3 alleles given (14, 15, 16)" in msg
    assert "tri-allelic" in msg


def test_tri_allelic_call_as_string():
    with pytest.raises(GenotypeError, match=r"person 'C', locus D3S1358: 3 alleles given"):
        lr(genotypes=with_child("14/15/16"))


@pytest.mark.parametrize("call", [("15",), "15", ["15"]])
def test_homozygote_written_once(call):
    with pytest.raises(GenotypeError) as ei:
        lr(genotypes=with_child(call))
    msg = str(ei.value)
    assert "person 'C', locus D3S1358: one allele given ('15')" in msg
    assert "write a homozygote twice, e.g. ('15', '15')" in msg


def test_one_allele_missing_in_pair():
    with pytest.raises(GenotypeError, match=r"person 'C', locus D3S1358: one allele missing"):
        lr(genotypes=with_child(("14", None)))


def test_genotype_not_a_pair():
    with pytest.raises(GenotypeError, match=r"person 'C', locus D3S1358: genotype 15 is not a pair"):
        lr(genotypes=with_child(15))


def test_genotypes_not_a_dict_per_person():
    g = dict(GENO, C=[("14", "16")])
    with pytest.raises(GenotypeError, match=r"person 'C': genotypes must be a dict"):
        lr(genotypes=g)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("1O", "malformed allele '1O'"),
        ("9..3", "malformed allele '9..3'"),
        ("-1", "repeat numbers cannot be negative"),
        ("OL", "off-ladder allele 'OL'"),
        (">27", "off-ladder allele '>27'"),
        ("9.33", "microvariants have one decimal digit"),
    ],
)
def test_malformed_allele(bad, fragment):
    with pytest.raises(GenotypeError) as ei:
        lr(genotypes=with_child((bad, "16")))
    msg = str(ei.value)
    assert "person 'C', locus D3S1358" in msg
    assert fragment in msg


def test_same_person_twice_in_genotypes_via_locus_alias():
    # 'D3S1358' and 'd3s1358' are the same locus: two different calls
    g = dict(GENO, C={D3: ("14", "16"), "d3s1358": ("14", "15")})
    with pytest.raises(GenotypeError) as ei:
        lr(genotypes=g)
    msg = str(ei.value)
    assert "person 'C', locus D3S1358: two different genotypes given (14/16 and 14/15)" in msg


def test_same_person_twice_in_genotypes_via_id_type():
    # ids are strings: 1 and "1" are the same person
    h1 = [{"id": 1, "sex": "male"}, {"id": 2, "sex": "female"}, {"id": 3, "father": 1, "mother": 2, "sex": "male"}]
    h2 = [{"id": 1, "sex": "male"}, {"id": 2, "sex": "female"}, {"id": 3, "sex": "male"}]
    g = {1: {D3: ("14", "15")}, "1": {D3: ("14", "16")}, 3: {D3: ("14", "14")}}
    with pytest.raises(GenotypeError, match=r"person '1', locus D3S1358: two different genotypes"):
        likelihood_ratio(h1, h2, g, FREQS)


# ---------------------------------------------------------------------------
# frequencies and parameters
# ---------------------------------------------------------------------------


def test_negative_frequencies():
    # the table cannot be built, so the LR is never computed on it
    with pytest.raises(FrequencyError) as ei:
        lr(frequencies=FrequencyTable.from_dict({D3: {"14": -0.25, "15": 1.0, "16": 0.25}}))
    msg = str(ei.value)
    assert "locus D3S1358" in msg and "allele 14" in msg and "-0.25" in msg


def test_frequencies_must_be_a_table():
    # a raw dict (which could hold negative values) is refused
    with pytest.raises(TypeError, match="frequencies must be a kinship.FrequencyTable"):
        lr(frequencies={D3: {"14": -0.25, "15": 1.0, "16": 0.25}})


@pytest.mark.parametrize("theta", [1.0, 1.5, -0.01, float("nan")])
def test_theta_out_of_range(theta):
    with pytest.raises(ValueError) as ei:
        lr(theta=theta)
    assert "theta must be in [0, 1)" in str(ei.value)


def test_unknown_locus_in_loci_argument():
    with pytest.raises(LocusError, match="'FGA' is not in frequency table"):
        lr(loci=["FGA"])


def test_mutation_model_of_wrong_type():
    with pytest.raises(TypeError, match="mutation model must be"):
        lr(mutation=0.002)


def test_stepwise_on_a_table_with_silent_allele_still_works():
    # not an error: the silent allele is excluded from the stepwise labels
    t = FrequencyTable.from_dict({D3: {"14": 0.25, "15": 0.5, "16": 0.25}}, silent=0.01)
    r = lr(frequencies=t, mutation=kinship.Stepwise(0.002))
    assert r.per_locus[D3] > 0
