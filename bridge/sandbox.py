"""The folders file-mode jobs may read from and write to; everything else is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bridge.protocol import ProtocolError


def default_folder() -> Path:
    """``<system temp>/diffband``: where DAW clients write captured audio by default."""
    return Path(tempfile.gettempdir()) / "diffband"


class Sandbox:
    """Resolve client paths; refuse ``..``, paths outside the roots, and symlinks leading out.

    Relative paths are taken relative to the first folder (the one ``/diffband/state`` reports).
    """

    def __init__(self, folders: list[Path | str] | None = None):
        roots = [Path(f).expanduser() for f in (folders or [default_folder()])]
        for root in roots:
            root.mkdir(parents=True, exist_ok=True)
        self.roots = [root.resolve(strict=True) for root in roots]

    @property
    def primary(self) -> Path:
        return self.roots[0]

    def _inside(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def _resolve(self, raw: str, job_id: str) -> Path:
        if not raw or "\x00" in raw:
            raise ProtocolError("path_refused", "empty or invalid path", job_id)
        candidate = Path(raw).expanduser()
        if ".." in candidate.parts:
            raise ProtocolError("path_refused", f"path may not contain '..': {raw}", job_id)
        if not candidate.is_absolute():
            candidate = self.primary / candidate
        return candidate

    def readable(self, raw: str, job_id: str = "") -> Path:
        """An existing file inside the roots (after following every symlink)."""
        candidate = self._resolve(raw, job_id)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise ProtocolError("bad_audio", f"input file not found: {raw}", job_id) from None
        if not self._inside(real):
            raise ProtocolError("path_refused", f"{raw} is outside the allowed folders ({self.describe()})", job_id)
        if not real.is_file():
            raise ProtocolError("bad_audio", f"input is not a file: {raw}", job_id)
        return real

    def writable_dir(self, raw: str, job_id: str = "") -> Path:
        """A folder inside the roots, created if missing (checked again after creation)."""
        candidate = self._resolve(raw, job_id)
        real = candidate.resolve(strict=False)
        if not self._inside(real):
            raise ProtocolError("path_refused", f"{raw} is outside the allowed folders ({self.describe()})", job_id)
        try:
            real.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ProtocolError("path_refused", f"cannot create output folder {raw}: {error.strerror}", job_id) from None
        real = real.resolve(strict=True)
        if not self._inside(real) or not real.is_dir():
            raise ProtocolError("path_refused", f"{raw} is not a folder inside the allowed folders", job_id)
        return real

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots)
