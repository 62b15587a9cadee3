"""Sphinx extension for book/api.md: read qtran_lib's plain-text docstrings safely as reStructuredText.

The library's docstrings are written for a terminal (``|U|``, ``u_-i``, ``Q^-_{t+1}``), and a few of
those spellings mean something else in reST (a substitution, a hyperlink target). Outside ````literal````
spans this hook escapes exactly those two patterns, so the API page renders the text as written and
the book still builds with ``-W``. The docstrings themselves stay untouched.
"""
from __future__ import annotations

import re

_LITERAL = re.compile(r"(``.+?``)")
_SUBSTITUTION = re.compile(r"\|(\w[^|\s]*)\|")  # |U| (a table row "a | b" has spaces around its bars)
_TARGET = re.compile(r"(?<=\w)_(?=[^\w{`]|$)")  # u_-i, x_ : a trailing underscore makes a reference


def _escape(text: str) -> str:
    parts = _LITERAL.split(text)
    for k in range(0, len(parts), 2):  # even parts are outside ``literal`` spans
        parts[k] = _TARGET.sub(r"\\_", _SUBSTITUTION.sub(r"\\|\1\\|", parts[k]))
    return "".join(parts)


def _process(app, what, name, obj, options, lines) -> None:
    lines[:] = [_escape(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
