"""The runtime's librosa-free spectral pieces against librosa, and the runtime without numba."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from diffband.engine.stft import griffin_lim, mel_filters, stft
from tests.test_cli_runtime import run_python


@pytest.mark.parametrize("norm", [None, "slaney"])
@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(22050, 2048, 64, 0.0, None), (16000, 512, 40, 125.0, 7500.0)])
def test_mel_filters_match_librosa(sr, n_fft, n_mels, fmin, fmax, norm):
    ours = mel_filters(sr, n_fft, n_mels, fmin, fmax, norm)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, norm=norm)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_stft_magnitude_matches_librosa_centred():
    y = np.random.default_rng(0).standard_normal(50_000).astype(np.float32)
    ours = np.abs(stft(y, 2048, 512))
    theirs = np.abs(librosa.stft(y, n_fft=2048, hop_length=512, center=True))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_griffin_lim_converges_like_librosa():
    t = np.arange(2 * 22050) / 22050
    y = (0.5 * np.sin(2 * np.pi * 330 * t) * np.exp(-3 * (t % 0.5))).astype(np.float32)
    magnitude = np.abs(stft(y, 2048, 1024))
    ours = griffin_lim(magnitude, 2048, 1024, 16, y.size, np.random.default_rng(0))
    theirs = librosa.griffinlim(magnitude, n_iter=16, hop_length=1024, n_fft=2048, length=y.size,
                                random_state=np.random.default_rng(0))

    def convergence(audio):
        return np.linalg.norm(np.abs(stft(audio, 2048, 1024)) - magnitude) / np.linalg.norm(magnitude)

    assert ours.shape == y.shape
    assert convergence(ours) < 1.2 * convergence(theirs) + 0.01


def test_runtime_path_imports_neither_librosa_nor_numba():
    code = (
        "import sys, numpy as np\n"
        "from diffband.engine.model import load_models\n"
        "from diffband.engine.accompany import accompany\n"
        "[m] = load_models(['violin'], device='cpu')\n"
        "y = np.sin(np.arange(22050 * 3) * 0.05).astype(np.float32) * 0.3\n"
        "accompany(y, 22050, [m], steps=3)\n"
        "bad = [k for k in ('librosa', 'numba', 'torch') if k in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
