"""Charts and maps for the monitoring commands (matplotlib, Agg backend): PNG and SVG, or PNG for maps.

Charts are kept plain, like the tables in the Platform31 and Aedes reports they echo: one line per group over
the measurement years, a shaded band for a bootstrap interval, the national line in black.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

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
