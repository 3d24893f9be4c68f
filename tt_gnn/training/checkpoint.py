"""Training checkpoints: the one owner of their file format, schema and resume checks.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts (what
``torch.load(weights_only=True)`` accepts): model and optimizer state, the epoch to continue
from, the early-stopping state, the per-epoch history, the node permutation of the reordered
graph and the configuration it was made with.

On disk (format 2) the dictionary is serialized once more inside an envelope
``{"format", "sha256", "payload"}``, where ``payload`` is the serialized dictionary as a uint8
tensor and ``sha256`` its digest: a truncated or corrupted file is refused with a clear error
instead of loading wrong numbers (``torch.load`` itself does not check the zip CRCs). Writing is
atomic (:func:`tt_gnn.io.atomic_write`), and temporary files that a killed writer left behind
are removed on the next save or load.

Example:
    >>> import tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
    >>> save_checkpoint({"epoch": 3, "weights": torch.ones(2)}, path)
    >>> load_checkpoint(path)["epoch"]
    3
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from tt_gnn.io import atomic_write, remove_stale_temporaries

__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_path",
    "check_resumable",
    "checkpoint_to_resume",
    "validate_training_state",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 2
_ENVELOPE_KEYS = {"format", "sha256", "payload"}
# What a corrupt, truncated or foreign file makes torch.load raise.
_LOAD_ERRORS = (
    RuntimeError,
    OSError,
    IndexError,
    EOFError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    ValueError,
    KeyError,
    AttributeError,
    TypeError,
)


def checkpoint_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint file inside ``checkpoint_dir``."""
    return Path(checkpoint_dir) / CHECKPOINT_NAME


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` to ``path`` atomically, with a SHA-256 digest of its bytes.

    Args:
        state: tensors, numbers, strings, and lists/dicts of them (``weights_only``-loadable).
        path: target file; its folder is created if missing.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    envelope = {
        "format": CHECKPOINT_FORMAT,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
    }
    remove_stale_temporaries(path)
    with atomic_write(path) as stream:
        torch.save(envelope, stream)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load and verify a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: naming ``path`` when the file is corrupt, truncated, fails its digest, or is
            not a tt-gnn checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists() or path.is_symlink():
            raise ValueError(
                f"checkpoint {path} is not a file (a directory, device or broken link)"
            )
        raise FileNotFoundError(f"no checkpoint at {path}")
    remove_stale_temporaries(path)
    with open(path, "rb") as stream:
        head = stream.read(4)
    if head != b"PK\x03\x04":  # what torch.save writes; anything else would be unpickled raw
        what = "the file is empty" if not head else f"not a zip archive (first bytes {head!r})"
        raise ValueError(f"cannot read checkpoint {path}: {what}")
    envelope = _torch_load(path, path, "cpu")
    if not isinstance(envelope, dict) or set(envelope) != _ENVELOPE_KEYS:
        raise ValueError(f"{path} is not a tt-gnn checkpoint (format {CHECKPOINT_FORMAT})")
    if envelope["format"] != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} has checkpoint format {envelope['format']!r}; this tt-gnn reads format "
            f"{CHECKPOINT_FORMAT}"
        )
    payload = envelope["payload"]
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8:
        raise ValueError(f"{path} is not a tt-gnn checkpoint (payload is not bytes)")
    data = payload.numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != envelope["sha256"]:
        raise ValueError(f"checkpoint {path} is corrupt: its SHA-256 digest does not match")
    state = _torch_load(io.BytesIO(data), path, map_location)
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{path} is not a tt-gnn checkpoint (expected a dict with 'epoch')")
    return state


def _torch_load(source: Any, path: Path, map_location: str | torch.device) -> Any:
    """``torch.load(weights_only=True)``; any failure is one ``ValueError`` naming ``path``
    (torch's warnings about foreign pickles are not shown: the error says it all)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(source, map_location=map_location, weights_only=True)
    except _LOAD_ERRORS as error:
        text = str(error).strip()
        if text.startswith("Weights only load failed"):
            # torch's refusal: a paragraph of advice, the reason, a pointer to the docs
            details = [part.strip().replace("\n", " ") for part in text.split("\n\n")[1:]]
            details = [part for part in details if part and not part.startswith("Check the doc")]
            reason = "the weights-only loader refused it (no code from the file ran): " + (
                details[0] if details else "no reason given"
            )
        else:
            reason = text.splitlines()[0] if text else type(error).__name__
            if isinstance(error, OSError):  # torch's zip reader on a cut-off file
                reason = f"truncated or corrupt zip archive ({reason})"
        raise ValueError(f"cannot read checkpoint {path}: {reason}") from error


def validate_training_state(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Check the fields a resumed run reads, so a crafted file fails here with a clear error.

    Raises:
        ValueError: naming ``path`` and the field.
    """
    expected = {
        "epoch": int,
        "world_size": int,
        "model": dict,
        "optimizer": dict,
        "best_model": dict,
        "early_stopping": dict,
        "history": list,
        "config": dict,
    }
    for key, kind in expected.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(
                f"checkpoint {path}: field {key!r} must be {kind.__name__}, got "
                f"{type(value).__name__}"
            )
    epochs = state["config"].get("epochs")
    if state["epoch"] < 0 or (isinstance(epochs, int) and state["epoch"] > max(epochs, 0) * 10**6):
        raise ValueError(f"checkpoint {path}: epoch {state['epoch']} is out of range")
    if len(state["history"]) != state["epoch"]:
        raise ValueError(
            f"checkpoint {path}: epoch {state['epoch']} but {len(state['history'])} history "
            "records"
        )
    stopping = state["early_stopping"]
    fields = {"best_score", "best_epoch", "bad_evaluations", "best_metrics"}
    if set(stopping) != fields:
        raise ValueError(
            f"checkpoint {path}: early_stopping must have fields {sorted(fields)}, got "
            f"{sorted(stopping)}"
        )
    for key, kinds in (("best_score", (int, float)), ("best_epoch", int),
                       ("bad_evaluations", int), ("best_metrics", dict)):  # fmt: skip
        if not isinstance(stopping[key], kinds) or isinstance(stopping[key], bool):
            raise ValueError(
                f"checkpoint {path}: early_stopping[{key!r}] has the wrong type "
                f"{type(stopping[key]).__name__}"
            )
    if not 0 <= int(stopping["best_epoch"]) <= state["epoch"] and stopping["best_epoch"] != -1:
        raise ValueError(f"checkpoint {path}: best_epoch {stopping['best_epoch']} is out of range")
    permutation = state.get("permutation")
    if permutation is not None and (
        not isinstance(permutation, torch.Tensor) or permutation.dtype != torch.int64
    ):
        raise ValueError(f"checkpoint {path}: permutation must be an int64 tensor")
    if permutation is not None and not torch.equal(
        permutation.reshape(-1).sort().values, torch.arange(permutation.numel())
    ):
        raise ValueError(f"checkpoint {path}: permutation is not a permutation of 0..N-1")


def check_resumable(checkpoint: dict[str, Any], config: Any, world_size: int) -> None:
    """Refuse to resume with options that differ from the checkpoint's.

    Raises:
        ValueError: listing every differing option.
    """
    from tt_gnn.training.config import RESUME_KEYS

    saved = checkpoint.get("config", {})
    current = config.to_dict()
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {current[key]!r}"
        for key in RESUME_KEYS
        if saved.get(key) != current[key]
    ]
    if checkpoint.get("world_size", 1) != world_size:
        differences.append(
            f"world_size: checkpoint {checkpoint.get('world_size')}, now {world_size}"
        )
    if differences:
        raise ValueError(
            "cannot resume: the checkpoint was made with different options: "
            + "; ".join(differences)
        )


def checkpoint_to_resume(config: Any, world_size: int, verbose: bool) -> dict[str, Any] | None:
    """The checkpoint to continue from, after every check; None to start from scratch.

    Raises:
        ValueError: a checkpoint exists but ``resume`` is off (it would be overwritten), or it
            cannot be read, is malformed, or was made with other options.
    """
    if config.checkpoint_dir is None:
        return None
    path = checkpoint_path(config.checkpoint_dir)
    if not config.resume:
        if path.exists():
            raise ValueError(
                f"checkpoint {path} already exists; pass --resume to continue it, or choose "
                "another --checkpoint-dir"
            )
        return None
    if not path.exists() and not path.is_symlink():
        if verbose:
            print(f"no checkpoint at {path}: starting from scratch")
        return None
    checkpoint = load_checkpoint(path)
    validate_training_state(checkpoint, path)
    check_resumable(checkpoint, config, world_size)
    return checkpoint
