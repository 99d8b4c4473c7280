"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then renamed over the target.

A reader (or a process killed halfway) sees the previous file or the complete new one, never a truncated
file: :func:`os.replace` is atomic on POSIX and Windows when source and target are on the same file system,
which a sibling temporary file guarantees. On failure the temporary file is removed and the previous file is
left untouched. This module is a leaf: it imports nothing from socialvalue but the error types.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from socialvalue.errors import StoreError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]

_TMP_SUFFIX = ".sv-tmp"


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry of a rename to disk (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platform dependent
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _create_sibling(target: Path) -> Path:
    """Create an empty, new temporary file beside ``target`` with the permissions of a plain new file.

    Unlike :func:`tempfile.mkstemp` (mode 0600), the mode is 0666 less the process's umask, so an atomically
    written report or export gets the same permissions as one written in place would.
    """
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(17, "no free temporary name", str(target))  # pragma: no cover


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is fsynced and renamed to ``target``.

    The block writes the new content to the yielded path (with any writer: pandas, pyarrow, ``open``). When
    the block raises, the temporary file is deleted, ``target`` is left as it was and the error propagates.

    Parameters
    ----------
    target
        The file to (re)place; its folder is created when missing.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists, empty, when the block starts).

    Raises
    ------
    StoreError
        When the temporary file cannot be created, flushed or renamed (the cause is named and chained).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text()
    'hello'
    """
    target = Path(target)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = _create_sibling(target)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if target.exists() and not target.is_file():
                raise IsADirectoryError(21, "Is a directory", str(target))
            os.replace(tmp, target)
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
        _fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_path`) and return the target's path.

    Parameters
    ----------
    target
        The file to (re)place.
    data
        Its complete new content.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    with atomic_path(target) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically in ``encoding`` and return the target's path.

    Parameters
    ----------
    target
        The file to (re)place.
    text
        Its complete new content.
    encoding
        Text encoding.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    return atomic_write_bytes(target, text.encode(encoding))
