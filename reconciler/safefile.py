"""Reading a user's file only when it is a regular file of bounded size.

Everything the tool reads from a project (manifests, ``reconciler.yaml``, the state file) goes
through :func:`read_regular`, so that no input can block or flood a command:

- a FIFO, socket or device is refused before it is opened (opening a FIFO for reading waits for
  a writer, and signals do not interrupt that wait); the file is opened with ``O_NONBLOCK`` and
  checked again on the open descriptor, so a file swapped for a FIFO in between cannot block it;
- a symbolic link is followed, and what it points to must pass the same checks (a link to
  ``/dev/zero`` is a character device, refused);
- at most ``limit`` bytes are read; a larger file is refused, whatever its size claimed.

Refusals are :class:`OSError` subclasses with ``strerror`` set, so callers that already turn an
``OSError`` into a message (``cannot read X: <strerror>``) need nothing more.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["FileTooLarge", "NotRegularFile", "read_regular", "write_target_problem"]

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_CHUNK = 1 << 20


class NotRegularFile(OSError):
    """The path is a FIFO, socket or device (or anything else that is not a regular file)."""


class FileTooLarge(OSError):
    """The file holds more bytes than the caller accepts."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _check(mode: int, size: int, limit: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        what = kind if kind.startswith("not") else f"is {kind}, not a regular file"
        raise NotRegularFile(errno.EINVAL, what)
    if size > limit:
        raise _too_large(limit)


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(errno.EFBIG, f"file too large (more than {_human(limit)})")


def _human(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def read_regular(path: Path | str, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at ``path`` (at most ``limit``) and its ``fstat``.

    Raises :class:`FileNotFoundError` (and other ``OSError``) as ``open`` would,
    :class:`IsADirectoryError` for a directory, :class:`NotRegularFile` for anything else that
    is not a regular file, and :class:`FileTooLarge` beyond ``limit`` bytes.
    """
    before = os.stat(path)
    _check(before.st_mode, before.st_size, limit)
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC)
    try:
        st = os.fstat(fd)
        _check(st.st_mode, st.st_size, limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # the file grew after fstat
                raise _too_large(limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def write_target_problem(path: Path) -> str | None:
    """Why a file cannot be written (whole, by replacing it) at ``path``, or None: it exists and
    is not a regular file (opening a FIFO for writing waits for a reader), or what should be its
    directory is not one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a parent is a file (ENOTDIR), a loop of links, ...
        return f"cannot write there ({exc.strerror})"
    if mode is not None:
        if stat.S_ISDIR(mode):
            return "is a directory, not a file"
        if not stat.S_ISREG(mode):
            kind = _kind(mode)
            return kind if kind.startswith("not") else f"is {kind}, not a regular file"
        return None
    parent = Path(path).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot write there ({parent} is not a directory)"
    return None
