"""Node classifiers on top of a node-input module, written once for every graph backend.

The input of layer 1 is ``node_input(ids)``: a :class:`~tt_gnn.embedding.TTEmbedding`, a full
``torch.nn.Embedding`` baseline, or :class:`NodeFeatures` (fixed features). Training runs on
sampled blocks (``forward(blocks, input_ids)``); evaluation runs layer by layer over the whole
graph with full neighbourhoods (:meth:`NodeClassifier.layerwise_inference`), in chunks of
destination nodes, so that at most one layer's output (``N x width``) exists at a time and the
embedding table is never materialized.

:class:`GraphSAGEBase` and :class:`GATBase` hold the architecture (widths, dropout, activations,
head handling, layer construction); a backend (:mod:`tt_gnn.gnn.models`, :mod:`tt_gnn.dgl.models`,
:mod:`tt_gnn.pyg.models`) supplies only a :class:`LayerFactory`: how to make its convolution
layers, how a :class:`~tt_gnn.gnn.blocks.Block` becomes the block they read, and how to call
them. Its ``GraphSAGE``/``GAT`` are subclasses that set ``layer_factory``, and its
``build_model`` is :meth:`ModelFamily.build` of those two.

Example:
    >>> from tt_gnn.gnn.models import build_model
    >>> from tt_gnn.graph import Graph
    >>> model = build_model("sage", torch.nn.Embedding(100, 16), 16, 32, 4, num_layers=2)
    >>> generator = torch.Generator().manual_seed(0)
    >>> src, dst = torch.randint(0, 100, (2, 400), generator=generator)
    >>> model.layerwise_inference(Graph.from_edges(src, dst, 100), chunk_size=50).shape
    torch.Size([100, 4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from tt_gnn.checks import positive_int, probability
from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.dropout import Dropout
from tt_gnn.gnn.sampler import full_neighbor_block
from tt_gnn.graph import GraphLike, as_graph

__all__ = [
    "MODEL_NAMES",
    "NodeFeatures",
    "NodeClassifier",
    "LayerFactory",
    "GraphSAGEBase",
    "GATBase",
    "ModelFamily",
    "shard_bounds",
]

MODEL_NAMES = ("sage", "gat")


class NodeFeatures(nn.Module):
    """Fixed node features as an input module: ``forward(ids) -> features[ids]``.

    Args:
        features: float ``[N, F]``; stored as a buffer (not trained, moved with ``.to()``).

    Shapes:
        ids: any shape ``S``, int64 in ``[0, N)``. Output: ``S + (F,)``.

    Example:
        >>> NodeFeatures(torch.eye(3))(torch.tensor([2, 0])).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, features: torch.Tensor) -> None:
        super().__init__()
        if features.dim() != 2 or not features.is_floating_point():
            raise ValueError(
                f"features must be a float [N, F] tensor, got shape {tuple(features.shape)} "
                f"and dtype {features.dtype}"
            )
        self.register_buffer("features", features)

    @property
    def num_embeddings(self) -> int:
        return int(self.features.shape[0])

    @property
    def embedding_dim(self) -> int:
        return int(self.features.shape[1])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.features[ids]

    def __repr__(self) -> str:
        return f"NodeFeatures({self.num_embeddings}, {self.embedding_dim})"


