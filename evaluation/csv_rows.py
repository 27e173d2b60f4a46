"""Resumable result CSVs: rows are appended as each measured cell finishes, and a rerun
skips the cells whose key is already there."""

from __future__ import annotations

import csv
from pathlib import Path


def done_keys(path: Path, key_fields: list[str]) -> set[tuple[str, ...]]:
    """The keys of the rows already in ``path`` (none when it does not exist)."""
    if not path.exists():
        return set()
    with path.open() as f:
        return {tuple(row[k] for k in key_fields) for row in csv.DictReader(f)}


def append_row(path: Path, fields: list[str], row: dict) -> None:
    """Append one row (floats with 4 decimals), writing the header to a new file.  A file written
    before a measure existed is first rewritten with the new header (its rows keep their values and
    leave the new measures empty), so earlier results stay and resume."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not new:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header, kept = reader.fieldnames or [], list(reader)
        if header != fields:
            unknown = [k for k in header if k not in fields]
            if unknown:
                raise ValueError(f"{path} has columns this version does not write ({', '.join(unknown)}); move it aside")
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})


def read_rows(path: Path) -> list[dict]:
    with Path(path).open() as f:
        return list(csv.DictReader(f))
