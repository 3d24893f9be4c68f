"""Training checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts (what
``weights_only=True`` accepts): model and optimizer state, the epoch to continue from, the
early-stopping state, the per-epoch history, the node permutation of the reordered graph and
the configuration it was made with. Writing goes to a temporary file in the same folder,
flushed and fsynced, then ``os.replace``-d over the target, so a killed process leaves either
the previous checkpoint or the new one, never a torn file.

Example:
    >>> import tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
    >>> save_checkpoint({"epoch": 3, "weights": torch.ones(2)}, path)
    >>> load_checkpoint(path)["epoch"]
    3
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["CHECKPOINT_NAME", "save_checkpoint", "load_checkpoint", "checkpoint_path"]

CHECKPOINT_NAME = "checkpoint.pt"


def checkpoint_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint file inside ``checkpoint_dir``."""
    return Path(checkpoint_dir) / CHECKPOINT_NAME


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + fsync + ``os.replace``).

    Args:
        state: tensors, numbers, strings, and lists/dicts of them (``weights_only``-loadable).
        path: target file; its folder is created if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: when the file is not a checkpoint dictionary.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{path} is not a tt-gnn checkpoint (expected a dict with 'epoch')")
    return state
