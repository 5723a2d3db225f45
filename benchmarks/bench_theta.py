"""θ > 0 timing for the four-relative reference case (child, uncle, half-sibling,
full sibling of M) at D21S11 (NIST 1036, 27 alleles), stepwise mutation.

Usage: python benchmarks/bench_theta.py [h1] [h2]   (h2 is refused at θ > 0: 10 draws)
"""
import time, sys
import kinship
from kinship.cases import case_pedigree
from kinship.pedigree import Person
from kinship import likelihood as L
ft = kinship.FrequencyTable.load()
ped = case_pedigree([("c","child","male"),("u","uncle","male"),("h","half-sibling","female"),("s","full-sibling","male")], missing_sex="male")
calls = {"c": ("29","31.2"), "u": ("30","32.2"), "h": ("28","30"), "s": ("29","30")}
la = ft.locus_alleles("D21S11", sorted({a for c in calls.values() for a in c}))
mut = kinship.MutationModel(female=kinship.Stepwise(rate=0.001, rate2=1e-6, range=0.1), male=kinship.Stepwise(rate=0.003, rate2=1e-6, range=0.1))
idx = {a:i for i,a in enumerate(la.alleles)}
icalls = {k:(idx[a],idx[b]) for k,(a,b) in calls.items()}
fM, mM = mut.matrices(la)
h2 = ped.with_person(Person("Q", None, None, "unknown"))
which = sys.argv[1:] or ["h1", "h2"]
for th in [0.0, 0.01]:
    for rep in range(2):
        if "h1" in which:
            t=time.time()
            r = L.locus_likelihood(ped, icalls, la.n_alleles, la.freqs, fM, mM, theta=th, free=["M"])
            print("H1", th, rep, round(time.time()-t,3), r.sum(), flush=True)
        if "h2" in which:
            t=time.time()
            r = L.locus_likelihood(h2, icalls, la.n_alleles, la.freqs, fM, mM, theta=th, free=["Q"])
            print("H2", th, rep, round(time.time()-t,3), r.sum(), flush=True)
