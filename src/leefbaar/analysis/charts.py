"""Charts and maps for the monitoring commands (matplotlib, Agg backend): PNG and SVG, or PNG for maps.

Charts are kept plain, like the tables in the Platform31 and Aedes reports they echo: one line per group over
the measurement years, a shaded band for a bootstrap interval, the national line in black.

Indicator maps are classified with ``mapclassify`` (``class_breaks``): quantiles, Fisher-Jenks (the optimal
breaks of Jenks' natural-breaks criterion, deterministic) or natural breaks (mapclassify's k-means variant, run
with a fixed seed); the legend shows each class's range with the unit and the number of areas. The dashboard and
the report can call ``class_breaks`` and ``legend_labels`` for the same classes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from leefbaar.i18n import N_, ByLanguage, fmt_integer, fmt_number, translator  # noqa: E402

LISA_COLOURS = {"HH": "#d7191c", "LL": "#2c7bb6", "HL": "#fdae61", "LH": "#abd9e9", "ns": "#eeeeee"}


def _years_axis(ax, years) -> None:
    """Ticks at the measurement years (integers), rotated when there are many."""
    years = sorted({int(y) for y in years})
    ax.set_xticks(years)
    ax.set_xticklabels([str(y) for y in years], rotation=45 if len(years) > 6 else 0, fontsize=7)


def save(fig, out: Path, stem: str, svg: bool = True) -> list[Path]:
    """Save ``fig`` as ``out/stem.png`` (and ``.svg``), close it, return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    if svg:
        paths.append(out / f"{stem}.svg")
        fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def group_lines(table: pd.DataFrame, value: str, title: str, ylabel: str, order: list[str],
                national: str | None = None, change: str | None = None, change_label: str = ""):
    """Lines per group over years (``table``: group, year, value); with ``change`` a second panel."""
    ncols = 2 if change else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.2), squeeze=False)
    cmap = plt.get_cmap("viridis", max(len(order), 2))
    for k, col in enumerate([value, change][:ncols]):
        ax = axes[0, k]
        for i, g in enumerate(order):
            sub = table[table["group"] == g].sort_values("year")
            if sub.empty:
                continue
            ax.plot(sub["year"], sub[col], marker="o", ms=3, lw=1.6, color=cmap(i), label=g)
        if national is not None:
            sub = table[table["group"] == national].sort_values("year")
            ax.plot(sub["year"], sub[col], color="black", lw=2.2, ls="--", label=national)
        _years_axis(ax, table["year"])
        ax.set_ylabel(ylabel if k == 0 else change_label)
        ax.grid(alpha=0.3)
        if k == 1:
            ax.axhline(0, color="grey", lw=0.8)
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def small_multiples(table: pd.DataFrame, panels: list[str], panel_titles: dict[str, str], value: str,
                    order: list[str], title: str, ylabel: str):
    """One panel per variable in ``panels`` (``table``: variable, group, year, value), lines per group."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), sharey=True, squeeze=False)
    cmap = plt.get_cmap("viridis", max(len(order), 2))
    for k, var in enumerate(panels):
        ax = axes[0, k]
        for i, g in enumerate(order):
            sub = table[(table["variable"] == var) & (table["group"] == g)].sort_values("year")
            if not sub.empty:
                ax.plot(sub["year"], sub[value], marker="o", ms=3, color=cmap(i), label=g)
        ax.set_title(panel_titles.get(var, var), fontsize=9)
        _years_axis(ax, table.loc[table["variable"] == var, "year"])
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def band_panels(by_year: pd.DataFrame, panels: list[tuple[str, str, list[tuple[str, str]]]], title: str):
    """Panels of measures with bootstrap bands. ``panels``: (panel title, y label, [(measure, legend)])."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"]
    for k, (ptitle, ylabel, series) in enumerate(panels):
        ax = axes[0, k]
        for i, (measure, legend) in enumerate(series):
            sub = by_year[by_year["measure"] == measure].sort_values("year")
            if sub.empty:
                continue
            ax.fill_between(sub["year"], sub["lo"], sub["hi"], color=colours[i % 4], alpha=0.2, lw=0)
            ax.plot(sub["year"], sub["estimate"], marker="o", ms=3, color=colours[i % 4], label=legend)
        ax.set_title(ptitle, fontsize=9)
        _years_axis(ax, by_year["year"])
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def category_map(gdf: gpd.GeoDataFrame, column: str, colours: dict[str, str], labels: dict[str, str],
                 title: str, background: gpd.GeoDataFrame | None = None):
    """A map of categories (``column`` values are keys of ``colours``); areas without data in light grey."""
    fig, ax = plt.subplots(figsize=(7, 8.2))
    if background is not None:
        background.plot(ax=ax, color="#f7f7f7", edgecolor="none")
    for key, colour in colours.items():
        sub = gdf[gdf[column] == key]
        if len(sub):
            sub.plot(ax=ax, color=colour, edgecolor="none")
    handles = [Patch(color=colours[k], label=f"{labels.get(k, k)} ({int((gdf[column] == k).sum())})")
               for k in colours]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