class LayerFactory:
    """What a backend supplies to :class:`GraphSAGEBase` and :class:`GATBase`: its layers and
    the block form they read.

    Subclasses implement :meth:`sage` and :meth:`gat`; the defaults of :meth:`native_block`
    (the :class:`~tt_gnn.gnn.blocks.Block` itself) and :meth:`convolve` (``layer(block, h)``)
    suit layers that read a block and source features, as the torch-native and DGL ones do.

    Example:
        >>> LayerFactory().convolve(lambda block, h: h[: len(block)], [0, 1], torch.ones(3, 2))
        tensor([[1., 1.],
                [1., 1.]])
    """

    def sage(self, in_width: int, out_width: int) -> nn.Module:
        """A mean-aggregator GraphSAGE convolution ``[num_src, in_width] -> [num_dst,
        out_width]``."""
        raise NotImplementedError(
            f"{type(self).__name__} makes no layers; use a backend's model classes"
        )

    def gat(
        self, in_width: int, head_width: int, heads: int, attention_dropout: float
    ) -> nn.Module:
        """A GAT convolution ``[num_src, in_width] -> [num_dst, heads, head_width]`` (or the
        heads concatenated, ``[num_dst, heads * head_width]``)."""
        raise NotImplementedError(
            f"{type(self).__name__} makes no layers; use a backend's model classes"
        )

    def native_block(self, block: Block) -> Any:
        """``block`` in the form the layers read (default: the :class:`Block` itself)."""
        return block

    def convolve(self, layer: nn.Module, block: Any, h: torch.Tensor) -> torch.Tensor:
        """``layer`` on a native ``block`` with source inputs ``h`` -> destination outputs."""
        return layer(block, h)


