"""docs/configuration.md lists exactly the DIFFBAND_* variables engine/settings.py declares,
and nothing in the code reads one behind its back."""

from __future__ import annotations

import re

import pytest

from diffband.engine.settings import SETTINGS, setting
from tests.conftest import REPO


def test_every_variable_is_documented_with_its_default():
    doc = (REPO / "docs" / "configuration.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(DIFFBAND_[A-Z0-9_]+)` \|.*$", doc, re.M)}
    assert set(rows) == set(SETTINGS)


def test_no_module_reads_the_environment_for_its_own_variable():
    readers = []
    for path in [*REPO.glob("engine/*.py"), *REPO.glob("bridge/*.py"), *REPO.glob("export/*.py")]:
        if path.name == "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"environ(\.get)?\W+[\"']DIFFBAND_", line) or re.search(r"getenv\([\"']DIFFBAND_", line):
                readers.append(f"{path.name}:{number}")
    assert not readers, readers


def test_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("DIFFBAND_MAX_BATCH", "lots")
    with pytest.raises(ValueError, match="DIFFBAND_MAX_BATCH must be int"):
        setting("DIFFBAND_MAX_BATCH")
    monkeypatch.setenv("DIFFBAND_MAX_BATCH", "4")
    assert setting("DIFFBAND_MAX_BATCH") == 4
