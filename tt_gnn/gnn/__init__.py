"""The torch-native GNN training step: blocks, neighbour sampling, layers, models, backends.

Imports neither DGL nor PyG; runs wherever torch runs (CPU or CUDA).

- :mod:`tt_gnn.gnn.blocks`: :class:`Block`, one layer's message-flow graph;
- :mod:`tt_gnn.gnn.sampler`: uniform neighbour sampling without replacement on the graph's
  device (:func:`sample_blocks`, :class:`NeighborBatches`, :func:`full_neighbor_block`);
- :mod:`tt_gnn.gnn.layers`: ``SAGEConv`` (mean) and ``GATConv`` in plain torch, with DGL's
  parameter names and the translations to PyG's;
- :mod:`tt_gnn.gnn.classifier`: the backend-independent :class:`NodeClassifier` (sampled
  forward, layer-wise inference), the GraphSAGE and GAT architectures built from the
  ``LayerFactory`` a backend supplies, and :class:`NodeFeatures`;
- :mod:`tt_gnn.gnn.models`: the torch-native ``GraphSAGE`` and ``GAT``;
- :mod:`tt_gnn.gnn.backend`: the :class:`GraphBackend` interface the trainer uses and the
  ``"torch"``/``"dgl"``/``"pyg"``/``"auto"`` registry.

The torch-native path uses its own layers, not ``torch_geometric.nn``: the core must not need
an optional framework, plain ``index_select``/``index_add_`` message passing is all these two
convolutions need, and owning the layers lets them keep DGL's parameter names and
initialization (a seed gives the same model in every backend; checkpoints move between the
DGL and torch backends unchanged).
"""

from tt_gnn.gnn.backend import (
    GraphBackend,
    PreparedGraph,
    graph_backends,
    resolve_graph_backend,
)
from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.classifier import MODEL_NAMES, NodeClassifier, NodeFeatures, shard_bounds
from tt_gnn.gnn.models import GAT, GraphSAGE, build_model
from tt_gnn.gnn.sampler import NeighborBatches, full_neighbor_block, sample_blocks

__all__ = [
    "Block",
    "sample_blocks",
    "full_neighbor_block",
    "NeighborBatches",
    "NodeClassifier",
    "NodeFeatures",
    "GraphSAGE",
    "GAT",
    "build_model",
    "MODEL_NAMES",
    "shard_bounds",
    "GraphBackend",
    "PreparedGraph",
    "graph_backends",
    "resolve_graph_backend",
]
