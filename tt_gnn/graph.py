"""Graph inputs accepted across tt-gnn, validated and converted without importing DGL eagerly.

A graph may be given as
- a homogeneous ``dgl.DGLGraph``,
- a square ``scipy.sparse`` matrix (non-zeros are edges),
- a ``(src, dst)`` pair of integer arrays or tensors, with ``num_nodes`` given separately
  (otherwise ``max(id) + 1``).

Every function here raises a ``ValueError``/``TypeError`` naming the offending value.

Example:
    >>> src, dst, n = edge_arrays(([0, 1], [1, 2]))
    >>> symmetric_adjacency((src, dst), num_nodes=n).toarray()
    array([[0., 1., 0.],
           [1., 0., 1.],
           [0., 1., 0.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["GraphLike", "edge_arrays", "symmetric_adjacency", "is_dgl_graph"]

GraphLike = Any  # DGLGraph | scipy.sparse matrix | tuple[array, array]


def is_dgl_graph(graph: object) -> bool:
    """True for a ``dgl.DGLGraph`` (checked by type name, so DGL is not imported)."""
    return any(cls.__name__ == "DGLGraph" for cls in type(graph).__mro__)


def _as_int_array(values: object, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer ids, got a tensor of dtype {values.dtype}")
        array = values.detach().cpu().numpy()
    else:
        array = np.asarray(values)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{name} must hold integer ids, got an array of dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(array.shape)}")
    return array.astype(np.int64, copy=False)


def edge_arrays(
    graph: GraphLike, num_nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(src, dst, num_nodes)`` as int64 numpy arrays, validated.

    Args:
        graph: a DGLGraph, a square scipy.sparse matrix, or a ``(src, dst)`` pair.
        num_nodes: node count for a ``(src, dst)`` pair (default ``max(id) + 1``); for the
            other inputs it must match the graph when given.

    Raises:
        ValueError: negative or out-of-range ids, a non-square matrix, a heterogeneous graph,
            mismatched ``src``/``dst`` lengths, or a graph with no nodes.
        TypeError: float ids or an unsupported graph type.
    """
    if is_dgl_graph(graph):
        if len(graph.ntypes) != 1 or len(graph.etypes) != 1:
            raise ValueError(
                f"expected a homogeneous DGLGraph, got node types {graph.ntypes} and edge "
                f"types {graph.etypes}"
            )
        src_t, dst_t = graph.edges()
        src, dst = src_t.cpu().numpy().astype(np.int64), dst_t.cpu().numpy().astype(np.int64)
        total = int(graph.num_nodes())
    elif sp.issparse(graph):
        rows, cols = graph.shape
        if rows != cols:
            raise ValueError(f"adjacency matrix must be square, got shape {graph.shape}")
        coo = graph.tocoo()
        src, dst = coo.row.astype(np.int64), coo.col.astype(np.int64)
        total = int(rows)
    elif isinstance(graph, (tuple, list)) and len(graph) == 2:
        src = _as_int_array(graph[0], "src")
        dst = _as_int_array(graph[1], "dst")
        if src.shape != dst.shape:
            raise ValueError(
                f"src and dst must have the same length, got {src.shape[0]} and {dst.shape[0]}"
            )
        largest = int(max(src.max(initial=-1), dst.max(initial=-1)))
        total = largest + 1 if num_nodes is None else int(num_nodes)
    else:
        raise TypeError(
            "graph must be a DGLGraph, a square scipy.sparse matrix or a (src, dst) pair, got "
            f"{type(graph).__name__}"
        )
    if num_nodes is not None and int(num_nodes) != total:
        raise ValueError(f"num_nodes={num_nodes} does not match the graph's {total} nodes")
    if total < 1:
        raise ValueError(f"graph must have at least one node, got {total}")
    for name, ids in (("src", src), ("dst", dst)):
        if ids.size:
            low, high = int(ids.min()), int(ids.max())
            if low < 0:
                raise ValueError(f"{name} contains negative node id {low}; ids must be >= 0")
            if high >= total:
                raise ValueError(
                    f"{name} contains node id {high}, out of range for num_nodes={total} "
                    f"(valid ids are 0..{total - 1})"
                )
    return src, dst, total


def symmetric_adjacency(
    graph: GraphLike,
    num_nodes: int | None = None,
    *,
    drop_self_loops: bool = True,
    dtype: type = np.float64,
) -> sp.csr_matrix:
    """Symmetrized 0/1 adjacency in CSR: duplicates merged, self-loops dropped by default.

    Shapes:
        Output: ``(num_nodes, num_nodes)``; entry ``(u, v)`` is 1 when ``u -> v`` or
        ``v -> u`` is an edge.
    """
    src, dst, total = edge_arrays(graph, num_nodes)
    if drop_self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    data = np.ones(rows.shape[0], dtype=dtype)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(total, total))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix
