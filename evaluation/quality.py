"""``diffband eval quality``: does a layer sound like the target instrument and keep the
source's notes?  (issue 13, item 6)

On held-out renders (pieces training never used, through a soundfont training never
used), for each source->target pair, every cell of a sweep is scored on the same source
windows:

- **pitch**: share of the source's voiced frames (pyin) where the layer's f0 lies within
  50 cents (an unvoiced layer frame counts as a miss);
- **note F1**: basic-pitch transcriptions of source and layer, onset + pitch (mir_eval); and,
  where the held-out renders carry their notes, the layer's transcription against those notes
  (``note_f1_written``: the score, not a transcription of the source);
- **timbre**: FAD (``mfcc-stats``) of the layers to all held-out renders of the *target*
  instrument and to those of the *source* instrument, and their ratio (< 1: nearer the
  target; the issue's target is <= 0.5); and, where the held-out renders carry their notes,
  the same ratio against the target instrument playing the *source's* pieces
  (:mod:`diffband.evaluation.played`: references at the source's register); and, given a timbre
  model, the same ratios on its learned embedding (``timbre_*``, :mod:`diffband.evaluation.timbre_cnn`:
  trained on renders that all span one pitch range, so register does not tell instruments apart);
- **noise-likeness**: mean spectral flatness of the layers over that of real target renders.

Cells: follow off (the report's method) per strength, follow on per strength x guidance,
and control rows that must score far from the instrument: the vocoder round trip
(strength 0), white noise at the source's level, and the condition image itself sent
through the vocoder; and those that show what a perfect layer would score, the target
instrument playing the source windows' notes (``played``), and the same through the bundle's
codec and vocoder (``played_roundtrip``: the best a layer, which the vocoder renders, can sound).  A second table scores unconditional generations of each model.
Rows are appended to CSVs as cells finish, so an interrupted run resumes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import librosa
import numpy as np
import soxr

from diffband.engine.condition import conditions_for
from diffband.engine.cross import cross_images
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_STRENGTH
from diffband.engine.generate import generate
from diffband.engine.model import DiffusionModel
from diffband.engine.image_transpose import lower_images
from diffband.engine.register import layer_placements
from diffband.engine.techniques import technique
from diffband.engine.transpose import shift_octaves
from diffband.engine.tuning import asked_pitch, tune_layer
from diffband.evaluation import notes
from diffband.evaluation.csv_rows import append_row, done_keys, read_rows
from diffband.evaluation.embeddings import MfccStats, audio_files, embed_clips, read_mono
from diffband.evaluation.fad import fad
from diffband.evaluation.plan import QualityPlan
from diffband.evaluation.played import notes_in_window, written_notes
from diffband.evaluation.plots import save_spectrograms
from diffband.evaluation.timbre_cnn import TimbreCnn

#: The :func:`fad_measures` the ``timbre_*`` columns keep (the raw FAD to the played renders is not one).
TIMBRE_MEASURES = ("fad_target", "fad_source", "fad_ratio", "fad_played_ratio")
#: What :func:`score` measures of a cell, the CSV's columns after the cell's key.
MEASURE_FIELDS = ["pitch_50c", "pitch_octave", "note_f1", "fad_target", "fad_source", "fad_ratio", "flatness_ratio",
                  "fad_played", "fad_played_ratio", "note_f1_written", *(f"timbre_{k}" for k in TIMBRE_MEASURES)]
#: ``method``: how a row's layers were made where that changed under the same key (``retuned``: follow-notes
#: layers re-tuned to the source, ``engine.tuning``); rows measured another way are measured again.
CELL_FIELDS = ["pair", "row", "follow", "strength", "guidance", "steps", "clips", *MEASURE_FIELDS, "method"]
RETUNED = "retuned"
GENERATION_FIELDS = ["instrument", "clips", "steps", "eps_scale", "flatness_ratio", "fad_own", "fad_nearest_other",
                     "roundtrip_flatness_ratio", "roundtrip_fad_own", "timbre_fad_own", "timbre_roundtrip_fad_own"]
CONTROL_ROWS = ("roundtrip", "noise", "condition", "played", "played_roundtrip")
PYIN_RANGE = (librosa.note_to_hz("C2"), librosa.note_to_hz("C7"))
#: Note onsets match within 100 ms: the codec's frames are 46 ms apart, so mir_eval's 50 ms (made for
#: transcription at 10 ms hops) is about one frame and fails even the vocoder round trip of the source.
ONSET_TOLERANCE = 0.1
RATE = 22050
HOP = 256


# ---------------------------------------------------------------- measures of one clip
def f0(audio: np.ndarray, rate: int) -> np.ndarray:
    """pyin f0 in Hz per frame (hop 256 at 22.05 kHz), NaN where unvoiced."""
    y = np.asarray(audio, np.float32) if rate == RATE else soxr.resample(audio, rate, RATE)
    pitch, voiced, _ = librosa.pyin(y, fmin=PYIN_RANGE[0], fmax=PYIN_RANGE[1], sr=RATE, frame_length=2048, hop_length=HOP)
    return np.where(voiced, pitch, np.nan)


def pitch_agreement(source_f0: np.ndarray, layer_f0: np.ndarray, cents: float = 50.0,
                    any_octave: bool = False) -> tuple[int, int]:
    """(source-voiced frames where the layer is within ``cents``, source-voiced frames).  With
    ``any_octave`` a layer an octave (or several) away counts too: the right note in another register."""
    n = min(source_f0.size, layer_f0.size)
    s, o = source_f0[:n], layer_f0[:n]
    voiced = np.isfinite(s)
    with np.errstate(invalid="ignore"):
        off = np.abs(1200 * np.log2(o / s))
        if any_octave:
            off = np.abs(off - 1200 * np.round(off / 1200))
        close = off < cents
    return int(np.sum(close & voiced)), int(np.sum(voiced))


def flatness(audio: np.ndarray, rate: int, gate_db: float = -50.0) -> float:
    """Mean spectral flatness over the audible frames (1.0: white noise; tones: near 0)."""
    y = np.asarray(audio, np.float32) if rate == RATE else soxr.resample(audio, rate, RATE)
    spectrum = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    values = librosa.feature.spectral_flatness(S=spectrum)[0]
    rms = librosa.feature.rms(S=spectrum, frame_length=2048)[0]
    audible = 20 * np.log10(rms + 1e-12) > gate_db + 20 * np.log10(rms.max() + 1e-12)
    return float(values[audible].mean()) if audible.any() else float("nan")


# ---------------------------------------------------------------- sets
def piece_windows(folder: Path, window: int, rate: int, count: int) -> np.ndarray:
    """``(k <= count, window)``: one window a third of the way into each piece (pieces in name
    order, resampled to ``rate``), skipping quiet ones."""
    return named_windows(folder, window, rate, count)[0]


def named_windows(folder: Path, window: int, rate: int, count: int,
                  files: list[str] | None = None) -> tuple[np.ndarray, list[str], list[float]]:
    """:func:`piece_windows`, the names of the files they came from and where they start (seconds);
    with ``files``, the windows at the same place in those files (quiet or not): another rendering
    of the same pieces."""
    picked, names, starts = [], [], []
    paths = [Path(folder) / name for name in files] if files is not None else audio_files(folder)
    for path in paths:
        audio, file_rate = read_mono(path)
        y = soxr.resample(audio, file_rate, rate) if file_rate != rate else audio
        start = max(0, min(y.size // 3, y.size - window))
        clip = np.pad(y[start : start + window], (0, max(0, window - (y.size - start))))
        if files is not None or np.sqrt(np.mean(clip**2)) > 1e-2:
            picked.append(clip.astype(np.float32))
            names.append(path.name)
            starts.append(start / rate)
        if len(picked) == count:
            break
    if not picked:
        raise ValueError(f"no audible window in {folder}")
    return np.stack(picked), names, starts


@dataclass
class SourceSet:
    """Model-window clips of one held-out instrument, one from each piece, with cached measures."""

    instrument: str
    audio: np.ndarray  # (k, window_samples) at ``rate``
    rate: int
    f0: list[np.ndarray]
    notes: list[tuple[np.ndarray, np.ndarray] | None]  # basic-pitch transcriptions (None: not measured)
    files: list[str]  # the piece each clip was cut from
    written: list[tuple[np.ndarray, np.ndarray] | None]  # the notes render.json says each clip plays (None: unknown)

    @classmethod
    def from_folder(cls, instrument: str, folder: Path, window: int, rate: int, count: int,
                    with_notes: bool = False) -> "SourceSet":
        """:func:`piece_windows` of ``folder`` with their pitch (and notes) measured once."""
        audio, files, starts = named_windows(folder, window, rate, count)
        transcriptions = [notes.transcribe(a, rate) if with_notes else None for a in audio]
        pieces = written_notes(folder) if with_notes else {}
        written = [notes_in_window(pieces[f], s, window / rate) if f in pieces else None for f, s in zip(files, starts)]
        return cls(instrument, audio, rate, [f0(a, rate) for a in audio], transcriptions, files, written)

    def moved(self, octaves: list[int]) -> "SourceSet":
        """The clips moved by ``octaves`` (one per clip), with their pitch, transcriptions and scores moved
        the same whole octaves (an exact shift: nothing is measured again)."""
        if not any(octaves):
            return self
        factor = [2.0 ** k for k in octaves]

        def scaled(pair, f):
            return None if pair is None else (pair[0], pair[1] * f)

        return SourceSet(self.instrument, shift_each(self.audio, self.rate, octaves), self.rate,
                         [p * f for p, f in zip(self.f0, factor)], [scaled(n, f) for n, f in zip(self.notes, factor)], self.files,
                         [scaled(w, f) for w, f in zip(self.written, factor)])


@dataclass
class Reference:
    """All held-out renders of one instrument: timbre embeddings and real flatness."""

    instrument: str
    embeddings: np.ndarray
    flatness: float
    same_instrument_fad: float  # FAD between the first and second half of the pieces: the floor a layer can reach
    timbre: np.ndarray | None = None  # the timbre model's embeddings of the same renders (None: no timbre model)

    @classmethod
    def from_folder(cls, instrument: str, folder: Path, embedding: MfccStats,
                    timbre: TimbreCnn | None = None) -> "Reference":
        clips = [read_mono(p) for p in audio_files(folder)]
        per_file = [embedding(a, r) for a, r in clips]
        half = max(1, len(per_file) // 2)
        same = fad(np.concatenate(per_file[:half]), np.concatenate(per_file[half:])) if len(per_file) > 1 else float("nan")
        learned = np.concatenate([timbre(a, r) for a, r in clips]) if timbre is not None else None
        return cls(instrument, np.concatenate(per_file), float(np.nanmean([flatness(a, r) for a, r in clips])), same,
                   learned)


def scale(references: dict[str, "Reference"], pair: tuple[str, str]) -> dict[str, float]:
    """What FAD means for one pair: real target renders against each other (half vs half of the pieces)
    and against real source renders (the two instruments)."""
    source, target = references[pair[0]], references[pair[1]]
    return {"same_instrument": target.same_instrument_fad, "between_instruments": fad(target.embeddings, source.embeddings)}


def window_placements(windows: np.ndarray, rate: int, plan: QualityPlan,
                      target: DiffusionModel) -> list[tuple[int, int]]:
    """The ``(grown, sounding)`` octaves cross would give each clip of ``windows`` (each one input)
    for ``target`` with the plan's ``octave`` and ``register`` options (``engine.register``)."""
    return [layer_placements([target], clip, rate, plan.register, plan.octave)[0] for clip in windows]


