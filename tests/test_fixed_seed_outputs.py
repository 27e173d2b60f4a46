"""Fixed-seed outputs of every technique stay bit-identical: tests/data/fixed_seed_outputs.json
holds the digests of this file's ``outputs`` run on the shipped bundles.

History: the file was first written against commit 2f100fe to prove the architecture
rework (issue 12) changed no bit; the rework passed it on the bundles of that time. The
melody-following bundles (issue 13) replaced those, so the reference was rewritten by
the same code on them (cross, chorus and accompany now follow the input's notes, as
``follow auto`` does with a conditional bundle); any later change to the engine's
arithmetic must keep these digests.  Rewritten once more when the pitch model's session went
from one thread to two (``engine.condition.PITCH_THREADS``; salience within 1e-7, half the
time): the four outputs that follow notes changed, the rest kept their digests.  Rewritten again when the shipped bundles became their int8
quantizations (``export/int8.py``), and when they began to decode with the ``magnitude-net`` vocoder
(the image digests kept, every audio digest changed).  The ``fit`` register became the default later:
the outputs made before it pin ``register="input"`` (their digests kept) and two ``_fit`` entries were
added.  When follow notes began to re-tune layers to the input's notes (``engine.tuning``), the four
outputs of cross and accompany changed; chorus, generate and every image kept theirs.  When a chorus
from a clip began to follow the clip's notes in every layer, ``chorus_audio`` changed; when it began to
place its layers by ``register``, that entry was pinned to ``register="input"`` (its digest kept) and
``chorus_audio_fit`` added.  Inputs are quiet and longer than a window, so the
level rule and the short-input padding do not apply.

Bit-identity holds on the CPU kernels that wrote the reference.  NumPy's OpenBLAS picks its
kernels by CPU (Zen on AMD, SkylakeX on AVX-512 Intel), and the mel codec's projection rounds by
them: on an AMD machine every output made from encoded audio changed while the UNet's did not.
So the outputs are computed in a child process pinned to OpenBLAS's AVX2 (``Haswell``) kernels,
which every x86-64 CPU since 2013 runs; where numpy cannot run them (no AVX2, another BLAS:
threadpoolctl in the child says which kernels it got), or where ONNX
Runtime's kernels round differently (the ``probe`` UNet call differs), the test is skipped,
saying so.  Regenerate (only when the shipped bundles change):
``OPENBLAS_CORETYPE=Haswell python -m tests.test_fixed_seed_outputs > tests/data/fixed_seed_outputs.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import numpy as np
import pytest

from diffband.engine.accompany import accompany
from diffband.engine.cross import cross, cross_images
from diffband.engine.double import chorus, double
from diffband.engine.generate import generate
from diffband.engine.model import load_models
from tests.conftest import REPO

REFERENCE = REPO / "tests" / "data" / "fixed_seed_outputs.json"
#: The BLAS kernels the reference was written with (see the module docstring).
PINNED_BLAS = {"OPENBLAS_CORETYPE": "Haswell"}


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()

def outputs(models_dir):
    v, g = load_models([f"{models_dir}/violin.onnx", f"{models_dir}/guitar.onnx"], device="cpu", threads=1)
    rate = 22050
    t = np.arange(int(5.5 * rate)) / rate
    clip = (0.3 * np.sin(2 * np.pi * 196 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t))).astype(np.float32)
    images = np.stack([v.info.codec.encode(clip[: v.info.codec.window_samples])])
    out = {"probe": digest(v(np.full((1, 1, *v.info.image_shape), 0.25, np.float32), np.array([500.0], np.float32)))}
    out["generate_ddim"] = digest(generate(v, n=2, steps=6, seed=1))
    out["generate_ddpm"] = digest(generate(v, n=1, steps=6, seed=1, sampler_kind="ddpm"))
    out["cross_images"] = digest(cross_images(v, images, 0.6, 6, seed=2))
    out["cross_images_eta"] = digest(cross_images(v, images, 0.7, 6, seed=2, eta=0.5))
    out["cross_images_invert"] = digest(cross_images(v, images, 0.6, 6, seed=2, invert_with=g))
    out["double"] = [digest(x) for _, x in double(v, [g], steps=6, split=0.3, seed=3, n=2)]
    out["double_same_model_eta"] = [digest(x) for _, x in double(v, [v, g], steps=6, split=0.3, seed=3, n=1, eta=0.3)]
    out["cross_audio"] = digest(cross(clip, rate, v, 0.6, 6, seed=2, register="input"))
    out["chorus_audio"] = [digest(x) for _, x in chorus(clip, rate, [v, g], 0.8, 0.3, steps=6, seed=4, register="input")]
    r = accompany(clip, rate, [v, g], 0.6, 6, seed=5, register="input")
    out["accompany_audio"] = [digest(x) for x in [*r.layers.values(), r.mix]]
    # the default register, fit: the G3 input sits at the violin's lowest note, so its layer grows an octave up
    out["cross_audio_fit"] = digest(cross(clip, rate, v, 0.6, 6, seed=2))
    r = accompany(clip, rate, [v, g], 0.6, 6, seed=5)
    out["accompany_audio_fit"] = [digest(x) for x in [*r.layers.values(), r.mix]]
    out["chorus_audio_fit"] = [digest(x) for _, x in chorus(clip, rate, [v, g], 0.8, 0.3, steps=6, seed=4)]
    return out


#: What BLAS the child process runs: the kernel set of every OpenBLAS numpy loaded.
BLAS_CHECK = ("import json, numpy, threadpoolctl; print(json.dumps([i.get('architecture') for i in "
              "threadpoolctl.threadpool_info() if i.get('internal_api') == 'openblas']))")


def pinned_blas_kernels() -> list[str] | None:
    """The OpenBLAS kernel sets a child process on :data:`PINNED_BLAS` runs (None: it could not tell)."""
    try:
        result = subprocess.run([sys.executable, "-c", BLAS_CHECK], capture_output=True, text=True, timeout=120,
                                env={**os.environ, **PINNED_BLAS})
    except subprocess.TimeoutExpired:
        return None
    return json.loads(result.stdout) if result.returncode == 0 else None


def pinned_outputs() -> dict:
    """:func:`outputs` computed in a child process on the pinned BLAS kernels."""
    result = subprocess.run([sys.executable, "-m", "tests.test_fixed_seed_outputs"], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, **PINNED_BLAS}, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_fixed_seed_outputs_are_bit_identical_to_the_reference():
    kernels = pinned_blas_kernels()
    if not kernels or set(kernels) != {PINNED_BLAS["OPENBLAS_CORETYPE"]}:
        pytest.skip(f"the reference was written on OpenBLAS's {PINNED_BLAS['OPENBLAS_CORETYPE']} kernels; numpy here "
                    f"runs {kernels or 'a BLAS threadpoolctl does not report as OpenBLAS'}")
    reference = json.loads(REFERENCE.read_text())
    got = pinned_outputs()
    if got["probe"] != reference["probe"]:
        pytest.skip("this machine's ONNX Runtime kernels round differently from the reference machine's")
    changed = [key for key in reference if got[key] != reference[key]]
    assert not changed, f"fixed-seed outputs changed: {changed}"


if __name__ == "__main__":
    print(json.dumps(outputs(str(REPO / "models")), indent=1))
