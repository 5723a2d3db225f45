"""The IBD closed form of a pairwise LR, from first principles (no mutation, θ = 0):
a test oracle shared by the tests, independent of the library's likelihood code.

    LR = k0 + k1 Φ1 + k2 Φ2

Φ1 = P(Q | R, one allele IBD) / P(Q): the IBD allele is either of R's two alleles
(1/2 each), Q's other allele a random draw; Φ2 = I(Q = R) / P(Q).
"""


def ibd_closed_form(k, gr, gq, p):
    """k0 + k1 Φ1 + k2 Φ2 for reference genotype ``gr``, candidate ``gq`` (pairs of
    allele labels) and frequencies ``p`` (``{label: frequency}``)."""
    k0, k1, k2 = k
    c, d = gq
    pq = p[c] ** 2 if c == d else 2 * p[c] * p[d]
    phi1 = 0.0
    for r in gr:
        if c == d:
            phi1 += 0.5 * (p[c] if r == c else 0.0)
        else:
            phi1 += 0.5 * ((p[d] if r == c else 0.0) + (p[c] if r == d else 0.0))
    phi2 = 1.0 if sorted(gr) == sorted(gq) else 0.0
    return k0 + k1 * phi1 / pq + k2 * phi2 / pq
