"""Shared helpers and hypothesis strategies for the formats tests."""
from __future__ import annotations

from hypothesis import strategies as st

from formats import Profile
from formats.profile import RELATIONS

LOCI = (
    "CSF1PO", "D10S1248", "D12S391", "D13S317", "D16S539", "D18S51", "D19S433", "D1S1656",
    "D21S11", "D22S1045", "D2S1338", "D2S441", "D3S1358", "D5S818", "D7S820", "D8S1179",
    "FGA", "TH01", "TPOX", "vWA", "Penta D", "Penta E", "SE33",
)

# repeat numbers and microvariants with one decimal digit (normalised labels)
alleles = st.one_of(
    st.integers(1, 60).map(str),
    st.tuples(st.integers(1, 60), st.integers(1, 9)).map(lambda t: f"{t[0]}.{t[1]}"),
)
genotype = st.tuples(alleles, alleles)

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_#.é中ñ"
sample_ids = st.text(_ID_ALPHABET, min_size=1, max_size=16)
# IDs with spaces and commas inside (quoted by CSV writers)
sample_ids_spaced = st.tuples(sample_ids, st.sampled_from([" ", ", ", " / "]), sample_ids).map(
    lambda t: "".join(t))


@st.composite
def profiles(draw, min_size=1, max_size=6, ids=None, meta=True):
    n = draw(st.integers(min_size, max_size))
    idstrat = st.one_of(sample_ids, sample_ids_spaced) if ids is None else ids
    idset = draw(st.lists(idstrat, min_size=n,
                          max_size=n, unique=True))
    out = []
    for sid in idset:
        loci = draw(st.lists(st.sampled_from(LOCI), min_size=1, max_size=8, unique=True))
        genos = {l: draw(genotype) for l in loci}
        kind, case, rel, sex = "query", "", "", ""
        if meta:
            kind = draw(st.sampled_from(["query", "reference"]))
            if kind == "reference":
                case = draw(st.sampled_from(["C1", "CASE-2", "2024/17"]))
                rel = draw(st.sampled_from(RELATIONS))
            sex = draw(st.sampled_from(["M", "F", ""]))
        out.append(Profile(sid, genos, kind, case, rel, sex))
    return out


def genotype_sets(profiles) -> dict:
    """{sample_id: {locus: sorted pair}} with normalised labels: the comparison form."""
    return {p.sample_id: p.normalized().genotypes for p in profiles}


def write(path, text: str, encoding="utf-8", newline="\n"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text.replace("\n", newline))
    return path
