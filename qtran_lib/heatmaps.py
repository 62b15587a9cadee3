"""Heat maps of two-agent value tables, side by side, with every cell's number written in it.

Introduced in book/03_vdn_qmix_limits and used again in book/04_qtran. Rows are agent 1's action,
columns agent 2's, as in the paper's Table 1. matplotlib is imported inside the functions, so
``import qtran_lib`` stays light.
"""
from __future__ import annotations

import torch

LABELS = "ABCDEFGHIJKLMNOPQRSTU"


def plot_tables(tables: dict, marks: dict | None = None, title: str | None = None, cmap: str = "RdBu",
                center: bool = True, fmt: str = "{:.2f}", panel_size: float = 2.6, axes=None):
    """Draw one heat map per entry of ``tables`` ({panel title: [A, A] table}) in a single row.

    ``marks`` maps a panel title to a joint action (row, column) to outline (e.g. the greedy action).
    Colours are centred on 0 (blue > 0, red < 0) so that signs read at a glance; each panel has
    its own scale. Returns the matplotlib Figure; call ``plt.show()`` to display it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    marks = marks or {}
    k = len(tables)
    if axes is None:
        fig, axes = plt.subplots(1, k, figsize=(panel_size * k + 0.4, panel_size + 0.5), squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    for ax, (name, table) in zip(axes, tables.items()):
        t = torch.as_tensor(table, dtype=torch.float32).detach().cpu()
        if t.dim() != 2:
            raise ValueError(f"plot_tables draws two-agent tables [A, A]; {name!r} has shape {list(t.shape)}")
        lo, hi = float(t.min()), float(t.max())
        span = max(abs(lo), abs(hi), 1e-6)
        norm = TwoSlopeNorm(0.0, -span, span) if center else None
        ax.imshow(t.numpy(), cmap=cmap, norm=norm)
        for (r, c), v in ((rc, float(t[rc])) for rc in ((r, c) for r in range(t.shape[0]) for c in range(t.shape[1]))):
            strong = abs(v) > 0.6 * span
            label = fmt.format(v)
            if label.lstrip("-").strip("0.") == "":  # -0.00 -> 0.00
                label = label.lstrip("-")
            ax.text(c, r, label, ha="center", va="center", fontsize=9,
                    color="white" if strong else "black")
        if name in marks and marks[name] is not None:
            r, c = marks[name]
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=2.5, ec="gold"))
        ax.set_xticks(range(t.shape[1]), list(LABELS[: t.shape[1]]))
        ax.set_yticks(range(t.shape[0]), list(LABELS[: t.shape[0]]))
        ax.set_xlabel("agent 2")
        ax.set_ylabel("agent 1")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_q_tables(tables, which=("payoff", "q_jt", "q_sum"), title: str | None = None, **kw):
    """Heat maps of a :class:`qtran_lib.analysis.QTables` (fields ``payoff``, ``q_jt``, ``q_sum``, ``gap``).

    The greedy joint action (argmax of each agent's Q_i) is outlined in gold on every panel.
    """
    names = {"payoff": r"payoff $r(\mathbf{u})$", "q_jt": r"$Q_{\rm jt}(\mathbf{u})$",
             "q_sum": r"$Q'_{\rm jt}(\mathbf{u}) = \sum_i Q_i(u_i)$",
             "gap": r"$Q'_{\rm jt} - Q_{\rm jt} + V_{\rm jt}$"}
    panels = {names.get(w, w): getattr(tables, w) for w in which}
    marks = dict.fromkeys(panels, tables.greedy_action)
    return plot_tables(panels, marks=marks, title=title, **kw)
