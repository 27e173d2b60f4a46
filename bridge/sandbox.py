"""The folders file-mode jobs may read from and write to; everything else is refused.

Each allowed folder is held open as a directory descriptor. Paths are checked when a
job is submitted (so the client hears at once) and opened again, component by
component relative to that descriptor and without following any symlink, when the
job reads or writes them: a folder swapped for a symlink in between is refused.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from diffband.bridge.protocol import ProtocolError

#: Flags for every folder on a path below an allowed root (a symlink fails to open).
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeFolderError(ValueError):
    """The default shared folder exists but another user could control it."""


def default_folder() -> Path:
    """``<system temp>/diffband-<uid>``, created with mode 0700 where missing.

    Raises UnsafeFolderError when it is a symlink, not a folder, owned by someone
    else or writable by others: its name is predictable in a world-writable folder.
    """
    path, fd = _open_default()
    os.close(fd)
    return path


def _open_default() -> tuple[Path, int]:
    """The default folder, created where missing, and a descriptor of it once checked."""
    path = Path(tempfile.gettempdir()) / f"diffband-{os.getuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    return path, _open_private(path)


def _open_private(path: Path) -> int:
    """A descriptor of ``path`` after checking it is a folder only this user controls."""
    advice = "remove it, or choose a folder with --allow DIR"
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as error:
        if os.path.islink(path):
            raise UnsafeFolderError(f"{path} is a symlink, not the server's own folder; {advice}") from None
        raise UnsafeFolderError(f"cannot use {path}: {error.strerror}; {advice}") from None
    info = os.fstat(fd)
    problem = ""
    if info.st_uid != os.getuid():
        problem = f"is owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(info.st_mode):o})"
    if problem:
        os.close(fd)
        raise UnsafeFolderError(f"{path} {problem}; {advice}")
    return fd


@dataclass(eq=False)
class _Root:
    """An allowed folder: its real path, the path it was given as, and an open descriptor."""

    path: Path
    alias: Path
    fd: int

    def __post_init__(self) -> None:
        # closed only when nothing (sandbox or queued job) can use it any more
        weakref.finalize(self, os.close, self.fd)

    def relative(self, candidate: Path) -> tuple[str, ...] | None:
        for base in (self.path, self.alias):
            if candidate.is_relative_to(base):
                return candidate.relative_to(base).parts
        return None


@dataclass(frozen=True, eq=False)
class SandboxPath(os.PathLike):
    """A path inside an allowed folder, kept as the folder plus the parts below it."""

    root: _Root
    parts: tuple[str, ...]
    raw: str  # as the client wrote it, for messages

    @property
    def path(self) -> Path:
        return self.root.path.joinpath(*self.parts)

    @property
    def name(self) -> str:
        return self.path.name

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def open_file(self, job_id: str = "") -> BinaryIO:
        """The regular file this names, opened for reading; no symlink on the way is followed."""
        *folders, name = self.parts or (".",)
        dir_fd = self._open_folder(folders, "bad_audio", job_id)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as error:
            raise self._refusal(dir_fd, name, error, "bad_audio", job_id) from None
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device would block or never end
            os.close(fd)
            raise ProtocolError("bad_audio", f"input is not a file: {self.raw}", job_id)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def make_folder(self, job_id: str = "") -> int:
        """A descriptor of this folder (the caller closes it), creating missing parts."""
        return self._open_folder(self.parts, "path_refused", job_id, create=True)

    @contextmanager
    def new_file(self, name: str, job_id: str = "") -> Iterator[BinaryIO]:
        """A temporary file in this folder, renamed to ``name`` when the block ends without error.

        The rename replaces whatever ``name`` was (a planted symlink too) and never writes through it.
        """
        dir_fd = self.make_folder(job_id)
        partial = f".{name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    yield handle
                os.rename(partial, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(partial, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)

    def _open_folder(self, folders: list[str] | tuple[str, ...], missing_code: str, job_id: str, create: bool = False) -> int:
        fd = os.open(".", _DIR_FLAGS, dir_fd=self.root.fd)
        try:
            for name in folders:
                if create:
                    try:
                        os.mkdir(name, dir_fd=fd)
                    except FileExistsError:
                        pass
                    except OSError as error:
                        raise self._refusal(fd, name, error, "path_refused", job_id) from None
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as error:
                    raise self._refusal(fd, name, error, missing_code, job_id) from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _refusal(self, dir_fd: int, name: str, error: OSError, missing_code: str, job_id: str) -> ProtocolError:
        """Why ``name`` (in the folder ``dir_fd``) could not be opened, as a protocol error."""
        try:
            is_link = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            is_link = False
        if is_link or error.errno == errno.ELOOP:
            return ProtocolError(
                "path_refused", f"{self.raw}: {name} is a symlink; symlinks inside the allowed folders are not followed", job_id
            )
        if error.errno == errno.ENOENT:
            return ProtocolError(missing_code, f"not found: {self.raw}", job_id)
        if error.errno == errno.ENOTDIR:
            return ProtocolError(missing_code, f"{self.raw}: {name} is not a folder", job_id)
        return ProtocolError(missing_code, f"cannot open {self.raw}: {error.strerror}", job_id)


class Sandbox:
    """Check client paths against the allowed folders; refuse ``..``, paths outside, and symlinks.

    Relative paths are taken relative to the first folder (the one ``/diffband/state``
    reports). No symlink below an allowed folder is followed, whether it leads out or not.
    """

    def __init__(self, folders: list[Path | str] | None = None):
        if folders:
            self._roots = [self._open_root(Path(f).expanduser()) for f in folders]
        else:
            path, fd = _open_default()
            self._roots = [_Root(path.resolve(strict=True), path, fd)]

    @staticmethod
    def _open_root(folder: Path) -> _Root:
        folder.mkdir(parents=True, exist_ok=True)
        real = folder.resolve(strict=True)
        return _Root(real, folder.absolute(), os.open(real, _DIR_FLAGS))

    @property
    def roots(self) -> list[Path]:
        return [root.path for root in self._roots]

    @property
    def primary(self) -> Path:
        return self._roots[0].path

    def locate(self, raw: str, job_id: str = "") -> SandboxPath:
        """Where ``raw`` lies inside the allowed folders, from its text alone (nothing is opened)."""
        if not raw or "\x00" in raw:
            raise ProtocolError("path_refused", "empty or invalid path", job_id)
        candidate = Path(raw).expanduser()
        if ".." in candidate.parts:
            raise ProtocolError("path_refused", f"path may not contain '..': {raw}", job_id)
        if not candidate.is_absolute():
            return SandboxPath(self._roots[0], candidate.parts, raw)
        for root in self._roots:
            parts = root.relative(candidate)
            if parts is not None:
                return SandboxPath(root, parts, raw)
        # the same answer whether or not the path exists: no probing outside
        raise ProtocolError("path_refused", f"{raw} is outside the allowed folders ({self.describe()})", job_id)

    def readable(self, raw: str, job_id: str = "") -> SandboxPath:
        """An existing regular file inside the allowed folders, reached without symlinks."""
        located = self.locate(raw, job_id)
        located.open_file(job_id).close()
        return located

    def writable_dir(self, raw: str, job_id: str = "") -> SandboxPath:
        """A folder inside the allowed folders, created if missing, reached without symlinks."""
        located = self.locate(raw, job_id)
        os.close(located.make_folder(job_id))
        return located

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots)
