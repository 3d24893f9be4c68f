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

from collections.abc import Sequence

import torch
import torch_geometric
from torch import nn

from tt_gnn.gnn.backend import PreparedGraph, prepare_graph
from tt_gnn.gnn.classifier import NodeClassifier
from tt_gnn.gnn.sampler import NeighborBatches
from tt_gnn.graph import Graph
from tt_gnn.pyg.models import build_model

__all__ = ["PygBackend", "BACKEND"]


class PygBackend:
    """Torch-native sampling, ``torch_geometric.nn`` layers; any device torch supports."""

    name = "pyg"

    def available(self, device: torch.device | str) -> tuple[bool, str]:
        version = torch_geometric.__version__
        return True, f"torch-native sampler and torch_geometric {version} layers"

    def prepare(
        self, graph: Graph, device: torch.device | str, *, self_loops: bool
    ) -> PreparedGraph:
        return prepare_graph(graph, device, self_loops=self_loops)

    def build_model(
        self,
        name: str,
        node_input: nn.Module,
        input_dim: int,
        hidden: int,
        num_classes: int,
        *,
        num_layers: int,
        heads: int,
        dropout: float,
    ) -> NodeClassifier:
        return build_model(
            name,
            node_input,
            input_dim,
            hidden,
            num_classes,
            num_layers=num_layers,
            heads=heads,
            dropout=dropout,
        )

    def batches(
        self,
        prepared: PreparedGraph,
        seeds: torch.Tensor,
        fanouts: Sequence[int],
        batch_size: int,
        *,
        seed: int,
    ) -> NeighborBatches:
        return NeighborBatches(prepared.native, seeds, fanouts, batch_size, seed=seed)

    def __repr__(self) -> str:
        return "PygBackend()"


BACKEND = PygBackend()
