"""``python -m bench.long_take``: what the rest finder and the room-tone gate cost on a long take. (issue 13)

A DAW can send a take as long as the engine accepts (``engine.windowing.DEFAULT_MAX_SECONDS``, 10
minutes).  Before any model runs, the engine reads the take's noise floor through it
(``engine.rests.find_rests``) and gates that floor out under the notes
(``engine.room_tone.without_room_tone``).  Per length in ``--minutes``, a fresh engine-only process
(no torch) builds a take of 1.5 s phrases, each note with eight partials, with a 1 s rest after
each, peak ``PEAK_DBFS``, over pink room tone at ``QUIET_DBFS`` that rises to ``FAN_DBFS`` halfway,
and reports each stage's wall time and how far it raised the process's peak resident memory
(``VmHWM``, counted again from what it holds before each stage) over the take already held.  Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt

from bench.engine import RESULTS, append_results, fresh_process_json, machine

PEAK_DBFS, QUIET_DBFS, FAN_DBFS = -20.0, -62.0, -48.0
RATE = 44100

ONE_TAKE = r"""
import json, sys, time
import numpy as np
from diffband.engine.rests import find_rests
from diffband.engine.room_tone import without_room_tone

def status_mb(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field + ":")).split()[1]) / 1024

def from_here():  # the peak is counted again from what the process holds now (Linux: clear_refs 5)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return status_mb("VmRSS")

minutes, rate, peak_db, quiet_db, fan_db = float(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:6])
rng = np.random.default_rng(0)
phrase, rest = int(1.5 * rate), int(1.0 * rate)
n = int(minutes * 60 * rate)
take = np.zeros(n, np.float32)
t = np.arange(phrase) / rate
for k, start in enumerate(range(0, n - phrase, phrase + rest)):
    hz = 220.0 * 2 ** ((k % 7) / 12)
    note = sum(np.sin(2 * np.pi * h * hz * t) / h for h in range(1, 9)) * np.hanning(phrase) ** 0.1
    take[start : start + phrase] = note
take *= np.float32(10 ** (peak_db / 20) / np.abs(take).max())
for start in range(0, n, rate * 60):  # pink room tone a minute at a time (1/f power by FFT)
    stop = min(n, start + rate * 60)
    spectrum = np.fft.rfft(rng.standard_normal(stop - start))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    pink = np.fft.irfft(spectrum, stop - start)
    level = np.where(np.arange(start, stop) < n // 2, quiet_db, fan_db)
    take[start:stop] += (pink / np.sqrt(np.mean(pink ** 2)) * 10 ** (level / 20)).astype(np.float32)
del t, note, spectrum, pink, level
held = from_here()
began = time.perf_counter()
rests = find_rests(take, rate)
found = time.perf_counter()
rests_mb = status_mb("VmHWM") - held
before_gate = from_here()
gated = without_room_tone(take, rests.floor)
done = time.perf_counter()
print(json.dumps({"minutes": minutes, "rests": len(rests.spans), "floors": len(rests.floor.floors),
                  "rests_s": found - began, "rests_mb": rests_mb, "gate_s": done - found,
                  "gate_mb": status_mb("VmHWM") - before_gate, "take_mb": held}))
"""


def one_take(minutes: float) -> dict:
    """The rest finder and the gate on one take of ``minutes``, in a fresh process."""
    row = fresh_process_json(ONE_TAKE, minutes, RATE, PEAK_DBFS, QUIET_DBFS, FAN_DBFS)
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="1,10", help="comma-separated take lengths")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    rows = [one_take(float(m)) for m in args.minutes.split(",")]
    lines = [
        f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — `python -m bench.long_take` — the rest finder and the room-tone "
        "gate on a long take",
        "",
        f"Machine: {machine()}. A take at {RATE} Hz of 1.5 s phrases with a 1 s rest after each, peak {PEAK_DBFS:g} dBFS, "
        f"over pink room tone at {QUIET_DBFS:g} dBFS rising to {FAN_DBFS:g} dBFS halfway; each length in a fresh "
        "engine-only process. *Peak over the take*: how far the stage raised the process's resident memory at its "
        "peak over what the process held before it (the take, and for the gate the rests too).",
        "",
        "| take | rests found | floors | `find_rests` | its peak over the take | `without_room_tone` | its peak over that |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['minutes']:g} min | {r['rests']} | {r['floors']} | {r['rests_s']:.1f} s | {r['rests_mb']:.0f} MB | "
          f"{r['gate_s']:.1f} s | {r['gate_mb']:.0f} MB |" for r in rows],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
