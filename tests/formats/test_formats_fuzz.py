"""The parsers survive fuzzing: any input gives a result or a FormatError.

Inputs are random bytes, random text over the characters that matter to each
format, and valid files with random edits (the most effective kind).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import kinship
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats import FormatError, import_file, open_dataset, read_frequencies, write_profiles
from formats import Profile
from formats.manifest import read_manifest

# FORMATS_FUZZ_EXAMPLES=2000 for a long hunt; the default keeps the suite fast
N_EXAMPLES = int(os.environ.get("FORMATS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=N_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SEEDS = {
    "genemapper": ("Sample Name\tMarker\tAllele 1\tAllele 2\tHeight 1\n"
                   "S1\tD3S1358\t15\t16\t100\nS1\tTH01\t9.3\t\t80\nS1\tAMEL\tX\tY\t1\n"
                   "S2\tvWA\tOL\t17\t1\nS2\tFGA\t22\t\t\n"),
    "csv": "sample_id,locus,allele1,allele2\nS1,vWA,16,17\nS1,TH01,6,9.3\n\"S,2\",FGA,22,22\n",
    "wide": ("sample_id,kind,case_id,relation,sex,kit,vWA 1,vWA 2,TH01 1,TH01 2\n"
             "S1,query,,,F,,16,17,6,9.3\nR1,reference,C1,father,M,,16,16,,\n"),
    "familias": ('"Output from Familias, version 3.3.1"\n"DO NOT EDIT!"\n3.3.1\n""\n1\n"AF"\n'
                 "#FALSE#\n-1\n#FALSE#\n#TRUE#\n2\n1\n2\n0\n0\n0\n1\n"
                 '"Known relations"\n0\n0\n0\n0\n'
                 "#FALSE# (#Databases: 1 ;Theta/Kinship/Fst: 0 )\n2\n#TRUE#\n\"db\"\n"
                 '"TH01"\n0\n0\n0\n0\n3\n0.1\n0.1\n0\n0\n#FALSE#\n0\n'
                 '3\t(DatabaseSize = 100 , Dropout probability = 0 , Minor allele frequency = 0 )\n'
                 '"6"\n0.3\n"7"\n0.3\n"9.3"\n0.4\n'
                 '"vWA"\n0\n0\n0\n0\n1\n0.1\n0.1\n0\n0\n#FALSE#\n0\n'
                 '1\t(DatabaseSize = 100 , Dropout probability = 0 , Minor allele frequency = 0 )\n'
                 '"16"\n1.0\n'
                 "[DVI]\n[[Unidentified persons]]\nnPersons= 1\n[[[Person 1 ]]]\nName= V1\n"
                 "Gender= Male\n[[[[DNA data]]]]\nnSystems= 1\nSystemName= TH01\nAllele1= 6\n"
                 "Allele2= 7\n[[Reference Families]]\nnFamilies= 1\n[[[Family 1 ]]]\nName= F1\n"
                 "[[[[Persons]]]]\nnPersons= 1\n[[[[[Person 1]]]]]\nName= R [Father]\n"
                 "Gender= Male\n[[[[[[DNA data]]]]]]\nnSystems= 1\nSystemName= vWA\n"
                 "Allele1= 16\nAllele2= 16\n[Prior]\n"),
    "cmf": ('<?xml version="1.0" encoding="UTF-8"?>\n<CODISImportFile xmlns="urn:CODISImportFile-schema">'
            "<KIT>Identifiler</KIT>\n<SPECIMEN CASEID=\"C1\"><SPECIMENID>S1</SPECIMENID>"
            "<SPECIMENCATEGORY>Biological Father</SPECIMENCATEGORY>\n<LOCUS><LOCUSNAME>vWA</LOCUSNAME>"
            "<ALLELE><ALLELEVALUE>16</ALLELEVALUE></ALLELE></LOCUS>\n<LOCUS><LOCUSNAME>TH01</LOCUSNAME>"
            "<ALLELE><ALLELEVALUE>6</ALLELEVALUE></ALLELE><ALLELE><ALLELEVALUE>9.3</ALLELEVALUE>"
            "</ALLELE></LOCUS>\n</SPECIMEN></CODISImportFile>\n"),
}
NOISE = "\t,;\"'\n\r .[]=<>/&#-0123456789XYOLabcSTUVW\x00é中"


@st.composite
def mutated(draw, seed: str):
    s = list(seed)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["ins", "del", "rep", "dup", "cut"]))
        i = draw(st.integers(0, max(0, len(s) - 1)))
        if op == "ins":
            s[i:i] = list(draw(st.text(NOISE, min_size=1, max_size=4)))
        elif op == "del" and s:
            del s[i: i + draw(st.integers(1, 6))]
        elif op == "rep" and s:
            s[i] = draw(st.sampled_from(NOISE))
        elif op == "dup" and s:
            j = draw(st.integers(i, min(len(s), i + 40)))
            s[j:j] = s[i:j]
        elif op == "cut":
            s = s[:i]
    return "".join(s)


def _run(fmt: str, data: bytes, name: str):
    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / name
        p.write_bytes(data)
        for mode in ("lenient", "strict"):
            try:
                res = import_file(p, format=fmt, mode=mode)
            except FormatError:
                continue
            assert res.n_imported + res.n_rejected == res.n_read
            if res.profiles and mode == "lenient":
                try:
                    write_profiles(Path(t) / "ds", res.profiles)
                except FormatError:
                    pass


@pytest.mark.parametrize("fmt", list(SEEDS))
@FUZZ
@given(data=st.data())
def test_fuzz_mutated_files(fmt, data):
    text = data.draw(mutated(SEEDS[fmt]))
    enc = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gbk"]))
    try:
        raw = text.encode(enc)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    _run(fmt, raw, "in.fam" if fmt == "familias" else "in.txt")


@pytest.mark.parametrize("fmt", list(SEEDS))
@FUZZ
@given(raw=st.binary(max_size=600))
def test_fuzz_random_bytes(fmt, raw):
    _run(fmt, raw, "in.bin")


@pytest.mark.parametrize("fmt", ["genemapper", "csv", "wide"])
@FUZZ
@given(text=st.text(NOISE, max_size=300))
def test_fuzz_random_tables(fmt, text):
    _run(fmt, text.encode("utf-8"), "in.txt")


FREQ_SEEDS = {
    "familias": "TH01\n6\t0.3\n7\t0.3\n9.3\t0.4\n\nvWA\n16\t1.0\n",
    "strider": '"Allele","TH01","VWA"\n"6","0.3",\n"7","0.3","0.5"\n"9.3","0.4","0.5"\nN,100,200\n',
    "csv": "# n=100\nmarker,allele,frequency\nTH01,6,0.5\nTH01,7,0.5\n",
    "fam": SEEDS["familias"],
}


@pytest.mark.parametrize("fmt", list(FREQ_SEEDS))
@FUZZ
@given(data=st.data())
def test_fuzz_frequency_readers(fmt, data):
    text = data.draw(st.one_of(mutated(FREQ_SEEDS[fmt]), st.text(NOISE, max_size=200)))
    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / "f.txt"
        p.write_bytes(text.encode("utf-8"))
        try:
            read_frequencies(p, format=fmt, min_allele_freq=0.001)
        except (FormatError, kinship.FrequencyError):
            pass


@FUZZ
@given(text=st.one_of(
    mutated("sample_id,kind,case_id,relation,sex\nS1,query,,,\nR1,reference,C1,father,M\n"),
    st.text(NOISE, max_size=200)))
def test_fuzz_manifest(text):
    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / "m.csv"
        p.write_bytes(text.encode("utf-8"))
        try:
            m = read_manifest(p)
        except FormatError:
            return
        assert len({r.line for r in m.rejects}) <= m.n_read


_SHARD = None


def _shard_bytes() -> bytes:
    global _SHARD
    if _SHARD is None:
        with tempfile.TemporaryDirectory() as t:
            ps = [Profile(f"S{i}", {"vWA": (str(10 + i % 7), "16"), "TH01": ("6", "9.3")},
                          kind="reference" if i % 2 else "query", case_id="C" if i % 2 else "",
                          relation="father" if i % 2 else "") for i in range(40)]
            s = write_profiles(Path(t) / "ds", ps)[0]
            _SHARD = s.read_bytes()
    return _SHARD


@settings(max_examples=N_EXAMPLES + 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_corrupted_shard(data):
    """Damaged shards give CorruptShardError (or, where the damage hits bytes that do
    not matter, a load whose codes are still valid) -- never a crash."""
    raw = bytearray(_shard_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    with tempfile.TemporaryDirectory() as t:
        d = Path(t) / "ds"
        with tempfile.TemporaryDirectory() as t2:
            shard = write_profiles(d, [Profile("X", {"vWA": ("1", "2")})])[0]
        shard.write_bytes(bytes(raw))
        try:
            a = open_dataset(shard).load()
        except FormatError:
            return
        g = a.genotypes
        for j, l in enumerate(a.loci):
            assert g[:, j].max() < len(a.alleles[l]) and g[:, j].min() >= -1
