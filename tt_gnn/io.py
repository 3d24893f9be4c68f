"""Files and memory: atomic writes, JSON output, the host memory budget.

Every file tt-gnn writes (checkpoints, metrics, permutations) goes through :func:`atomic_write`:
the bytes go to a temporary file in the target's folder, are flushed and fsynced, then
``os.replace``-d over the target, so a killed process leaves the old file or the new one, never
a torn one. Temporary files are named ``.<name>.<random>.tmp``; :func:`remove_stale_temporaries`
deletes those a killed writer left behind.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "metrics.json"
    >>> write_json({"accuracy": 0.5}, path)
    >>> json.loads(path.read_text())
    {'accuracy': 0.5}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_write",
    "write_json",
    "remove_stale_temporaries",
    "check_writable_file",
    "available_memory_bytes",
]

_MEMINFO = Path("/proc/meminfo")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    Args:
        path: the target; its folder is created if missing.
        mode: ``"wb"`` (default) or ``"w"``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_write(target, "w") as stream:
        ...     _ = stream.write("done")
        >>> target.read_text()
        'done'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_json(payload: Any, path: str | os.PathLike[str]) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    with atomic_write(path, "w") as stream:
        json.dump(payload, stream, indent=2, sort_keys=True)
        stream.write("\n")


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed :func:`atomic_write` of ``path`` left behind.

    Returns:
        the paths removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def check_writable_file(path: str | os.PathLike[str], option: str) -> Path:
    """Fail early when ``path`` cannot become a file: it is a folder, or its parent is a file.

    Raises:
        ValueError: naming ``option`` and the path.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a directory; expected a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{option} {str(path)!r}: {str(parent)!r} is not a directory")
            if not os.access(parent, os.W_OK):
                raise ValueError(f"{option} {str(path)!r}: {str(parent)!r} is not writable")
            break
    return path


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes, or None where it cannot be read."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
