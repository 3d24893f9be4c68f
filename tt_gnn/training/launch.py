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
from typing import Any

import torch

from tt_gnn.training.config import TrainConfig
from tt_gnn.training.distributed import DistributedContext
from tt_gnn.training.loop import train

__all__ = ["run", "main_worker"]


def main_worker(context: DistributedContext, config: TrainConfig) -> None:
    """Entry point of one spawned data-parallel process (see ``tt_gnn.distributed.spawn``)."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.world_size))
    train(config, context=context)


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
            spawn(main_worker, config, nproc, devices)
            with open(config.output_json) as stream:
                return json.load(stream)
    if devices:
        config = dataclasses.replace(config, device=f"cuda:{devices[0]}")
    return train(config).metrics
