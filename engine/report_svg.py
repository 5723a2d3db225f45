"""Inline SVG drawings of the HTML report (:mod:`engine.report_html`): a
pedigree laid out by generation, and the LR distribution of a mode's hits
against the chance expectation.  No plotting library: plain SVG text, so the
report stays one self-contained file per page.

Pedigree layout (:func:`layout`)
--------------------------------
* **Generation**: a person with parents sits one row below the lower of them; a
  founder with children sits in the row of a partner who has parents (a
  married-in partner stands beside their partner, not at the top), else one row
  above the highest of its children; founders without children stay in row 0.
  Repeated until nothing moves.
* **Order within a row**, top-down: persons with parents in the order of their
  parents' mean x (a sibship stays together), each followed or flanked by the
  founders married into the family in that row (one partner: beside them; two
  partners, e.g. the mothers of half-siblings: one on each side).
* **x**: each row left to right at its preferred x (children under their
  parents' midpoint, partners beside their partner), never closer than one unit.

The drawing has one ``<g class="person" data-id=...>`` per person and one
``<path class="descent" data-parent=P data-child=C>`` per parent-child link, so
a test can check that nothing is left out.
"""
from __future__ import annotations

import math
from html import escape
from typing import Mapping, Sequence

__all__ = ["layout", "pedigree_svg", "lr_plot_svg"]


def _generations(recs: Sequence[Mapping]) -> dict:
    ids = [r["id"] for r in recs]
    par = {r["id"]: [p for p in (r.get("father"), r.get("mother")) if p] for r in recs}
    kids: dict = {i: [] for i in ids}
    for c, ps in par.items():
        for p in ps:
            kids[p].append(c)
    gen = {i: 0 for i in ids}
    for _ in range(4 * len(ids) + 4):
        moved = False
        for i in ids:               # children below their lowest parent
            if par[i]:
                g = max(gen[p] for p in par[i]) + 1
                if g != gen[i]:
                    gen[i], moved = g, True
        for i in ids:               # founders beside a partner with parents, else above their children
            if not par[i] and kids[i]:
                g = min(gen[c] for c in kids[i]) - 1
                mates = [gen[m] for c in kids[i] for m in par[c] if m != i and par[m]]
                g = max([g] + mates)
                if g != gen[i]:
                    gen[i], moved = g, True
        if not moved:
            break
    low = min(gen.values()) if gen else 0
    return {i: g - low for i, g in gen.items()}


def layout(records: Sequence[Mapping]) -> dict:
    """``{person id: (x, generation)}`` for pedigree records (``id``, ``father``,
    ``mother``; parents must be persons of the records).  x is in units of one
    person's width, generation 0 is the top row."""
    recs = list(records)
    ids = [r["id"] for r in recs]
    known = set(ids)
    for r in recs:
        for p in (r.get("father"), r.get("mother")):
            if p and p not in known:
                raise ValueError(f"pedigree: parent {p!r} of {r['id']!r} is not a person of it")
    par = {r["id"]: [p for p in (r.get("father"), r.get("mother")) if p] for r in recs}
    gen = _generations(recs)
    order_ix = {i: k for k, i in enumerate(ids)}
    # partners: the other parents of one's children
    partners: dict = {i: [] for i in ids}
    for c in ids:
        if len(par[c]) == 2:
            a, b = par[c]
            if b not in partners[a]:
                partners[a].append(b)
            if a not in partners[b]:
                partners[b].append(a)
    x: dict = {}
    placed: set = set()
    for g in range(max(gen.values(), default=-1) + 1):
        row = [i for i in ids if gen[i] == g]

        def pref(i):
            ps = [x[p] for p in par[i] if p in x]
            return (sum(ps) / len(ps)) if ps else math.inf

        # anchors: persons with parents (by their parents' place), then founders
        # that are nobody's married-in partner in this row
        with_parents = sorted((i for i in row if par[i]), key=lambda i: (pref(i), order_ix[i]))
        founders = [i for i in row if not par[i]]
        anchors = with_parents + [f for f in founders
                                  if not any(p in row and par[p] for p in partners[f])]
        seq: list = []
        for a in anchors:
            if a in placed:
                continue
            mates = [p for p in partners[a] if p in row and p not in placed and not par[p]]
            placed.add(a)
            placed.update(mates)
            if len(mates) >= 2:
                seq += mates[:1] + [a] + mates[1:]
            else:
                seq += [a] + mates
        for i in row:                       # anything left (a founder whose partner was placed later)
            if i not in placed:
                placed.add(i)
                seq.append(i)
        # preferred x: children under their parents, partners beside the anchor
        last = -math.inf
        for k, i in enumerate(seq):
            want = pref(i)
            if want == math.inf:
                want = last + 1 if last > -math.inf else 0.0
            xi = max(want, last + 1.0)
            x[i] = xi
            last = xi
    # shift every row so that the whole drawing starts at x = 0
    lo = min(x.values(), default=0.0)
    return {i: (x[i] - lo, gen[i]) for i in ids}


