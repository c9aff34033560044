"""The benchmark harness: ours and the anchor timed alternately, in one run, on one machine.

Each ``bench/bench_<app>.py`` module exposes ``run(bench)``. Figures are ratios against the
library a Django team would use instead, plus a Redis PING floor measured in the same run,
so every number can also be read as "round trips".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Comparison:
    group: str
    name: str
    ours: list[float]
    anchor: list[float] | None
    anchor_name: str
    number: int
    target: str | None = None
    target_ratio: float | None = None
    unit: str = "µs"

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def anchor_median(self) -> float | None:
        return statistics.median(self.anchor) if self.anchor else None

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is than the anchor (>1: ours is faster)."""
        if not self.anchor:
            return None
        return self.anchor_median / self.ours_median if self.ours_median else None

    @property
    def met(self) -> bool | None:
        if self.target_ratio is None or self.ratio is None:
            return None
        return self.ratio >= self.target_ratio


@dataclass
class Figure:
    group: str
    name: str
    value: float | str
    unit: str
    target: str | None = None
    met: bool | None = None


def spread(samples: list[float]) -> str:
    if len(samples) < 2:
        return "-"
    return f"{min(samples):.1f}–{max(samples):.1f}"


@dataclass
class Bench:
    redis_url: str
    out_dir: Path
    quick: bool = False
    comparisons: list[Comparison] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, Markdown) after the tables
    floor_us: float | None = None

    @property
    def repetitions(self) -> int:
        return 3 if self.quick else 9

    def flush(self) -> None:
        from caching_app.foundation.connections import get_redis

        for alias in ("state", "cache"):
            get_redis(alias).flushall()

    def time_per_call(self, fn: Callable[[], object], number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number * 1e6

    def compare(self, group: str, name: str, *, ours: Callable[[], object], anchor: Callable[[], object] | None = None,
                anchor_name: str = "", number: int = 1000, target: str | None = None,
                target_ratio: float | None = None, repetitions: int | None = None) -> Comparison:
        """Time ``ours`` and ``anchor`` alternately (order swapped every repetition); µs per call."""
        if self.quick:
            number = max(10, number // 20)
        reps = repetitions or self.repetitions
        ours_fn = ours
        ours(), anchor() if anchor else None  # warm up connections, caches, scripts
        ours_samples: list[float] = []
        anchor_samples: list[float] = []
        for rep in range(reps):
            pairs = [(ours_fn, ours_samples), (anchor, anchor_samples)] if anchor else [(ours_fn, ours_samples)]
            if rep % 2:
                pairs.reverse()
            for fn, samples in pairs:
                samples.append(self.time_per_call(fn, number))
        result = Comparison(group, name, ours_samples, anchor_samples or None, anchor_name, number, target,
                            target_ratio)
        self.comparisons.append(result)
        anchor_text = f" | {anchor_name}: {result.anchor_median:.1f} µs | x{result.ratio:.2f}" if anchor else ""
        print(f"  {group} / {name}: ours {result.ours_median:.1f} µs{anchor_text}", flush=True)
        return result

    def figure(self, group: str, name: str, value: float | str, unit: str, target: str | None = None,
               met: bool | None = None) -> Figure:
        result = Figure(group, name, value, unit, target, met)
        self.figures.append(result)
        print(f"  {group} / {name}: {value} {unit}", flush=True)
        return result

    def section(self, title: str, markdown: str) -> None:
        """A free-form part of the report (a table a module builds itself), placed after the figures."""
        self.sections.append((title, markdown))

    def chart(self, filename: str, title: str, x: list[float], series: dict[str, list[float]], xlabel: str,
              ylabel: str, logx: bool = False, logy: bool = False) -> Path | None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("  (matplotlib not installed: chart skipped)")
            return None
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for label, values in series.items():
            ax.plot(x, values, marker="o", label=label)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = self.out_dir / filename
        fig.savefig(path)
        plt.close(fig)
        self.charts.append((title, filename))
        return path

    def bars(self, filename: str, title: str, labels: list[str], series: dict[str, list[float]], ylabel: str
             ) -> Path | None:
        """Grouped bar chart (one group per label, one bar per series), values written on the bars."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("  (matplotlib not installed: chart skipped)")
            return None
        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
        width = 0.8 / max(1, len(series))
        for index, (name, values) in enumerate(series.items()):
            positions = [i + (index - (len(series) - 1) / 2) * width for i in range(len(labels))]
            drawn = ax.bar(positions, values, width, label=name)
            ax.bar_label(drawn, fmt="%.0f" if max(values, default=0) >= 100 else "%.1f", fontsize=8)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
        if len(series) > 1:
            ax.set_ylim(top=ax.get_ylim()[1] * 1.25)  # headroom: the legend never covers a bar's value
            ax.legend(loc="upper left")
        fig.tight_layout()
        path = self.out_dir / filename
        fig.savefig(path)
        plt.close(fig)
        self.charts.append((title, filename))
        return path

    def summary(self) -> list[str]:
        """Every row that has a pass/fail target, met or missed, for the top of the report."""
        rows = [(f"{c.group} / {c.name}", c.target, f"{c.ratio:.2f}x" if c.ratio else "-", c.met)
                for c in self.comparisons if c.met is not None]
        rows += [(f"{f.group} / {f.name}", f.target, f"{f.value:.1f}" if isinstance(f.value, float) else str(f.value),
                  f.met) for f in self.figures if f.met is not None]
        met = sum(1 for row in rows if row[3])
        lines = ["## Summary", "", f"**{met} of {len(rows)} targets met** in this run.", "",
                 "| | benchmark | target | result |", "|---|---|---|---|"]
        for name, target, result, ok in sorted(rows, key=lambda row: bool(row[3])):
            lines.append(f"| {'met' if ok else '**missed**'} | {name} | {target or '-'} | {result} |")
        return [*lines, ""]

    def report(self, header: str) -> str:
        lines = [
            "# Benchmarks", "", header, "", *self.summary(), "## Details", "",
            "Ratios are the anchor's time divided by ours (above 1: ours is faster). Each row ran ours and the",
            "anchor alternately in the same process against the same redis-server; medians over the repetitions,",
            "spread is min–max of the per-repetition means.", "",
        ]
        if self.floor_us:
            lines += [f"Floor: one redis-py round trip (PING) = **{self.floor_us:.1f} µs** in this run.", ""]
        lines += [
            "| Group | Benchmark | winkr (µs) | spread | anchor | anchor (µs) | spread | ratio | reps × calls "
            "| target | met |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in self.comparisons:
            anchor_median = f"{row.anchor_median:.1f}" if row.anchor else "-"
            lines.append(
                f"| {row.group} | {row.name} | {row.ours_median:.1f} | {spread(row.ours)} | {row.anchor_name or '-'} "
                f"| {anchor_median} | {spread(row.anchor or [])} | {f'{row.ratio:.2f}x' if row.ratio else '-'} "
                f"| {len(row.ours)} × {row.number} | {row.target or 'report only'} | {_met(row.met)} |"
            )
        if self.figures:
            lines += ["", "| Group | Figure | value | unit | target | met |", "|---|---|---|---|---|---|"]
            for fig in self.figures:
                value = f"{fig.value:.1f}" if isinstance(fig.value, float) else str(fig.value)
                target = fig.target or "report only"
                lines.append(f"| {fig.group} | {fig.name} | {value} | {fig.unit} | {target} | {_met(fig.met)} |")
        for title, markdown in self.sections:
            lines += ["", f"## {title}", "", markdown.rstrip()]
        if self.charts:
            lines += [""]
            for title, filename in self.charts:
                lines += [f"![{title}]({self.out_dir.name}/{filename})", ""]
        return "\n".join(lines) + "\n"


def _met(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "**no**")
