"""The GPU command (bench/gpu_train.sh, export.gpu): its CPU dry run end to end, its carried
payload, its reports of failure, and the bf16 autocast option of training it relies on."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from diffband.engine.mel import preset
from diffband.engine.model import DiffusionModel
from diffband.export.data_prepare import load_conditions, load_dataset
from diffband.export.gpu import (
    CALIBRATION_CEILING,
    DRY_RUN,
    GPU,
    MAX_FILE_BYTES,
    MAX_FILES_BACK,
    MAX_TOTAL_BYTES,
    REPORT_FILES,
    RUN_TAR_EXTRAS_BYTES,
    Context,
    bring_back_bundles,
    check_out_folder,
    missing_on_device,
    plan_second_leg,
    third_party_distributions,
    weights_that_come_back,
)
from diffband.export.gpu import _train_args
from diffband.export.gpu_payload import (
    DATA_PRESET, SHIPPED_INSTRUMENTS, PayloadError, pack_datasets, pack_initial_weights, unpack_dataset, wheel_files,
)
from diffband.export.train import train
from diffband.export.train_config import TrainConfig
from diffband.export.unet import build_unet, parameter_count

REPO = Path(__file__).resolve().parent.parent
DRY_RUN_INSTRUMENTS = ("guitar", "voice")  # two, so "all at once" really runs side by side
#: What a run's tar holds beside its fp32 weights (config, training.json, curves, one sample PNG).
RUN_TAR_ALLOWANCE_BYTES = 1_000_000


def run_tar_estimate(size: str) -> int:
    """Bytes of a run's tar of UNet ``size`` on the carried data (a conditional UNet, the larger)."""
    unet = build_unet(size, preset(DATA_PRESET).image_shape, conditional=True)
    return 4 * parameter_count(unet) + RUN_TAR_ALLOWANCE_BYTES


def gpu_command(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "bench" / "gpu_train.sh"), str(out), *args], cwd=REPO,
                          env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True, timeout=600)


