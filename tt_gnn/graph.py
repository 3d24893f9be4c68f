"""Graphs in tt-gnn: one framework-free :class:`Graph` and one adapter protocol for inputs.

:class:`Graph` is a directed graph stored as CSR by destination (``indices[indptr[v]:indptr[v+1]]``
are the sources of the edges into ``v``) in int64 torch tensors, plus the original ids of a
relabeled graph. Datasets produce it, reordering relabels it, and every training backend (torch,
DGL, PyG) converts it to its own format.

Public functions accept any *graph-like* input through :func:`edge_arrays` and
:func:`relabel_graph`, which dispatch on registered :class:`GraphAdapter` objects:

- :class:`Graph`;
- a square ``scipy.sparse`` matrix (stored non-zero entries are edges; explicit zeros are not);
- a ``(src, dst)`` pair of integer arrays or tensors (``num_nodes`` given separately, otherwise
  ``max(id) + 1``);
- a ``dgl.DGLGraph`` or a ``torch_geometric.data.Data``: their adapters live in
  :mod:`tt_gnn.dgl` and :mod:`tt_gnn.pyg` and are imported on first use, so neither framework
  is imported here.

A new framework registers one adapter with :func:`register_graph_adapter`.

Example:
    >>> graph = Graph.from_edges([0, 1], [1, 2], num_nodes=3)
    >>> graph.num_nodes(), graph.num_edges(), graph.in_neighbors(1).tolist()
    (3, 2, [0])
    >>> src, dst, n = edge_arrays(([0, 1], [1, 2]))
    >>> symmetric_adjacency((src, dst), num_nodes=n).toarray()
    array([[0., 1., 0.],
           [1., 0., 1.],
           [0., 1., 0.]])
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "Graph",
    "GraphLike",
    "GraphAdapter",
    "register_graph_adapter",
    "edge_arrays",
    "relabel_graph",
    "as_graph",
    "symmetric_adjacency",
    "inverse_permutation",
]

GraphLike = Any  # Graph | scipy.sparse matrix | (src, dst) | DGLGraph | torch_geometric Data


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
    if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} contains node id {int(array.max())}, larger than int64 allows")
    return array.astype(np.int64, copy=False)


def _check_ids(src: np.ndarray, dst: np.ndarray, total: int) -> None:
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


def inverse_permutation(permutation: Any, num_nodes: int) -> torch.Tensor:
    """``inverse[permutation[i]] = i`` for a bijection of ``0..num_nodes-1`` (checked).

    Example:
        >>> inverse_permutation([2, 0, 1], 3).tolist()
        [1, 2, 0]
    """
    order = torch.as_tensor(np.asarray(permutation), dtype=torch.int64).cpu()
    if order.shape != (num_nodes,):
        raise ValueError(f"permutation must have shape ({num_nodes},), got {tuple(order.shape)}")
    if num_nodes and (int(order.min()) < 0 or int(order.max()) >= num_nodes):
        raise ValueError(f"permutation entries must be in 0..{num_nodes - 1}")
    inverse = torch.full((num_nodes,), -1, dtype=torch.int64)
    inverse[order] = torch.arange(num_nodes)
    if bool((inverse < 0).any()):
        raise ValueError("permutation is not a bijection of 0..N-1 (some ids repeat)")
    return inverse


@dataclass(eq=False)
class Graph:
    """A directed graph as CSR by destination, framework-free.

    Attributes:
        indptr: int64 ``[N + 1]``; the in-edges of node ``v`` are entries
            ``indptr[v] .. indptr[v+1]-1``.
        indices: int64 ``[E]``: the source of each in-edge.
        original_ids: int64 ``[N]`` or None: for a relabeled graph, node ``i`` was node
            ``original_ids[i]`` of the graph it came from (like DGL's ``ndata[dgl.NID]``).

    Example:
        >>> g = Graph.from_edges([0, 0, 2], [1, 2, 1], num_nodes=3)
        >>> g.indptr.tolist(), g.indices.tolist()
        ([0, 0, 2, 3], [0, 2, 0])
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    original_ids: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.indptr.dim() != 1 or self.indptr.shape[0] < 2:
            raise ValueError(f"indptr must be 1-D with N + 1 >= 2 entries, got {self.indptr.shape}")
        if self.indptr.dtype != torch.int64 or self.indices.dtype != torch.int64:
            raise TypeError("indptr and indices must be int64 tensors")
        if int(self.indptr[-1]) != self.indices.shape[0]:
            raise ValueError(
                f"indptr[-1]={int(self.indptr[-1])} must equal len(indices)={self.indices.shape[0]}"
            )

    @classmethod
    def from_edges(cls, src: Any, dst: Any, num_nodes: int | None = None) -> Graph:
        """Build from edge arrays (validated; duplicates and self-loops are kept).

        Shapes:
            src, dst: ``[E]`` integer ids. Edges keep their relative order within a destination.
        """
        src_array = _as_int_array(src, "src")
        dst_array = _as_int_array(dst, "dst")
        if src_array.shape != dst_array.shape:
            raise ValueError(
                f"src and dst must have the same length, got {src_array.shape[0]} and "
                f"{dst_array.shape[0]}"
            )
        largest = int(max(src_array.max(initial=-1), dst_array.max(initial=-1)))
        total = largest + 1 if num_nodes is None else int(num_nodes)
        _check_ids(src_array, dst_array, total)
        order = np.argsort(dst_array, kind="stable")
        counts = np.bincount(dst_array, minlength=total)
        indptr = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(torch.from_numpy(indptr), torch.from_numpy(src_array[order].copy()))

    @classmethod
    def from_sorted_undirected(cls, src: np.ndarray, dst: np.ndarray, num_nodes: int) -> Graph:
        """From both directions of every edge sorted by ``(src, dst)`` (no sort needed: the
        graph is symmetric, so out-CSR equals in-CSR)."""
        counts = np.bincount(src, minlength=num_nodes)
        indptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(torch.from_numpy(indptr), torch.from_numpy(np.ascontiguousarray(dst)))

    def num_nodes(self) -> int:
        """``N``."""
        return int(self.indptr.shape[0] - 1)

    def num_edges(self) -> int:
        """``E`` (each direction of an undirected edge counts)."""
        return int(self.indices.shape[0])

    @property
    def device(self) -> torch.device:
        return self.indptr.device

    def in_degrees(self, nodes: Any = None) -> torch.Tensor:
        """In-degrees: int64 ``[N]``, or of ``nodes`` (an int gives a 0-d tensor)."""
        degrees = self.indptr[1:] - self.indptr[:-1]
        return degrees if nodes is None else degrees[nodes]

    def in_neighbors(self, node: int) -> torch.Tensor:
        """Sources of the edges into ``node``."""
        return self.indices[int(self.indptr[node]) : int(self.indptr[node + 1])]

    def edges(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(src, dst)`` int64 ``[E]`` in CSR order."""
        dst = torch.repeat_interleave(
            torch.arange(self.num_nodes(), device=self.device), self.in_degrees()
        )
        return self.indices, dst

    def to(self, device: torch.device | str) -> Graph:
        """The same graph with its tensors on ``device``."""
        moved = None if self.original_ids is None else self.original_ids.to(device)
        return Graph(self.indptr.to(device), self.indices.to(device), moved)

    def relabel(self, permutation: Any) -> Graph:
        """New node ``i`` is old node ``permutation[i]``; ``original_ids`` follow.

        Edges into a node keep their relative order.

        Example:
            >>> g = Graph.from_edges([0], [1], num_nodes=2).relabel([1, 0])
            >>> g.edges()[0].tolist(), g.edges()[1].tolist(), g.original_ids.tolist()
            ([1], [0], [1, 0])
        """
        total = self.num_nodes()
        inverse = inverse_permutation(permutation, total).to(self.device)
        order = torch.as_tensor(np.asarray(permutation), dtype=torch.int64).to(self.device)
        degrees = self.in_degrees()[order]
        indptr = torch.zeros(total + 1, dtype=torch.int64, device=self.device)
        torch.cumsum(degrees, 0, out=indptr[1:])
        starts = self.indptr[:-1][order]
        # Position e of the new CSR reads old entry starts[node(e)] + (e - indptr[node(e)]).
        # In place where possible: at most two edge-sized temporaries besides the result.
        offsets = torch.arange(self.num_edges(), device=self.device)
        offsets.sub_(torch.repeat_interleave(indptr[:-1] - starts, degrees))
        neighbours = self.indices[offsets]
        del offsets
        indices = inverse[neighbours]
        original = order if self.original_ids is None else self.original_ids[order]
        return Graph(indptr, indices, original)

    def without_self_loops(self) -> Graph:
        """The graph minus its edges ``v -> v``."""
        src, dst = self.edges()
        keep = src != dst
        degrees = torch.bincount(dst[keep], minlength=self.num_nodes())
        indptr = torch.zeros_like(self.indptr)
        torch.cumsum(degrees, 0, out=indptr[1:])
        return Graph(indptr, src[keep], self.original_ids)

    def with_self_loops(self) -> Graph:
        """Exactly one self-loop per node (existing loops removed first), placed first."""
        plain = self.without_self_loops()
        total = plain.num_nodes()
        src, dst = plain.edges()
        nodes = torch.arange(total, device=self.device)
        return Graph.from_edges(torch.cat([nodes, src]), torch.cat([nodes, dst]), total)._with(
            self.original_ids
        )

    def _with(self, original_ids: torch.Tensor | None) -> Graph:
        return Graph(self.indptr, self.indices, original_ids)

    def __repr__(self) -> str:
        relabeled = ", relabeled" if self.original_ids is not None else ""
        return f"Graph(num_nodes={self.num_nodes()}, num_edges={self.num_edges()}{relabeled})"


class GraphAdapter(Protocol):
    """How tt-gnn reads and relabels one kind of graph object."""

    def accepts(self, graph: object) -> bool:
        """Whether this adapter handles ``graph``."""

    def edge_arrays(
        self, graph: Any, num_nodes: int | None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """``(src, dst, N)`` as int64 numpy arrays (ids not yet range-checked)."""

    def relabel(self, graph: Any, permutation: np.ndarray) -> Any:
        """``graph`` with new node ``i`` = old node ``permutation[i]``, in the input's type,
        carrying the original ids where the type has a place for them."""


_ADAPTERS: list[GraphAdapter] = []
# Frameworks whose adapters load on first use: the top-level module of the graph's type -> the
# tt-gnn module that registers the adapter.
_LAZY_ADAPTERS = {"dgl": "tt_gnn.dgl.convert", "torch_geometric": "tt_gnn.pyg.convert"}


def register_graph_adapter(adapter: GraphAdapter) -> GraphAdapter:
    """Add ``adapter`` (checked before the ones registered earlier)."""
    _ADAPTERS.insert(0, adapter)
    return adapter


def _adapter_for(graph: object) -> GraphAdapter:
    for _ in range(2):
        for adapter in _ADAPTERS:
            if adapter.accepts(graph):
                return adapter
        top = type(graph).__module__.split(".", 1)[0]
        if top not in _LAZY_ADAPTERS:
            break
        importlib.import_module(_LAZY_ADAPTERS[top])
    raise TypeError(
        "graph must be a tt_gnn Graph, a square scipy.sparse matrix, a (src, dst) pair, a "
        f"DGLGraph or a torch_geometric Data, got {type(graph).__name__}"
    )


def edge_arrays(
    graph: GraphLike, num_nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(src, dst, num_nodes)`` as int64 numpy arrays, validated.

    Args:
        graph: any graph-like input (see the module docstring).
        num_nodes: node count for a ``(src, dst)`` pair (default ``max(id) + 1``); for the
            other inputs it must match the graph when given.

    Raises:
        ValueError: negative or out-of-range ids, a non-square matrix, a heterogeneous graph,
            mismatched ``src``/``dst`` lengths, or a graph with no nodes.
        TypeError: float ids or an unsupported graph type.
    """
    src, dst, total = _adapter_for(graph).edge_arrays(graph, num_nodes)
    if num_nodes is not None and int(num_nodes) != total:
        raise ValueError(f"num_nodes={num_nodes} does not match the graph's {total} nodes")
    _check_ids(src, dst, total)
    return src, dst, total


def as_graph(graph: GraphLike, num_nodes: int | None = None) -> Graph:
    """Any graph-like input as a :class:`Graph` (a :class:`Graph` is returned as is)."""
    if isinstance(graph, Graph):
        if num_nodes is not None and int(num_nodes) != graph.num_nodes():
            raise ValueError(
                f"num_nodes={num_nodes} does not match the graph's {graph.num_nodes()} nodes"
            )
        return graph
    src, dst, total = edge_arrays(graph, num_nodes)
    return Graph.from_edges(src, dst, total)


def relabel_graph(graph: GraphLike, permutation: Sequence[int] | np.ndarray | torch.Tensor) -> Any:
    """``graph`` with new node ``i`` = old node ``permutation[i]``, in the input's own type.

    A :class:`Graph` keeps the original ids in ``original_ids``, a DGLGraph in
    ``ndata[dgl.NID]``, a PyG ``Data`` in ``n_id``; a scipy matrix becomes ``P A P^T`` in its
    format; a ``(src, dst)`` pair is relabeled (tensors for tensor input, else numpy).
    """
    order = np.asarray(
        permutation.cpu() if isinstance(permutation, torch.Tensor) else permutation, np.int64
    )
    return _adapter_for(graph).relabel(graph, order)


class _GraphAdapter:
    def accepts(self, graph: object) -> bool:
        return isinstance(graph, Graph)

    def edge_arrays(self, graph: Graph, num_nodes: int | None):
        src, dst = graph.edges()
        return src.cpu().numpy(), dst.cpu().numpy(), graph.num_nodes()

    def relabel(self, graph: Graph, permutation: np.ndarray) -> Graph:
        return graph.relabel(permutation)


class _ScipyAdapter:
    def accepts(self, graph: object) -> bool:
        return sp.issparse(graph)

    def edge_arrays(self, graph: Any, num_nodes: int | None):
        rows, cols = graph.shape
        if rows != cols:
            raise ValueError(f"adjacency matrix must be square, got shape {graph.shape}")
        coo = graph.tocoo()
        stored = coo.data != 0
        return coo.row[stored].astype(np.int64), coo.col[stored].astype(np.int64), int(rows)

    def relabel(self, graph: Any, permutation: np.ndarray) -> Any:
        inverse = inverse_permutation(permutation, graph.shape[0]).numpy()
        coo = graph.tocoo()
        relabeled = sp.coo_matrix(
            (coo.data, (inverse[coo.row], inverse[coo.col])), shape=graph.shape
        )
        return relabeled.asformat(graph.format)


class _EdgePairAdapter:
    def accepts(self, graph: object) -> bool:
        return isinstance(graph, (tuple, list)) and len(graph) == 2

    def edge_arrays(self, graph: Any, num_nodes: int | None):
        src = _as_int_array(graph[0], "src")
        dst = _as_int_array(graph[1], "dst")
        if src.shape != dst.shape:
            raise ValueError(
                f"src and dst must have the same length, got {src.shape[0]} and {dst.shape[0]}"
            )
        largest = int(max(src.max(initial=-1), dst.max(initial=-1)))
        return src, dst, largest + 1 if num_nodes is None else int(num_nodes)

    def relabel(self, graph: Any, permutation: np.ndarray) -> Any:
        inverse = inverse_permutation(permutation, permutation.shape[0])
        first = graph[0]
        if isinstance(first, torch.Tensor):
            mapping = inverse.to(first.device)
            return mapping[graph[0].long()], mapping[graph[1].long()]
        mapping = inverse.numpy()
        return mapping[_as_int_array(graph[0], "src")], mapping[_as_int_array(graph[1], "dst")]


for _adapter in (_EdgePairAdapter(), _ScipyAdapter(), _GraphAdapter()):
    register_graph_adapter(_adapter)


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
    if isinstance(graph, Graph) and num_nodes in (None, graph.num_nodes()):
        # The CSR by destination is A^T itself: no edge arrays (16 bytes an edge) needed.
        total, num_edges = graph.num_nodes(), graph.num_edges()
        index_dtype = np.int32 if max(total, 2 * num_edges) < 2**31 else np.int64
        matrix = sp.csr_matrix(
            (
                np.ones(num_edges, dtype),
                graph.indices.cpu().numpy().astype(index_dtype),  # copies: the graph is kept
                graph.indptr.cpu().numpy().astype(index_dtype),
            ),
            shape=(total, total),
        )
    else:
        src, dst, total = edge_arrays(graph, num_nodes)
        matrix = sp.csr_matrix((np.ones(src.shape[0], dtype), (src, dst)), shape=(total, total))
        del src, dst
    matrix.sum_duplicates()
    matrix.data[:] = 1
    if drop_self_loops:
        rows = np.repeat(np.arange(total, dtype=matrix.indices.dtype), np.diff(matrix.indptr))
        matrix.data[matrix.indices == rows] = 0
        del rows
        matrix.eliminate_zeros()
    matrix = matrix + matrix.T.tocsr()
    matrix.data[:] = 1
    return matrix
