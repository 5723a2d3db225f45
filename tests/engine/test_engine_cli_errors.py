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


def garbage_file(tmp: Path, name: str) -> str:
    """A file of the wrong format (neither a profile table, a job, a .fam file nor a
    dataset): a few lines of prose with an odd byte."""
    p = tmp / name
    p.write_bytes(b"This is a letter, not a data file.\nDear colleague,\n\xff\x00 regards\n")
    return str(p)


def wrong_format_inputs(name, sp, tmp: Path):
    """The command with a file of the wrong format for each input (a positional
    argument, or an option that takes a file: --manifest, --frequencies, ...)."""
    cases = []
    for a in sp._actions:
        if a.option_strings or a.dest in ("help", "out"):
            continue
        argv = [name]
        for b in sp._actions:
            if b.option_strings or b.dest == "help":
                continue
            if b is a:
                argv.append(garbage_file(tmp, f"{name}-{a.dest}.txt" if name != "lr" else
                                         f"{name}-{a.dest}.fam"))
            elif b.dest == "out":
                argv.append(str(tmp / f"{name}-out"))
            elif b.required or b.nargs in (None, "+"):
                argv.append(MISSING)
        if name == "simulate":
            argv += ["--cases", "2"]
        if name == "import" or name == "import-y":
            argv += ["--out", str(tmp / f"{name}-ds")]
        cases.append(argv)
    return cases


def bad_option_values(name, sp):
    """One case per option that takes a value of a type or a choice: a value it
    refuses (argparse's own check, which must be one line too)."""
    cases = []
    for a in sp._actions:
        if not a.option_strings or a.dest == "help":
            continue
        if a.choices:
            cases.append([name, a.option_strings[-1], "no-such-choice"])
        elif a.type in (int, float):
            cases.append([name, a.option_strings[-1], "not-a-number"])
    return cases


def run(argv):
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


ALL = [(name, argv) for name, sp in subcommands().items() for argv in bad_inputs(name, sp)]


def test_every_subcommand_is_covered():
    assert {n for n, _ in ALL} == set(subcommands())
    assert {"search", "lr", "import", "export", "validate"} <= set(subcommands())


def one_line_error(p):
    assert p.returncode != 0, p.stdout[-500:]
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.stderr.strip(), "an error must say what is wrong"
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and "warning:" not in ln
             and "WARNING" not in ln]
    assert len(lines) == 1, p.stderr[-2000:]


@pytest.mark.parametrize("name, argv", ALL, ids=[" ".join(a)[:60] for _, a in ALL])
def test_bad_input_has_no_traceback(name, argv):
    one_line_error(run(argv))


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_wrong_format_input_is_one_line(name, tmp_path):
    cases = wrong_format_inputs(name, subcommands()[name], tmp_path)
    for argv in cases:
        one_line_error(run(argv))


BAD_VALUES = [(n, argv) for n, sp in subcommands().items() for argv in bad_option_values(n, sp)]


@pytest.mark.parametrize("name, argv", BAD_VALUES, ids=[" ".join(a) for _, a in BAD_VALUES])
def test_bad_option_value_is_one_line(name, argv, capsys):
    from engine.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error: argument" in err, err


def test_every_subcommand_gets_bad_option_values():
    # every command has at least the log options; those with choices or typed values get them
    assert {n for n, _ in BAD_VALUES} >= {"search", "demo", "lr", "import", "export", "validate"}


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_unwritable_log_file_is_one_line(name):
    # the log file is opened before the command runs: the command's own arguments need not exist
    p = run(["--log-file", "/nonexistent/strkin-test/x.log", name]
            + [MISSING] * sum(1 for a in subcommands()[name]._actions
                              if not a.option_strings and a.dest != "help" and a.nargs != "?"))
    # a command whose required options are missing stops at the usage check first
    one_line_error(p)


def test_validate_without_matplotlib_names_the_install(tmp_path):
    try:
        import matplotlib  # noqa: F401
        pytest.skip("matplotlib is installed")
    except ImportError:
        pass
    p = run(["validate", "--cases", "2", "--unrelated", "2", "--out", str(tmp_path / "v")])
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert 'pip install "strkin[plots]"' in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_export_into_a_closed_pipe_is_quiet(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("sample_id,locus,allele1,allele2\n"
                   + "".join(f"S{i},D3S1358,15,16\n" for i in range(20000)))
    assert run(["import", str(csv), "--out", str(tmp_path / "ds")]).returncode == 0
    p = subprocess.run(f"{sys.executable} -m engine.cli export {tmp_path / 'ds'} | head -1",
                       shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.stdout.startswith("sample_id") and p.stderr == "", p.stderr


#: a command run that reaches its --frequencies table (every other input valid)
FREQ_BASE = {
    "lr": lambda d: ["lr", "--relation", "father", "--ref", "D3S1358=15/16", "--query",
                     "D3S1358=16/16"],
    "power": lambda d: ["power", "--ped", str(d / "fam.ped"), "--genotypes", str(d / "g.csv")],
    "export": lambda d: ["export", str(d / "ds"), "--format", "familias", "--out",
                         str(d / "x.fam")],
    "simulate": lambda d: ["simulate", str(d / "sim"), "--cases", "2", "--unrelated", "2"],
    "validate": lambda d: ["validate", "--no-plots", "--cases", "2", "--unrelated", "2",
                           "--out", str(d / "val")],
}


def test_every_frequency_option_is_covered():
    takes = {n for n, sp in subcommands().items()
             if any("--frequencies" in a.option_strings for a in sp._actions)}
    assert takes == set(FREQ_BASE), "add the new command's valid base arguments to FREQ_BASE"


@pytest.mark.parametrize("name", sorted(FREQ_BASE))
def test_frequency_table_of_the_wrong_format_is_one_line(name, tmp_path):
    """A --frequencies file of no known format: one line that says what it saw and
    lists the formats (issue 16, item 4)."""
    if name == "export":
        csv = tmp_path / "g.csv"
        csv.write_text("sample_id,locus,allele1,allele2\nS1,D3S1358,15,16\n")
        assert run(["import", str(csv), "--out", str(tmp_path / "ds")]).returncode == 0
    if name == "power":
        (tmp_path / "fam.ped").write_text("case,id,fid,mid,sex,sample,missing\n"
                                          "C1,F,0,0,M,F1,0\nC1,M,0,0,F,,0\nC1,MP,F,M,M,,1\n")
        (tmp_path / "g.csv").write_text("sample_id,locus,allele1,allele2\nF1,D3S1358,15,16\n")
    bad = tmp_path / "table.txt"
    bad.write_text("Population study of the county, 2019\nsee table 2\n")
    p = run(FREQ_BASE[name](tmp_path) + ["--frequencies", str(bad)])
    one_line_error(p)
    assert "cannot tell the frequency table's format" in p.stderr, p.stderr
    assert "strider-xml" in p.stderr and "Population study" in p.stderr


def test_log_file_gets_the_error_line(tmp_path, capsys):
    """With --log-file, the command's one-line error goes to the log file as well as
    to stderr, so the log says how the command ended; progress output is not copied."""
    from engine.cli import main

    log = tmp_path / "k.log"
    rc = main(["--log-file", str(log), "search", str(tmp_path / "missing.toml")])
    err = capsys.readouterr().err
    assert rc == 1 and "error:" in err and "Traceback" not in err
    text = log.read_text()
    line = next(l for l in err.splitlines() if "error:" in l)
    assert line in text and " ERROR " in text
    assert (log.stat().st_mode & 0o777) == 0o600
