"""The hit-review report in a real browser: Debian's headless Chromium renders
the demo's report, takes screenshots, runs the pages' JavaScript (filters, the
re-check form's CSV), follows every link and prints a hit page to PDF.

``.ci/run`` installs Chromium (``apt-get install -y chromium``); the tests skip,
saying why, only where no Chromium is installed.  ``STRKIN_CHROMIUM`` names
another binary.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.report_recheck import hit_key, read_recheck

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _chromium():
    env = os.environ.get("STRKIN_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    return next((shutil.which(n) for n in _NAMES if shutil.which(n)), None)


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless Chromium on this machine (install it with 'apt-get install -y chromium'; "
           ".ci/run does so), so the report cannot be rendered in a browser here")


def _run(args, tmp, timeout=120):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--allow-file-access-from-files",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=3000", *args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, text=True,
                       env=dict(os.environ, HOME=str(tmp)))
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def _dom(url, tmp) -> str:
    return _run(["--dump-dom", url], tmp)


def _png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture()
def demo(demo_run):
    """The session's demo run (tests/engine/conftest.py): its results directory."""
    return demo_run.results


def _key(h):
    return hit_key(h["mode"], h["query_id"], h["case_id"], h["reference_id"])


def test_screenshots_of_the_index_and_a_hit_page(demo, tmp_path):
    rep = demo / "report"
    hits = pq.read_table(demo / "hits.parquet").to_pylist()
    fam = next(h for h in hits if h["mode"] == "case" and h["case_id"] == "FAM01")
    for name, page, height in (("index", rep / "index.html", 1800),
                               ("hit", rep / "hits" / f"{_key(fam)}.html", 2400)):
        png = tmp_path / f"{name}.png"
        _run([f"--screenshot={png}", f"--window-size=1300,{height}", page.as_uri()], tmp_path)
        w, h = _png_size(png)
        assert (w, h) == (1300, height)
        # a rendered page, not a blank one: the PNG of a page with text and drawings
        # does not compress to almost nothing
        assert png.stat().st_size > 50_000


def test_every_link_resolves_and_nothing_is_external(demo, tmp_path):
    rep = demo / "report"
    pages = [rep / "index.html", *sorted((rep / "hits").glob("*.html"))]
    seen_hits = set()
    sample = pages[:1] + pages[1:40]                # the index and a sample of hit pages, rendered
    # one Chromium per page, a few at once (each start mostly waits; a profile directory each)
    homes = [tmp_path / f"dom{k}" for k in range(len(sample))]
    for h in homes:
        h.mkdir()
    with ThreadPoolExecutor(max_workers=4) as pool:
        doms = list(pool.map(lambda page, home: _dom(page.as_uri(), home), sample, homes))
    for page, dom in zip(sample, doms):
        assert "</html>" in dom
        refs = re.findall(r'\b(?:href|src)="([^"]*)"', dom)
        assert not [r for r in refs if re.match(r"^(https?:|//|ftp:)", r)], page.name
        for r in re.findall(r'<a [^>]*href="([^"]*)"', dom):
            target = (page.parent / html.unescape(r).split("#")[0]).resolve()
            assert target.is_file(), (page.name, r)
            if target.parent.name == "hits":
                seen_hits.add(target.name)
    # the index links every hit page, and every hit page exists
    assert seen_hits == {p.name for p in pages[1:]}


def test_filters_hide_rows(demo, tmp_path):
    """Mode full-sibling and log10 LR at least the median of its hits: only those
    rows stay visible."""
    import statistics

    hits = pq.read_table(demo / "hits.parquet").to_pylist()
    lrs = [h["log10_lr"] for h in hits if h["mode"] == "full-sibling"]
    thr = statistics.median(lrs)
    page = (demo / "report" / "index.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>var m=document.getElementById('f-mode');"
                                  "m.value='full-sibling';m.dispatchEvent(new Event('change'));"
                                  f"var l=document.getElementById('f-lr');l.value='{thr!r}';"
                                  "l.dispatchEvent(new Event('input'));</script></body>"),
                     encoding="utf-8")
    dom = _dom(probe.as_uri(), tmp_path)
    secs = re.findall(r'<section class="mode page-break" data-mode="([^"]+)"( style="display: none;")?', dom)
    assert [m for m, hidden in secs if not hidden] == ["full-sibling"]
    shown = []
    for sec in re.split(r"<section ", dom)[1:]:
        mode = re.match(r'class="mode page-break" data-mode="([^"]+)"', sec)
        for lr, rest in re.findall(r'<tr class="hit" data-lr="([^"]+)"([^>]*)>', sec):
            if "display: none" not in rest:
                shown.append((mode.group(1) if mode else None, float(lr)))
    want = sorted(v for v in lrs if v >= thr)
    assert 0 < len(want) < len(lrs)
    assert sorted(v for _, v in shown) == want and {m for m, _ in shown} == {"full-sibling"}


def test_the_form_exports_a_file_that_kinship_report_reads_back(demo, tmp_path):
    """The hit page's own JavaScript builds the re-check CSV (the download is
    replaced by writing it into the page, which --dump-dom returns)."""
    hits = pq.read_table(demo / "hits.parquet").to_pylist()
    h = next(h for h in hits if h["mode"] == "parent-child")
    page = (demo / "report" / "hits" / f"{_key(h)}.html").read_text(encoding="utf-8")
    probe = tmp_path / "form.html"
    probe.write_text(page.replace("</body>", (
        "<script>strkinDownload = function (rows, name) { var p = document.createElement('pre');"
        "p.id = 'csv-out'; p.textContent = strkinCsv(rows); document.body.appendChild(p); };"
        "var f = document.getElementById('recheck'); f.reviewer.value = 'A. Analyst, lab 2';"
        "f.decision.value = 'rejected'; f.comment.value = 'sibling, \"not\" parent';"
        "f.requestSubmit();</script></body>")), encoding="utf-8")
    dom = _dom(probe.as_uri(), tmp_path)
    m = re.search(r'<pre id="csv-out">(.*?)</pre>', dom, re.S)
    assert m, "the form wrote no CSV"
    f = tmp_path / "recheck.csv"
    f.write_text(html.unescape(m.group(1)), encoding="utf-8")
    keys = {_key(x): x for x in hits}
    entries = read_recheck(f, keys)
    assert len(entries) == 1
    e = entries[0]
    assert (e["hit_key"], e["decision"], e["reviewer"]) == (_key(h), "rejected", "A. Analyst, lab 2")
    assert e["comment"] == 'sibling, "not" parent' and e["timestamp"].endswith("Z")


def test_a_hit_page_prints_to_pdf(demo, tmp_path):
    hits = pq.read_table(demo / "hits.parquet").to_pylist()
    fam = next(h for h in hits if h["mode"] == "case" and h["case_id"] == "FAM01")
    pdf = tmp_path / "hit.pdf"
    _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
          (demo / "report" / "hits" / f"{_key(fam)}.html").as_uri()], tmp_path)
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    # the page (pedigree, 22-locus table, re-check form, provenance) needs more than one
    # A4 page; the print CSS keeps rows whole and repeats the table header
    assert pages >= 2