def test_cpu_dry_run_runs_every_stage_and_leaves_only_what_comes_back(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done = gpu_command(out, "--cpu-dry-run", "--work", str(work), "--instruments", ",".join(DRY_RUN_INSTRUMENTS))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "gpu_results.json").read_text())
    status = {s["name"]: (s["status"], s["detail"]) for s in results["stages"]}
    assert status["install"][0] == "skipped" and "torch on cpu" in status["install"][1]
    assert all(status[name][0] == "ok" for name in ("data", "train", "export", "time", "imports", "report")), status
    assert "torch 2" in done.stdout and "device: cpu" in done.stdout  # stage 1 prints torch's device

    for name in DRY_RUN_INSTRUMENTS:
        run = results["training"][name]
        assert run["config"] == "tiny" and run["mixed_precision"] == "bf16"
        assert run["condition"] == "basic-pitch"  # the dry run's data has condition images, so the shipped recipe uses them
        calibration = run["legs"][0]
        # the resumed leg ran with the LR plan made from the calibration leg, not the first leg's ceiling
        assert run["planned_steps"] == calibration["planned_next"] < CALIBRATION_CEILING
        assert run["steps"] > calibration["steps"] >= 1
        assert (work / "runs" / name / "checkpoint.pt").exists()
        assert (out / f"{name}.run.tar").stat().st_size < run_tar_estimate("tiny")
        bundle = DiffusionModel.load(work / "bundles" / f"{name}.onnx", device="cpu")
        assert bundle.info.instrument == name and bundle.info.training["steps"] == run["steps"]
        assert bundle.info.condition is not None and bundle.info.condition.kind == "basic-pitch"
        entry = results["bundles"][name]
        assert entry["max_abs_error"] < 1e-4 and "fp16_bytes" not in entry  # fp16 only with --fp16

        # what comes back: the run's EMA weights, which `diffband export` turns into the shipped bundle here
        assert run["brought_back"] == f"{name}.run.tar" and f"| {name}.run.tar |" in (out / "gpu_report.md").read_text()
        with tarfile.open(out / f"{name}.run.tar") as archive:
            members = set(archive.getnames())
            assert {"unet_ema/config.json", "unet_ema/diffusion_pytorch_model.safetensors", "training.json"} <= members
            assert not any(m.endswith(".wav") or m == "checkpoint.pt" for m in members)
            training = json.load(archive.extractfile("training.json"))
        assert training["steps"] == run["steps"] and training["condition"]["dropout"] == 0.15
    timed = {r["instrument"]: r for r in results["timings"]["instruments"]}
    assert set(timed) == set(DRY_RUN_INSTRUMENTS)
    for r in timed.values():
        assert r["device_max_abs_error"] < 1e-3
        assert len(r["timings"]) == 6 and all(t["seconds"] > 0 for t in r["timings"])
    assert results["imports"]["missing_on_device"] == [] and "torch" in results["imports"]["distributions"]

    with open(out / "losses.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["instrument"] for row in rows} == set(DRY_RUN_INSTRUMENTS)
    report = (out / "gpu_report.md").read_text()
    assert report.startswith("## ") and "CPU dry run" in report
    for stage in ("install", "data", "train", "export", "time", "imports", "report"):
        assert f"| {stage} |" in report
    assert check_out_folder(out) == []
    assert len(list(out.iterdir())) <= MAX_FILES_BACK


def test_default_gpu_size_brings_every_runs_weights_back():
    assert GPU.size == DRY_RUN.size == "tiny"  # the shipped recipe's size, as models/README.md records
    weights = run_tar_estimate(GPU.size)
    assert weights < 0.9 * MAX_FILE_BYTES
    assert len(SHIPPED_INSTRUMENTS) + len(REPORT_FILES) <= MAX_FILES_BACK
    assert len(SHIPPED_INSTRUMENTS) * weights < MAX_TOTAL_BYTES - MAX_FILE_BYTES  # a file's worth left to the report
    assert run_tar_estimate("compact") > MAX_FILE_BYTES  # --size compact: its weights come back in fp16


def test_weights_too_heavy_for_one_file_come_back_in_fp16_and_export(tmp_path):
    """A ``compact`` run's fp32 weights (23.5 MB) exceed what one file may weigh to come back;
    the tar carries an fp16 copy, which ``diffband export`` loads as the UNet it was."""
    import torch
    from diffusers import UNet2DModel
    from safetensors.numpy import load_file
    from diffband.export.unet import build_unet

    unet = build_unet("compact", (64, 96), conditional=True)
    unet.save_pretrained(tmp_path / "run" / "unet_ema")
    folder, precision = weights_that_come_back(tmp_path / "run" / "unet_ema", tmp_path / "staging")
    assert precision == "fp16" and folder == tmp_path / "staging"
    assert (folder / "config.json").read_text() == (tmp_path / "run" / "unet_ema" / "config.json").read_text()
    half = load_file(folder / "diffusion_pytorch_model.safetensors")
    full = load_file(tmp_path / "run" / "unet_ema" / "diffusion_pytorch_model.safetensors")
    assert half.keys() == full.keys() and all(v.dtype == np.float16 for v in half.values())
    assert max(np.abs(half[k].astype(np.float32) - full[k]).max() for k in full) < 2e-3
    assert sum(f.stat().st_size for f in folder.iterdir()) + RUN_TAR_EXTRAS_BYTES < MAX_FILE_BYTES
    loaded = UNet2DModel.from_pretrained(folder)  # as diffband export loads a run's unet_ema
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert all(torch.equal(t, torch.from_numpy(half[k].astype(np.float32))) for k, t in loaded.state_dict().items())
    small = build_unet("tiny", (64, 96), conditional=True)
    small.save_pretrained(tmp_path / "tiny")
    assert weights_that_come_back(tmp_path / "tiny", tmp_path / "unused") == (tmp_path / "tiny", "fp32")
    assert not (tmp_path / "unused").exists()


def test_parent_process_imports_without_the_carried_packages():
    """The GPU machine lacks the carried distributions until stage 1 installs them, so the
    command's own process must start without them (it failed so on an H200 once)."""
    block = "; ".join(f"sys.modules[{m!r}] = None" for m in ("soxr", "librosa", "soundfile", "diffusers", "onnxconverter_common"))
    done = subprocess.run([sys.executable, "-c", f"import sys; {block}; import diffband.export.gpu"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _bundle_entry(folder: Path, name: str, fp16_bytes: int) -> dict:
    fp32, fp16 = folder / f"{name}.onnx", folder / f"{name}.fp16.onnx"
    fp32.write_bytes(b"32" * 8)
    with open(fp16, "wb") as handle:
        handle.truncate(fp16_bytes)
    return {"bundle": str(fp32), "bytes": 16, "fp16_bundle": str(fp16), "fp16_bytes": fp16_bytes}


def test_report_marks_which_bundles_came_back(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    ctx = Context(argparse.Namespace(), GPU, out, work, time.monotonic(), time.monotonic())
    ctx.results["bundles"] = {"guitar": _bundle_entry(work, "guitar", 1000),
                              "violin": _bundle_entry(work, "violin", MAX_FILE_BYTES),
                              "voice": {"error": "export-voice exited 1"}}
    bring_back_bundles(ctx)
    bundles = ctx.results["bundles"]
    assert bundles["guitar"]["brought_back"] == "guitar.onnx" and (out / "guitar.onnx").stat().st_size == 1000
    assert bundles["violin"]["brought_back"].startswith("no: 16.8 MB") and str(work / "violin.fp16.onnx") in bundles["violin"]["brought_back"]
    assert not (out / "violin.onnx").exists() and "brought_back" not in bundles["voice"]
    assert check_out_folder(out) == []


def test_missing_data_fails_loudly_and_skips_what_needs_it(tmp_path):
    empty = tmp_path / "no_payload"
    empty.mkdir()
    done = gpu_command(tmp_path / "out", "--cpu-dry-run", "--work", str(tmp_path / "work"), "--data", str(empty))
    assert done.returncode == 1
    stages = {s["name"]: s for s in json.loads((tmp_path / "out" / "gpu_results.json").read_text())["stages"]}
    assert stages["data"]["status"] == "failed" and "no carried data" in stages["data"]["detail"]
    for name in ("train", "export", "time"):
        assert stages[name]["status"] == "skipped" and "data failed" in stages[name]["detail"]
    assert "stage data: FAILED" in done.stdout and "FAILED: data" in done.stdout
    assert "| data | failed |" in (tmp_path / "out" / "gpu_report.md").read_text()


def test_carried_dataset_comes_back_within_8_bit_rounding(tmp_path, conditional_dataset):
    payload = pack_datasets({"guitar": conditional_dataset}, tmp_path / "payload")
    entry = payload["datasets"]["guitar"]
    assert 0 < entry["max_abs_rounding_error"] <= 2 / 510 + 1e-6  # uint8 over the images' range inside [-1, 1]
    assert entry["condition"] == "basic-pitch"
    restored = unpack_dataset(tmp_path / "payload", "guitar", tmp_path / "restored")
    original, manifest, codec = load_dataset(conditional_dataset)
    images, restored_manifest, restored_codec = load_dataset(restored)
    assert images.shape == original.shape and restored_codec == codec
    assert np.max(np.abs(images - original)) == pytest.approx(entry["max_abs_rounding_error"])
    assert restored_manifest["count"] == manifest["count"] and restored_manifest["carried_as"]["images"]["dtype"] == "uint8"
    conditions, spec = load_conditions(conditional_dataset, manifest)
    restored_conditions, restored_spec = load_conditions(restored, restored_manifest)
    assert restored_spec == spec and np.max(np.abs(restored_conditions - conditions)) <= 1 / 510 + 1e-6

    with pytest.raises(PayloadError, match="no 'violin' dataset"):
        unpack_dataset(tmp_path / "payload", "violin", tmp_path / "violin")
    packed = tmp_path / "payload" / entry["arrays"]["conditions"]["file"]
    packed.write_bytes(packed.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(PayloadError, match="damaged"):
        unpack_dataset(tmp_path / "payload", "guitar", tmp_path / "again")


def test_wheels_are_picked_by_carried_name_one_version_each(tmp_path):
    for name in ("diffusers-0.42.1-py3-none-any.whl", "soxr-1.1.0-cp312-abi3-manylinux_2_28_x86_64.whl",
                 "torch-2.11.0-cp312-cp312-manylinux_2_28_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    found, missing = wheel_files(tmp_path, ("diffusers", "soxr", "librosa"))
    assert [p.name.split("-")[0] for p in found] == ["diffusers", "soxr"] and missing == ["librosa"]
    (tmp_path / "diffusers-0.41.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(PayloadError, match="2 wheels of diffusers"):
        wheel_files(tmp_path, ("diffusers",))


def test_second_leg_plans_its_schedule_to_end_with_the_budget():
    # 100 steps in a 10 s loop, 30 s for the whole process: 20 s of overhead again, 100 s of steps left
    planned, minutes = plan_second_leg(100, 10.0, 30.0, 120.0)
    assert planned == 100 + 1000 and minutes == pytest.approx(100 / 60)
    planned, minutes = plan_second_leg(100, 10.0, 30.0, 5.0)  # no time left: one more step, a 1 s cap
    assert planned == 101 and minutes == pytest.approx(1 / 60)
    assert plan_second_leg(10**6, 1.0, 1.0, 1e6)[0] == CALIBRATION_CEILING


def test_imports_check_names_a_package_the_gpu_image_lacks():
    found, _ = third_party_distributions({"json", "engine", "torch", "diffusers", "onnxruntime", "pretty_midi"})
    assert {"torch", "diffusers", "pretty-midi"} <= set(found) and "json" not in found and "engine" not in found
    assert missing_on_device(found) == ["pretty-midi"]  # torch is there, diffusers carried, onnxruntime the same module


def test_out_folder_check_names_what_would_not_come_back(tmp_path):
    assert check_out_folder(tmp_path) == []
    for i in range(MAX_FILES_BACK):
        (tmp_path / f"f{i}.txt").write_text("x")
    assert check_out_folder(tmp_path) == []
    with open(tmp_path / "big.onnx", "wb") as handle:
        handle.truncate(MAX_FILE_BYTES)
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.txt").write_text("x")
    problems = check_out_folder(tmp_path)
    assert any(p.startswith("big.onnx") for p in problems) and any("too deep" in p for p in problems)
    assert any(f"at most {MAX_FILES_BACK} come back" in p for p in problems)
    assert not any("in all" in p for p in problems)
    for i in range(4):
        with open(tmp_path / f"f{i}.txt", "wb") as handle:
            handle.truncate(MAX_FILE_BYTES - 1)
    assert any("in all, at most 64 MiB" in p for p in check_out_folder(tmp_path))


def test_bf16_autocast_changes_the_training_computation(tmp_path, tiny_dataset):
    losses = {}
    for precision in ("no", "bf16"):
        run = tmp_path / precision
        train(TrainConfig(dataset=str(tiny_dataset), instrument="guitar", out=str(run), steps=3, batch_size=2,
                          warmup_steps=1, checkpoint_every=0, num_samples=1, sample_steps=2, threads=1,
                          mixed_precision=precision))
        provenance = json.loads((run / "training.json").read_text())
        assert provenance["mixed_precision"] == precision
        with open(run / "losses.csv") as handle:
            losses[precision] = [float(row["loss"]) for row in csv.DictReader(handle)]
    # same seed and batches: bf16 matmuls round differently, so the losses differ, but only slightly
    assert losses["bf16"] != losses["no"]
    assert losses["bf16"] == pytest.approx(losses["no"], rel=0.05)


def test_unknown_precision_is_refused(tmp_path, tiny_dataset):
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        train(TrainConfig(dataset=str(tiny_dataset), instrument="guitar", out=str(tmp_path), mixed_precision="fp8"))


def test_a_gpu_run_can_continue_from_carried_weights(tmp_path, tiny_run):
    """``gpu_payload build --init-runs`` carries each run's EMA weights in fp16 and the GPU
    command's training legs start from them (``--init-from``)."""
    import torch
    from diffusers import UNet2DModel

    runs = tmp_path / "runs"
    (runs / "guitar").mkdir(parents=True)
    (runs / "guitar" / "unet_ema").symlink_to(tiny_run / "unet_ema")
    sizes = pack_initial_weights(runs, ("guitar",), tmp_path / "payload")
    packed = tmp_path / "payload" / "init" / "guitar"
    original = UNet2DModel.from_pretrained(tiny_run / "unet_ema").state_dict()
    half = UNet2DModel.from_pretrained(packed).state_dict()
    assert sizes["guitar"] * 1e6 < 0.55 * (tiny_run / "unet_ema" / "diffusion_pytorch_model.safetensors").stat().st_size
    for key, value in original.items():
        assert torch.allclose(half[key].float(), value, rtol=1e-3, atol=1e-4), key
    with pytest.raises(PayloadError, match="no UNet weights"):
        pack_initial_weights(runs, ("violin",), tmp_path / "payload")

    args = argparse.Namespace(instruments="guitar", condition="auto", init_from=str(tmp_path / "payload" / "init"),
                              size="tiny", batch_size=2, precision="no")
    ctx = Context(args, DRY_RUN, tmp_path, tmp_path, time.monotonic(), time.monotonic())
    given = _train_args(ctx, "guitar", 5, 0.1, 1)
    assert given[given.index("--init-weights") + 1] == str(packed)
    # (the training side, --init-weights loading these into a run, is tested in test_train_export)
