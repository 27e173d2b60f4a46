"""What the held-out renders' ``render.json`` knows: each piece's notes.

The target instrument playing the source's own notes gives timbre references at the source's
register, and the notes themselves are the score a layer's transcription is checked against.

The held-out renders of each instrument sit in that instrument's range (a guitar piece around
E2-E4, a violin piece around G4-A5), and the ``mfcc-stats`` embedding hears register and note
density as well as timbre.  A layer that keeps a guitar line's notes therefore sits far from
*violin pieces* even when it sounds exactly like a violin: measured, a real violin (the same
evaluation soundfont) playing the guitar windows' notes scores a FAD ratio of 2.2, worse than
the layers.  So ``eval quality`` also renders every held-out source piece's notes (its
``render.json``) through the target instrument, same soundfont, room, trim and length, and

- scores every cell against those renders as well (``fad_played``: the layer's FAD to the
  target instrument playing the source's pieces; ``fad_played_ratio``: that over the FAD to
  the source's renders, the source instrument playing the same pieces);
- adds the control row ``played``: those renders at the source windows' own positions, what a
  real player of the target instrument would give back (an upper bound for a layer, not a floor
  on any measure: its windows are part of the reference set).

When a run moves its sources (``--octave``, ``--register instrument``), the target instrument
plays each piece moved by the same octaves as the piece's evaluated window: the real player,
in the register the layer was grown in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from tqdm import tqdm

from diffband.export.data_render import SAMPLE_RATE, Note, Room, peak_normalise, render_notes
from diffband.export.instruments import EVALUATION_SOUNDFONTS, SOUNDFONTS, instrument

RENDER_FILE = "render.json"


def _soundfont(name: str) -> Path:
    for path in (*EVALUATION_SOUNDFONTS, *SOUNDFONTS):
        if path.name == name and path.exists():
            return path
    raise FileNotFoundError(f"soundfont {name} (named by a held-out render.json) is not installed")


def _render_info(source_folder: Path) -> dict | None:
    """``source_folder``'s render.json when every piece in it lists its notes, else None."""
    try:
        made = json.loads((Path(source_folder) / RENDER_FILE).read_text())
        pieces = made["pieces"]
    except (OSError, ValueError, KeyError):
        return None
    return made if pieces and all(p.get("notes") for p in pieces) else None


def written_notes(source_folder: Path) -> dict[str, dict]:
    """Each piece of ``source_folder`` by file name (empty when it has no render.json with notes)."""
    made = _render_info(source_folder)
    return {p["file"]: p for p in made["pieces"]} if made else {}


def notes_in_window(piece: dict, start: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The notes of one ``render.json`` piece whose onsets fall in the window ``[start, start +
    seconds)`` of its file, as ``(intervals (n, 2) seconds from the window's start, pitches (n,) Hz)``:
    the score of the window (the file starts ``offset`` seconds into the notes' time line)."""
    offset = float(piece.get("offset", 0.0))
    kept = [(s - offset - start, min(s - offset + d, start + seconds) - start, p)
            for s, d, p, _ in piece["notes"] if start <= s - offset < start + seconds]
    if not kept:
        return np.zeros((0, 2)), np.zeros(0)
    intervals = np.array([[a, max(b, a + 1e-3)] for a, b, _ in kept], dtype=np.float64)
    return intervals, librosa.midi_to_hz(np.array([p for *_, p in kept], dtype=np.float64))


def played_folder(source_folder: Path, target: str, out: Path, octaves: dict[str, int] | None = None) -> Path | None:
    """``out/<source>_as_<target>``: each piece of ``source_folder`` played by ``target``'s first GM
    program through the piece's own soundfont and room, trimmed by the piece's own offset to its
    length and peak level, so a window at a given sample is the same notes as in the source file.
    With ``octaves`` (per file), each piece's notes are moved that many octaves first, into a folder
    of its own (its name ends with a digest of the moves).  Rendered once (files already there are
    kept); None when the folder has no notes to play."""
    source_folder = Path(source_folder)
    made = _render_info(source_folder)
    if made is None:
        return None
    program = instrument(target).programs[0]
    octaves = {file: k for file, k in (octaves or {}).items() if k}
    digest = hashlib.sha1(json.dumps(sorted(octaves.items())).encode()).hexdigest()[:8] if octaves else ""
    folder = Path(out) / (f"{source_folder.name}_as_{target}" + (f"_moved_{digest}" if octaves else ""))
    folder.mkdir(parents=True, exist_ok=True)
    made = {**made, "pieces": [moved_piece(p, octaves.get(p["file"], 0)) for p in made["pieces"]]}
    for piece in tqdm(made["pieces"], desc=f"{target} playing {source_folder.name}'s pieces", unit="piece", leave=False):
        file = folder / piece["file"]
        if file.exists():
            continue
        length = sf.info(str(source_folder / piece["file"])).frames
        notes = [Note(float(s), float(d), int(p), int(v)) for s, d, p, v in piece["notes"]]
        room = Room(**{k: tuple(v) for k, v in piece["room"].items()}) if piece.get("room") else None
        raw = render_notes(notes, _soundfont(piece["soundfont"]), program, room=room)
        start = int(round(float(piece.get("offset", 0.0)) * SAMPLE_RATE))
        audio = np.pad(raw[start : start + length], (0, max(0, length - (raw.size - start))))
        sf.write(file, peak_normalise(audio), SAMPLE_RATE, subtype="PCM_16")
    (folder / RENDER_FILE).write_text(json.dumps(
        {**{k: v for k, v in made.items() if k != "pieces"}, "instrument": target, "played_from": source_folder.name,
         "pieces": [dict(p, program=program) for p in made["pieces"]]}, indent=1))
    return folder


def moved_piece(piece: dict, octaves: int) -> dict:
    """A ``render.json`` piece with its notes moved ``octaves`` octaves (kept inside MIDI's 0-127)."""
    if not octaves:
        return piece
    notes = [[s, d, int(np.clip(p + 12 * octaves, 0, 127)), v] for s, d, p, v in piece["notes"]]
    return dict(piece, notes=notes, moved_octaves=octaves)

