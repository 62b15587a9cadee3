"""Small interactive widgets for the book (ipywidgets is imported inside each builder).

Introduced in book/02_igm (``igm_explorer``) and book/04_qtran (``train_explorer``). Each builder
returns the widget without displaying it, and computes its initial content at construction, so a
notebook that nobody clicks in still shows a complete, deterministic result (what nbval checks).
"""
from __future__ import annotations

import html

PRESET_CHOICES = ("paper", "climbing", "penalty", "custom")
ALGO_CHOICES = ("vdn", "qmix", "qtran_base", "qtran_alt", "iql")


def payoff_to_text(payoff) -> str:
    """A two-agent payoff as the ``"8, -12; -12, 0"`` text the matrix game parses (one row per line)."""
    import torch

    t = torch.as_tensor(payoff, dtype=torch.float32)
    return ";\n".join(", ".join(f"{float(x):g}" for x in row) for row in t)


def igm_report_html(text: str) -> str:
    """HTML verdict for a payoff typed as text: additive? monotonic? what the best VDN fit would do."""
    from .analysis import format_table
    from .envs.matrix_game import parse_payoff
    from .igm import additive_fit, describe

    try:
        table = parse_payoff(text.replace("\n", ""))
    except ValueError as e:
        return f"<pre style='color:#b00'>{html.escape(str(e))}</pre>"
    body = describe(table)
    if table.dim() == 2:
        _, fitted = additive_fit(table)
        body += "\n\nbest additive (VDN) fit under uniform data:\n" + format_table(fitted)
    return f"<pre>{html.escape(body)}</pre>"


def igm_explorer(payoff="paper"):
    """Edit a payoff matrix and see whether it is additively / monotonically representable.

    Returns an ``ipywidgets.VBox``: a text box (rows separated by ``;`` or new lines, entries by
    commas) and the verdict below it, recomputed when the text box loses focus.
    """
    import ipywidgets as w

    from .envs.matrix_game import parse_payoff

    text = payoff if isinstance(payoff, str) and any(c.isdigit() for c in payoff) else payoff_to_text(parse_payoff(payoff))
    box = w.Textarea(value=text, description="payoff", continuous_update=False,
                     layout=w.Layout(width="420px", height="90px"))
    report = w.HTML(value=igm_report_html(text))

    def update(change):
        report.value = igm_report_html(change["new"])

    box.observe(update, names="value")
    return w.VBox([box, report])


def train_and_report(payoff: str, algo: str, updates: int, seed: int = 0):
    """Train ``algo`` on a matrix game with the paper's protocol; return (QTables, text report)."""
    from .analysis import format_table, q_tables
    from .config import load_yaml, make_config
    from .train import train

    cfg = make_config(load_yaml("matrix"), algo=algo, env=f"matrix:{payoff}", seed=seed, max_updates=updates)
    result = train(cfg, progress=False)
    t = q_tables(result.learner, result.env)
    labels = "ABCDEFGHIJKLMNOPQRSTU"
    greedy = "(" + ",".join(labels[a] for a in t.greedy_action) + ")"
    lines = [f"{algo}, {updates} updates, seed {seed}: greedy joint action {greedy} pays {t.greedy_payoff:g} "
             f"(best possible {float(t.payoff.max()):g})", "", "Q_jt:", format_table(t.q_jt)]
    if algo.startswith("qtran"):
        lines += ["", "Q'_jt = sum_i Q_i:", format_table(t.q_sum), "", f"V_jt = {t.v_jt:.4f}",
                  "gap Q'_jt - Q_jt + V_jt:", format_table(t.gap)]
    return t, "\n".join(lines)


def train_explorer(preset: str = "paper", algo: str = "qtran_base", updates: int = 1500):
    """Pick a payoff (preset or typed), an algorithm and a number of updates; press Train to see the tables.

    Nothing is trained until the button is pressed, so building the widget is instant and deterministic.
    """
    import ipywidgets as w

    from .envs.matrix_game import PRESETS

    if preset not in PRESET_CHOICES:
        raise ValueError(f"preset must be one of {PRESET_CHOICES}, got {preset!r}")
    if algo not in ALGO_CHOICES:
        raise ValueError(f"algo must be one of {ALGO_CHOICES}, got {algo!r}")
    pick = w.Dropdown(options=PRESET_CHOICES, value=preset, description="payoff")
    custom = w.Text(value=payoff_to_text(PRESETS["paper"]).replace("\n", " "), description="custom",
                    layout=w.Layout(width="420px"), disabled=preset != "custom")
    method = w.Dropdown(options=ALGO_CHOICES, value=algo, description="algorithm")
    steps = w.IntSlider(value=updates, min=100, max=5000, step=100, description="updates")
    seed = w.IntText(value=0, description="seed", layout=w.Layout(width="160px"))
    button = w.Button(description="Train", button_style="primary", icon="play")
    out = w.Output()

    def toggle(change):
        custom.disabled = change["new"] != "custom"

    def run(_):
        import matplotlib.pyplot as plt

        from .heatmaps import plot_q_tables

        payoff = custom.value if pick.value == "custom" else pick.value
        out.clear_output()
        with out:
            print("training ...")
            try:
                tables, text = train_and_report(payoff.replace(" ", ""), method.value, steps.value, seed.value)
            except ValueError as e:
                out.clear_output()
                print(f"error: {e}")
                return
            out.clear_output()
            print(text)
            which = ("payoff", "q_jt", "q_sum", "gap") if method.value.startswith("qtran") else ("payoff", "q_jt")
            if tables.payoff.dim() == 2:
                plot_q_tables(tables, which=which)
                plt.show()

    pick.observe(toggle, names="value")
    button.on_click(run)
    return w.VBox([w.HBox([pick, method]), custom, w.HBox([steps, seed]), button, out])
