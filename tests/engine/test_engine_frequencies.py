"""A job's frequency table (issue 16, item 4): detected formats, the
``inputs.population`` of a stacked table, and job keys unchanged for jobs that use
neither (results of earlier versions stay incremental)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError, JobError
from engine.job import Job
from engine.model import load_frequencies

DATA = Path(__file__).resolve().parents[1] / "formats" / "data"


def job(tmp_path, **inputs):
    return Job.from_dict({"inputs": {"queries": "q", **inputs}, "search": {"modes": ["duplicates"]},
                          "output": {"path": "out"}},
                        base_dir=tmp_path)


def test_population_of_a_strider_xml(tmp_path):
    j = job(tmp_path, frequencies=str(DATA / "strider-2015.xml"), population="NORWAY")
    ft, src = load_frequencies(j)
    assert ft.name == "NORWAY" and src["format"] == "strider-xml"
    assert src["population"] == "NORWAY" and src["population_asked"] == "NORWAY"
    assert src["file_sha256"] == ft.provenance["file_sha256"]
    # the detected format is in the job key, the population too
    km = j.key_material()["inputs"]
    assert km["frequencies_format"] == "strider-xml" and km["population"] == "NORWAY"
    with pytest.raises(InputError, match=r"holds 21 populations.*inputs.population"):
        load_frequencies(job(tmp_path, frequencies=str(DATA / "strider-2015.xml")))


def test_population_of_a_single_table_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"inputs.population = 'NORWAY', but the table "
                                         r"'nist1036_all' \(csv\) holds one population"):
        load_frequencies(job(tmp_path, population="NORWAY"))
    with pytest.raises(JobError, match=r"inputs.population must be a population name"):
        job(tmp_path, population=3)


def test_formats_and_keys(tmp_path):
    with pytest.raises(JobError, match=r"frequencies_format = 'xml-strider'.*auto, csv, familias, "
                                       r"strider, strider-xml, fam"):
        job(tmp_path, frequencies_format="xml-strider")
    # a job that names neither a population nor a format: the key material of earlier
    # versions (format "csv" for the bundled table, no population key)
    km = job(tmp_path).key_material()["inputs"]
    assert km["frequencies_format"] == "csv" and "population" not in km
    # a .fam database, detected
    ft, src = load_frequencies(job(tmp_path, frequencies=str(DATA / "Exercise-Screening-Freq.fam")))
    assert src["format"] == "fam" and len(ft.loci) == 16
    # a file of no known format: one message naming what it saw and the formats
    p = tmp_path / "notes.txt"
    p.write_text("Population study of the county\n")
    with pytest.raises(InputError, match=r"cannot tell the frequency table's format.*strider-xml"):
        load_frequencies(job(tmp_path, frequencies=str(p)))