class NodeClassifier(nn.Module):
    """A stack of graph convolutions on top of a node-input module.

    Subclasses fill ``self.layers`` with layers of their class attribute ``layer_factory`` (a
    :class:`LayerFactory`, which also says how a :class:`~tt_gnn.gnn.blocks.Block` becomes the
    block the layers read and how a layer is called) and implement :meth:`output_width` and
    :meth:`apply_layer`. Dropout is applied to the input of every layer.

    Args:
        node_input: module mapping node ids ``[B]`` to ``[B, input_dim]``.
        num_layers: number of graph convolutions (>= 1).
        dropout: dropout probability on every layer's input, in ``[0, 1)``.
    """

    layer_factory: ClassVar[LayerFactory] = LayerFactory()

    def __init__(self, node_input: nn.Module, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.node_input = node_input
        self.num_layers = positive_int(num_layers, "num_layers")
        # nn.Dropout's distribution with a mask ~3x cheaper to draw on the CPU (gnn/dropout.py)
        self.dropout = Dropout(probability(dropout, "dropout"))
        self.layers = nn.ModuleList()

    def output_width(self, index: int) -> int:
        """Width of layer ``index``'s output."""
        raise NotImplementedError

    def apply_layer(self, index: int, block: Any, h: torch.Tensor) -> torch.Tensor:
        """Layer ``index`` on ``block`` (a native block) with source inputs ``h`` ->
        destination outputs."""
        raise NotImplementedError

    def native_block(self, block: Block) -> Any:
        """``block`` in the form this model's layers read (``layer_factory.native_block``)."""
        return self.layer_factory.native_block(block)

    def convolve(self, index: int, block: Any, h: torch.Tensor) -> torch.Tensor:
        """Layer ``index`` alone on a native ``block`` with source inputs ``h``
        (``layer_factory.convolve``)."""
        return self.layer_factory.convolve(self.layers[index], block, h)

    def forward(self, blocks: Sequence[Any], input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the destination nodes of ``blocks[-1]``.

        Shapes:
            blocks: ``num_layers`` native blocks (from the backend's sampler), first layer
                first. input_ids: int64 ``[num_src of blocks[0]]``, the node ids of the first
                block's sources. Output: ``[num_dst of blocks[-1], num_classes]``.
        """
        if len(blocks) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} blocks, got {len(blocks)}")
        h = self.node_input(input_ids)
        for index, block in enumerate(blocks):
            h = self.apply_layer(index, block, self.dropout(h))
        return h

    @torch.no_grad()
    def layerwise_inference(
        self,
        graph: GraphLike,
        *,
        chunk_size: int = 4096,
        output_nodes: torch.Tensor | None = None,
        shard: tuple[int, int] | None = None,
        gather: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Full-neighbour logits, computed one layer at a time over the whole graph.

        Layer ``l`` is computed for all nodes (the last layer only for ``output_nodes``) in
        chunks of ``chunk_size`` destination nodes, reading the previous layer's output (or the
        input module, for layer 1) for each chunk's sources. Blocks are built on the graph's
        device (put the graph on the GPU to build them there) and moved to ``device``.

        Args:
            graph: a :class:`tt_gnn.graph.Graph` (or any graph-like input, converted), with
                self-loops if the model needs them.
            chunk_size: destination nodes per chunk (default 4096).
            output_nodes: int64 node ids whose logits to return (default: all nodes; repeats
                allowed).
            shard: ``(rank, world_size)``; this process computes only the ``rank``-th of
                ``world_size`` contiguous slices of each layer's nodes and ``gather``
                assembles the full layer (data-parallel evaluation).
            gather: ``gather(local_rows, total_rows) -> all rows`` in rank order, required
                with ``shard``.
            device: where to compute (default: the model's device).
            progress: show a tqdm bar per layer.

        Returns:
            ``[len(output_nodes), num_classes]`` logits (``[N, num_classes]`` by default), on
            ``device``.
        """
        from tqdm.auto import tqdm

        if (shard is None) != (gather is None):
            raise ValueError("shard and gather must be given together")
        chunk_size = positive_int(chunk_size, "chunk_size")
        graph = as_graph(graph)
        device = torch.device(device) if device is not None else _module_device(self)
        all_nodes = torch.arange(graph.num_nodes(), device=graph.device)
        inverse = None
        if output_nodes is not None:
            output_nodes, inverse = torch.unique(
                torch.as_tensor(output_nodes, dtype=torch.int64, device=graph.device),
                return_inverse=True,
            )
        was_training = self.training
        self.eval()
        previous: torch.Tensor | None = None
        try:
            for index in range(self.num_layers):
                last = index == self.num_layers - 1
                targets = output_nodes if last and output_nodes is not None else all_nodes
                local_targets = targets
                if shard is not None:
                    start, stop = shard_bounds(len(targets), *shard)
                    local_targets = targets[start:stop]
                pieces = []
                for start in tqdm(
                    range(0, len(local_targets), chunk_size),
                    desc=f"inference layer {index + 1}",
                    disable=not progress,
                    leave=False,
                ):
                    block = full_neighbor_block(graph, local_targets[start : start + chunk_size])
                    block = block.to(device)
                    if previous is None:
                        h = self.node_input(block.src_ids)
                    else:
                        h = torch.index_select(previous, 0, block.src_ids)
                    pieces.append(self.apply_layer(index, self.native_block(block), h))
                output = (
                    torch.cat(pieces)
                    if pieces
                    else torch.empty(0, self.output_width(index), device=device)
                )
                if shard is not None:
                    output = gather(output, len(targets))
                previous = output
        finally:
            self.train(was_training)
        assert previous is not None
        return previous if inverse is None else previous[inverse.to(previous.device)]


class GraphSAGEBase(NodeClassifier):
    """GraphSAGE architecture: ``num_layers`` mean-aggregator convolutions, ReLU between them.

    Widths: ``input_dim -> hidden -> ... -> hidden -> num_classes``. The layers come from the
    class attribute ``layer_factory`` (a :class:`LayerFactory`); a backend's ``GraphSAGE`` is a
    subclass that sets it (this class alone has no layers to build).

    Args:
        node_input: module mapping ids ``[B]`` to ``[B, input_dim]``.
        input_dim: width of ``node_input``'s output.
        hidden: width of every hidden layer.
        num_classes: output width.
        num_layers: convolutions (default 2).
        dropout: on every layer's input (default 0.5).

    Shapes:
        forward(blocks, input_ids): ``num_layers`` native blocks, ``input_ids`` ``[num_src of
        blocks[0]]``. Output: ``[num_dst of blocks[-1], num_classes]``.
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
        super().__init__(node_input, num_layers, dropout)
        input_dim = positive_int(input_dim, "input_dim")
        hidden = positive_int(hidden, "hidden")
        num_classes = positive_int(num_classes, "num_classes")
        self.widths = [input_dim] + [hidden] * (self.num_layers - 1) + [num_classes]
        self.activation = nn.ReLU()
        for in_width, out_width in zip(self.widths[:-1], self.widths[1:]):
            self.layers.append(self.layer_factory.sage(in_width, out_width))

    def output_width(self, index: int) -> int:
        return self.widths[index + 1]

    def apply_layer(self, index: int, block: Any, h: torch.Tensor) -> torch.Tensor:
        h = self.convolve(index, block, h)
        return h if index == self.num_layers - 1 else self.activation(h)


class GATBase(NodeClassifier):
    """GAT architecture: ``heads`` attention heads per layer, ELU between layers.

    Hidden layers have ``heads`` heads of width ``hidden`` each, concatenated (the next layer
    reads ``hidden * heads``); the output layer has ``heads`` heads of width ``num_classes``,
    averaged. Layer ``i`` reads ``self.input_widths[i]`` and has heads of width
    ``self.head_widths[i]``. Nodes without in-edges in a block get a zero message sum, so give
    the graph self-loops (the trainer does). The layers come from the class attribute
    ``layer_factory``, as for :class:`GraphSAGEBase`.

    Args:
        node_input, input_dim, hidden, num_classes, num_layers, dropout: as
            :class:`GraphSAGEBase`.
        heads: attention heads per layer (default 4).
        attention_dropout: on the attention coefficients (default 0).
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
        super().__init__(node_input, num_layers, dropout)
        input_dim = positive_int(input_dim, "input_dim")
        hidden = positive_int(hidden, "hidden")
        num_classes = positive_int(num_classes, "num_classes")
        self.heads = positive_int(heads, "heads")
        self.attention_dropout = probability(attention_dropout, "attention_dropout")
        layers = self.num_layers
        self.input_widths = [input_dim] + [hidden * self.heads] * (layers - 1)
        self.head_widths = [hidden] * (layers - 1) + [num_classes]
        self.activation = nn.ELU()
        for in_width, head_width in zip(self.input_widths, self.head_widths):
            self.layers.append(
                self.layer_factory.gat(in_width, head_width, self.heads, self.attention_dropout)
            )

    def output_width(self, index: int) -> int:
        width = self.head_widths[index]
        return width if index == self.num_layers - 1 else width * self.heads

    def apply_layer(self, index: int, block: Any, h: torch.Tensor) -> torch.Tensor:
        h = self.convolve(index, block, h)
        h = h.view(h.shape[0], self.heads, self.head_widths[index])
        if index == self.num_layers - 1:
            return h.mean(dim=1)
        return self.activation(h.flatten(1))


@dataclass(frozen=True)
class ModelFamily:
    """One backend's GraphSAGE and GAT classes, built by name with :meth:`build`.

    Example:
        >>> from tt_gnn.gnn.models import GAT, GraphSAGE
        >>> ModelFamily(GraphSAGE, GAT).build("sage", torch.nn.Embedding(10, 8), 8, 4, 3).widths
        [8, 4, 3]
    """

    sage: type[GraphSAGEBase]
    gat: type[GATBase]

    def build(
        self,
        name: str,
        node_input: nn.Module,
        input_dim: int,
        hidden: int,
        num_classes: int,
        *,
        num_layers: int = 2,
        heads: int = 4,
        dropout: float = 0.5,
    ) -> NodeClassifier:
        """Build ``"sage"`` (``self.sage``) or ``"gat"`` (``self.gat``) by name; ``heads`` is
        used by GAT only.

        Raises:
            ValueError: an unknown ``name``, or a bad width, count or probability.
        """
        architecture = (node_input, input_dim, hidden, num_classes)
        if name == "sage":
            return self.sage(*architecture, num_layers=num_layers, dropout=dropout)
        if name == "gat":
            return self.gat(*architecture, num_layers=num_layers, heads=heads, dropout=dropout)
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")


def shard_bounds(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of the ``rank``-th of ``world_size`` near-equal contiguous slices.

    Example:
        >>> [shard_bounds(10, rank, 3) for rank in range(3)]
        [(0, 4), (4, 7), (7, 10)]
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    base, extra = divmod(total, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _module_device(module: nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")
