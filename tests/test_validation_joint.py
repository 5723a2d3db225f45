"""The joint validation scenario (validation.joint) at a small size: the planted
mix-ups are flagged, the wrong-family hits of the children related to two cases
are left out of the best assignment and no true hit is lost."""
import json

from validation.joint import run_scenario


def test_joint_scenario_small(tmp_path):
    n = run_scenario(tmp_path / "v", seed=3, n_families=8, n_cousins=4, n_mixups=2, threads=2)
    assert n["true_hits_lost"] == 0
    assert n["false_hits_removed"] + n["false_hits_kept"] == n["false_hits"]
    assert n["their_wrong_family_hits_removed"] == n["of_them_hitting_both"]
    for kind, d in n["consistency"]["planted"].items():
        assert d["flagged"] == d["planted"] == 2, kind
        assert d["suspect_named"] == 2, kind
    assert n["consistency"]["correct_cases_flagged"] == 0
    assert json.loads((tmp_path / "v" / "joint-validation.json").read_text()) == n
    assert "| true hits lost (not assigned) | 0 |" in (tmp_path / "v" / "joint-validation.md").read_text()
