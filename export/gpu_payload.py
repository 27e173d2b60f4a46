"""What a lent GPU machine needs and lacks, carried beside the repository.

The machine (one H100 or H200, Python 3.12, torch with CUDA, onnx, onnxruntime's CPU
build; no network, no FluidSynth) lacks diffusers and the few packages the training
modules import.  ``build`` fills two ignored folders that travel with the working tree
(``carry: [".whl", ".gpu_data"]``):

- ``.whl/``: the wheels of :data:`CARRIED` at the versions installed here (Python 3.12,
  manylinux x86-64), downloaded with ``pip download --no-deps``;
- ``.gpu_data/``: each instrument's mel dataset as made by ``diffband data render`` +
  ``data prepare --preset tiny [--condition basic-pitch]``: images and condition images
  as xz-compressed uint8 over each array's range (audio-diffusion keeps its mel images
  as 8-bit pictures; rounding error below 0.004 on images in [-1, 1], about 0.15 dB),
  with the manifest.

    python -m diffband.export.gpu_payload build            # wheels + 30 min per instrument, seed 0
    python -m diffband.export.gpu_payload build --datasets data/cond   # pack datasets already prepared

The shipped recipe's data (120 min per instrument with condition images, about 7 MB per
instrument packed) and the wheels do not fit beside the whole tracked tree in one call's
64 MiB: for the call, empty the shipped bundles (``: > models/NAME.onnx``, 29 MB that the
GPU command never reads) and restore them after (``git checkout -- models``).

This module imports neither torch nor the audio stack at import time, so the GPU
command can read the payload before anything is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from diffband.engine.digest import file_sha256

REPO = Path(__file__).resolve().parent.parent
WHEEL_DIR = REPO / ".whl"
DATA_DIR = REPO / ".gpu_data"
PAYLOAD_JSON = "payload.json"
PAYLOAD_FORMAT = 2
#: What the carried wheels and data may weigh together (beside ~11 MB of tree with the bundles emptied).
PAYLOAD_BUDGET_MB = 40.0
TRAVEL_LIMIT_MIB = 64.0
#: The shipped instruments and their data recipe (models/README.md).
SHIPPED_INSTRUMENTS = ("guitar", "violin", "voice")
DATA_MINUTES = 30.0
DATA_SEED = 0
DATA_PRESET = "tiny"

#: Distributions the GPU image lacks and the device path imports (diffusers for the UNet;
#: librosa, soundfile and soxr through export.data_prepare, export.train and engine.windowing;
#: onnxconverter-common (pure Python, ~90 kB) for the fp16 bundles that come back, through
#: export.fp16; the rest are their dependencies that the image lacks too).
CARRIED = ("diffusers", "librosa", "soundfile", "cffi", "pycparser", "soxr", "pooch", "platformdirs", "audioread", "decorator",
           "onnxconverter-common")

#: The GPU image's Python distributions (read on the machine on 2026-11-17, /work/.library/device/KINDS.md).
DEVICE_PACKAGES = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx humanize huggingface-hub hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft
pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile
tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm
transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel
wrapt xarray xxhash yarl zipp
""".split())

PIP_PLATFORM = ("--python-version", "3.12", "--implementation", "cp") + sum(
    (("--platform", p) for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                                  "manylinux2014_x86_64", "manylinux1_x86_64")), ())


class PayloadError(RuntimeError):
    """The carried payload is missing, incomplete or damaged."""


def normalise(name: str) -> str:
    """A distribution name in PEP 503 form (``Typing_Extensions`` -> ``typing-extensions``)."""
    return name.lower().replace("_", "-").replace(".", "-")


def payload_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (datasets, payload.json, init weights), sorted; none when it is missing."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


