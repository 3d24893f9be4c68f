"""GraphSAGE and GAT node classifiers whose input is a node-embedding module.

The input of layer 1 is ``node_input(ids)``: a :class:`~tt_gnn.embedding.TTEmbedding`, a full
``torch.nn.Embedding`` baseline, or :class:`NodeFeatures` (fixed features). Training runs on
sampled blocks (``forward(blocks, input_ids)``); evaluation runs layer by layer over the whole
graph with full neighborhoods (:meth:`NodeClassifier.layerwise_inference`), in chunks of
destination nodes, so that at most one layer's output (``N x width``) exists at a time and the
embedding table is never materialized.

Example:
    >>> import torch
    >>> from tt_gnn.dgl import dgl
    >>> model = build_model("sage", torch.nn.Embedding(100, 16), 16, 32, 4, num_layers=2)
    >>> graph = dgl.add_self_loop(dgl.rand_graph(100, 400))
    >>> model.layerwise_inference(graph, chunk_size=50).shape
    torch.Size([100, 4])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from tt_gnn.dgl import dgl
from tt_gnn.dgl.convert import to_dgl
from tt_gnn.graph import Graph

__all__ = [
    "NodeFeatures",
    "NodeClassifier",
    "GraphSAGE",
    "GAT",
    "build_model",
    "shard_bounds",
    "iterate_quietly",
    "MODEL_NAMES",
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


class NodeClassifier(nn.Module):
    """A stack of DGL graph convolutions on top of a node-input module.

    Subclasses build ``self.layers`` (one ``dgl.nn`` module per layer) and implement
    :meth:`apply_layer`. Dropout is applied to the input of every layer; the activation
    (ELU for GAT, ReLU for SAGE) follows every layer except the last.

    Args:
        node_input: module mapping node ids ``[B]`` to ``[B, input_dim]``.
        num_layers: number of graph convolutions (>= 1).
        dropout: dropout probability on every layer's input, in ``[0, 1)``.
    """

    def __init__(self, node_input: nn.Module, num_layers: int, dropout: float) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.node_input = node_input
        self.num_layers = num_layers
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList()

    def output_width(self, index: int) -> int:
        """Width of layer ``index``'s output."""
        raise NotImplementedError

    def _empty_output(self, index: int, device: torch.device) -> torch.Tensor:
        return torch.empty(0, self.output_width(index), device=device)

    def apply_layer(self, index: int, block: dgl.DGLGraph, h: torch.Tensor) -> torch.Tensor:
        """Layer ``index`` on ``block`` with source-node inputs ``h`` -> destination outputs."""
        raise NotImplementedError

    def forward(self, blocks: Sequence[dgl.DGLGraph], input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the destination nodes of ``blocks[-1]``.

        Shapes:
            blocks: ``num_layers`` message-flow graphs from a DGL sampler.
            input_ids: int64 ``[blocks[0].num_src_nodes()]``, the node ids of the first
                block's sources. Output: ``[blocks[-1].num_dst_nodes(), num_classes]``.
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
        graph: dgl.DGLGraph,
        *,
        chunk_size: int = 4096,
        output_nodes: torch.Tensor | None = None,
        shard: tuple[int, int] | None = None,
        gather: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Full-neighbor logits, computed one layer at a time over the whole graph.

        Layer ``l`` is computed for all nodes (the last layer only for ``output_nodes``) in
        chunks of ``chunk_size`` destination nodes, reading the previous layer's output (or the
        input module, for layer 1) for each chunk's sources.

        Args:
            graph: the (CPU) graph, with self-loops if the model needs them.
            chunk_size: destination nodes per chunk (default 4096).
            output_nodes: int64 node ids whose logits to return (default: all nodes).
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
        device = torch.device(device) if device is not None else _module_device(self)
        if isinstance(graph, Graph):
            graph = to_dgl(graph)
        num_nodes = graph.num_nodes()
        if output_nodes is None:
            output_nodes = torch.arange(num_nodes)
        output_nodes = output_nodes.long().cpu()
        was_training = self.training
        self.eval()
        sampler = dgl.dataloading.MultiLayerFullNeighborSampler(1)
        previous: torch.Tensor | None = None
        try:
            for index in range(self.num_layers):
                last = index == self.num_layers - 1
                targets = output_nodes if last else torch.arange(num_nodes)
                local_targets = targets
                if shard is not None:
                    start, stop = shard_bounds(len(targets), *shard)
                    local_targets = targets[start:stop]
                pieces = []
                loader = dgl.dataloading.DataLoader(
                    graph, local_targets, sampler, batch_size=chunk_size, shuffle=False
                )
                for input_ids, _, blocks in tqdm(
                    iterate_quietly(loader),
                    total=len(loader),
                    desc=f"inference layer {index + 1}",
                    disable=not progress,
                    leave=False,
                ):
                    block = blocks[0].to(device)
                    if previous is None:
                        h = self.node_input(input_ids.to(device))
                    else:
                        h = previous[input_ids].to(device)
                    pieces.append(self.apply_layer(index, block, h))
                output = torch.cat(pieces) if pieces else self._empty_output(index, device)
                if shard is not None:
                    output = gather(output, len(targets))
                previous = output
        finally:
            self.train(was_training)
        assert previous is not None
        return previous


