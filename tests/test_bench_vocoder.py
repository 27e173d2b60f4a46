"""``bench.vocoder_round_trip`` on real tones: its rows, its measures, and the section it appends."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from diffband.evaluation import notes

if not notes.available():
    pytest.skip("the bench's note F1 needs basic-pitch (pip install 'diffband[notes]' && pip install --no-deps basic-pitch)",
                allow_module_level=True)

RATE = 22050


def test_the_vocoder_bench_scores_each_round_trip_against_its_source(tmp_path):
    from bench.vocoder_round_trip import main

    folder = tmp_path / "heldout" / "guitar"
    folder.mkdir(parents=True)
    t = np.arange(int(6 * RATE)) / RATE
    for k, f0 in enumerate([196.0, 330.0]):  # steady harmonic tones, quiet onsets every second
        envelope = np.exp(-3 * (t % 1.0))
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)) * envelope
        sf.write(folder / f"piece_{k}.wav", (0.2 * tone).astype(np.float32), RATE)
    out = tmp_path / "RESULTS.md"
    assert main(["--heldout", str(tmp_path / "heldout"), "--instruments", "guitar", "--windows", "2",
                 "--networks", "", "--out", str(out)]) == 0
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in out.read_text().splitlines()
            if line.startswith("| griffin-lim") or line.startswith("| Griffin-Lim from the true")}
    assert len(rows) == 2
    plain, ceiling = rows["griffin-lim (NNLS + Griffin-Lim)"], rows["Griffin-Lim from the true STFT magnitude, hop 1024 (no mel)"]
    # pitch within 50 c, its mean, note F1, its mean, log-mel L1 dB, decode time
    assert float(ceiling[0]) > 0.9 and float(plain[0]) > 0.8
    assert float(ceiling[4]) < float(plain[4])  # the true magnitude is nearer the source than the mel's
    assert "2 windows per instrument" in out.read_text()
