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
from tt_gnn.gnn.classifier import MODEL_NAMES, GATBase, GraphSAGEBase, LayerFactory, ModelFamily

__all__ = [
    "DGLLayers",
    "GraphSAGE",
    "GAT",
    "MODELS",
    "build_model",
    "to_dgl_block",
    "MODEL_NAMES",
]


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


class DGLLayers(LayerFactory):
    """``dgl.nn.SAGEConv`` (mean) and ``dgl.nn.GATConv`` (``allow_zero_in_degree=True``), reading
    DGL blocks (:func:`to_dgl_block`).

    Example:
        >>> DGLLayers().sage(8, 4)
        SAGEConv(
          (feat_drop): Dropout(p=0.0, inplace=False)
          (fc_neigh): Linear(in_features=8, out_features=4, bias=False)
          (fc_self): Linear(in_features=8, out_features=4, bias=True)
        )
    """

    def sage(self, in_width: int, out_width: int) -> nn.Module:
        return dgl.nn.SAGEConv(in_width, out_width, "mean")

    def gat(
        self, in_width: int, head_width: int, heads: int, attention_dropout: float
    ) -> nn.Module:
        return dgl.nn.GATConv(
            in_width, head_width, heads, attn_drop=attention_dropout, allow_zero_in_degree=True
        )

    def native_block(self, block: Block) -> dgl.DGLGraph:
        return to_dgl_block(block)


class GraphSAGE(GraphSAGEBase):
    """GraphSAGE (``dgl.nn.SAGEConv``, mean) on an embedding/feature input; arguments and
    shapes as :class:`~tt_gnn.gnn.classifier.GraphSAGEBase`.

    Example:
        >>> model = GraphSAGE(torch.nn.Embedding(10, 8), 8, 16, 3, num_layers=2)
        >>> [type(layer).__name__ for layer in model.layers]
        ['SAGEConv', 'SAGEConv']
    """

    layer_factory = DGLLayers()


class GAT(GATBase):
    """GAT (``dgl.nn.GATConv``, ``allow_zero_in_degree=True``) on an embedding/feature input;
    arguments and shapes as :class:`~tt_gnn.gnn.classifier.GATBase`.

    Example:
        >>> model = GAT(torch.nn.Embedding(10, 8), 8, 4, 3, heads=2, num_layers=2)
        >>> model.layers[0].fc.out_features, model.layers[1].fc.in_features
        (8, 8)
    """

    layer_factory = DGLLayers()


MODELS = ModelFamily(GraphSAGE, GAT)

build_model = MODELS.build
"""Build ``"sage"`` (:class:`GraphSAGE`) or ``"gat"`` (:class:`GAT`) by name (see
:meth:`~tt_gnn.gnn.classifier.ModelFamily.build`)."""
