"""Torch-native GraphSAGE and GAT (:mod:`tt_gnn.gnn.layers`) on :class:`~tt_gnn.gnn.blocks.Block`.

Same architecture, hyper-parameters, parameter names and initialization as the DGL models of
:mod:`tt_gnn.dgl.models`: with the same seed both build identical weights, and a state dict
loads into either.

Example:
    >>> model = build_model("gat", torch.nn.Embedding(10, 8), 8, 4, 3, heads=2)
    >>> model.heads, [layer.fc.out_features for layer in model.layers]
    (2, [8, 6])
"""

from __future__ import annotations

import torch
from torch import nn

from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.classifier import (
    MODEL_NAMES,
    GATBase,
    GraphSAGEBase,
    NodeClassifier,
    make_classifier,
)
from tt_gnn.gnn.layers import GATConv, SAGEConv

__all__ = ["GraphSAGE", "GAT", "build_model", "MODEL_NAMES"]


class GraphSAGE(GraphSAGEBase):
    """GraphSAGE (mean aggregator, :class:`~tt_gnn.gnn.layers.SAGEConv`) on an
    embedding/feature input.

    Args:
        node_input: module mapping ids ``[B]`` to ``[B, input_dim]``.
        input_dim: width of ``node_input``'s output.
        hidden: width of every hidden layer.
        num_classes: output width.
        num_layers: convolutions (default 2).
        dropout: on every layer's input (default 0.5).

    Shapes:
        forward(blocks, input_ids): ``num_layers`` blocks, ``input_ids`` ``[num_src of
        blocks[0]]``. Output: ``[num_dst of blocks[-1], num_classes]``.

    Example:
        >>> model = GraphSAGE(torch.nn.Embedding(10, 8), 8, 16, 3, num_layers=2)
        >>> model.layers
        ModuleList(
          (0): SAGEConv(8, 16, aggregator='mean')
          (1): SAGEConv(16, 3, aggregator='mean')
        )
    """

    def __init__(
        self,
        node_input: nn.Module,
        input_dim: int,
        hidden: int,
        num_classes: int,
        *,
        num_layers: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(
            node_input, input_dim, hidden, num_classes, num_layers=num_layers, dropout=dropout
        )
        for in_width, out_width in zip(self.widths[:-1], self.widths[1:]):
            self.layers.append(SAGEConv(in_width, out_width))

    def convolve(self, index: int, block: Block, h: torch.Tensor) -> torch.Tensor:
        return self.layers[index](block, h)


class GAT(GATBase):
    """GAT (:class:`~tt_gnn.gnn.layers.GATConv`) on an embedding/feature input.

    Hidden layers have ``heads`` heads of width ``hidden`` each (concatenated, so the next
    layer reads ``hidden * heads``); the output layer has ``heads`` heads of width
    ``num_classes``, averaged; ELU between layers. Nodes without in-edges in a block get a
    zero message sum, so give the graph self-loops (the trainer does).

    Args:
        node_input, input_dim, hidden, num_classes, num_layers, dropout: as
            :class:`GraphSAGE`.
        heads: attention heads per layer (default 4).
        attention_dropout: on the attention coefficients (default 0).

    Example:
        >>> model = GAT(torch.nn.Embedding(10, 8), 8, 4, 3, heads=2, num_layers=2)
        >>> model.layers[0].fc.out_features, model.layers[1].fc.in_features
        (8, 8)
    """

    def __init__(
        self,
        node_input: nn.Module,
        input_dim: int,
        hidden: int,
        num_classes: int,
        *,
        num_layers: int = 2,
        heads: int = 4,
        dropout: float = 0.5,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__(
            node_input,
            input_dim,
            hidden,
            num_classes,
            num_layers=num_layers,
            heads=heads,
            dropout=dropout,
            attention_dropout=attention_dropout,
        )
        for in_width, head_width in zip(self.input_widths, self.head_widths):
            self.layers.append(
                GATConv(in_width, head_width, self.heads, attention_dropout=self.attention_dropout)
            )

    def convolve(self, index: int, block: Block, h: torch.Tensor) -> torch.Tensor:
        return self.layers[index](block, h)


def build_model(
    model: str,
    node_input: nn.Module,
    input_dim: int,
    hidden: int,
    num_classes: int,
    *,
    num_layers: int = 2,
    heads: int = 4,
    dropout: float = 0.5,
) -> NodeClassifier:
    """Build ``"sage"`` (:class:`GraphSAGE`) or ``"gat"`` (:class:`GAT`) by name.

    Example:
        >>> build_model("sage", torch.nn.Embedding(10, 8), 8, 4, 3).widths
        [8, 4, 3]
    """
    return make_classifier(
        model,
        GraphSAGE,
        GAT,
        node_input,
        input_dim,
        hidden,
        num_classes,
        num_layers=num_layers,
        heads=heads,
        dropout=dropout,
    )