def window_octaves(windows: np.ndarray, rate: int, plan: QualityPlan, target: DiffusionModel) -> list[int]:
    """The octaves each clip of ``windows`` sounds from its layer's input (:func:`window_placements`);
    zeros when the plan moves no source.  Only register ``instrument`` reads each clip's pitch: with
    ``input`` and ``fit`` every layer sounds where the ``octave`` option puts it."""
    if not plan.moves_sources:
        return [0] * len(windows)
    if plan.register != "instrument":
        return [plan.octave] * len(windows)
    return [sounding for _, sounding in window_placements(windows, rate, plan, target)]


def shift_each(windows: np.ndarray, rate: int, octaves: list[int]) -> np.ndarray:
    """Clips ``(k, samples)``, each moved by its own number of ``octaves``; as they are when none moves."""
    return np.stack([shift_octaves(clip, rate, k) for clip, k in zip(windows, octaves)]) if any(octaves) else windows


def piece_octaves(folder: Path, target: DiffusionModel, plan: QualityPlan) -> dict[str, int]:
    """Per piece of ``folder`` (by file name), the octaves its evaluated window sounds from the source
    for ``target`` (:func:`window_octaves`); empty when the plan moves nothing."""
    if not plan.moves_sources:
        return {}
    codec = target.info.codec
    files = [path.name for path in audio_files(folder)]
    windows = named_windows(folder, codec.window_samples, codec.sample_rate, len(files), files)[0]
    return dict(zip(files, window_octaves(windows, codec.sample_rate, plan, target)))


