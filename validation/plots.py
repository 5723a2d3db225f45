"""Plots of the validation suite (PNG, matplotlib).

matplotlib is optional: it is needed only to draw, and :func:`require_matplotlib`
says how to get it.  Each function takes the :class:`~validation.suite.ModeResult`
list of a run and writes files into ``out``:

* ``tippett-<panel>.png``: one panel per mode; the fraction of pairs with
  ``LR >= t`` against ``t`` for true relatives (observed and expected) and for
  unrelated pairs (observed, the exact chance-hit curve of
  :mod:`kinship.chance`, and Markov's bound ``E[LR] / t``);
* ``recall.png``: recall against threshold, every panel and mode;
* ``chance-hits.png``: false hits per query observed in the simulated search
  beside the expected number, and the expected chance hits of a 10^12-comparison
  search;
* ``lr-distributions-<panel>.png``: histograms of log10 LR, true and unrelated.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .suite import hist_edges

__all__ = ["require_matplotlib", "plot_all", "tippett", "recall_plot", "chance_plot", "distributions"]

_MODE_COLOURS = {"duo": "tab:blue", "couple": "tab:green", "full-sibling": "tab:orange",
                 "half-sibling": "tab:red"}


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise an ImportError saying how to
    install it (the ``plots`` extra, not a dependency of the base install)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "the validation plots need matplotlib, strkin's 'plots' extra. Install it with "
            "`pip install \"strkin[plots]\"` (or `pip install matplotlib`), or run without plots "
            "(`kinship validate --no-plots`)."
        ) from None
    return plt


def _by_panel(results):
    out = {}
    for r in results:
        out.setdefault(r.panel, []).append(r)
    return out


def _grid(n):
    cols = min(2, n)
    rows = (n + cols - 1) // cols
    return rows, cols


def tippett(results, out) -> list[Path]:
    plt = require_matplotlib()
    written = []
    for panel, rs in _by_panel(results).items():
        rows, cols = _grid(len(rs))
        fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.4 * rows), squeeze=False)
        for ax, r in zip(axes.ravel(), rs):
            t = np.asarray(r.thresholds)
            x = np.log10(t)
            true = np.sort(np.asarray(r.log10_lr_true))
            grid = np.linspace(min(-5.0, float(true.min(initial=0.0))), max(x.max(), float(true.max(initial=1.0))), 400)
            frac_true = 1.0 - np.searchsorted(true, grid, side="left") / max(1, len(true))
            ax.plot(grid, np.where(frac_true > 0, frac_true, np.nan), color="tab:blue",
                    label=f"true relatives, observed (n={r.n_true_pairs})")
            ax.plot(x, r.recall_expected, "o", ms=3.5, color="tab:blue", mfc="white",
                    label="true relatives, expected (exact, H1)")
            hist = np.asarray(r.hist_unrelated, dtype=float)
            edges = hist_edges(r.hist_range)
            tail = np.cumsum(hist[::-1])[::-1] / max(1, r.n_unrelated_pairs)
            ax.step(edges[:-1], np.where(tail > 0, tail, np.nan), where="post", color="tab:red",
                    label=f"unrelated pairs, observed (n={r.n_unrelated_pairs:,})")
            lo = np.asarray(r.unrelated_fraction_lower)
            hi = np.asarray(r.unrelated_fraction_upper)
            est = np.asarray(r.unrelated_fraction_expected)
            ax.plot(x, np.where(est > 0, est, np.nan), "s", ms=3.5, color="tab:red", mfc="white",
                    label="unrelated, expected (kinship.chance)")
            ax.fill_between(x, np.where(lo > 0, lo, np.nan), np.where(hi > 0, hi, np.nan), color="tab:red",
                            alpha=0.15, lw=0)
            ax.plot(x, r.mean_lr_exact / t, "k--", lw=0.8, label="Markov bound E[LR]/t")
            ax.set_yscale("log")
            ax.set_ylim(max(1e-30, np.nanmin(np.where(est > 0, est, np.nan)) / 10) if np.any(est > 0) else 1e-12, 1.5)
            # show the bulk of the unrelated pairs too (couples: far below LR 1)
            cum = np.cumsum(hist) / max(1.0, hist.sum())
            lo_x = edges[int(np.searchsorted(cum, 0.01))] if hist.sum() else -6.0
            ax.set_xlim(max(-30.0, min(-6.0, lo_x)), x.max() + 0.5)
            ax.set_xlabel("log10 threshold t")
            ax.set_ylabel("fraction of pairs with LR >= t")
            ax.set_title(f"{panel} ({len(r.loci)} loci): {r.mode}")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
        for ax in axes.ravel()[len(rs):]:
            ax.axis("off")
        fig.tight_layout()
        p = Path(out) / f"tippett-{panel}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
    return written


def recall_plot(results, out) -> list[Path]:
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {}
    for r in results:
        ls = styles.setdefault(r.panel, ["-", "--", ":", "-."][len(styles) % 4])
        x = np.log10(r.thresholds)
        ax.plot(x, r.recall, ls, marker="o", ms=3, color=_MODE_COLOURS.get(r.mode),
                label=f"{r.panel} {r.mode}")
    ax.set_xlabel("log10 threshold t")
    ax.set_ylabel("recall (fraction of planted relatives with LR >= t)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    p = Path(out) / "recall.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return [p]


def chance_plot(results, out, comparisons: float = 1e12) -> list[Path]:
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = {}
    for r in results:
        ls = styles.setdefault(r.panel, ["-", "--", ":", "-."][len(styles) % 4])
        x = np.log10(r.thresholds)
        c = _MODE_COLOURS.get(r.mode)
        obs = np.asarray(r.false_hits, dtype=float) / r.n_queries
        exp = np.asarray(r.false_hits_expected) / r.n_queries
        axes[0].plot(x, np.where(exp > 0, exp, np.nan), ls, color=c, label=f"{r.panel} {r.mode}, expected")
        axes[0].plot(x, np.where(obs > 0, obs, np.nan), "o", ms=3.5, color=c, mfc="white")
        ch = comparisons * np.asarray(r.unrelated_fraction_expected)
        axes[1].plot(x, np.where(ch > 0, ch, np.nan), ls, marker=".", color=c, label=f"{r.panel} {r.mode}")
    axes[0].set_title("false hits per query in the simulated search\n(lines: kinship.chance, circles: observed)")
    axes[1].set_title(f"expected chance hits in a search of {comparisons:.0e} comparisons")
    axes[1].axhline(1.0, color="k", lw=0.8, ls="--")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("log10 threshold t")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    axes[1].set_ylim(1e-8, None)
    fig.tight_layout()
    p = Path(out) / "chance-hits.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return [p]


def distributions(results, out) -> list[Path]:
    plt = require_matplotlib()
    written = []
    for panel, rs in _by_panel(results).items():
        rows, cols = _grid(len(rs))
        fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.8 * rows), squeeze=False)
        for ax, r in zip(axes.ravel(), rs):
            edges = hist_edges(r.hist_range)
            hist = np.asarray(r.hist_unrelated, dtype=float)
            total = hist.sum() + r.zero_lr_unrelated
            # the end bins also hold the pairs beyond the histogram's range: not drawn
            below = hist[0] + r.zero_lr_unrelated
            inner = hist.copy()
            inner[0] = inner[-1] = 0.0
            width = np.diff(edges)
            dens_u = inner / max(1.0, total) / width
            true = np.asarray(r.log10_lr_true)
            dens_t, _ = np.histogram(np.clip(true, edges[0], edges[-1] - 1e-9), bins=edges)
            dens_t = dens_t / max(1, len(true)) / width
            ax.bar(edges[:-1], dens_u, width=width, align="edge", color="tab:red", alpha=0.5,
                   label=f"unrelated pairs ({below / max(1.0, total):.1%} below {edges[1]:.0f})")
            ax.bar(edges[:-1], dens_t, width=width, align="edge", color="tab:blue", alpha=0.5,
                   label="true relatives")
            used = np.nonzero((dens_u > 0) | (dens_t > 0))[0]
            if len(used):
                ax.set_xlim(edges[used[0]] - 1, edges[used[-1] + 1] + 1)
            ax.set_xlabel("log10 LR")
            ax.set_ylabel("density")
            ax.set_title(f"{panel} ({len(r.loci)} loci): {r.mode}")
            ax.legend(fontsize=7)
        for ax in axes.ravel()[len(rs):]:
            ax.axis("off")
        fig.tight_layout()
        p = Path(out) / f"lr-distributions-{panel}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
    return written


def plot_all(results, out) -> list[Path]:
    require_matplotlib()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return tippett(results, out) + recall_plot(results, out) + chance_plot(results, out) + distributions(results, out)
