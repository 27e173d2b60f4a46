"""``python -m bench``: the diffusers-pipeline way vs torch eager vs the diffband engine,
on the same weights, input and step count, in one process and one run.

(a) **diffusers way**: torch ``UNet2DModel`` + diffusers ``DDIMScheduler`` loop +
    librosa's ``mel_to_audio`` (NNLS + 32 Griffin-Lim iterations), as audio-diffusion's
    pipeline does; (b) **torch eager**: the same torch UNet inside the engine's numpy
    sampler and vocoder; (c) **engine**: ONNX Runtime sessions, numpy sampler, the
    engine's vocoder.  Measures: one UNet call; one cross window; one accompany window
    with two instruments; accompany of a 30 s file.  Post-processing (band-pass,
    loudness, mix) is the engine's in all three, so the comparison is the diffusion and
    the vocoder.  Also: peak RSS of an engine-only process (torch never imported) with
    the shipped models loaded, running the 30 s job.  Appends to ``bench/RESULTS.md``.

    python -m bench [--model guitar --torch-weights models/torch/guitar] [--quick]

Needs the ``[train]`` extra (torch, diffusers).  No timing asserts live in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from bench.engine import RESULTS, TorchModel, append_results, fresh_process_json, machine, median_seconds
from diffband.engine.accompany import accompany
from diffband.engine.cross import cross, start_index
from diffband.engine.condition import follow_conditions, null_conditions
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.device_loop import device_type, wants_device_loop
from diffband.engine.model import DiffusionModel, find_bundle, threads_per_model

REPO = Path(__file__).resolve().parent.parent

ENGINE_ONLY = r"""
import json, resource, sys, numpy as np
from diffband.engine.model import load_models
from diffband.engine.accompany import accompany
models = load_models(["guitar", "violin", "voice"], device=sys.argv[1])
rate = 44100
t = np.arange(30 * rate) / rate
vocal = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)
accompany(vocal, rate, models[:2], steps=int(sys.argv[2]))
def peak_mb():  # VmHWM is this process's own peak; ru_maxrss can carry the parent's across fork+exec
    try:
        line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_rss_mb": peak_mb(),
                  "torch_imported": any(m.split(".")[0] in ("torch", "diffusers") for m in sys.modules)}))
"""


class DiffusersWay:
    """The cross-diffusion loop as audio-diffusion's pipeline writes it: diffusers'
    ``DDIMScheduler`` (add_noise, step) around the torch UNet, librosa's inversion."""

    def __init__(self, torch_model: TorchModel):
        from diffusers import DDIMScheduler

        self.model = torch_model
        self.info = torch_model.info
        self.name = torch_model.name
        schedule = self.info.schedule
        self.scheduler = DDIMScheduler(
            num_train_timesteps=schedule.num_train_timesteps, trained_betas=schedule.betas.tolist(),
            clip_sample=False, set_alpha_to_one=False,
        )

    def cross_images(self, images: np.ndarray, strength: float, steps: int, seed: int,
                     condition: np.ndarray | None = None, guidance: float = DEFAULT_GUIDANCE) -> np.ndarray:
        """With ``condition`` the loop follows it with classifier-free guidance, as the engine's ``Guided``."""
        torch = self.model.torch
        self.scheduler.set_timesteps(steps)
        timesteps = self.scheduler.timesteps.numpy()
        first = start_index(timesteps, strength, self.info.schedule.num_train_timesteps)
        generator = torch.Generator().manual_seed(seed)
        x = torch.from_numpy(images[:, None].astype(np.float32))
        noise = torch.randn(x.shape, generator=generator)
        x = self.scheduler.add_noise(x, noise, torch.tensor([int(timesteps[first])])).to(self.model.device)
        spec = self.info.condition
        null = None if spec is None else torch.full((x.shape[0], 1, *self.info.image_shape), spec.null_value)
        cond = None if condition is None else torch.from_numpy(condition.astype(np.float32)).to(self.model.device)
        with torch.inference_mode():
            for t in self.scheduler.timesteps[first:]:
                if spec is None:
                    eps = self.model.unet(x, t).sample
                elif cond is None or guidance == 0.0:
                    eps = self.model.unet(torch.cat([x, null], dim=1), t).sample
                elif guidance == 1.0:
                    eps = self.model.unet(torch.cat([x, cond], dim=1), t).sample
                else:
                    both = self.model.unet(torch.cat([torch.cat([x, null], 1), torch.cat([x, cond], 1)]), t).sample
                    unconditioned, conditioned = both.chunk(2)
                    eps = unconditioned + guidance * (conditioned - unconditioned)
                x = self.scheduler.step(eps, t, x).prev_sample
        return x[:, 0].cpu().numpy()

    def decode(self, image: np.ndarray) -> np.ndarray:
        import librosa

        codec = self.info.codec
        mel = codec.image_to_mel(np.concatenate([image, image[:, -1:]], axis=1))
        audio = librosa.feature.inverse.mel_to_audio(
            mel, sr=codec.sample_rate, n_fft=codec.n_fft, hop_length=codec.hop_length, power=codec.power,
            n_iter=32, fmin=codec.fmin, fmax=codec.fmax, norm=codec.mel_norm, htk=False,
        )
        return (audio * codec.magnitude_scale)[: codec.window_samples].astype(np.float32)


