"""The circulation chart: counts per period, stacked by patron type and by material (matplotlib, optional)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ils_bridge.cli.common import CliError


def circulation_chart(rows: Sequence[dict[str, Any]], path: Path, *, title: str) -> None:
    """Write a PNG with two panels of stacked bars: by patron type (top) and by material (bottom)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise CliError("--chart needs matplotlib, which is not installed (pip install matplotlib)") from None
    if path.suffix.lower() != ".png":
        raise CliError(f"--chart writes a PNG: name the file *.png, not {path.name}")
    periods = sorted({r["period"] for r in rows})
    figure, panels = pyplot.subplots(2, 1, figsize=(max(8.0, 0.6 * len(periods) + 4), 9), sharex=True,
                                     constrained_layout=True)
    for panel, key, label in ((panels[0], "patron_type", "patron type"), (panels[1], "material", "material")):
        _stacked_bars(panel, rows, periods, key)
        panel.set_title(f"by {label}", loc="left", fontsize=11)
        panel.set_ylabel("transactions")
        panel.grid(axis="y", alpha=0.3)
        handles, labels = panel.get_legend_handles_labels()  # listed top-down, as stacked
        panel.legend(handles[::-1], labels[::-1], title=label, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                     title_fontsize=9, frameon=False)
    panels[1].set_xlabel("period")
    pyplot.setp(panels[1].get_xticklabels(), rotation=45 if len(periods) > 6 else 0, ha="right" if len(periods) > 6 else "center")
    figure.suptitle(title, fontsize=13)
    try:
        figure.savefig(path, dpi=110)
    finally:
        pyplot.close(figure)


def _stacked_bars(panel: Any, rows: Sequence[dict[str, Any]], periods: list[str], key: str) -> None:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        totals[row[key] or "(none)"][row["period"]] += row["count"]
    bottoms = [0] * len(periods)
    for group in sorted(totals, key=lambda g: -sum(totals[g].values())):
        heights = [totals[group][p] for p in periods]
        panel.bar(periods, heights, bottom=bottoms, label=group, width=0.7)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