def _shape(sex: str, cx: float, cy: float, r: float, cls: str) -> str:
    if sex == "male":
        return f'<rect class="{cls}" x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}"/>'
    if sex == "female":
        return f'<circle class="{cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}"/>'
    pts = f"{cx:.1f},{cy - r * 1.2:.1f} {cx + r * 1.2:.1f},{cy:.1f} {cx:.1f},{cy + r * 1.2:.1f} {cx - r * 1.2:.1f},{cy:.1f}"
    return f'<polygon class="{cls}" points="{pts}"/>'


def pedigree_svg(records: Sequence[Mapping], labels: Mapping[str, Sequence[str]] | None = None,
                 roles: Mapping[str, str] | None = None, title: str = "") -> str:
    """The pedigree as an inline ``<svg>``.  ``labels``: up to three text lines
    under each person; ``roles``: ``"typed"`` (a relative with a profile,
    shaded), ``"query"`` (the query in the missing person's place, highlighted),
    ``"missing"`` (another missing person, dashed), anything else: untyped."""
    labels = labels or {}
    roles = roles or {}
    pos = layout(records)
    W, H, R = 110.0, 118.0, 15.0
    ncols = max((p[0] for p in pos.values()), default=0) + 1
    nrows = max((p[1] for p in pos.values()), default=0) + 1
    width = ncols * W + 20
    height = nrows * H + 10
    X = lambda i: 10 + W / 2 + pos[i][0] * W      # noqa: E731
    Y = lambda i: 10 + R + 8 + pos[i][1] * H      # noqa: E731
    parts = [f'<svg class="pedigree" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    by_id = {r["id"]: r for r in records}
    for r in records:
        ps = [p for p in (r.get("father"), r.get("mother")) if p]
        if not ps:
            continue
        c = r["id"]
        cx, cy = X(c), Y(c)
        mx = sum(X(p) for p in ps) / len(ps)
        for p in ps:
            px, py = X(p), Y(p)
            ymid = cy - R - 22
            if len(ps) == 2:
                # couple line at the parents' height to their midpoint, then down
                d = f"M{px:.1f},{py:.1f} H{mx:.1f} V{ymid:.1f} H{cx:.1f} V{cy - R:.1f}"
            else:
                d = f"M{px:.1f},{py + R:.1f} V{ymid:.1f} H{cx:.1f} V{cy - R:.1f}"
            parts.append(f'<path class="descent" data-parent="{escape(p)}" data-child="{escape(c)}" d="{d}"/>')
    for pid, r in by_id.items():
        role = roles.get(pid, "untyped")
        cx, cy = X(pid), Y(pid)
        parts.append(f'<g class="person {escape(role)}" data-id="{escape(pid)}">')
        parts.append(_shape(r.get("sex", "unknown"), cx, cy, R, f"sym {escape(role)}"))
        if role in ("query", "missing"):
            parts.append(f'<text class="mark" x="{cx:.1f}" y="{cy + 5:.1f}">?</text>')
        for k, line in enumerate(labels.get(pid, (pid,))[:3]):
            parts.append(f'<text class="lab{" first" if k == 0 else ""}" x="{cx:.1f}" '
                         f'y="{cy + R + 15 + 13 * k:.1f}">{escape(str(line)[:18])}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list:
    span = max(hi - lo, 1e-9)
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (m * step) <= n:
            step *= m
            break
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def lr_plot_svg(log10_lrs: Sequence[float], chance: Sequence[tuple], mode: str,
                threshold_log10: float | None = None) -> str:
    """The mode's hits against chance, as an inline ``<svg>``: x is log10 LR, y is
    log10 of a count; the solid steps are the number of this run's hits with LR
    at least x, the dashed line (with dots) the expected number of unrelated
    pairs reaching x in this search (``chance``: ``(log10 LR, expected)`` points
    as the run recorded them).  Where the steps stand far above the dashed line,
    the hits are not what chance alone gives."""
    xs = sorted(float(v) for v in log10_lrs if v is not None and math.isfinite(v))
    ch = sorted((float(a), float(b)) for a, b in chance
                if a is not None and b is not None and math.isfinite(a) and b == b and b > 0)
    W, H, L, B, T, Rm = 560.0, 260.0, 70.0, 40.0, 12.0, 14.0
    parts = [f'<svg class="lrplot" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {W:.0f} {H:.0f}" width="{W:.0f}" height="{H:.0f}" data-mode="{escape(mode)}">',
             f"<title>{escape(mode)}: hits of this run with LR at least x, and the chance "
             f"hits expected</title>"]
    if not xs:
        parts.append(f'<text class="axis" x="{W / 2:.0f}" y="{H / 2:.0f}" text-anchor="middle">'
                     f'no hits</text></svg>')
        return "".join(parts)
    x_lo = min([xs[0]] + [a for a, _ in ch] + ([threshold_log10] if threshold_log10 is not None else []))
    x_hi = max([xs[-1]] + [a for a, _ in ch])
    x_lo, x_hi = math.floor(x_lo) - 0.5, math.ceil(x_hi) + 0.5
    ys = [math.log10(b) for _, b in ch]
    y_lo = min([0.0] + ys)
    y_hi = max([math.log10(len(xs))] + ys)
    y_lo, y_hi = math.floor(y_lo), math.ceil(y_hi) + 0.5
    sx = lambda v: L + (v - x_lo) / (x_hi - x_lo) * (W - L - Rm)   # noqa: E731
    sy = lambda v: H - B - (v - y_lo) / (y_hi - y_lo) * (H - B - T)  # noqa: E731
    parts.append(f'<rect class="frame" x="{L:.1f}" y="{T:.1f}" width="{W - L - Rm:.1f}" height="{H - B - T:.1f}"/>')
    for t in _nice_ticks(x_lo, x_hi):
        parts.append(f'<line class="grid" x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{T:.1f}" y2="{H - B:.1f}"/>'
                     f'<text class="axis" x="{sx(t):.1f}" y="{H - B + 14:.1f}" text-anchor="middle">{t:g}</text>')
    for t in _nice_ticks(y_lo, y_hi, 5):
        lab = (f'10<tspan dy="-5" font-size="8">{t:g}</tspan>' if t not in (0, 1)
               else ("1" if t == 0 else "10"))
        parts.append(f'<line class="grid" x1="{L:.1f}" x2="{W - Rm:.1f}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>'
                     f'<text class="axis" x="{L - 5:.1f}" y="{sy(t) + 4:.1f}" text-anchor="end">{lab}</text>')
    parts.append(f'<text class="axis" x="{(L + W - Rm) / 2:.1f}" y="{H - 6:.1f}" text-anchor="middle">'
                 f'log10 LR</text>')
    parts.append(f'<text class="axis" transform="translate(14,{(T + H - B) / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">number with LR at least x</text>')
    if threshold_log10 is not None and x_lo <= threshold_log10 <= x_hi:
        tx = sx(threshold_log10)
        parts.append(f'<line class="thr" x1="{tx:.1f}" x2="{tx:.1f}" y1="{T:.1f}" y2="{H - B:.1f}"/>'
                     f'<text class="axis" x="{tx + 3:.1f}" y="{T + 11:.1f}">threshold</text>')
    # observed: N(LR >= x), a step down at each hit
    n = len(xs)
    d = [f"M{sx(x_lo):.1f},{sy(math.log10(n)):.1f}"]
    for k, v in enumerate(xs):
        d.append(f"H{sx(v):.1f}")
        d.append(f"V{sy(math.log10(n - k - 1)) if n - k - 1 > 0 else H - B:.1f}")
    parts.append(f'<path class="observed" d="{" ".join(d)}"/>')
    for v in xs:
        parts.append(f'<line class="tick-hit" x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{H - B:.1f}" '
                     f'y2="{H - B - 6:.1f}"/>')
    if ch:
        pts = [(sx(a), sy(max(math.log10(b), y_lo))) for a, b in ch]
        parts.append('<polyline class="chance" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        for px, py in pts:
            parts.append(f'<circle class="chance-pt" cx="{px:.1f}" cy="{py:.1f}" r="2.2"/>')
    lx, ly = L + 12, H - B - 26
    parts.append(f'<line class="observed" x1="{lx:.0f}" x2="{lx + 22:.0f}" y1="{ly - 4:.0f}" y2="{ly - 4:.0f}"/>'
                 f'<text class="legend" x="{lx + 27:.0f}" y="{ly:.0f}">hits of this run</text>'
                 f'<line class="chance" x1="{lx:.0f}" x2="{lx + 22:.0f}" y1="{ly + 12:.0f}" y2="{ly + 12:.0f}"/>'
                 f'<text class="legend" x="{lx + 27:.0f}" y="{ly + 16:.0f}">chance hits expected</text>')
    parts.append("</svg>")
    return "".join(parts)
