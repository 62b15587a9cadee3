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


# --- the API reference (book/api.md) ---------------------------------------------------------------

API_PAGE = BOOK / "api.md"
AUTOMODULE = re.compile(r"^\.\. automodule::\s+(\S+)\s*\n((?:[ \t]+:[^\n]*\n)*)", re.M)


def _library_modules() -> list[str]:
    """Every module of qtran_lib, found by walking the package (new modules are picked up by themselves)."""
    import pkgutil

    import qtran_lib

    names = ["qtran_lib"] + [m.name for m in pkgutil.walk_packages(qtran_lib.__path__, "qtran_lib.")]
    return [n for n in names if not n.endswith("__main__")]  # __main__ runs the CLI when imported


def _public_objects(module_name: str) -> list[str]:
    """Classes and functions a module defines (not imports) whose names do not start with an underscore."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", None) == module_name]


def _api_directives() -> dict[str, dict[str, str]]:
    text = API_PAGE.read_text()
    return {m.group(1): dict(re.findall(r":([\w-]+):[ \t]*([^\n]*)", m.group(2))) for m in AUTOMODULE.finditer(text)}


@pytest.mark.parametrize("module_name", _library_modules())
def test_api_page_documents_every_public_object(module_name):
    """A module's public classes and functions reach the API page: its automodule lists all members.

    ``:members:`` with no list documents every member, ``:undoc-members:`` keeps the ones without a
    docstring, and ``:ignore-module-all:`` stops ``__all__`` from hiding a defined name (and documents each
    object once, under the module that defines it). An explicit ``:members: a, b`` list must name them all.
    """
    directives = _api_directives()
    public = _public_objects(module_name)
    if not public and module_name not in directives:
        return  # nothing to document (a package that only re-exports)
    assert module_name in directives, f"book/api.md has no automodule for {module_name} (public: {public})"
    opts = directives[module_name]
    assert "members" in opts, f"book/api.md: the automodule of {module_name} lacks :members:"
    listed = {n.strip() for n in opts["members"].split(",") if n.strip()}
    excluded = {n.strip() for n in opts.get("exclude-members", "").split(",") if n.strip()}
    if listed:
        missing = [n for n in public if n not in listed]
    else:
        assert "undoc-members" in opts, f"{module_name}: without :undoc-members: objects with no docstring are dropped"
        assert "ignore-module-all" in opts or not hasattr(__import__(module_name, fromlist=["_"]), "__all__"), \
            f"{module_name} defines __all__: add :ignore-module-all: so every defined object is listed"
        missing = [n for n in public if n in excluded]
    assert not missing, f"book/api.md does not document {module_name}: {missing}"


def test_built_api_page_has_every_public_object():
    """After a build (make book), every public object has an entry on the rendered page."""
    html = ROOT / "_build" / "html" / "book" / "api.html"
    sources = list((ROOT / "qtran_lib").rglob("*.py")) + [API_PAGE]
    if not html.exists() or html.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        pytest.skip("no book build newer than qtran_lib/ and book/api.md (run make book)")
    page = html.read_text()
    missing = [f"{m}.{n}" for m in _library_modules() for n in _public_objects(m) if f'id="{m}.{n}"' not in page]
    assert not missing, f"the built API page lacks {missing}"


def test_api_check_catches_a_missing_module(monkeypatch):
    """The directive parser sees a module that the page does not name (the test above can fail)."""
    monkeypatch.setattr(type(API_PAGE), "read_text", lambda self, *a, **k: ".. automodule:: qtran_lib.losses\n   :members:\n")
    directives = _api_directives()
    assert set(directives) == {"qtran_lib.losses"} and "qtran_lib.igm" not in directives
    with pytest.raises(AssertionError, match="no automodule for qtran_lib.igm"):
        test_api_page_documents_every_public_object("qtran_lib.igm")


PY_ROLE = re.compile(r"\{py:(?:func|class|mod|meth|obj)\}`~?([\w.]+)`")


def _py_roles():
    for path, text in _sources():
        for name in sorted(set(PY_ROLE.findall(text))):
            yield pytest.param(path, name, id=f"{path.name}:{name}")


@pytest.mark.parametrize("page, target", list(_py_roles()))
def test_api_links_name_existing_objects(page, target):
    """A chapter's {py:func}`qtran_lib...` link points at an object that exists (Sphinx only warns in nitpicky mode)."""
    import importlib

    parts = target.split(".")
    for k in range(len(parts), 0, -1):  # the longest importable module prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            assert hasattr(obj, attr), f"{page.name} links to {target}, which does not exist"
            obj = getattr(obj, attr)
        return
    pytest.fail(f"{page.name} links to {target}: no such module")
