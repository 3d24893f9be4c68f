"""Training GraphSAGE/GAT on TT, full or feature inputs, by responsibility:

- :mod:`~tt_gnn.training.config`: :class:`TrainConfig`, validated (no heavy imports);
- :mod:`~tt_gnn.training.pipeline`: load and reorder the data, build the input and the model;
- :mod:`~tt_gnn.training.loop`: :func:`train` (minibatches, evaluation, early stopping);
- :mod:`~tt_gnn.training.checkpoint`: the checkpoint file, its schema and resume checks;
- :mod:`~tt_gnn.training.distributed`: process groups and collective helpers;
- :mod:`~tt_gnn.training.launch`: :func:`run` in one process, under torchrun, or spawned.

Names are imported on first use, so ``import tt_gnn.training.config`` stays light.

Example:
    >>> from tt_gnn.training import TrainConfig
    >>> TrainConfig(dataset="cora").model
    'sage'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "tt_gnn.training.config",
    "RESUME_KEYS": "tt_gnn.training.config",
    "PreparedData": "tt_gnn.training.pipeline",
    "prepare_data": "tt_gnn.training.pipeline",
    "apply_permutation": "tt_gnn.training.pipeline",
    "build_node_input": "tt_gnn.training.pipeline",
    "build_classifier": "tt_gnn.training.pipeline",
    "seed_everything": "tt_gnn.training.pipeline",
    "TrainResult": "tt_gnn.training.loop",
    "train": "tt_gnn.training.loop",
    "evaluate": "tt_gnn.training.loop",
    "run": "tt_gnn.training.launch",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tt_gnn.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
