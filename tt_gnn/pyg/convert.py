"""Conversions between :class:`tt_gnn.graph.Graph` and ``torch_geometric.data.Data``, and PyG's
graph adapter.

Importing this module registers the adapter, so :func:`tt_gnn.reorder.reorder_graph`,
:func:`tt_gnn.graph.relabel_graph` and graph-aware initializers accept a ``Data`` (they import
it on first use). A relabeled ``Data`` has its node-level tensors permuted, ``edge_index``
renamed (edge order and edge-level tensors unchanged) and the original ids in ``n_id``.

Example:
    >>> from tt_gnn.graph import relabel_graph
    >>> data = to_pyg(Graph.from_edges([0, 1], [1, 2], num_nodes=3))
    >>> data.edge_index.tolist(), from_pyg(data).indices.tolist()
    ([[0, 1], [1, 2]], [0, 1])
    >>> data.x = torch.tensor([[0.0], [1.0], [2.0]])
    >>> moved = relabel_graph(data, [2, 0, 1])
    >>> moved.edge_index.tolist(), moved.x.flatten().tolist(), moved.n_id.tolist()
    ([[1, 2], [2, 0]], [2.0, 0.0, 1.0], [2, 0, 1])
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data, HeteroData

from tt_gnn.graph import Graph, inverse_permutation, register_graph_adapter

__all__ = ["to_pyg", "from_pyg"]


def to_pyg(graph: Graph) -> Data:
    """A ``Data`` with ``graph``'s edges (``edge_index`` ``[2, E]``: sources, destinations) and
    ``num_nodes``; a relabeled graph's original ids go to ``n_id``.

    Example:
        >>> to_pyg(Graph.from_edges([0], [1], num_nodes=3))
        Data(edge_index=[2, 1], num_nodes=3)
    """
    src, dst = graph.edges()
    data = Data(edge_index=torch.stack([src, dst]), num_nodes=graph.num_nodes())
    if graph.original_ids is not None:
        data.n_id = graph.original_ids
    return data


def from_pyg(data: Data) -> Graph:
    """A :class:`Graph` of a ``Data``'s ``edge_index`` (``n_id`` becomes ``original_ids``).

    Example:
        >>> data = Data(edge_index=torch.tensor([[0, 2], [1, 1]]), num_nodes=3)
        >>> from_pyg(data).in_neighbors(1).tolist()
        [0, 2]
    """
    src, dst, total = _PygAdapter().edge_arrays(data, None)
    graph = Graph.from_edges(src, dst, total)
    original = getattr(data, "n_id", None)
    if isinstance(original, torch.Tensor):
        graph = Graph(graph.indptr, graph.indices, original.to(torch.int64).cpu())
    return graph


class _PygAdapter:
    def accepts(self, graph: object) -> bool:
        return isinstance(graph, (Data, HeteroData))

    def edge_arrays(self, graph: Any, num_nodes: int | None):
        if isinstance(graph, HeteroData):
            raise ValueError(
                f"expected a homogeneous torch_geometric Data, got a HeteroData with node types "
                f"{graph.node_types}"
            )
        edge_index = graph.edge_index
        if (
            not isinstance(edge_index, torch.Tensor)
            or edge_index.dim() != 2
            or (edge_index.shape[0] != 2)
        ):
            raise ValueError(
                "expected a Data with an edge_index tensor of shape [2, E], got "
                f"{_describe(edge_index)}"
            )
        total = graph.num_nodes
        if total is None:
            raise ValueError("the Data has no num_nodes and no node-level tensor to infer it")
        edges = edge_index.detach().cpu().numpy().astype(np.int64)
        return edges[0], edges[1], int(total)

    def relabel(self, graph: Any, permutation: np.ndarray) -> Any:
        """Node-level tensors follow their nodes (``Data.is_node_attr``); ``edge_index`` is
        renamed, edges keep their order; ``n_id`` holds the original ids (composed with an
        existing ``n_id``). Index-valued attributes other than ``edge_index`` (e.g. a
        ``train_idx``) are not renamed."""
        _, _, total = self.edge_arrays(graph, None)
        inverse = inverse_permutation(permutation, total)
        order = torch.from_numpy(permutation)
        relabeled = copy.copy(graph)
        for key in graph.keys():
            value = graph[key]
            if key == "edge_index":
                relabeled[key] = inverse.to(value.device)[value]
            elif isinstance(value, torch.Tensor) and graph.is_node_attr(key):
                relabeled[key] = value[order.to(value.device)]
        if "n_id" not in graph:
            relabeled.n_id = order.to(graph.edge_index.device)
        relabeled.num_nodes = total
        return relabeled


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return "None" if value is None else type(value).__name__


register_graph_adapter(_PygAdapter())