# ---------------------------------------------------------------- scoring
def score(layers: np.ndarray, source: SourceSet, target: Reference, source_ref: Reference,
          embedding: MfccStats, played: Reference | None = None, timbre: TimbreCnn | None = None) -> dict[str, float]:
    """The measures of one cell's layers (same order as ``source``'s clips); ``played``: the target
    instrument playing the source's pieces (the ``fad_played`` measures are NaN without it);
    ``timbre``: the learned embedding the references were also embedded with (``timbre_*`` NaN without it)."""
    rate = source.rate
    layer_f0 = [f0(layer, rate) for layer in layers]
    agree = [pitch_agreement(s, o) for s, o in zip(source.f0, layer_f0)]
    octave = [pitch_agreement(s, o, any_octave=True) for s, o in zip(source.f0, layer_f0)]
    voiced = sum(v for _, v in agree)
    note_scores, written_scores = [], []
    for layer, transcribed, written in zip(layers, source.notes, source.written):
        heard = (transcribed is not None and len(transcribed[1])), (written is not None and len(written[1]))
        if not any(heard):  # no notes to compare with
            continue
        estimate = notes.transcribe(layer, rate)
        if heard[0]:
            note_scores.append(notes.f1(transcribed, estimate, ONSET_TOLERANCE)["f1"])
        if heard[1]:
            written_scores.append(notes.f1(written, estimate, ONSET_TOLERANCE)["f1"])
    mfcc = fad_measures(embed_clips(embedding, [(layer, rate) for layer in layers]), target.embeddings,
                        source_ref.embeddings, played.embeddings if played is not None else None)
    return {
        "pitch_50c": sum(c for c, _ in agree) / voiced if voiced else float("nan"),
        "pitch_octave": sum(c for c, _ in octave) / voiced if voiced else float("nan"),
        "note_f1": float(np.mean(note_scores)) if note_scores else float("nan"),
        "flatness_ratio": float(np.nanmean(flatness_ratios(layers, rate, target))),
        "note_f1_written": float(np.mean(written_scores)) if written_scores else float("nan"),
        **mfcc,
        **timbre_fads(layers, rate, target, source_ref, played, timbre),
    }


