"""Every ``kinship`` sub-command with bad input ends in a one-line message, not a
traceback (issue 16, item 3); a broken pipe ends quietly."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
MISSING = "/nonexistent/strkin-test/x"
BAD_DIR = "/dev/null/strkin-out"            # a directory that cannot be made

#: extra arguments of commands whose inputs are all optional
EXTRA = {
    "demo": [["--out", BAD_DIR, "--cases", "2"]],
    "validate": [["--no-plots", "--out", BAD_DIR, "--cases", "2", "--unrelated", "2"],
                 ["--no-plots", "--frequencies", MISSING, "--cases", "2", "--unrelated", "2",
                  "--out", BAD_DIR]],
    "lr": [["--relation", "father", "--ref", "D3S1358=15/16", "--query", "D3S1358=16/16",
            "--frequencies", MISSING + ".csv"]],
}


def subcommands():
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def bad_inputs(name, sp):
    """(a missing file for every required input, a bad option value)."""
    argv = [name]
    for a in sp._actions:
        if a.dest == "help" or not (a.required or not a.option_strings):
            continue
        if a.option_strings:
            argv += [a.option_strings[-1], "2" if a.type is int else MISSING]
        elif a.nargs in (None, "+", "?"):
            # an output directory cannot be "missing" (it is made): one that cannot be made
            argv.append(BAD_DIR if a.dest == "out" else MISSING + (".fam" if name == "lr" else ""))
    # a command with no required input runs as is (demo, validate): only its EXTRA cases
    cases = ([argv] if len(argv) > 1 else []) + [[name, *x] for x in EXTRA.get(name, [])]
    typed = [a for a in sp._actions if a.option_strings and a.type in (int, float)]
    if typed:
        cases.append(cases[0] + [typed[0].option_strings[-1], "not-a-number"])
    return cases


def run(argv):
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


ALL = [(name, argv) for name, sp in subcommands().items() for argv in bad_inputs(name, sp)]


def test_every_subcommand_is_covered():
    assert {n for n, _ in ALL} == set(subcommands())
    assert {"search", "lr", "import", "export", "validate"} <= set(subcommands())


@pytest.mark.parametrize("name, argv", ALL, ids=[" ".join(a)[:60] for _, a in ALL])
def test_bad_input_has_no_traceback(name, argv):
    p = run(argv)
    assert p.returncode != 0, p.stdout[-500:]
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.stderr.strip(), "an error must say what is wrong"


def test_validate_without_matplotlib_names_the_install(tmp_path):
    try:
        import matplotlib  # noqa: F401
        pytest.skip("matplotlib is installed")
    except ImportError:
        pass
    p = run(["validate", "--cases", "2", "--unrelated", "2", "--out", str(tmp_path / "v")])
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "pip install matplotlib" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_export_into_a_closed_pipe_is_quiet(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("sample_id,locus,allele1,allele2\n"
                   + "".join(f"S{i},D3S1358,15,16\n" for i in range(20000)))
    assert run(["import", str(csv), "--out", str(tmp_path / "ds")]).returncode == 0
    p = subprocess.run(f"{sys.executable} -m engine.cli export {tmp_path / 'ds'} | head -1",
                       shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.stdout.startswith("sample_id") and p.stderr == "", p.stderr
