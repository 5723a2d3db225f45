"""Shipped Y-STR mutation counts, derived DYS389 segment rate and overrides."""
import csv
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from kinship.ystr import RateError, YMutationRates, get_panel

SHIPPED = resources.files("kinship").joinpath("data", "ystr", "ystr_mutation_rates_yhrd_malan.csv")


def test_shipped_file_is_the_documented_copy():
    data = SHIPPED.read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "570751a40f3b5b5800b04cb5925f6ef409b283e5ce88a6396fe80af82b5a2e20"
    )
    assert data.startswith(b"# Y-STR")  # provenance header kept
    readme = resources.files("kinship").joinpath("data", "ystr", "README.md").read_text()
    assert "7c58e462af18e21bd093fc79c6eca803ebec2692" in readme
    shared = Path(__file__).resolve().parents[3] / "shared/data/mutation/ystr_mutation_rates_yhrd_malan.csv"
    if shared.exists():
        assert shared.read_bytes() == data


def test_rates_are_count_ratios_read_from_the_file():
    r = YMutationRates.load()
    with SHIPPED.open() as fh:
        rows = list(csv.DictReader(l for l in fh if not l.startswith("#")))
    assert len(rows) == 29
    for row in rows:
        name = row["marker"].rstrip("ab") if row["marker"].startswith(("DYS385", "DYF387")) else row["marker"]
        lr = r.locus_rate(name)
        assert (lr.n_mutations, lr.n_meioses) == (int(row["n_mutations"]), int(row["n_meioses"]))
        assert lr.rate == pytest.approx(float(row["rate_paternal"]), rel=1e-9)
    # spot values from the file: DYS438 4/10673, DYS518 28/1556
    assert r.rate("DYS438") == 4 / 10673 and r.rate("DYS518") == 28 / 1556


def test_dys389_segment_rate_is_derived_from_counts():
    r = YMutationRates.load()
    # DYS389I 42/14339, DYS389II 59/14310: the II-I segment keeps 59 - 42 = 17 of 14310
    assert r.rate("DYS389II-I") == pytest.approx(17 / 14310)
    p = get_panel("Yfiler Plus")
    sr = r.slot_rates(p)
    assert sr[p.slot_index("DYS389II")] == pytest.approx(17 / 14310)
    assert sr[p.slot_index("DYS389I")] == pytest.approx(42 / 14339)
    # both copies of a multi-copy marker get the marker's rate
    assert sr[p.slot_index("DYS385a")] == sr[p.slot_index("DYS385b")] == pytest.approx(32 / 26171)


def test_yfiler_plus_total_rate_matches_the_issue_figure():
    # P(no difference in 3 meioses) ~ exp(-3 * sum mu): about 35% of uncle-nephew
    # pairs differ somewhere with Yfiler Plus (the issue's figure)
    sr = YMutationRates.load().slot_rates(get_panel("Yfiler Plus"))
    assert sr.sum() == pytest.approx(0.1413, abs=5e-4)
    assert 1 - np.exp(-3 * sr.sum()) == pytest.approx(0.35, abs=0.02)


def test_override_per_population():
    r = YMutationRates.load().override({"DYS19": (40, 10000), "DYS999": 0.004, "DYS389II-I": 0.002})
    assert r.rate("DYS19") == 0.004 and r.locus_rate("DYS19").n_meioses == 10000
    assert r.rate("DYS999") == 0.004
    assert r.rate("DYS389II-I") == 0.002
    assert YMutationRates.load().rate("DYS19") == pytest.approx(36 / 16090)  # shipped unchanged
    with pytest.raises(RateError, match="one copy"):
        YMutationRates.load().override({"DYS385a": 0.002})
    with pytest.raises(RateError, match="invalid counts"):
        YMutationRates.load().override({"DYS19": (5, 2)})


def test_missing_rate_names_the_fix():
    from kinship.ystr import YPanel

    p = YPanel.custom("x", ["DYS19", "DYS447"])
    with pytest.raises(RateError, match="override"):
        YMutationRates.load().slot_rates(p)


def test_from_csv_merges_copies(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("# mine\nmarker,n_mutations,n_meioses\nDYS385a,3,1000\nDYS385b,3,1000\nDYS19,1,500\n")
    r = YMutationRates.from_csv(f)
    assert r.rate("DYS385") == 0.003 and r.rate("DYS19") == 0.002
    f.write_text("marker,n_mutations,n_meioses\nDYS385a,3,1000\nDYS385b,4,1000\n")
    with pytest.raises(RateError, match="different counts"):
        YMutationRates.from_csv(f)