def megabytes(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


# ------------------------------------------------------------------ wheels
def pinned_versions() -> dict[str, str]:
    """The carried distributions at the versions this environment is tested with."""
    return {name: importlib.metadata.version(name) for name in CARRIED}


def wheel_files(folder: Path, names: tuple[str, ...] = CARRIED) -> tuple[list[Path], list[str]]:
    """The wheel of each carried distribution in ``folder`` (other wheels there are left
    alone), and the names with no wheel; two versions of one name is an error."""
    found, missing = [], []
    for name in names:
        matches = sorted(p for p in folder.glob("*.whl") if normalise(p.name.split("-")[0]) == normalise(name))
        if len(matches) > 1:
            raise PayloadError(f"{folder} holds {len(matches)} wheels of {name} ({', '.join(p.name for p in matches)}); keep one")
        found += matches
        if not matches:
            missing.append(name)
    return found, missing


def download_wheels(folder: Path = WHEEL_DIR) -> list[Path]:
    """``pip download --no-deps`` the pinned wheels for the GPU image into ``folder``,
    replacing other versions of the same distributions."""
    folder.mkdir(parents=True, exist_ok=True)
    pins = pinned_versions()
    for name, version in pins.items():
        for old in folder.glob("*.whl"):
            if normalise(old.name.split("-")[0]) == normalise(name) and old.name.split("-")[1] != version:
                old.unlink()
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", *PIP_PLATFORM,
               "-d", str(folder), *(f"{name}=={version}" for name, version in pins.items())]
    subprocess.run(command, check=True)
    found, missing = wheel_files(folder)
    if missing:
        raise PayloadError(f"pip download left out {', '.join(missing)}")
    return found


# ------------------------------------------------------------------ data
def quantise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``values`` as uint8 over their own range ``[lo, hi]`` (audio-diffusion keeps its mel
    images as 8-bit pictures too); the rounding error is at most ``(hi - lo) / 510``."""
    values = np.asarray(values, dtype=np.float32)
    lo, hi = float(values.min()), float(values.max())
    span = (hi - lo) or 1.0
    return np.round((values - lo) * (255.0 / span)).astype(np.uint8), lo, hi


def dequantise(stored: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The float32 values :func:`quantise` stored."""
    return (lo + stored.astype(np.float32) * (((hi - lo) or 1.0) / 255.0)).astype(np.float32)


def _pack_array(values: np.ndarray, file: Path) -> dict:
    stored, lo, hi = quantise(values)
    file.write_bytes(lzma.compress(stored.tobytes(), preset=9 | lzma.PRESET_EXTREME))
    error = float(np.max(np.abs(dequantise(stored, lo, hi) - values)))
    return {"file": file.name, "sha256": file_sha256(file), "dtype": "uint8", "lo": lo, "hi": hi, "max_abs_rounding_error": error}


def pack_dataset(dataset: Path, folder: Path, name: str) -> dict:
    """Store a prepared dataset's images (and condition images, when it has them) as
    ``folder/<name>.<array>.u8.xz``; returns its entry."""
    from diffband.export.data_prepare import load_conditions, load_dataset

    images, manifest, _ = load_dataset(dataset)
    arrays = {"images": _pack_array(np.asarray(images), folder / f"{name}.images.u8.xz")}
    conditions = load_conditions(Path(dataset), manifest)
    if conditions is not None:
        arrays["conditions"] = _pack_array(np.asarray(conditions[0]), folder / f"{name}.conditions.u8.xz")
    return {
        "count": int(manifest["count"]),
        "image_shape": list(manifest["image_shape"]),
        "arrays": arrays,
        "max_abs_rounding_error": arrays["images"]["max_abs_rounding_error"],
        "condition": manifest.get("condition", {}).get("kind"),
        "manifest": manifest,
    }


