"""Binder's environment.yml and pyproject.toml must agree on the runtime dependencies, and the
two README commands must be the ones CI runs."""
import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": {"pytorch", "pytorch-cpu", "torch"}}  # conda-forge spells PyTorch differently


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def test_every_runtime_dependency_is_in_environment_yml():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = {_name(d) for d in env if isinstance(d, str)}
    conda |= {_name(d) for d in env if isinstance(d, dict) for d in d.get("pip", [])}
    missing = [d for d in map(_name, deps) if not (CONDA_NAMES.get(d, {d}) & conda)]
    assert not missing, f"environment.yml lacks {missing}"
    assert "pip" in conda  # postBuild installs the package itself with pip


def test_binder_installs_the_package_and_ci_runs_the_readme_command():
    post = (ROOT / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make book" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci" / "run").read_text()