def diffusers_cross(way: DiffusersWay, audio: np.ndarray, rate: int, strength: float, steps: int) -> np.ndarray:
    from diffband.engine.cross import DEFAULT_OVERLAP
    from diffband.engine.windowing import DEFAULT_MAX_SECONDS, encode_windows, from_model_mono, overlap_add

    layout, mono, images, starts = encode_windows(way, audio, rate, DEFAULT_OVERLAP, DEFAULT_MAX_SECONDS)
    conditions = follow_conditions("auto", [way], mono, starts)  # the same notes the engine follows
    out = way.cross_images(images, strength, steps, 0, None if conditions is None else conditions[0])
    windows = np.stack([way.decode(i) for i in out])
    joined = overlap_add(windows, starts, mono.size, int(DEFAULT_OVERLAP * way.info.codec.window_samples))
    return from_model_mono(joined, layout, way.info.sample_rate)


def diffusers_accompany(way: DiffusersWay, vocal: np.ndarray, rate: int, strength: float, steps: int) -> np.ndarray:
    from diffband.engine.accompany import DEFAULT_BAND, INSTRUMENT_BANDS, band_pass, loudness_lufs, match_loudness

    target = loudness_lufs(vocal, rate) - 3.0
    layers = []
    for _ in range(2):  # two instruments (the same weights twice, as the other ways)
        layer = diffusers_cross(way, vocal, rate, strength, steps)
        low, high = INSTRUMENT_BANDS.get(way.info.instrument, DEFAULT_BAND)
        layers.append(match_loudness(band_pass(layer, rate, low, high), rate, target)[0])
    return vocal + sum(layers)


