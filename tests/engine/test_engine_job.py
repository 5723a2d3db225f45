"""The job file: schema, defaults, and errors that name the key and the fix."""
from __future__ import annotations

import pytest

import engine
import kinship
from engine.job import Job, load_job, parse_mutation

MINIMAL = """
[inputs]
queries = "profiles/"        # a profile dataset; its kind=query samples are the queries
references = "profiles/"     # its kind=reference samples, grouped into cases by case_id
frequencies = "nist1036_all.csv"
[model]
theta = 0.0
mutation = "none"            # or a table: {model = "stepwise", rate = 0.002, rate2 = 1e-6, range = 0.1}
[search]
modes = ["case", "parent-child", "full-sibling", "identity"]
threshold = 1e4
top_k = 10
[output]
path = "results/"
[execution]
scheduler = "tcp://127.0.0.1:8786"   # optional: a Dask scheduler; absent = in-process
"""


def test_the_issue_example_parses(tmp_path):
    p = tmp_path / "job.toml"
    p.write_text(MINIMAL)
    job = load_job(p)
    assert job.modes == ["case", "parent-child", "full-sibling", "identity"]
    assert job["search"]["threshold"] == 1e4 and job["search"]["top_k"] == 10
    # defaults are filled in
    assert job["search"]["case_top_k"] == 10 and job["search"]["prior"] == 0.5
    assert job["execution"]["scheduler"] == "tcp://127.0.0.1:8786"
    assert job.mutation is None
    # relative paths are relative to the job file
    assert job.output_path == tmp_path / "results/"
    assert job.path(job["inputs"]["queries"]) == tmp_path / "profiles/"


def _job(**sections):
    base = {"inputs": {"queries": "q", "references": "r"}, "search": {"modes": ["case"]},
            "output": {"path": "out"}}
    for k, v in sections.items():
        base[k] = v
    return base


@pytest.mark.parametrize("d, words", [
    (_job(search={"modes": ["case"], "treshold": 1e4}), ["search.treshold", "did you mean 'threshold'"]),
    (_job(search={"modes": ["case", "parent_child"]}), ["unknown mode 'parent_child'", "parent-child"]),
    (_job(search={"modes": []}), ["search.modes"]),
    (_job(serach={"modes": ["case"]}), ["unknown section [serach]", "did you mean 'search'"]),
    (_job(model={"theta": 1.5}), ["model.theta", "[0, 1)"]),
    (_job(model={"mutation": "stepwise"}), ["model.mutation", "none"]),
    (_job(model={"mutation": {"model": "stepwyse", "rate": 0.002}}), ["unknown mutation model", "stepwise"]),
    (_job(model={"mutation": {"model": "equal", "rate": 0.002, "range": 0.1}}), ["unknown key 'range'"]),
    (_job(model={"mutation": {"female": {"model": "equal", "rate": 0.001}}}), ["both female"]),
    (_job(search={"modes": ["case"], "top_k": 0}), ["search.top_k", "positive integer"]),
    (_job(search={"modes": ["case"], "threshold": -1}), ["search.threshold"]),
    (_job(output={}), ["output.path is required"]),
    (_job(inputs={"queries": "q"}), ["inputs.references is required", "case"]),
    (_job(execution={"scheduler": "localhost"}), ["execution.scheduler", "tcp://"]),
    (_job(execution={"threads": "two"}), ["execution.threads"]),
])
def test_bad_jobs_name_the_key_and_the_fix(d, words):
    with pytest.raises(engine.JobError) as e:
        Job.from_dict(d)
    for w in words:
        assert w in str(e.value)


def test_duplicates_only_needs_no_references():
    job = Job.from_dict({"inputs": {"queries": "q"}, "search": {"modes": ["duplicates"]},
                         "output": {"path": "o"}})
    assert job.modes == ["duplicates"]


def test_mutation_tables():
    m = parse_mutation({"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1})
    assert m.female == m.male == kinship.Stepwise(rate=0.002, rate2=1e-6, range=0.1)
    m = parse_mutation({"female": {"model": "equal", "rate": 0.001},
                        "male": {"model": "proportional", "rate": 0.003}})
    assert m.female == kinship.Equal(rate=0.001) and m.male == kinship.Proportional(rate=0.003)
    assert parse_mutation({"model": "extended-stepwise", "rate": 0.002}).male == \
        kinship.ExtendedStepwise(rate=0.002)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(engine.JobError, match="does not exist"):
        load_job(tmp_path / "nope.toml")
    p = tmp_path / "bad.toml"
    p.write_text("[inputs\nqueries = 1\n")
    with pytest.raises(engine.JobError, match="not valid TOML"):
        load_job(p)


def test_key_material_ignores_execution_and_output(tmp_path):
    a = Job.from_dict(_job(execution={"threads": 1}, output={"path": "x"}), base_dir=tmp_path)
    b = Job.from_dict(_job(execution={"threads": 2, "scheduler": "tcp://h:1"}, output={"path": "y"}),
                      base_dir=tmp_path)
    assert a.key_material() == b.key_material()
    c = Job.from_dict(_job(search={"modes": ["case"], "top_k": 3}), base_dir=tmp_path)
    assert a.key_material() != c.key_material()


def test_mutation_from_a_familias_file():
    """model.mutation = {familias = FILE}: the file's per-locus female and male
    models (paternity.fam: extended stepwise, female 0.001, male 0.002, range 0.1,
    rate2 1e-6 at every locus, read by hand from the file's database section)."""
    from pathlib import Path

    from engine.job import Job

    fam = Path(__file__).resolve().parents[1] / "formats" / "data" / "paternity.fam"
    j = Job.from_dict({"inputs": {"queries": "x", "references": "x", "frequencies": "nist1036_all"},
                       "model": {"mutation": {"familias": str(fam)}}, "search": {"modes": ["case"]},
                       "output": {"path": "o"}})
    d = j.mutation.describe()["per_locus"]["TH01"]
    assert d["female"] == {"model": "extendedstepwise", "rate": 0.001, "rate2": 1e-06, "range": 0.1}
    assert d["male"]["rate"] == 0.002