def iterate_quietly(loader: Iterable[Any]) -> Iterator[Any]:
    """Iterate a DGL DataLoader without its CPU-affinity advice warning (one per epoch)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Dataloader CPU affinity opt")
        iterator = iter(loader)
    yield from iterator


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


class GraphSAGE(NodeClassifier):
    """GraphSAGE (``dgl.nn.SAGEConv``, mean aggregator) on an embedding/feature input.

    Args:
        node_input: module mapping ids ``[B]`` to ``[B, input_dim]``.
        input_dim: width of ``node_input``'s output.
        hidden: width of every hidden layer (default 128).
        num_classes: output width.
        num_layers: convolutions (default 2).
        dropout: on every layer's input (default 0.5).
        aggregator: ``"mean"``, ``"gcn"``, ``"pool"`` or ``"lstm"``.

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
        super().__init__(node_input, num_layers, dropout)
        widths = [input_dim] + [hidden] * (num_layers - 1) + [num_classes]
        for index in range(num_layers):
            self.layers.append(dgl.nn.SAGEConv(widths[index], widths[index + 1], aggregator))
        self.widths = widths
        self.activation = nn.ReLU()

    def output_width(self, index: int) -> int:
        return self.widths[index + 1]

    def apply_layer(self, index: int, block: dgl.DGLGraph, h: torch.Tensor) -> torch.Tensor:
        h = self.layers[index](block, h)
        return h if index == self.num_layers - 1 else self.activation(h)


class GAT(NodeClassifier):
    """GAT (``dgl.nn.GATConv``) on an embedding/feature input.

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
        super().__init__(node_input, num_layers, dropout)
        if not isinstance(heads, int) or heads < 1:
            raise ValueError(f"heads must be an int >= 1, got {heads!r}")
        self.heads = heads
        widths = [input_dim] + [hidden * heads] * (num_layers - 1)
        for index in range(num_layers):
            out_width = num_classes if index == num_layers - 1 else hidden
            self.layers.append(
                dgl.nn.GATConv(
                    widths[index],
                    out_width,
                    heads,
                    attn_drop=attention_dropout,
                    allow_zero_in_degree=True,
                )
            )
        self.output_widths = [hidden * heads] * (num_layers - 1) + [num_classes]
        self.activation = nn.ELU()

    def output_width(self, index: int) -> int:
        return self.output_widths[index]

    def apply_layer(self, index: int, block: dgl.DGLGraph, h: torch.Tensor) -> torch.Tensor:
        h = self.layers[index](block, h)  # [dst, heads, width]
        if index == self.num_layers - 1:
            return h.mean(dim=1)
        return self.activation(h.flatten(1))


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
    if model == "sage":
        return GraphSAGE(
            node_input, input_dim, hidden, num_classes, num_layers=num_layers, dropout=dropout
        )
    if model == "gat":
        return GAT(
            node_input,
            input_dim,
            hidden,
            num_classes,
            num_layers=num_layers,
            heads=heads,
            dropout=dropout,
        )
    raise ValueError(f"unknown model {model!r}; expected one of {MODEL_NAMES}")
