"""Root pytest hooks: give nbval our sanitizer file by absolute path (it opens it relative to cwd)."""
from pathlib import Path

ROOT = Path(__file__).parent


def pytest_configure(config):
    opt = config.option
    if getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False):
        if not getattr(opt, "nbval_sanitize_with", None) and not getattr(opt, "sanitize_with", None):
            opt.nbval_sanitize_with = str(ROOT / "book" / "nbval_sanitize.cfg")
