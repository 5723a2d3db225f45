"""Bad input is a clear error before any work starts, naming the problem and the fix."""
from __future__ import annotations

import json

import pytest

import engine
import formats

from enginelib import LOCI, make_job, simulate


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    d = tmp_path_factory.mktemp("errors")
    profs, _ = simulate(n_cases=4, n_unrelated=4, n_unrelated_references=1, seed=51)
    formats.write_profiles(d / "ds", profs)
    return d / "ds"


def _run_fails(job, exc, *words):
    with pytest.raises(exc) as e:
        engine.run(job)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_missing_input(tmp_path, ds):
    job = make_job(tmp_path / "nope", tmp_path / "out", ["case"])
    _run_fails(job, engine.InputError, "inputs.queries", "does not exist", "Fix")
    assert not (tmp_path / "out").exists()  # nothing written


def test_unknown_key_and_mode_from_a_job_file(tmp_path, ds):
    p = tmp_path / "job.toml"
    p.write_text(f'[inputs]\nqueries = "{ds}"\nreferences = "{ds}"\n[search]\nmodes = ["case", "sibling"]\n'
                 f'[output]\npath = "out"\n')
    _run_fails(p, engine.JobError, "unknown mode 'sibling'", "full-sibling")
    p.write_text(f'[inputs]\nqueries = "{ds}"\nreferences = "{ds}"\nfrequency = "x"\n'
                 f'[search]\nmodes = ["case"]\n[output]\npath = "out"\n')
    _run_fails(p, engine.JobError, "inputs.frequency", "did you mean 'frequencies'")


def test_frequency_table_without_a_locus(tmp_path, ds, nist):
    lines = [l for l in nist.to_csv().splitlines() if not l.startswith("TPOX,")]
    f = tmp_path / "no_tpox.csv"
    f.write_text("\n".join(lines) + "\n")
    job = make_job(ds, tmp_path / "out", ["case"], inputs__frequencies=str(f))
    msg = _run_fails(job, engine.InputError, "has no locus TPOX", "Fix", "[inputs] loci")
    assert "'TH01'" in msg  # the loci it has are listed, ready to paste
    job = make_job(ds, tmp_path / "out", ["case"], inputs__frequencies=str(f),
                   inputs__loci=[l for l in LOCI if l != "TPOX"])
    res = engine.run(job)
    assert "TPOX" not in res.manifest["model"]["loci"]


def test_unknown_population(tmp_path, ds):
    job = make_job(ds, tmp_path / "out", ["case"], inputs__frequencies="nist1036_al")
    _run_fails(job, engine.InputError, "nist1036_al", "nist1036_all")


def test_profiles_typed_with_different_kits(tmp_path):
    a, _ = simulate(n_cases=3, n_unrelated=3, n_unrelated_references=0, seed=52, kit="GlobalFiler")
    b, _ = simulate(n_cases=3, n_unrelated=3, n_unrelated_references=0, seed=53, prefix="K",
                    kit="Identifiler", loci=LOCI[:7])
    for p in b:
        p.sample_id = "I" + p.sample_id
        p.case_id = "I" + p.case_id if p.case_id else ""
    formats.write_profiles(tmp_path / "ds", a + b)
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"])
    _run_fails(job, engine.InputError, "different kits", "GlobalFiler", "Identifiler",
               "mixed_kits = true", "[inputs] loci")
    res = engine.run(make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"],
                              search__mixed_kits=True, search__threshold=1e-6, search__top_k=50))
    compared = {h["loci_compared"] for h in res.hits.to_pylist()}
    assert compared >= {7, 10}  # pairs across kits are compared on the shared loci only


def test_no_queries_and_no_references(tmp_path):
    profs, _ = simulate(n_cases=2, n_unrelated=0, n_unrelated_references=0, seed=54)
    formats.write_profiles(tmp_path / "refs", [p for p in profs if p.kind == "reference"])
    formats.write_profiles(tmp_path / "qs", [p for p in profs if p.kind == "query"])
    _run_fails(make_job(tmp_path / "refs", tmp_path / "out", ["case"]), engine.InputError,
               "no query profiles")
    _run_fails(make_job(tmp_path / "qs", tmp_path / "out", ["case"]), engine.InputError,
               "no reference profiles")


def test_invalid_case(tmp_path):
    profs, _ = simulate(n_cases=3, n_unrelated=2, n_unrelated_references=0, seed=55)
    f = next(p for p in profs if p.relation == "father")
    profs.append(formats.Profile("second-father", dict(f.genotypes), "reference", f.case_id, "father", "M"))
    formats.write_profiles(tmp_path / "ds", profs)
    _run_fails(make_job(tmp_path / "ds", tmp_path / "out", ["case"]), engine.InputError,
               f"case {f.case_id!r}", "both have relation 'father'", "invalid_cases")
    res = engine.run(make_job(tmp_path / "ds", tmp_path / "out", ["case"], search__invalid_cases="skip"))
    assert f.case_id not in {h["case_id"] for h in res.hits.to_pylist()}
    assert any("left out" in n for n in res.manifest["run"]["notes"])


def test_output_of_another_run(tmp_path, ds):
    out = tmp_path / "out"
    engine.run(make_job(ds, out, ["parent-child"]))
    other = make_job(ds, out, ["parent-child"], search__top_k=7)
    _run_fails(other, engine.OutputError, "results of another run", "new [output] path",
               "overwrite = true")
    before = (out / "hits.parquet").read_bytes()
    assert (out / "hits.parquet").read_bytes() == before  # untouched
    res = engine.run(make_job(ds, out, ["parent-child"], search__top_k=7, output__overwrite=True))
    assert res.manifest["job"]["search"]["top_k"] == 7


def test_foreign_output_directory(tmp_path, ds):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    _run_fails(make_job(ds, out, ["case"]), engine.OutputError, "not empty", "holds no search results")
    _run_fails(make_job(ds, out, ["case"], output__overwrite=True), engine.OutputError, "not empty")
    assert (out / "thesis.docx").read_text() == "precious"


def test_messages_never_show_genotypes(tmp_path, ds):
    """Errors and the summary name samples, cases and loci, never alleles."""
    res = engine.run(make_job(ds, tmp_path / "out", ["case", "parent-child"]))
    arr = formats.open_dataset(ds).load()
    text = res.summary + json.dumps(res.manifest)
    for p in arr.to_profiles()[:5]:
        for locus, (a, b) in p.genotypes.items():
            assert f"{a}/{b}" not in text and f"({a}, {b})" not in text and f"'{a}', '{b}'" not in text


def test_a_scheduler_without_dask_installed_is_a_clear_error(tmp_path, monkeypatch):
    """Dask is an extra (pip install "strkin[dask]"): without it a job that names a
    scheduler stops with the fix, before anything is written."""
    import sys

    from engine.errors import InputError

    profs, _ = simulate(n_cases=2, n_unrelated=2, seed=3)
    formats.write_profiles(tmp_path / "ds", profs)
    monkeypatch.setitem(sys.modules, "distributed", None)     # import fails as if absent
    job = make_job(tmp_path / "ds", tmp_path / "out", ["parent-child"],
                   execution__scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match=r'Dask is not installed. Fix: pip install "strkin\[dask\]"'):
        engine.run(job)
    assert not (tmp_path / "out" / "hits.parquet").exists()
