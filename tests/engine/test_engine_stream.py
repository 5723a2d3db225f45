"""Pass 2 over the references (``engine.inputs.stream_blocks``): every block carries
exactly its units' genotypes as the dataset holds them, blocks may span shards, a
person may be in the blocks of several selections, and what is held is released
shard by shard once its last person is used."""
from __future__ import annotations

import numpy as np

import formats
import kinship
from engine import inputs
from engine.inputs import build_cases, scan_references, stream_blocks
from engine.model import ModelSpec, Recoder, get_model

from enginelib import simulate


def test_blocks_carry_their_units_genotypes(tmp_path, monkeypatch):
    profs, _ = simulate(n_cases=40, n_unrelated=10, n_unrelated_references=60, seed=8)
    formats.write_profiles(tmp_path / "ds", profs, shard_size=23)      # many shards
    ds = formats.open_dataset(tmp_path / "ds")
    loci = tuple(ds.loci)
    spec = ModelSpec(kinship.FrequencyTable.load("nist1036_all"), loci, None, 0.0,
                     {l: list(ds.alleles[l]) for l in loci})
    model = get_model(spec)
    rec = Recoder(ds, loci, model.systems)
    refs = scan_references(ds, rec)
    assert refs.n_shards > 3
    full = rec.codes(ds.load(kind="reference"))                        # in scan order
    every = np.ones(len(refs), dtype=bool)
    some = np.arange(len(refs)) % 3 != 1
    made = []
    real = inputs._Held

    class Watched(real):             # note what is still held once the stream ends
        def __init__(self, *a):
            super().__init__(*a)
            made.append(self)

    monkeypatch.setattr(inputs, "_Held", Watched)
    seen = {0: [], 1: []}
    for si, blk in stream_blocks(ds, rec, refs, "persons", [every, some], 7):
        units = np.array([list(refs.ids).index(i) for i in blk.unit_ids])
        assert (blk.codes == full[units]).all()
        assert blk.case_ids == [str(x) for x in refs.case_id[units]]
        assert blk.sexes == [str(x) for x in refs.sex[units]]
        seen[si].extend(units.tolist())
    assert sorted(seen[0]) == list(range(len(refs)))
    assert sorted(seen[1]) == np.nonzero(some)[0].tolist()
    assert made and made[-1].codes == {}                               # every shard released
    # case blocks read their relatives' genotypes from the same store
    cases = build_cases(refs)
    ids = list(refs.ids)
    n = 0
    for _, blk in stream_blocks(ds, rec, refs, "cases", [np.ones(len(cases), dtype=bool)], 5, cases=cases):
        for case in blk.cases:
            for rid, _, _, codes in case["relatives"]:
                assert (codes == full[ids.index(rid)]).all()
                n += 1
    assert n == sum(len(m) for m in cases.members) and made[-1].codes == {}
