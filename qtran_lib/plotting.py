"""Learning curves with 95 % bootstrap confidence bands over seeds, and final-performance tables.

Introduced in book/05_paper_experiments. Everything works from run folders written by ``train``
(``metrics.csv``) or by ``run_sweep`` (``ALGO/seed_S/metrics.csv``), with numpy and matplotlib
only; matplotlib is imported inside the plotting function.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

ALGO_COLORS = {"iql": "C4", "vdn": "C2", "qmix": "C0", "qtran_base": "C1", "qtran_alt": "C3"}
"""One colour per algorithm, so a method looks the same in every panel and every chapter."""


def bootstrap_ci(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0, axis: int = 0):
    """(mean, low, high) of the mean of ``values`` along ``axis`` by the percentile bootstrap.

    Resamples the seeds (rows along ``axis``) with replacement ``n_boot`` times using a fixed numpy
    generator, so the same data always gives the same band. One seed gives a zero-width band.
    """
    x = np.asarray(values, dtype=float)
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    mean = x.mean(axis=0)
    if n == 1:
        return mean, mean.copy(), mean.copy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = x[idx].mean(axis=1)  # [n_boot, ...]
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    return mean, low, high


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """metrics.csv (or a run folder) -> {column: float array}; empty cells become NaN."""
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.csv"
    if not p.exists():
        raise FileNotFoundError(f"no metrics.csv at {p}")
    with open(p, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{p} has no rows")
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]}


def load_sweep(folder: str | Path) -> dict[str, dict[int, dict[str, np.ndarray]]]:
    """A sweep folder -> {algo: {seed: metrics}} for every ``ALGO/seed_S/metrics.csv`` inside."""
    folder = Path(folder)
    runs: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for m in sorted(folder.glob("*/seed_*/metrics.csv")):
        algo, seed = m.parent.parent.name, int(m.parent.name.removeprefix("seed_"))
        runs.setdefault(algo, {})[seed] = read_metrics(m)
    if not runs:
        raise FileNotFoundError(f"no ALGO/seed_S/metrics.csv under {folder}")
    return runs


def curve(runs: dict[int, dict[str, np.ndarray]], key: str = "test_return_mean", x_key: str = "t_env",
          points: int = 50):
    """Align seeds on a common x grid (linear interpolation of each seed's non-NaN points).

    Returns x [points] and y [seeds, points]; the grid stops at the shortest seed's last point.
    """
    xs, ys = [], []
    for m in runs.values():
        ok = ~np.isnan(m[key])
        if ok.sum() == 0:
            raise ValueError(f"column {key!r} is empty in one of the runs")
        xs.append(m[x_key][ok])
        ys.append(m[key][ok])
    lo = max(x[0] for x in xs)
    hi = min(x[-1] for x in xs)
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([hi])
    return grid, np.stack([np.interp(grid, x, y) for x, y in zip(xs, ys)])


def final_values(runs: dict[int, dict[str, np.ndarray]], key: str = "test_return_mean", last: int = 1) -> np.ndarray:
    """[seeds] the mean of each seed's last ``last`` non-NaN values of ``key``."""
    out = []
    for m in runs.values():
        v = m[key][~np.isnan(m[key])]
        if v.size == 0:
            raise ValueError(f"column {key!r} is empty in one of the runs")
        out.append(v[-last:].mean())
    return np.array(out)


def plot_learning_curves(sweep: dict[str, dict[int, dict[str, np.ndarray]]], key: str = "test_return_mean",
                         ax=None, title: str | None = None, hline: float | None = None,
                         hline_label: str = "optimum", seed: int = 0):
    """One line per algorithm (mean over seeds) with its 95 % bootstrap band; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for algo, runs in sweep.items():
        x, y = curve(runs, key)
        mean, low, high = bootstrap_ci(y, seed=seed)
        (line,) = ax.plot(x, mean, color=ALGO_COLORS.get(algo), label=f"{algo} (n={y.shape[0]})")
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if hline is not None:
        ax.axhline(hline, color="k", linestyle="--", linewidth=1, label=hline_label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(key.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def final_table(cells: dict[str, dict[str, np.ndarray]], decimals: int = 2, seed: int = 0) -> str:
    """Markdown table of mean [95 % CI] per row and column: cells {row: {column: per-seed values}}."""
    columns: list[str] = []
    for row in cells.values():
        columns += [c for c in row if c not in columns]
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in cells.items():
        entries = []
        for c in columns:
            if c not in row:
                entries.append("")
                continue
            v = np.asarray(row[c], dtype=float)
            mean, low, high = bootstrap_ci(v, seed=seed)
            entries.append(f"{mean:.{decimals}f} [{low:.{decimals}f}, {high:.{decimals}f}] (n={v.size})")
        lines.append(f"| {name} | " + " | ".join(entries) + " |")
    return "\n".join(lines)
