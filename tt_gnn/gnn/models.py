"""Torch-native GraphSAGE and GAT (:mod:`tt_gnn.gnn.layers`) on :class:`~tt_gnn.gnn.blocks.Block`.

Same architecture, hyper-parameters, parameter names and initialization as the DGL models of
:mod:`tt_gnn.dgl.models`: with the same seed both build identical weights, and a state dict
loads into either. The architecture is :class:`~tt_gnn.gnn.classifier.GraphSAGEBase` /
:class:`~tt_gnn.gnn.classifier.GATBase`; this module supplies only :class:`TorchLayers`.

Example:
    >>> model = build_model("gat", torch.nn.Embedding(10, 8), 8, 4, 3, heads=2)
    >>> model.heads, [layer.fc.out_features for layer in model.layers]
    (2, [8, 6])
"""

from __future__ import annotations

import torch

from tt_gnn.gnn.classifier import MODEL_NAMES, GATBase, GraphSAGEBase, LayerFactory, ModelFamily
from tt_gnn.gnn.layers import GATConv, SAGEConv

__all__ = ["TorchLayers", "GraphSAGE", "GAT", "MODELS", "build_model", "MODEL_NAMES"]


class TorchLayers(LayerFactory):
    """The plain-torch :class:`~tt_gnn.gnn.layers.SAGEConv` and
    :class:`~tt_gnn.gnn.layers.GATConv`, reading :class:`~tt_gnn.gnn.blocks.Block` as is.

    Example:
        >>> TorchLayers().gat(8, 4, 2, 0.0).fc.out_features
        8
    """

    def sage(self, in_width: int, out_width: int) -> torch.nn.Module:
        return SAGEConv(in_width, out_width)

    def gat(
        self, in_width: int, head_width: int, heads: int, attention_dropout: float
    ) -> torch.nn.Module:
        return GATConv(in_width, head_width, heads, attention_dropout=attention_dropout)


class GraphSAGE(GraphSAGEBase):
    """GraphSAGE (mean aggregator, :class:`~tt_gnn.gnn.layers.SAGEConv`) on an
    embedding/feature input; arguments and shapes as
    :class:`~tt_gnn.gnn.classifier.GraphSAGEBase`.

    Example:
        >>> model = GraphSAGE(torch.nn.Embedding(10, 8), 8, 16, 3, num_layers=2)
        >>> model.layers
        ModuleList(
          (0): SAGEConv(8, 16, aggregator='mean')
          (1): SAGEConv(16, 3, aggregator='mean')
        )
    """

    layer_factory = TorchLayers()


class GAT(GATBase):
    """GAT (:class:`~tt_gnn.gnn.layers.GATConv`) on an embedding/feature input; arguments and
    shapes as :class:`~tt_gnn.gnn.classifier.GATBase`.

    Example:
        >>> model = GAT(torch.nn.Embedding(10, 8), 8, 4, 3, heads=2, num_layers=2)
        >>> model.layers[0].fc.out_features, model.layers[1].fc.in_features
        (8, 8)
    """

    layer_factory = TorchLayers()


MODELS = ModelFamily(GraphSAGE, GAT)

build_model = MODELS.build
"""Build ``"sage"`` (:class:`GraphSAGE`) or ``"gat"`` (:class:`GAT`) by name (see
:meth:`~tt_gnn.gnn.classifier.ModelFamily.build`)."""
