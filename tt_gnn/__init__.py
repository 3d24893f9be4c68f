"""tt-gnn: Tensor-Train compressed node embeddings for graph neural networks.

The public names are imported on first use, so that light entry points (``tt-gnn --help``,
``tt_gnn.options``) do not pay for importing torch.

Example:
    >>> import tt_gnn
    >>> tt_gnn.choose_shapes(1000, 16).q_shapes
    (2, 2, 4)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "TTEmbedding": "tt_gnn.embedding",
    "TTShapes": "tt_gnn.shapes",
    "choose_shapes": "tt_gnn.shapes",
    "ReorderReport": "tt_gnn.reorder",
    "reorder_graph": "tt_gnn.reorder",
    "compute_order": "tt_gnn.reorder",
    "Graph": "tt_gnn.graph",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tt_gnn' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