def fad_measures(layers: np.ndarray, target: np.ndarray, source: np.ndarray, played: np.ndarray | None) -> dict[str, float]:
    """FAD of the layers' embeddings to the target's and the source's renders (and the played
    ones: NaN without them), and their ratios to the FAD to the source."""
    to_target, to_source = fad(target, layers), fad(source, layers)
    to_played = fad(played, layers) if played is not None else float("nan")
    return {"fad_target": to_target, "fad_source": to_source, "fad_ratio": to_target / max(to_source, 1e-9),
            "fad_played": to_played, "fad_played_ratio": to_played / max(to_source, 1e-9)}


def timbre_fads(layers: np.ndarray, rate: int, target: Reference, source_ref: Reference, played: Reference | None,
                timbre: TimbreCnn | None) -> dict[str, float]:
    """:func:`fad_measures` on the learned timbre embedding, as the ``timbre_*`` columns; NaN without a timbre model."""
    if timbre is None or target.timbre is None or source_ref.timbre is None:
        return {f"timbre_{k}": float("nan") for k in TIMBRE_MEASURES}
    measures = fad_measures(embed_clips(timbre, [(layer, rate) for layer in layers]), target.timbre, source_ref.timbre,
                            played.timbre if played is not None else None)
    return {f"timbre_{k}": measures[k] for k in TIMBRE_MEASURES}


