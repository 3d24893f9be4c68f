"""Conversions between :class:`tt_gnn.graph.Graph` and ``dgl.DGLGraph``, and DGL's adapter.

Example:
    >>> from tt_gnn.graph import Graph
    >>> g = to_dgl(Graph.from_edges([0, 1], [1, 2], num_nodes=3))
    >>> g.num_nodes(), g.num_edges(), from_dgl(g).indices.tolist()
    (3, 2, [0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tt_gnn.dgl._compat import dgl
from tt_gnn.graph import Graph, register_graph_adapter

__all__ = ["to_dgl", "from_dgl"]


def to_dgl(graph: Graph) -> dgl.DGLGraph:
    """A DGL graph with the same edges (int64 ids, on ``graph``'s device); a relabeled graph's
    original ids go to ``ndata[dgl.NID]``."""
    src, dst = graph.edges()
    result = dgl.graph((src, dst), num_nodes=graph.num_nodes(), idtype=torch.int64)
    if graph.original_ids is not None:
        result.ndata[dgl.NID] = graph.original_ids
    return result


def from_dgl(graph: dgl.DGLGraph) -> Graph:
    """A :class:`Graph` of a homogeneous DGL graph's edges (``ndata[dgl.NID]`` kept)."""
    src, dst, total = _DglAdapter().edge_arrays(graph, None)
    result = Graph.from_edges(src, dst, total)
    original = graph.ndata.get(dgl.NID) if hasattr(graph, "ndata") else None
    if original is not None:
        result = Graph(result.indptr, result.indices, original.to(torch.int64).cpu())
    return result


class _DglAdapter:
    def accepts(self, graph: object) -> bool:
        return isinstance(graph, dgl.DGLGraph)

    def edge_arrays(self, graph: Any, num_nodes: int | None):
        if len(graph.ntypes) != 1 or len(graph.etypes) != 1:
            raise ValueError(
                f"expected a homogeneous DGLGraph, got node types {graph.ntypes} and edge "
                f"types {graph.etypes}"
            )
        src, dst = graph.edges()
        return (
            src.cpu().numpy().astype(np.int64),
            dst.cpu().numpy().astype(np.int64),
            int(graph.num_nodes()),
        )

    def relabel(self, graph: Any, permutation: np.ndarray) -> Any:
        """Node data follow their nodes, edges keep their order, old ids in ``ndata[dgl.NID]``."""
        from tt_gnn.graph import inverse_permutation

        src, dst, total = self.edge_arrays(graph, None)
        inverse = inverse_permutation(permutation, total).numpy()
        device = graph.device
        new_graph = dgl.graph(
            (torch.from_numpy(inverse[src]), torch.from_numpy(inverse[dst])),
            num_nodes=total,
            idtype=graph.idtype,
        ).to(device)
        node_order = torch.from_numpy(permutation).to(device)
        for key, value in graph.ndata.items():
            new_graph.ndata[key] = value[node_order.to(value.device)]
        for key, value in graph.edata.items():
            new_graph.edata[key] = value
        new_graph.ndata[dgl.NID] = node_order.to(graph.idtype)
        return new_graph


register_graph_adapter(_DglAdapter())
