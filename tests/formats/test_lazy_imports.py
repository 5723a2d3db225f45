"""``formats`` loads its importers and exporters on first use (formats/__init__.py):
a name or a submodule reached through the package works before anything imported
it, in a fresh interpreter; an unknown name is still an AttributeError."""
import subprocess
import sys


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_submodule_through_the_package_in_a_fresh_interpreter():
    r = _fresh("import sys, formats\n"
               "assert 'formats.familias' not in sys.modules\n"
               "f = formats.familias.read_fam\n"
               "assert callable(f) and formats.read_fam is f\n"
               "assert callable(formats.importing.import_file)\n"
               "print('ok')")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_unknown_names_are_attribute_errors():
    r = _fresh("import formats\n"
               "for n in ('no_such_thing', '_private', 'os'):\n"
               "    try:\n"
               "        getattr(formats, n)\n"
               "    except AttributeError:\n"
               "        continue\n"
               "    raise SystemExit(n)\n"
               "print('ok')")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