def engine_only_rss(device: str, steps: int) -> dict:
    return fresh_process_json(ENGINE_ONLY, device, steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="guitar")
    parser.add_argument("--torch-weights", default="models/torch/guitar")
    parser.add_argument("--fp32-model", help="the fp32 export of the same weights, timed as the engine's (d) column "
                        "(default: models/fp32/MODEL.onnx)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    repeats, job_repeats = (3, 1) if args.quick else (20, 3)

    engine = DiffusionModel.load(find_bundle(args.model), device=args.device)
    torch_device = "cuda" if device_type(engine.provider) == "cuda" else "cpu"  # torch has no DirectML here
    torch_model = TorchModel(REPO / args.torch_weights, engine, None, torch_device)
    way = DiffusersWay(torch_model)
    codec = engine.info.codec
    rate = codec.sample_rate
    t_axis = np.arange(codec.window_samples) / rate
    window = (0.3 * np.sin(2 * np.pi * 220 * t_axis) * (1 + np.sin(2 * np.pi * 3 * t_axis)) / 2).astype(np.float32)
    long_rate = 44100
    t_long = np.arange(30 * long_rate) / long_rate
    long = (0.3 * np.sin(2 * np.pi * 220 * t_long) * (1 + np.sin(2 * np.pi * 3 * t_long)) / 2).astype(np.float32)

    x = np.random.default_rng(0).standard_normal((1, 1, *codec.image_shape), dtype=np.float32)
    t = np.array([500], dtype=np.float32)
    s, n = args.strength, args.steps
    rows: list[tuple[str, float, float, float, float, float]] = []  # name, audio seconds, a, b, c, d
    fp32_path = REPO / (args.fp32_model or f"models/fp32/{args.model}.onnx")
    engine_fp32 = DiffusionModel.load(fp32_path, device=args.device)
    if engine_fp32.info.instrument != engine.info.instrument or engine_fp32.info.precision != "fp32":
        raise SystemExit(f"{fp32_path} is not the fp32 export of {args.model}")

    chosen: dict[int, int] = {}

    def torch_workers(audio: np.ndarray, audio_rate: int) -> int:
        """Torch's faster way for this input: instruments one after the other, or side by side."""
        if audio.size not in chosen:
            times = {w: median_seconds(lambda: accompany(audio, audio_rate, [torch_model] * 2, s, n, workers=w), 1, 0)
                     for w in (1, 2)}
            chosen[audio.size] = min(times, key=times.get)
        return chosen[audio.size]

    def measure(name: str, seconds: float, a, b, c, d, reps: int) -> None:
        timings = [median_seconds(fn, reps, warmup=1) for fn in (a, b, c, d)]
        rows.append((name, seconds, *timings))
        print(f"{name}: " + ", ".join(f"{v:.4f} s" for v in timings), flush=True)

    spec = engine.info.condition  # a conditional UNet takes (sample, null condition) as two channels
    unet_input = x if spec is None else np.concatenate([x, null_conditions(spec, codec.image_shape, 1)], axis=1)

    def unet_torch():
        with torch_model.torch.inference_mode():
            sample = torch_model.torch.from_numpy(unet_input).to(torch_model.device)
            out = torch_model.unet(sample, torch_model.torch.from_numpy(t).to(torch_model.device)).sample
            return out.cpu()  # waits for the GPU, as the engine's call does

    measure("one UNet call (batch 1)", 0.0, unet_torch, lambda: torch_model(x, t), lambda: engine(x, t),
            lambda: engine_fp32(x, t), repeats)
    measure(f"cross, one {codec.window_seconds:.2f} s window", codec.window_seconds,
            lambda: diffusers_cross(way, window, rate, s, n),
            lambda: cross(window, rate, torch_model, s, n), lambda: cross(window, rate, engine, s, n),
            lambda: cross(window, rate, engine_fp32, s, n), job_repeats)
    # Two instruments as `diffband accompany` runs them: one session per instrument with the
    # cores shared out, rendered concurrently.  Torch gets its faster of one-after-the-other
    # (its default threads) and side by side.
    pair = [DiffusionModel.load(find_bundle(args.model), device=args.device, threads=threads_per_model(2)) for _ in range(2)]
    pair_fp32 = [DiffusionModel.load(fp32_path, device=args.device, threads=threads_per_model(2)) for _ in range(2)]

    measure("accompany, one window, two instruments", codec.window_seconds,
            lambda: diffusers_accompany(way, window, rate, s, n),
            lambda: accompany(window, rate, [torch_model, torch_model], s, n, workers=torch_workers(window, rate)),
            lambda: accompany(window, rate, pair, s, n, workers=2),
            lambda: accompany(window, rate, pair_fp32, s, n, workers=2), job_repeats)
    measure("accompany, 30 s file at 44.1 kHz, two instruments", 30.0,
            lambda: diffusers_accompany(way, long, long_rate, s, n),
            lambda: accompany(long, long_rate, [torch_model, torch_model], s, n, workers=torch_workers(long, long_rate)),
            lambda: accompany(long, long_rate, pair, s, n, workers=2),
            lambda: accompany(long, long_rate, pair_fp32, s, n, workers=2), 1)
    rss = engine_only_rss(args.device, n)

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {stamp} — `python -m bench` — {engine.name} on {engine.provider}",
        "",
        f"- machine: {machine()}; runtimes' default thread counts; torch on {torch_device}; engine precision "
        f"{engine.info.precision}, on-device loop and graph vocoder: {'yes' if wants_device_loop(engine.provider) else 'no'}",
        f"- same weights (`{args.model}` bundle and `{args.torch_weights}`), input, strength {s:g}, {n} DDIM steps, seed 0, "
        f"follow {'notes, guidance ' + format(DEFAULT_GUIDANCE, 'g') if spec else 'off (unconditional model)'};"
        " (a) diffusers `DDIMScheduler` loop + librosa `mel_to_audio` (NNLS + 32 Griffin-Lim), (b) torch UNet in the"
        " engine's sampler and vocoder (two instruments: its faster of sequential or concurrent), (c) the engine"
        f" (ONNX Runtime, the `{args.model}` bundle, {engine.info.precision}; two instruments: one-thread sessions"
        f" rendered concurrently, as `diffband accompany`), (d) the engine on `{fp32_path.relative_to(REPO)}`"
        f" ({engine_fp32.info.precision}, the same weights before quantization)",
        "",
        "| measure | (a) diffusers way | (b) torch eager | (c) engine | (d) engine fp32 | (a)/(c) | (b)/(c) | (d)/(c) | RTF (c) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, seconds, a, b, c, d in rows:
        rtf = f"{c / seconds:.3f}" if seconds else ""
        unit = (lambda v: f"{v * 1e3:.2f} ms") if not seconds else (lambda v: f"{v:.3f} s")
        lines.append(f"| {name} | {unit(a)} | {unit(b)} | {unit(c)} | {unit(d)} | {a / c:.2f}x | {b / c:.2f}x | {d / c:.2f}x"
                     f" | {rtf} |")
    lines += ["", f"- engine-only process (torch imported: {rss['torch_imported']}), guitar+violin+voice loaded, "
              f"30 s accompany: peak RSS **{rss['peak_rss_mb']:.0f} MB**", ""]
    append_results(Path(args.out), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