def pack_datasets(datasets: dict[str, Path], folder: Path = DATA_DIR) -> dict:
    """Pack each ``{instrument: prepared dataset}`` into ``folder`` with a ``payload.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.xz"), folder / PAYLOAD_JSON]:
        old.unlink(missing_ok=True)
    payload = {"format": PAYLOAD_FORMAT, "datasets": {name: pack_dataset(path, folder, name) for name, path in datasets.items()}}
    (folder / PAYLOAD_JSON).write_text(json.dumps(payload, indent=1))
    return payload


def read_payload(folder: Path) -> dict:
    path = Path(folder) / PAYLOAD_JSON
    if not path.exists():
        raise PayloadError(f"no carried data: {path} is missing; build it with 'python -m diffband.export.gpu_payload build'")
    payload = json.loads(path.read_text())
    if payload.get("format") != PAYLOAD_FORMAT:
        raise PayloadError(f"{path}: payload format {payload.get('format')!r}, this code reads {PAYLOAD_FORMAT}; rebuild it")
    return payload


def _unpack_array(folder: Path, stored: dict, count: int, shape: list[int]) -> np.ndarray:
    file = Path(folder) / stored["file"]
    if not file.exists() or file_sha256(file) != stored["sha256"]:
        raise PayloadError(f"{file} is missing or damaged (sha256 differs from {PAYLOAD_JSON})")
    values = np.frombuffer(lzma.decompress(file.read_bytes()), dtype=np.uint8)
    if values.size != count * int(np.prod(shape)):
        raise PayloadError(f"{file} holds {values.size} values, its manifest says {count} x {shape}")
    return dequantise(values, stored["lo"], stored["hi"])


def unpack_dataset(folder: Path, name: str, out: Path) -> Path:
    """Restore one carried dataset as a prepared dataset folder (float32 images, condition
    images when it has them, manifest)."""
    from diffband.export.data_prepare import IMAGES_FILE, MANIFEST_FILE

    entry = read_payload(folder)["datasets"].get(name)
    if entry is None:
        raise PayloadError(f"the carried data has no {name!r} dataset")
    out.mkdir(parents=True, exist_ok=True)
    manifest = dict(entry["manifest"], images=IMAGES_FILE)
    for array, stored in entry["arrays"].items():
        values = _unpack_array(folder, stored, entry["count"], entry["image_shape"])
        values.tofile(out / manifest[array])  # the manifest names each array's file
    manifest["carried_as"] = {a: {"dtype": s["dtype"], "max_abs_rounding_error": s["max_abs_rounding_error"]}
                              for a, s in entry["arrays"].items()}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return out


#: Where ``build --init-runs`` puts each instrument's starting weights (a diffusers UNet folder, fp16).
INIT_DIR = "init"


def half_precision_copy(source: Path, target: Path) -> Path:
    """Copy the diffusers UNet folder ``source`` to ``target`` with its float tensors in fp16
    (half the bytes; ``from_pretrained`` loads them into a float32 UNet, as ``diffband export``
    and ``train --init-weights`` do).  numpy only, so the GPU command's parent can call it."""
    from safetensors.numpy import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(Path(source).iterdir()):
        if file.suffix == ".safetensors":
            tensors = load_file(file)
            save_file({k: v.astype(np.float16) if v.dtype.kind == "f" else v for k, v in tensors.items()}, target / file.name)
        else:
            shutil.copyfile(file, target / file.name)
    return target


def pack_initial_weights(runs: Path, instruments: tuple[str, ...], folder: Path = DATA_DIR) -> dict[str, float]:
    """Each ``runs/<instrument>/unet_ema`` as ``folder/init/<instrument>`` with fp16 weights
    (:func:`half_precision_copy`), so a GPU run continues the shipped models instead of
    starting over; returns MB per instrument."""
    sizes = {}
    for name in instruments:
        source, target = Path(runs) / name / "unet_ema", Path(folder) / INIT_DIR / name
        weights = source / "diffusion_pytorch_model.safetensors"
        if not weights.is_file():
            raise PayloadError(f"no UNet weights at {weights} (a run's unet_ema, as a GPU run's NAME.run.tar holds)")
        half_precision_copy(source, target)
        sizes[name] = (target / "diffusion_pytorch_model.safetensors").stat().st_size / 1e6
    return sizes


def render_and_prepare(instruments: tuple[str, ...], work: Path, minutes: float, seed: int,
                       split: str | None = None, augment: bool = False, condition: str = "") -> dict[str, Path]:
    """The project's data recipe (``data render`` + ``data prepare``, with ``condition``
    images when it names a kind) into ``work``."""
    from diffband.engine.condition import ConditionSpec
    from diffband.engine.mel import preset
    from diffband.export.data_prepare import prepare
    from diffband.export.data_render import render_instrument

    datasets = {}
    for name in instruments:
        render_instrument(name, work / "audio", minutes, seed, split=split, augment=augment)
        datasets[name] = work / "datasets" / name
        prepare(work / "audio" / name, datasets[name], preset(DATA_PRESET), instrument=name,
                condition=ConditionSpec(kind=condition) if condition else None)
    return datasets