@dataclass
class Cell:
    row: str  # "layer" or a control row
    follow: str
    strength: float
    guidance: float

    def key(self, pair: str, steps: int) -> tuple[str, ...]:
        return (pair, self.row, self.follow, f"{self.strength:g}", f"{self.guidance:g}", str(steps))

    @property
    def method(self) -> str:
        """``retuned`` for follow-notes layers (the engine re-tunes them), else empty."""
        return RETUNED if self.row == "layer" and self.follow == "notes" and self.guidance > 0 else ""


def drop_stale_rows(csv_path: Path, progress: Callable[[str], None] = print) -> None:
    """Remove from ``csv_path`` the rows whose ``method`` is not how their cell is made now (follow-notes
    rows written before layers were re-tuned), so that a resumed run measures them again."""
    if not csv_path.exists():
        return
    rows = read_rows(csv_path)
    fresh = [r for r in rows if (r.get("method") or "") == Cell(r["row"], r["follow"], 0.0, float(r["guidance"])).method]
    if len(fresh) == len(rows):
        return
    progress(f"{csv_path.name}: {len(rows) - len(fresh)} rows measured before follow-notes layers were re-tuned "
             "are measured again")
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CELL_FIELDS, restval="")
        writer.writeheader()
        writer.writerows(fresh)


def cells(plan: QualityPlan, conditional: bool, played: bool = False) -> list[Cell]:
    out = [Cell("roundtrip", "off", 0.0, 0.0), Cell("noise", "off", 0.0, 0.0)]
    if played:
        out += [Cell("played", "off", 0.0, 0.0), Cell("played_roundtrip", "off", 0.0, 0.0)]
    if conditional:
        out.append(Cell("condition", "notes", 0.0, 0.0))
    out += [Cell("layer", "off", s, 0.0) for s in plan.strengths]
    if conditional:
        out += [Cell("layer", "notes", s, g) for s in plan.strengths for g in plan.guidances]
        if DEFAULT_STRENGTH in plan.strengths and DEFAULT_GUIDANCE in plan.guidances:  # the model alone, not re-tuned
            out.append(Cell("layer", "loose", DEFAULT_STRENGTH, DEFAULT_GUIDANCE))
    return out


@dataclass
class Growth:
    """What layers grow from: the source windows' images and conditions where they are grown, and the
    octaves each layer is then brought back down (register ``fit``; zeros otherwise)."""

    images: np.ndarray
    conditions: np.ndarray | None
    lower: list[int]


def growth_of(windows: np.ndarray, rate: int, target: DiffusionModel, placements: list[tuple[int, int]]) -> Growth:
    """The :class:`Growth` of source ``windows`` (as played) given each one's ``(grown, sounding)``
    octaves (:func:`window_placements`): each window moved once, to where its layer grows, as the
    engine does."""
    grown = shift_each(windows, rate, [g for g, _ in placements])
    images = np.stack([target.info.codec.encode(a) for a in grown])
    conditions = conditions_for(target, grown) if target.info.condition is not None else None
    return Growth(images, conditions, [g - s for g, s in placements])


