"""The book's contract with the library: includes resolve, chapters reuse (never re-implement) the library.

(a) every ``literalinclude`` with ``:pyobject:`` in book/ names an object that exists in the named file;
(b) no notebook code cell defines a mixer, a loss the library has, or any nn.Module subclass;
(c) the widget builders construct without a display.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[^\n]*\n)*)")


def _cells(nb_path: Path, kind: str) -> list[str]:
    nb = json.loads(nb_path.read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == kind]


def _sources() -> list[tuple[Path, str]]:
    out = [(p, text) for p in CHAPTERS for text in _cells(p, "markdown")]
    out += [(p, p.read_text()) for p in BOOK.glob("*.md")]
    return out


def _includes():
    for path, text in _sources():
        for m in INCLUDE.finditer(text + "\n"):
            opts = dict(re.findall(r":(\w+):\s*(.*)", m.group(2)))
            if "pyobject" in opts:
                yield pytest.param(path, m.group(1), opts["pyobject"].strip(), id=f"{path.name}:{opts['pyobject'].strip()}")


def _defined_names(tree: ast.Module) -> set[str]:
    """Top-level functions and classes, and methods as Class.method (what Sphinx's :pyobject: accepts)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{n.name}" for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def test_chapters_exist():
    assert CHAPTERS, "no chapters found in book/"


@pytest.mark.parametrize("chapter, target, obj", list(_includes()))
def test_literalinclude_pyobject_exists(chapter, target, obj):
    file = (chapter.parent / target).resolve()
    assert file.is_file(), f"{chapter.name} includes {target}, which does not exist"
    names = _defined_names(ast.parse(file.read_text()))
    assert obj in names, f"{chapter.name} includes :pyobject: {obj} from {target}, which does not define it"


def test_every_chapter_includes_library_code():
    with_includes = {p for p, _, _ in (x.values for x in _includes())}
    for chapter in CHAPTERS:
        if chapter.name[:2] in {"01", "02", "03", "04"}:
            assert chapter in with_includes, f"{chapter.name} shows no library code via literalinclude :pyobject:"


LIBRARY_LOSSES = ("td_loss", "opt_loss", "nopt_loss", "nopt_min_loss", "masked_mean")
_LOSS_NAMES = "|".join(LIBRARY_LOSSES)
FORBIDDEN = [
    (re.compile(r"^\s*class\s+\w*Mixer\b", re.M), "defines a Mixer class (use qtran_lib.mixers)"),
    (re.compile(r"^\s*class\s+\w+\s*\([^)]*\bnn\.Module\b", re.M), "subclasses nn.Module (networks live in qtran_lib)"),
    (re.compile(r"^\s*class\s+\w+\s*\([^)]*\btorch\.nn\.Module\b", re.M), "subclasses torch.nn.Module"),
    (re.compile(rf"^\s*def\s+({_LOSS_NAMES})\s*\(", re.M), "re-implements a loss from qtran_lib.losses"),
    (re.compile(rf"^\s*({_LOSS_NAMES})\s*=\s*lambda", re.M), "re-implements a loss from qtran_lib.losses"),
]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapters_do_not_reimplement_the_library(chapter):
    for i, src in enumerate(_cells(chapter, "code")):
        for pattern, why in FORBIDDEN:
            m = pattern.search(src)
            assert m is None, f"{chapter.name}, code cell {i}: {why}: {m.group(0).strip()!r}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapters_import_the_library(chapter):
    code = "\n".join(_cells(chapter, "code"))
    assert re.search(r"^\s*(from|import)\s+qtran_lib", code, re.M), f"{chapter.name} never imports qtran_lib"


def test_grep_patterns_catch_reimplementations():
    bad = ["class MyMixer(nn.Module):\n    pass", "def nopt_loss(a, b):\n    return a",
           "class Net(torch.nn.Module):\n    pass", "td_loss = lambda q, y: (q - y) ** 2"]
    for src in bad:
        assert any(p.search(src) for p, _ in FORBIDDEN), src
    assert not any(p.search("toy_nopt = lambda q: q\nclass NoCForAgent2(MatrixGame):\n    pass") for p, _ in FORBIDDEN)


def test_igm_widget_builds_without_display():
    pytest.importorskip("ipywidgets")
    from qtran_lib.widgets import igm_explorer, igm_report_html

    box = igm_explorer("paper")
    text, report = box.children
    assert "8, -12, -12" in text.value
    assert "monotonic" in report.value and "no" in report.value
    text.value = "1, 2; 3, 4"  # editing the payoff recomputes the verdict
    assert "additive (VDN can represent it exactly): yes" in report.value
    assert "is not a number" in igm_report_html("1, x; 3, 4")


def test_train_widget_builds_and_trains_on_click():
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    from qtran_lib.widgets import train_and_report, train_explorer

    box = train_explorer(preset="paper", algo="vdn", updates=100)
    assert len(box.children) == 5
    with pytest.raises(ValueError, match="preset must be one of"):
        train_explorer(preset="nope")
    tables, text = train_and_report("paper", "qtran_base", updates=20)
    assert tables.q_jt.shape == (3, 3)
    assert "Q'_jt" in text and "gap" in text


def test_heatmaps_draw_tables():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from qtran_lib.heatmaps import plot_tables

    fig = plot_tables({"a": torch.eye(3), "b": -torch.ones(3, 3)}, marks={"a": (0, 0)})
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="two-agent"):
        plot_tables({"c": torch.zeros(2, 2, 2)})
    plt.close("all")
