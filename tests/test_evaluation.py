"""FAD, FAD-inf, the embeddings and melody preservation on known distributions and real renders."""

from __future__ import annotations

import numpy as np
import pytest

from diffband.evaluation.embeddings import MfccStats, embed_clips
from diffband.evaluation.fad import Gaussian, fad, fad_inf, frechet_distance
from diffband.evaluation.melody import chroma_similarity
from diffband.evaluation.vggish import EXAMPLE_FRAMES, MEL_BANDS, VGGish, examples, log_mel, mel_matrix
from tests.conftest import render_clip


def test_frechet_distance_matches_the_closed_form_for_known_gaussians():
    rng = np.random.default_rng(0)
    d = 6
    a_mean, b_mean = rng.normal(size=d), rng.normal(size=d)
    a_var, b_var = rng.uniform(0.5, 2.0, d), rng.uniform(0.5, 2.0, d)
    # diagonal covariances: FAD = |mu_a - mu_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2
    closed = np.sum((a_mean - b_mean) ** 2) + np.sum((np.sqrt(a_var) - np.sqrt(b_var)) ** 2)
    exact = frechet_distance(Gaussian(a_mean, np.diag(a_var), 0), Gaussian(b_mean, np.diag(b_var), 0))
    assert exact == pytest.approx(closed, rel=1e-9)
    # full covariances: compare with the formula written out via eigen-decompositions
    q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    ca, cb = q @ np.diag(a_var) @ q.T, q @ np.diag(b_var) @ q.T  # commuting: sqrt(ca cb) = q sqrt(va vb) q^T
    closed_full = np.sum((a_mean - b_mean) ** 2) + np.sum(a_var + b_var - 2 * np.sqrt(a_var * b_var))
    assert frechet_distance(Gaussian(a_mean, ca, 0), Gaussian(b_mean, cb, 0)) == pytest.approx(closed_full, rel=1e-8)
    # from samples: the estimate approaches the true value
    xa = rng.normal(size=(40000, d)) * np.sqrt(a_var) + a_mean
    xb = rng.normal(size=(40000, d)) * np.sqrt(b_var) + b_mean
    assert fad(xa, xb) == pytest.approx(closed, rel=0.05)


def test_fad_of_a_set_with_itself_is_zero_and_singular_covariances_are_handled():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8))
    assert fad(x, x) == pytest.approx(0.0, abs=1e-6)
    low_rank = rng.normal(size=(10, 30))  # 10 samples in 30 dims: singular covariance
    value = fad(low_rank, low_rank + 1.0)
    assert np.isfinite(value) and value == pytest.approx(30.0, rel=1e-3)


def test_fad_inf_removes_the_small_sample_bias():
    rng = np.random.default_rng(3)
    d = 16
    ref = rng.normal(size=(50000, d))
    shift = np.zeros(d)
    shift[0] = 0.5  # true FAD 0.25
    test = rng.normal(size=(4000, d)) + shift
    small = fad(ref, test[:400])
    result = fad_inf(ref, test, steps=10, min_n=400, seed=0)
    assert small > 0.35  # 400 samples: biased well above 0.25
    assert result.score == pytest.approx(0.25, abs=0.04)
    assert result.slope > 0 and result.r2 > 0.7 and len(result.points) == 10
    with pytest.raises(ValueError, match="more than"):
        fad_inf(ref, test[:10], min_n=50)


@pytest.fixture(scope="module")
def renders():
    """Three sets of 8 six-second renders from the project's data recipe (different melodies)."""
    return {
        "guitar_a": [render_clip("guitar", 6.0, seed) for seed in range(100, 108)],
        "guitar_b": [render_clip("guitar", 6.0, seed) for seed in range(200, 208)],
        "violin": [render_clip("violin", 6.0, seed) for seed in range(300, 308)],
    }


def test_default_embedding_separates_instruments(renders):
    embed = MfccStats()
    sets = {k: embed_clips(embed, [(clip, 22050) for clip in v]) for k, v in renders.items()}
    assert sets["guitar_a"].shape == (8 * 21, 20)  # 21 one-second windows per clip
    same = fad(sets["guitar_a"], sets["guitar_b"])
    other = fad(sets["guitar_a"], sets["violin"])
    assert other > 5 * same, (same, other)  # measured here: about 12x


def test_vggish_preprocessing_and_shapes():
    rate = 44100
    t = np.arange(int(2.5 * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    mel = log_mel(tone, rate)
    assert mel.shape == (1 + (int(2.5 * 16000) - 400) // 160, MEL_BANDS)
    weights = mel_matrix()
    assert weights.shape == (257, MEL_BANDS) and np.all(weights[0] == 0) and np.all(weights >= 0)
    band_centres = np.argmax(weights, axis=0) * 16000 / 512
    loudest = np.argmax(mel.mean(axis=0))
    assert abs(band_centres[loudest] - 1000) < 80  # the 1 kHz tone lands in the 1 kHz band
    patches = examples(tone, rate)
    assert patches.shape == (2, EXAMPLE_FRAMES, MEL_BANDS)  # 2.5 s -> two whole 0.96 s examples
    out = VGGish.random()(tone, rate)
    assert out.shape == (2, 128) and np.all(np.isfinite(out)) and np.all(out >= 0)


def test_vggish_loads_a_torchvggish_state_dict_and_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    features = nn.Sequential(
        nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(), nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
    )
    embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                               nn.Linear(4096, 128), nn.ReLU())

    class TorchVGGish(nn.Module):  # the torchvggish layout
        def __init__(self):
            super().__init__()
            self.features, self.embeddings = features, embeddings

        def forward(self, x):
            x = self.features(x).permute(0, 2, 3, 1).contiguous()
            return self.embeddings(x.view(x.size(0), -1))

    torch.manual_seed(0)
    model = TorchVGGish().eval()
    path = tmp_path / "vggish.pth"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match="export.vggish_weights"):  # the engine reads no torch files
        VGGish.from_file(path)
    from diffband.export.vggish_weights import convert

    ours = VGGish.from_file(convert(path, tmp_path / "vggish.npz"))
    batch = np.random.default_rng(0).normal(size=(3, 96, 64)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)[:, None]).numpy()
    np.testing.assert_allclose(ours.forward(batch), expected, rtol=1e-4, atol=1e-5)
    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.zeros(3))
    with pytest.raises(ValueError, match="not a VGGish state dict"):
        VGGish.from_file(bad)


def test_chroma_similarity_identity_and_unrelated(renders):
    clip = renders["guitar_a"][0]
    assert chroma_similarity(clip, clip, 22050) == pytest.approx(1.0, abs=1e-6)
    same_tune_other_timbre = chroma_similarity(clip, clip * 0.3 + 0.0, 22050)
    unrelated = chroma_similarity(clip, renders["violin"][3], 22050)
    assert same_tune_other_timbre == pytest.approx(1.0, abs=1e-3)
    assert unrelated < 0.8, unrelated
    with pytest.raises(ValueError, match="silent"):
        chroma_similarity(np.zeros(22050), clip[:22050], 22050)


def test_note_f1_identity_and_unrelated(renders):
    from diffband.evaluation import notes

    if not notes.available():
        pytest.fail("basic-pitch is not installed (.ci/setup installs it: pip install --no-deps basic-pitch)")
    clip = renders["violin"][0]
    assert notes.note_f1(clip, clip, 22050)["f1"] == pytest.approx(1.0)
    unrelated = notes.note_f1(clip, renders["violin"][5], 22050)  # another melody
    assert unrelated["f1"] < 0.3, unrelated