def layers_of(cell: Cell, target: DiffusionModel, audio: np.ndarray, images: np.ndarray, steps: int, seed: int,
              growth: Growth) -> np.ndarray:
    """The audio a cell produces from the source windows ``audio`` (as the layers should sound, at the
    model's rate; their mel ``images``: the round-trip control) and their ``growth`` (layers and the
    condition control); follow ``notes`` re-tunes each layer to its window (``engine.tuning``), ``loose``
    does not."""
    if cell.row == "noise":
        rms = np.sqrt(np.mean(audio**2, axis=1, keepdims=True))
        return (np.random.default_rng(seed).standard_normal(audio.shape) * rms).astype(np.float32)
    if cell.row == "roundtrip":
        return target.decode(images)
    if cell.row == "condition":
        made = growth.conditions[:, 0] * 2.0 - 1.0
    else:
        condition = growth.conditions if cell.follow in ("notes", "loose") else None
        made = cross_images(target, growth.images, cell.strength, steps, seed, condition=condition, guidance=cell.guidance)
    layers = target.decode(lower_images(made, target.info.codec, growth.lower))
    if cell.method == RETUNED:  # re-tuned to the source as the layers sound, as cross does
        rate = target.info.sample_rate
        layers = np.stack([tune_layer(layer, rate, asked_pitch(source, rate)) for layer, source in zip(layers, audio)])
    return layers


def run_pair(pair: tuple[str, str], models: dict[str, DiffusionModel], heldout: Path, plan: QualityPlan,
             references: dict[str, Reference], embedding: MfccStats, csv_path: Path, with_notes: bool,
             progress: Callable[[str], None] = print, played: tuple[Path, Reference] | None = None,
             timbre: TimbreCnn | None = None) -> None:
    """Every cell of one source->target pair not already in ``csv_path``; ``played``: the folder of the
    target instrument playing the source's pieces and its reference (the ``played`` control row and
    measures); ``timbre``: the learned timbre embedding (its columns stay empty without it)."""
    source_name, target_name = pair
    name = f"{source_name}->{target_name}"
    target = models[target_name]
    codec = target.info.codec
    drop_stale_rows(csv_path, progress)
    done = done_keys(csv_path, ["pair", "row", "follow", "strength", "guidance", "steps"])
    todo = [c for c in cells(plan, target.info.condition is not None, played is not None)
            if c.key(name, plan.steps) not in done]
    if not todo:
        return
    source = SourceSet.from_folder(source_name, heldout / source_name, codec.window_samples, codec.sample_rate, plan.clips,
                                   with_notes)
    played_as = source.audio
    placements = window_placements(played_as, source.rate, plan, target)
    # a run that moves its sources measures the layers against the source as moved: the notes they were asked for
    source = source.moved([sounding for _, sounding in placements])
    audio = source.audio
    images = np.stack([codec.encode(a) for a in audio])
    growth = growth_of(played_as, source.rate, target, placements)
    if any(growth.lower):
        progress(f"{name}: register fit grows {sum(1 for k in growth.lower if k)} of {len(growth.lower)} windows up "
                 f"to {max(growth.lower)} octave(s) and brings them back down")
    played_ref = played[1] if played is not None else None
    for cell in todo:
        if cell.row in ("played", "played_roundtrip"):  # a real player; through the vocoder, the best a layer can be
            layers = named_windows(played[0], codec.window_samples, codec.sample_rate, len(source.files), source.files)[0]
            if cell.row == "played_roundtrip":
                layers = target.decode(np.stack([codec.encode(a) for a in layers]))
        else:
            layers = layers_of(cell, target, audio, images, plan.steps, plan.seed, growth)
        scores = score(layers, source, references[target_name], references[source_name], embedding, played_ref, timbre)
        append_row(csv_path, CELL_FIELDS, {"pair": name, "row": cell.row, "follow": cell.follow,
                                        "strength": f"{cell.strength:g}", "guidance": f"{cell.guidance:g}",
                                        "steps": plan.steps, "clips": len(layers), **scores, "method": cell.method})
        progress(f"{name} {cell.row} follow {cell.follow} strength {cell.strength:g} guidance {cell.guidance:g}: "
                 f"pitch {scores['pitch_50c']:.2f} F1 {scores['note_f1']:.2f} FAD ratio {scores['fad_ratio']:.2f}"
                 + (f" played {scores['fad_played_ratio']:.2f}" if played is not None else "")
                 + (f" timbre-cnn {scores['timbre_fad_ratio']:.2f}" if timbre is not None else ""))