SCHEMES = {"quantiles": "Quantiles", "fisher_jenks": "FisherJenks", "natural_breaks": "NaturalBreaks"}
"""Class-break schemes by name: the ``mapclassify`` classifier of each (imported on first use: it takes seconds)."""
SCHEME_LABELS = ByLanguage({"quantiles": N_("quantiles"), "fisher_jenks": N_("Fisher-Jenks"),
                            "natural_breaks": N_("natural breaks")})
"""The class-break schemes as named in a legend, by language."""


def class_breaks(values, scheme: str = "fisher_jenks", k: int = 5, seed: int = 12345):
    """A fitted ``mapclassify`` classifier of the finite ``values`` (``.bins`` upper bounds, ``.yb`` classes).

    ``scheme``: quantiles, fisher_jenks or natural_breaks. ``k`` is lowered to the number of distinct values.
    Natural breaks starts k-means from random centres; the seed makes it replay.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    import mapclassify

    y = np.asarray(values, float)
    y = y[np.isfinite(y)]
    k = max(1, min(k, len(np.unique(y))))
    if scheme == "natural_breaks":
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            return mapclassify.NaturalBreaks(y, k=k)
        finally:
            np.random.set_state(state)
    return getattr(mapclassify, SCHEMES[scheme])(y, k=k)


def _num(x: float, nd: int, lang: str) -> str:
    return fmt_number(x, lang, nd)


def legend_labels(classifier, unit: str, lang: str = "nl", decimals: int | None = None) -> list[str]:
    """'low - high unit (n)' per class of ``classifier``, numbers in the locale's format."""
    bins = np.asarray(classifier.bins, float)
    lows = np.concatenate([[float(np.min(classifier.y))], bins[:-1]])
    if decimals is None:
        span = float(bins[-1] - lows[0]) or 1.0
        decimals = int(max(0, min(3, 2 - np.floor(np.log10(span)))))
    unit = f" {unit}" if unit else ""
    return [f"{_num(lo, decimals, lang)} - {_num(hi, decimals, lang)}{unit} ({int(n)})"
            for lo, hi, n in zip(lows, bins, classifier.counts, strict=True)]


def choropleth(gdf: gpd.GeoDataFrame, column: str, title: str, unit: str, lang: str = "nl",
               scheme: str = "fisher_jenks", k: int = 5, cmap: str = "YlOrRd",
               background: gpd.GeoDataFrame | None = None, decimals: int | None = None):
    """A classified map of ``column`` (classes by ``class_breaks``; legend with ranges, unit and counts).

    Areas without a value, and areas of ``background`` (matched by ``code``) that are not in ``gdf``, are drawn
    grey and counted in the legend.
    """
    fig, ax = plt.subplots(figsize=(7, 8.2))
    if background is not None:
        background.plot(ax=ax, color="#dddddd", edgecolor="white", linewidth=0.2)
    values = gdf[column].astype(float)
    ok = np.isfinite(values.to_numpy())
    handles = []
    if ok.any():
        cls = class_breaks(values[ok], scheme, k)
        colours = plt.get_cmap(cmap, len(cls.bins))
        yb = cls.find_bin(values[ok].to_numpy())
        gdf[ok].assign(_cls=yb).plot(ax=ax, column="_cls", cmap=colours, vmin=-0.5, vmax=len(cls.bins) - 0.5,
                                    edgecolor="white", linewidth=0.2)
        handles = [Patch(color=colours(i), label=lab)
                   for i, lab in enumerate(legend_labels(cls, unit, lang, decimals))]
    missing = int((~ok).sum()) if background is None else int(
        (~background["code"].isin(set(gdf.loc[ok, "code"]))).sum()) if "code" in background else int((~ok).sum())
    if (~ok).any():
        gdf[~ok].plot(ax=ax, color="#dddddd", edgecolor="white", linewidth=0.2)
    if missing:
        _ = translator(lang)
        handles.append(Patch(color="#dddddd", label=_("no data ({n})", n=fmt_integer(missing, lang))))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
              title=SCHEME_LABELS[lang].get(scheme, scheme), title_fontsize=7)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def interval_dots(frame: pd.DataFrame, label: str, value: str, lo: str, hi: str, title: str, xlabel: str,
                  highlight: set[str] | None = None):
    """One row per item (``label``), a dot at ``value`` and a line from ``lo`` to ``hi``; top row first."""
    frame = frame.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.4, 0.26 * len(frame) + 1.2))
    ypos = np.arange(len(frame))[::-1]
    colours = ["#b2182b" if highlight and n in highlight else "#2c7bb6" for n in frame[label]]
    ax.hlines(ypos, frame[lo], frame[hi], color=colours, lw=1.4)
    ax.scatter(frame[value], ypos, color=colours, s=14, zorder=3)
    ax.set_yticks(ypos)
    ax.set_yticklabels(frame[label], fontsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
