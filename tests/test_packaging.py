"""The wheel installs one import namespace, diffband.*, and nothing at the top level that
another distribution could shadow or overwrite."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import REPO


def test_wheel_holds_only_the_diffband_namespace(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("diffband-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"diffband"}, top
    for package in ("engine", "bridge", "export", "evaluation"):
        assert f"diffband/{package}/__init__.py" in names
    assert "diffband/engine/model.py" in names and "diffband/evaluation/fad.py" in names
    # the melody condition's pitch model, with its licence: follow works from a plain install
    assert {"diffband/engine/pitch_model/nmp.onnx", "diffband/engine/pitch_model/LICENSE",
            "diffband/engine/pitch_model/NOTICE"} <= set(names)
    assert not any(name.startswith("diffband/models/") or name.startswith("models/") for name in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "diffband = diffband.bridge.cli:main" in points
    assert "data = diffband.export.commands:register_data" in points
