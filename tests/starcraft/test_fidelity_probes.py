"""benchmarks/fidelity_probes.py: a run of a few probes keeps the other probes' committed sections."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def probes():
    spec = importlib.util.spec_from_file_location("fidelity_probes", ROOT / "benchmarks" / "fidelity_probes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_file_has_a_section_per_probe(probes):
    text = (ROOT / "benchmarks" / "results" / "fidelity_probes.md").read_text()
    assert [name for name in probes.PROBES if probes.MARKER.format(name) not in text] == []


def test_merge_replaces_named_sections_and_keeps_the_rest(probes):
    old = (ROOT / "benchmarks" / "results" / "fidelity_probes.md").read_text()
    new = probes.merge_sections(old, ["# head", ""], {"numbering": ["## corridor, remeasured", "", "| x |"]})
    assert new.startswith("# head\n")
    assert "## corridor, remeasured" in new and "## corridor under the focus-fire script" not in new
    for name in probes.PROBES:  # every other section survives unchanged
        if name != "numbering" and probes.MARKER.format(name) in old:
            section = old.split(probes.MARKER.format(name))[1].split("<!-- probe: ")[0].strip()
            assert section in new, name
    assert new.index(probes.MARKER.format("mmm2")) < new.index(probes.MARKER.format("numbering"))  # PROBES order


def test_subset_over_a_file_without_markers_is_refused(probes):
    with pytest.raises(SystemExit, match="no '<!-- probe: name -->' markers"):
        probes.merge_sections("# old\n\n## a section\n", ["# head"], {"numbering": ["## x"]})
    assert "## x" in probes.merge_sections("# old\n", ["# head"], {n: ["## x"] for n in probes.PROBES})


def test_random_end_statistics_are_consistent(probes):
    r = probes.random_end("2s3z", 8, 0)
    assert 0 < r["length"] <= 120 and 0 <= r["last_ally_steps"] < r["length"]
    assert set(r["dies_at"]) == {"stalker", "zealot"} and all(0 < v <= 120 for v in r["dies_at"].values())
