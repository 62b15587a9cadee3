"""Bootstrap confidence intervals, seed alignment and the final-performance table."""
import numpy as np
import pytest

from qtran_lib.plotting import bootstrap_ci, curve, final_table, final_values, load_sweep, read_metrics


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    m, lo, hi = bootstrap_ci(x)
    assert m == pytest.approx(4.0) and lo < m < hi
    assert (lo, hi) == bootstrap_ci(x)[1:]  # fixed generator
    assert lo >= x.min() and hi <= x.max()
    m1, lo1, hi1 = bootstrap_ci([5.0])
    assert m1 == lo1 == hi1 == 5.0
    const = bootstrap_ci(np.full((4, 3), 2.0))
    assert all(np.allclose(c, 2.0) for c in const)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_bootstrap_ci_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    for i in range(200):
        s = rng.normal(0.0, 1.0, size=30)
        _, lo, hi = bootstrap_ci(s, n_boot=500, seed=i)
        hits += lo <= 0.0 <= hi
    assert 0.88 <= hits / 200 <= 0.99


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["t_env,test_return_mean,return_mean"] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def test_load_align_and_tabulate(tmp_path):
    _write(tmp_path / "vdn" / "seed_0" / "metrics.csv", [(0, 1.0, 0.0), (50, None, 0.5), (100, 3.0, 1.0)])
    _write(tmp_path / "vdn" / "seed_1" / "metrics.csv", [(0, 1.0, 0.0), (100, 5.0, 1.0), (200, 7.0, 1.0)])
    runs = load_sweep(tmp_path)
    assert list(runs) == ["vdn"] and sorted(runs["vdn"]) == [0, 1]
    assert np.isnan(read_metrics(tmp_path / "vdn" / "seed_0")["test_return_mean"][1])
    x, y = curve(runs["vdn"], points=3)
    assert x.tolist() == [0.0, 50.0, 100.0]  # stops at the shortest seed
    assert y.tolist() == [[1.0, 2.0, 3.0], [1.0, 3.0, 5.0]]
    assert final_values(runs["vdn"]).tolist() == [3.0, 7.0]
    table = final_table({"vdn": {"P=0.5": final_values(runs["vdn"])}})
    assert table.splitlines()[0] == "| | P=0.5 |"
    assert "5.00 [" in table and "(n=2)" in table
    with pytest.raises(FileNotFoundError):
        load_sweep(tmp_path / "vdn" / "seed_0")


def test_plot_learning_curves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from qtran_lib.plotting import plot_learning_curves

    for s in range(3):
        _write(tmp_path / "qmix" / f"seed_{s}" / "metrics.csv", [(0, 0.0, 0.0), (10, float(s), 0.0)])
    ax = plot_learning_curves(load_sweep(tmp_path), hline=2.0, title="t")
    assert ax.get_title() == "t" and len(ax.lines) == 2 and "qmix (n=3)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_an_algorithm_keeps_its_colour_across_panels():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qtran_lib.plotting import ALGO_COLORS, plot_learning_curves

    run = {0: {"t_env": np.array([0.0, 1.0]), "test_won_mean": np.array([0.0, 1.0])}}
    _, (a, b) = plt.subplots(1, 2)
    plot_learning_curves({"qtran_base": run}, key="test_won_mean", ax=a)  # alone in its panel
    plot_learning_curves({"qmix": run, "qtran_base": run}, key="test_won_mean", ax=b)
    colour = {line.get_label().split()[0]: line.get_color() for ax in (a, b) for line in ax.get_lines()}
    assert a.get_lines()[0].get_color() == b.get_lines()[1].get_color() == colour["qtran_base"]
    assert colour["qtran_base"] != colour["qmix"] and set(ALGO_COLORS) == {"iql", "vdn", "qmix", "qtran_base", "qtran_alt"}
    plt.close("all")