#: The steps and epsilon scaling ``diffband generate`` runs by default (its registry entry), so the table
#: measures what users get.
GENERATE_STEPS = int(technique("generate").defaults["steps"])
GENERATE_EPS_SCALE = float(technique("generate").defaults["eps_scale"])


def generation_eps_scale(row: dict) -> float:
    """A generation row's epsilon scaling at the CSV's 4 decimals (rows written before the column
    existed: 1, the plain sampler)."""
    return round(float(row.get("eps_scale") or 1.0), 4)


def at_generate_default(row: dict) -> bool:
    """Whether a generation row was made as ``diffband generate`` runs by default (steps and scaling)."""
    return int(row["steps"]) == GENERATE_STEPS and generation_eps_scale(row) == round(GENERATE_EPS_SCALE, 4)


def run_generations(models: dict[str, DiffusionModel], plan: QualityPlan, references: dict[str, Reference],
                    embedding: MfccStats, csv_path: Path, heldout: Path, progress: Callable[[str], None] = print,
                    timbre: TimbreCnn | None = None) -> None:
    """Unconditional generations of each model at ``generate``'s default steps (as the CLI runs
    it, not the sweep's): flatness against real renders, FAD to its own renders; beside them the
    baseline no model can beat, as many held-out windows of the instrument through the bundle's
    own codec and vocoder (the round trip); ``timbre``: FAD to own renders on the learned embedding too."""
    measured = read_rows(csv_path) if csv_path.exists() else []
    done = {(r["instrument"], int(r["clips"])) for r in measured if at_generate_default(r)}
    for name, model in models.items():
        if (name, plan.generations) in done or name not in references:
            continue
        images = generate(model, n=plan.generations, steps=GENERATE_STEPS, seed=plan.seed, eps_scale=GENERATE_EPS_SCALE)
        audio = model.decode(images)
        codec = model.info.codec
        real = piece_windows(heldout / name, codec.window_samples, codec.sample_rate, plan.generations)
        real_images = np.stack([codec.encode(a) for a in real])
        roundtrip = model.decode(real_images)
        reference = references[name]
        ratios = flatness_ratios(audio, codec.sample_rate, reference)
        emb = embed_clips(embedding, [(a, codec.sample_rate) for a in audio])
        others = [fad(r.embeddings, emb) for other, r in references.items() if other != name]
        row = {"instrument": name, "clips": len(audio), "steps": GENERATE_STEPS, "eps_scale": GENERATE_EPS_SCALE,
               "flatness_ratio": float(np.nanmean(ratios)), "fad_own": fad(reference.embeddings, emb),
               "fad_nearest_other": min(others) if others else float("nan"),
               "roundtrip_flatness_ratio": float(np.nanmean(flatness_ratios(roundtrip, codec.sample_rate, reference))),
               "roundtrip_fad_own": fad(reference.embeddings,
                                        embed_clips(embedding, [(a, codec.sample_rate) for a in roundtrip]))}
        if timbre is not None and reference.timbre is not None:
            row["timbre_fad_own"] = fad(reference.timbre, embed_clips(timbre, [(a, codec.sample_rate) for a in audio]))
            row["timbre_roundtrip_fad_own"] = fad(reference.timbre,
                                                  embed_clips(timbre, [(a, codec.sample_rate) for a in roundtrip]))
        save_generation_figure(name, images, ratios, real_images[0], csv_path.parent / f"generations_{name}.png",
                               codec.window_seconds)
        append_row(csv_path, GENERATION_FIELDS, row)
        progress(f"generate {name}: flatness x{row['flatness_ratio']:.1f} of real renders "
                 f"(round trip x{row['roundtrip_flatness_ratio']:.1f})")


