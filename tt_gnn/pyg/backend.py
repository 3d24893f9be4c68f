"""The ``"pyg"`` graph backend: the torch-native sampler with ``torch_geometric.nn`` layers.

PyG's own ``NeighborLoader`` needs pyg-lib or torch-sparse (not on PyPI for current torch), so
the blocks come from :mod:`tt_gnn.gnn.sampler`, which runs on the training device. See
:mod:`tt_gnn.gnn.backend` for the interface.

Example:
    >>> from tt_gnn.graph import Graph
    >>> prepared = BACKEND.prepare(Graph.from_edges([0, 1], [1, 2]), "cpu", self_loops=True)
    >>> model = BACKEND.build_model("gat", torch.nn.Embedding(3, 4), 4, 2, 2, num_layers=1,
    ...                             heads=2, dropout=0.0)
    >>> batches = BACKEND.batches(prepared, torch.arange(3), [2], 3, seed=0)
    >>> [model(blocks, input_ids).shape for input_ids, _, blocks in batches]
    [torch.Size([3, 2])]
"""

from __future__ import annotations

import torch
import torch_geometric

from tt_gnn.gnn.backend import GraphBackend
from tt_gnn.pyg.models import MODELS

__all__ = ["PygBackend", "BACKEND"]


class PygBackend(GraphBackend):
    """Torch-native sampling, ``torch_geometric.nn`` layers; any device torch supports."""

    name = "pyg"
    models = MODELS

    def available(self, device: torch.device | str) -> tuple[bool, str]:
        version = torch_geometric.__version__
        return True, f"torch-native sampler and torch_geometric {version} layers"


BACKEND = PygBackend()
