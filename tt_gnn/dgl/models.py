"""GraphSAGE and GAT built from ``dgl.nn`` layers, as :mod:`tt_gnn.gnn.classifier` classifiers.

They train on DGL blocks (``dgl.dataloading.NeighborSampler``, :mod:`tt_gnn.dgl.backend`) and
run layer-wise inference through the shared
:meth:`~tt_gnn.gnn.classifier.NodeClassifier.layerwise_inference`, whose
:class:`~tt_gnn.gnn.blocks.Block` chunks become DGL blocks with :func:`to_dgl_block`.
Architecture, parameter names and initialization match the torch-native models
(:mod:`tt_gnn.gnn.models`): a state dict loads into either.

Example:
    >>> from tt_gnn.dgl import dgl
    >>> model = build_model("sage", torch.nn.Embedding(100, 16), 16, 32, 4, num_layers=2)
    >>> graph = dgl.add_self_loop(dgl.rand_graph(100, 400))
    >>> model.layerwise_inference(graph, chunk_size=50).shape
    torch.Size([100, 4])
"""

from __future__ import annotations

import torch
from torch import nn

from tt_gnn.dgl._compat import dgl
from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.classifier import (
    MODEL_NAMES,
    GATBase,
    GraphSAGEBase,
    NodeClassifier,
    make_classifier,
)

__all__ = ["GraphSAGE", "GAT", "build_model", "to_dgl_block", "MODEL_NAMES"]


def to_dgl_block(block: Block) -> dgl.DGLGraph:
    """A :class:`~tt_gnn.gnn.blocks.Block` as a DGL block on the same device, with the node
    ids in ``srcdata[dgl.NID]``/``dstdata[dgl.NID]`` as DGL's samplers set them.

    Example:
        >>> block = Block(torch.tensor([7, 3, 9]), torch.tensor([1, 2]), torch.tensor([0, 1]), 2)
        >>> converted = to_dgl_block(block)
        >>> converted.num_src_nodes(), converted.num_dst_nodes()
        (3, 2)
        >>> converted.srcdata[dgl.NID].tolist()
        [7, 3, 9]
    """
    converted = dgl.create_block(
        (block.src, block.dst),
        num_src_nodes=block.num_src,
        num_dst_nodes=block.num_dst,
        idtype=torch.int64,
        device=block.device,
    )
    converted.srcdata[dgl.NID] = block.src_ids
    converted.dstdata[dgl.NID] = block.dst_ids
    return converted


class GraphSAGE(GraphSAGEBase):
    """GraphSAGE (``dgl.nn.SAGEConv``) on an embedding/feature input.

    Args:
        node_input: module mapping ids ``[B]`` to ``[B, input_dim]``.
        input_dim: width of ``node_input``'s output.
        hidden: width of every hidden layer.
        num_classes: output width.
        num_layers: convolutions (default 2).
        dropout: on every layer's input (default 0.5).
        aggregator: ``"mean"`` (default), ``"gcn"``, ``"pool"`` or ``"lstm"``.

    Example:
        >>> model = GraphSAGE(torch.nn.Embedding(10, 8), 8, 16, 3, num_layers=2)
        >>> [type(layer).__name__ for layer in model.layers]
        ['SAGEConv', 'SAGEConv']
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
        aggregator: str = "mean",
    ) -> None:
        super().__init__(
            node_input, input_dim, hidden, num_classes, num_layers=num_layers, dropout=dropout
        )
        for in_width, out_width in zip(self.widths[:-1], self.widths[1:]):
            self.layers.append(dgl.nn.SAGEConv(in_width, out_width, aggregator))

    def native_block(self, block: Block) -> dgl.DGLGraph:
        return to_dgl_block(block)

    def convolve(self, index: int, block: dgl.DGLGraph, h: torch.Tensor) -> torch.Tensor:
        return self.layers[index](block, h)


class GAT(GATBase):
    """GAT (``dgl.nn.GATConv``, ``allow_zero_in_degree=True``) on an embedding/feature input.

    Hidden layers have ``heads`` heads of width ``hidden`` each (concatenated, so the next
    layer reads ``hidden * heads``); the output layer has ``heads`` heads of width
    ``num_classes``, averaged. Nodes without in-edges in a block get a zero message sum, so
    give the graph self-loops (the trainer does).

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
                dgl.nn.GATConv(
                    in_width,
                    head_width,
                    self.heads,
                    attn_drop=self.attention_dropout,
                    allow_zero_in_degree=True,
                )
            )

    def native_block(self, block: Block) -> dgl.DGLGraph:
        return to_dgl_block(block)

    def convolve(self, index: int, block: dgl.DGLGraph, h: torch.Tensor) -> torch.Tensor:
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
        >>> build_model("gat", torch.nn.Embedding(10, 8), 8, 4, 3, heads=2).heads
        2
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