def flatness_ratios(audio: np.ndarray, rate: int, reference: Reference) -> np.ndarray:
    """Each clip's flatness over that of the instrument's real renders."""
    return np.array([flatness(a, rate) for a in audio]) / reference.flatness


def save_generation_figure(name: str, images: np.ndarray, ratios: np.ndarray, real_image: np.ndarray, path: Path,
                           seconds: float) -> Path:
    """Spectrograms of a real held-out window and of the generations with the lowest, median and
    highest flatness (``ratios``: each one's over real), so the page shows the spread and not a chosen clip."""
    order = np.argsort(np.nan_to_num(ratios, nan=np.inf))
    picks = dict.fromkeys([int(order[0]), int(order[len(order) // 2]), int(order[-1])])  # distinct, in that order
    labels = ["lowest", "median", "highest"] if len(picks) == 3 else ["lowest", "highest"][: len(picks)]
    return save_spectrograms(
        [real_image, *(images[i] for i in picks)],
        [f"real {name} (held-out piece, evaluation soundfont)"]
        + [f"generation {i} of {len(images)}: {label} flatness, {ratios[i]:.1f}x real" for i, label in zip(picks, labels)],
        path, seconds, f"{name}: unconditional generations (DDIM {GENERATE_STEPS})")


# ---------------------------------------------------------------- recommendation
TARGET_PITCH, TARGET_F1, TARGET_FAD_RATIO, TARGET_FLATNESS = 0.8, 0.7, 0.5, 3.0


def mean_by_cell(rows: list[dict], row_kind: str = "layer") -> dict[tuple[str, float, float], dict[str, float]]:
    """Measures averaged over pairs, keyed (follow, strength, guidance)."""
    groups: dict[tuple[str, float, float], list[dict]] = {}
    for r in rows:
        if r["row"] == row_kind:
            groups.setdefault((r["follow"], float(r["strength"]), float(r["guidance"])), []).append(r)
    return {k: {m: _mean([value(r, m) for r in g]) for m in MEASURE_FIELDS} | {"pairs": len(g)} for k, g in groups.items()}


def as_measure(text: str | None) -> float:
    """A CSV cell as a float: NaN where it is empty or missing (rows written before the measure existed)."""
    return float(text) if text and text.strip() else float("nan")


def value(row: dict, measure: str) -> float:
    """One measure of a CSV row (:func:`as_measure`)."""
    return as_measure(row.get(measure))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def recommend(rows: list[dict]) -> dict:
    """The follow-on (strength, guidance) to ship as defaults (follow off when no model follows): among cells whose mean pitch
    and note F1 meet the targets (or, when none does, the cells within 0.05 of the best
    pitch), the one with the lowest mean FAD ratio (most like the target instrument)."""
    cells = mean_by_cell(rows)
    follow_on = {k: v for k, v in cells.items() if k[0] == "notes"} or cells  # unconditional models: follow off
    meeting = {k: v for k, v in follow_on.items() if v["pitch_50c"] >= TARGET_PITCH and v["note_f1"] >= TARGET_F1}
    if not meeting:
        best = max(v["pitch_50c"] for v in follow_on.values())
        meeting = {k: v for k, v in follow_on.items() if v["pitch_50c"] >= best - 0.05}
    key = min(meeting, key=lambda k: (meeting[k]["fad_ratio"], -k[1]))
    return {"follow": key[0], "strength": key[1], "guidance": key[2], **meeting[key]}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