# ------------------------------------------------------------------ size
def travelling_files(repo: Path = REPO) -> list[Path]:
    """Tracked files and untracked files git does not ignore: what travels besides ``carry``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, check=True).stdout.decode()
    return [repo / name for name in listed.split("\0") if name and (repo / name).is_file()]


def size_report(wheels: list[Path], data: list[Path], repo: Path = REPO) -> tuple[str, bool]:
    """One line per part and whether the payload fits its budget and the tree its limit."""
    tree = megabytes(travelling_files(repo))
    wheel_mb, data_mb = megabytes(wheels), megabytes(data)
    total_mib = (tree + wheel_mb + data_mb) * 1e6 / 2**20
    fits = wheel_mb + data_mb <= PAYLOAD_BUDGET_MB and total_mib <= TRAVEL_LIMIT_MIB
    lines = [
        f"wheels  {wheel_mb:6.1f} MB  ({len(wheels)} files in {WHEEL_DIR.name}/)",
        f"data    {data_mb:6.1f} MB  ({len(data)} files in {DATA_DIR.name}/)",
        f"payload {wheel_mb + data_mb:6.1f} MB  (budget {PAYLOAD_BUDGET_MB:g} MB)",
        f"tree    {tree:6.1f} MB  (repository files that travel); all together {total_mib:.1f} MiB of {TRAVEL_LIMIT_MIB:g} MiB",
    ]
    return "\n".join(lines), fits


def _build(args: argparse.Namespace) -> int:
    instruments = tuple(args.instruments.split(","))
    if not args.skip_wheels:
        download_wheels(WHEEL_DIR)
    if not args.skip_data:
        if args.datasets:
            datasets = {name: Path(args.datasets) / name for name in instruments}
        else:
            datasets = render_and_prepare(instruments, Path(args.work), args.minutes, args.seed, args.split, args.augment,
                                          args.condition)
        pack_datasets(datasets, DATA_DIR)
    shutil.rmtree(DATA_DIR / INIT_DIR, ignore_errors=True)  # the payload carries the starting weights this build names, or none
    if args.init_runs:
        for name, mb in pack_initial_weights(Path(args.init_runs), instruments).items():
            print(f"initial weights of {name}: {mb:.1f} MB (fp16) in {DATA_DIR.name}/{INIT_DIR}/{name}")
    wheels, missing = wheel_files(WHEEL_DIR) if WHEEL_DIR.is_dir() else ([], list(CARRIED))
    data = payload_files(DATA_DIR)
    report, fits = size_report(wheels, data)
    print(report)
    if missing:
        print(f"missing wheels: {', '.join(missing)}")
    if not fits:
        print("too large: carry fewer minutes of data (--minutes) or fewer wheels")
    return 0 if fits and not missing else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffband.export.gpu_payload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("build", help="download the wheels into .whl/ and pack the datasets into .gpu_data/; print sizes")
    p.add_argument("--instruments", default=",".join(SHIPPED_INSTRUMENTS))
    p.add_argument("--minutes", type=float, default=DATA_MINUTES, help="minutes of rendered audio per instrument")
    p.add_argument("--seed", type=int, default=DATA_SEED)
    p.add_argument("--split", choices=("train", "heldout"), help="as data render --split (default: any piece, the shipped recipe)")
    p.add_argument("--augment", action="store_true", help="as data render --augment")
    p.add_argument("--condition", default="", help="as data prepare --condition (e.g. basic-pitch)")
    p.add_argument("--datasets", help="pack the prepared datasets DIR/<instrument> instead of rendering")
    p.add_argument("--work", default="data/gpu_payload", help="where rendered audio and prepared datasets go")
    p.add_argument("--init-runs", help="also carry RUNS/<instrument>/unet_ema (e.g. data/runs_gpu) as fp16 starting "
                   "weights, which the GPU command's --init-from .gpu_data/init continues from")
    p.add_argument("--skip-wheels", action="store_true")
    p.add_argument("--skip-data", action="store_true")
    p.set_defaults(func=_build)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
