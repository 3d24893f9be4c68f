"""Launching training: in this process, under ``torchrun``, or in ``nproc`` spawned processes.

Example:
    >>> from tt_gnn.training.config import TrainConfig
    >>> metrics = run(TrainConfig(epochs=1), nproc=1)         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as multiprocessing

from tt_gnn.checks import positive_int
from tt_gnn.io import check_writable_file
from tt_gnn.training.checkpoint import checkpoint_to_resume
from tt_gnn.training.config import TrainConfig
from tt_gnn.training.distributed import DistributedContext
from tt_gnn.training.loop import train

__all__ = ["run", "main_worker"]


def main_worker(context: DistributedContext, config: TrainConfig) -> None:
    """Entry point of one spawned data-parallel process (``distributed.spawn`` calls it)."""
    threads = 1 if config.deterministic else (os.cpu_count() or 1) // context.world_size
    torch.set_num_threads(max(1, threads))
    train(config, context=context)


def check_output_paths(config: TrainConfig) -> None:
    """Fail before any work when an output path cannot be written."""
    if config.output_json is not None:
        check_writable_file(config.output_json, "--output-json")
    if config.checkpoint_dir is not None:
        folder = Path(config.checkpoint_dir)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--checkpoint-dir {str(folder)!r} exists and is not a directory")
        check_writable_file(folder / "checkpoint.pt", "--checkpoint-dir")


def _worker_error(error: Exception) -> Exception:
    """A spawned worker's exception as the same one-line error in the parent when it was a
    user error (its last traceback line is ``ValueError: ...``)."""
    last = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    for kind in (ValueError, FileNotFoundError, MemoryError, IndexError):
        prefix = f"{kind.__name__}: "
        if last.startswith(prefix) or f".{prefix}" in last:
            return kind(last.split(prefix, 1)[1])
    return RuntimeError(f"a training process failed: {last}")


def run(config: TrainConfig, nproc: int = 1, devices: Sequence[int] = ()) -> dict[str, Any] | None:
    """Train in this process, under torchrun, or in ``nproc`` spawned processes.

    Returns the metrics in the main process (None on non-zero ranks under torchrun; spawned
    processes return them through ``config.output_json``, a temporary file when not set).
    """
    from tt_gnn.training.distributed import (
        context_from_environment,
        initialize,
        launched_by_torchrun,
        shutdown,
        spawn,
    )

    nproc = positive_int(nproc, "nproc")
    check_output_paths(config)
    if devices and not torch.cuda.is_available():
        raise ValueError(f"--devices {list(devices)} requested, but this torch has no CUDA device")
    if launched_by_torchrun():
        context = context_from_environment(devices)
        initialize(context)
        try:
            result = train(config, context=context)
        finally:
            shutdown(context)
        return result.metrics if context.is_main else None
    if nproc > 1:
        with tempfile.TemporaryDirectory(prefix="tt-gnn-") as folder:
            if config.output_json is None:
                config = dataclasses.replace(config, output_json=os.path.join(folder, "m.json"))
            # Resume checks in the parent: a bad checkpoint is one error, not nproc tracebacks.
            checkpoint_to_resume(config, nproc, verbose=False)
            try:
                spawn(main_worker, config, nproc, devices)
            except multiprocessing.ProcessRaisedException as error:
                raise _worker_error(error) from error
            with open(config.output_json) as stream:
                return json.load(stream)
    if devices:
        config = dataclasses.replace(config, device=f"cuda:{devices[0]}")
    return train(config).metrics
