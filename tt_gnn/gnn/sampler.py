"""Neighbour sampling on CSR tensors, on whatever device the graph lives on.

Everything here is vectorized torch (no Python loop over nodes) and runs unchanged on CPU and
CUDA. The graph is a :class:`tt_gnn.graph.Graph` (CSR by destination); move it to the training
device once (``graph.to(device)``) and every block is built there.

Sampling is uniform *without* replacement: a node of in-degree ``d`` keeps all its in-edges
when ``d <= fanout`` (or ``fanout == -1``), otherwise a uniformly random ``fanout``-subset of
them, drawn with Floyd's algorithm (``fanout`` vectorized steps over all such nodes, each
checking the picks made so far: ``O(fanout^2)`` work and ``O(fanout)`` memory per node, so
memory is proportional to the sampled edges, never to a hub's full degree). Within a node the
kept edges stay in CSR order.

Randomness is counter-based: the ``j``-th draw for node ``v`` in a layer is a 32-bit integer
hash of ``(salt, v, j)``, where the salts come from the caller's ``seed``. The hash uses only
int64 adds, xors, shifts and products below ``2**63``, so the same seed gives bit-identical
samples on CPU and CUDA, independent of the batch a node is in and of thread counts (a
``torch.Generator`` on the device could not: CPU and CUDA generators draw different streams).
A draw in ``[0, n)`` is ``(hash * n) >> 32``; its bias is below ``n / 2**32`` (2e-5 for a node
of degree 100 000).

Example:
    >>> from tt_gnn.graph import Graph
    >>> graph = Graph.from_edges([1, 2, 3, 0, 0], [0, 0, 0, 1, 2], num_nodes=4)
    >>> sources, counts = sample_neighbors(graph, torch.tensor([0, 1, 3]), fanout=2, seed=0)
    >>> counts.tolist(), len(set(sources[:2].tolist()) - {1, 2, 3}), sources[2:].tolist()
    ([2, 1, 0], 0, [0])
    >>> blocks = sample_blocks(graph, torch.tensor([0]), fanouts=[-1, 2], seed=0)
    >>> [(block.num_src, block.num_dst) for block in blocks]
    [(4, 3), (3, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from tt_gnn.checks import is_integer, positive_int
from tt_gnn.gnn.blocks import Block
from tt_gnn.graph import Graph

__all__ = [
    "sample_neighbors",
    "to_block",
    "sample_blocks",
    "full_neighbor_block",
    "NeighborBatches",
    "check_fanouts",
]

_MASK32 = 0xFFFFFFFF
_GOLDEN32 = 0x9E3779B9  # 2**32 / golden ratio: a Weyl step that visits all 32-bit values


def _take(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[index]`` for 1-D tensors (``index_select``: several times faster than advanced
    indexing on CPU)."""
    return torch.index_select(values, 0, index)


def _mix32(values: torch.Tensor) -> torch.Tensor:
    """A bijective 32-bit integer hash of int64 values in ``[0, 2**32)``.

    Xor-shift / multiply rounds (the "lowbias32" family); both multipliers are below ``2**31``,
    so every product stays below ``2**63``: exact int64 arithmetic on every device.
    """
    values = values ^ (values >> 16)
    values = (values * 0x21F0AAAD) & _MASK32
    values = values ^ (values >> 15)
    values = (values * 0x735A2D97) & _MASK32
    return values ^ (values >> 15)


def _layer_salts(seed: int, num_layers: int) -> list[int]:
    """One 32-bit salt per layer, a pure function of ``seed`` (any Python int)."""
    seed %= 2**64
    base = _mix32(_mix32(torch.tensor(seed & _MASK32)) ^ torch.tensor(seed >> 32))
    steps = torch.arange(1, num_layers + 1, dtype=torch.int64) * _GOLDEN32
    return _mix32((base + steps) & _MASK32).tolist()


def _node_keys(nodes: torch.Tensor, salt: int) -> torch.Tensor:
    """A 32-bit key per node for one layer: hash of ``(salt, node id)``."""
    keys = _mix32((nodes & _MASK32) ^ salt)
    return _mix32(keys ^ (nodes >> 32))


def _choose_without_replacement(
    nodes: torch.Tensor, degrees: torch.Tensor, count: int, salt: int
) -> torch.Tensor:
    """Floyd's algorithm, vectorized over nodes: ``count`` distinct offsets in
    ``[0, degree)`` per node (every degree > count), uniform over subsets, sorted per row.

    Step ``j`` draws ``t`` uniform in ``[0, d - count + j]`` and keeps ``t`` unless it was
    already picked, in which case it keeps ``d - count + j`` (never picked before).
    """
    keys = _node_keys(nodes, salt)
    chosen = torch.empty((nodes.shape[0], count), dtype=torch.int64, device=nodes.device)
    for step in range(count):
        largest = degrees - count + step
        draws = _mix32((keys + step * _GOLDEN32) & _MASK32)
        picks = (draws * (largest + 1)) >> 32
        if step:
            taken = (chosen[:, :step] == picks.unsqueeze(1)).any(dim=1)
            picks = torch.where(taken, largest, picks)
        chosen[:, step] = picks
    return chosen.sort(dim=1).values


def _sample_neighbors(
    graph: Graph, nodes: torch.Tensor, fanout: int, salt: int
) -> tuple[torch.Tensor, torch.Tensor]:
    device = nodes.device
    starts = _take(graph.indptr, nodes)
    degrees = _take(graph.indptr, nodes + 1) - starts
    counts = degrees if fanout < 0 else degrees.clamp(max=fanout)
    total = int(counts.sum())
    node_count = nodes.shape[0]
    owner = torch.repeat_interleave(
        torch.arange(node_count, device=device), counts, output_size=total
    )
    first_edge = torch.cumsum(counts, 0) - counts
    offsets = torch.arange(total, device=device) - _take(first_edge, owner)
    if fanout >= 0:
        rows = torch.nonzero(degrees > fanout).squeeze(1)
        if rows.numel():
            chosen = _choose_without_replacement(
                _take(nodes, rows), _take(degrees, rows), fanout, salt
            )
            row_of_node = torch.full((node_count,), -1, dtype=torch.int64, device=device)
            row_of_node[rows] = torch.arange(rows.shape[0], device=device)
            edge_rows = _take(row_of_node, owner)
            picked = _take(chosen.view(-1), edge_rows.clamp(min=0) * fanout + offsets)
            offsets = torch.where(edge_rows >= 0, picked, offsets)
    return _take(graph.indices, _take(starts, owner) + offsets), counts


def sample_neighbors(
    graph: Graph, nodes: torch.Tensor, fanout: int, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``fanout`` in-neighbours of every node, uniformly without replacement.

    Args:
        graph: CSR-by-destination graph (its device is where the work runs).
        nodes: int64 ``[B]`` node ids (repeats allowed; a node's sample depends only on
            ``(seed, node)``, so a repeated node gets the same sample).
        fanout: neighbours per node, ``>= 1``, or ``-1`` for all of them.
        seed: any int; the same seed gives the same sample on every device.

    Returns:
        ``(sources, counts)``: ``counts`` int64 ``[B]`` is ``min(degree, fanout)`` (the degree
        for ``-1``); ``sources`` int64 ``[counts.sum()]`` holds the sampled in-neighbours of
        ``nodes[0]``, then of ``nodes[1]``, ..., each node's in CSR order.

    Example:
        >>> graph = Graph.from_edges([0, 1, 2], [3, 3, 3], num_nodes=4)
        >>> sources, counts = sample_neighbors(graph, torch.tensor([3, 0]), 2, seed=1)
        >>> counts.tolist(), sources.shape
        ([2, 0], torch.Size([2]))
    """
    check_fanouts([fanout])
    nodes = _check_nodes(graph, nodes, "nodes", distinct=False)
    return _sample_neighbors(graph, nodes, fanout, _layer_salts(seed, 1)[0])


def to_block(dst_ids: torch.Tensor, sources: torch.Tensor, counts: torch.Tensor) -> Block:
    """Relabel sampled edges into a :class:`Block`.

    The block's sources are ``dst_ids`` (in that order) followed by the other distinct
    ``sources`` in ascending id order.

    Args:
        dst_ids: int64 ``[B]`` distinct destination node ids.
        sources: int64 ``[E]`` source node ids, grouped by destination in ``dst_ids`` order.
        counts: int64 ``[B]`` edges per destination (``counts.sum() == E``).

    Example:
        >>> block = to_block(torch.tensor([5, 2]), torch.tensor([9, 2, 5]), torch.tensor([2, 1]))
        >>> block.src_ids.tolist(), block.src.tolist(), block.dst.tolist()
        ([5, 2, 9], [2, 1, 0], [0, 0, 1])
    """
    num_dst = int(dst_ids.shape[0])
    device = dst_ids.device
    unique, inverse = torch.unique(torch.cat([dst_ids, sources]), return_inverse=True)
    dst_positions = inverse[:num_dst]
    is_dst = torch.zeros(unique.shape[0], dtype=torch.bool, device=device)
    is_dst[dst_positions] = True
    if int(is_dst.sum()) != num_dst:
        raise ValueError(f"dst_ids must be distinct, got {num_dst} ids with repeats")
    local = torch.cumsum(~is_dst, 0) + (num_dst - 1)
    local[dst_positions] = torch.arange(num_dst, device=device)
    src_ids = torch.empty_like(unique)
    src_ids[local] = unique
    dst = torch.repeat_interleave(
        torch.arange(num_dst, device=device), counts, output_size=sources.shape[0]
    )
    return Block(src_ids, _take(local, inverse[num_dst:]), dst, num_dst)


def _sample_blocks(
    graph: Graph, seeds: torch.Tensor, fanouts: Sequence[int], seed: int
) -> list[Block]:
    salts = _layer_salts(seed, len(fanouts))
    blocks: list[Block] = []
    dst_ids = seeds
    for layer in reversed(range(len(fanouts))):
        sources, counts = _sample_neighbors(graph, dst_ids, fanouts[layer], salts[layer])
        block = to_block(dst_ids, sources, counts)
        blocks.insert(0, block)
        dst_ids = block.src_ids
    return blocks


def sample_blocks(
    graph: Graph, seeds: torch.Tensor, fanouts: Sequence[int], *, seed: int = 0
) -> list[Block]:
    """Multi-layer neighbour sampling: one :class:`Block` per layer, first layer first.

    The last block's destinations are ``seeds``; block ``l``'s destinations are block
    ``l + 1``'s sources, with ``fanouts[l]`` neighbours sampled for each (as DGL's
    ``NeighborSampler``). Inputs of the model are ``blocks[0].src_ids``.

    Args:
        graph: CSR-by-destination graph, on the device to sample on.
        seeds: int64 ``[B]`` distinct node ids.
        fanouts: per layer, ``>= 1`` or ``-1`` (all neighbours), first layer first.
        seed: any int; same seed, same blocks, on every device.

    Example:
        >>> graph = Graph.from_edges([0, 1, 2, 3], [1, 2, 3, 0], num_nodes=4)
        >>> blocks = sample_blocks(graph, torch.tensor([0]), [1, 1], seed=0)
        >>> blocks[0].src_ids.tolist(), blocks[1].src_ids.tolist()
        ([0, 3, 2], [0, 3])
    """
    check_fanouts(fanouts)
    seeds = _check_nodes(graph, seeds, "seeds", distinct=True)
    return _sample_blocks(graph, seeds, list(fanouts), seed)


def full_neighbor_block(graph: Graph, dst_ids: torch.Tensor) -> Block:
    """The block of all in-edges of ``dst_ids`` (layer-wise inference over a chunk).

    Example:
        >>> graph = Graph.from_edges([0, 1, 2], [2, 2, 0], num_nodes=3)
        >>> block = full_neighbor_block(graph, torch.tensor([2]))
        >>> block.src_ids.tolist(), block.src.tolist(), block.dst.tolist()
        ([2, 0, 1], [1, 2], [0, 0])
    """
    dst_ids = _check_nodes(graph, dst_ids, "dst_ids", distinct=True)
    sources, counts = _sample_neighbors(graph, dst_ids, -1, 0)
    return to_block(dst_ids, sources, counts)


class NeighborBatches:
    """Mini-batches of sampled blocks over ``seeds``, in the given order.

    Iterating yields ``(input_ids, output_ids, blocks)`` per batch of ``batch_size`` seeds
    (the last one may be smaller): ``blocks`` as from :func:`sample_blocks`, ``input_ids =
    blocks[0].src_ids`` and ``output_ids = blocks[-1].dst_ids`` (the batch's seeds), all on
    the graph's device. Shuffle and shard ``seeds`` before; pass a new ``seed`` every epoch.
    Iterating again repeats the same batches.

    Args:
        graph: CSR-by-destination graph, on the device to sample on.
        seeds: int64 ``[S]`` distinct node ids (checked once here).
        fanouts: per layer, ``>= 1`` or ``-1``, first layer first.
        batch_size: seeds per batch (>= 1).
        seed: any int.

    Example:
        >>> graph = Graph.from_edges([0, 1, 2, 3], [1, 2, 3, 0], num_nodes=4)
        >>> batches = NeighborBatches(graph, torch.tensor([3, 1, 2]), [2], batch_size=2)
        >>> len(batches), [output_ids.tolist() for _, output_ids, _ in batches]
        (2, [[3, 1], [2]])
    """

    def __init__(
        self,
        graph: Graph,
        seeds: torch.Tensor,
        fanouts: Sequence[int],
        batch_size: int,
        *,
        seed: int = 0,
    ) -> None:
        self.fanouts = check_fanouts(fanouts)
        self.batch_size = positive_int(batch_size, "batch_size")
        if not is_integer(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.graph = graph
        self.seeds = _check_nodes(graph, seeds, "seeds", distinct=True)
        self.seed = int(seed)

    def __len__(self) -> int:
        return math.ceil(self.seeds.shape[0] / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[Block]]]:
        generator = torch.Generator().manual_seed(self.seed % 2**63)
        batch_seeds = torch.randint(0, 2**62, (len(self),), generator=generator).tolist()
        for index, batch_seed in enumerate(batch_seeds):
            start = index * self.batch_size
            seeds = self.seeds[start : start + self.batch_size]
            blocks = _sample_blocks(self.graph, seeds, self.fanouts, batch_seed)
            yield blocks[0].src_ids, blocks[-1].dst_ids, blocks

    def __repr__(self) -> str:
        return (
            f"NeighborBatches(seeds={self.seeds.shape[0]}, fanouts={self.fanouts}, "
            f"batch_size={self.batch_size}, batches={len(self)}, device={self.graph.device})"
        )


def check_fanouts(fanouts: Sequence[int]) -> list[int]:
    """The fanouts as a list, each a positive int or -1 (all neighbours), else ValueError.

    Example:
        >>> check_fanouts((15, 10, -1))
        [15, 10, -1]
    """
    values = list(fanouts) if isinstance(fanouts, (list, tuple)) else None
    if not values or any(not is_integer(f) or (f < 1 and f != -1) for f in values):
        raise ValueError(
            f"fanouts must be a non-empty list of positive ints or -1 (all neighbours), got "
            f"{fanouts!r}"
        )
    return [int(f) for f in values]


def _check_nodes(graph: Graph, nodes: torch.Tensor, name: str, *, distinct: bool) -> torch.Tensor:
    """``nodes`` as int64 on the graph's device: 1-D integer ids in ``[0, N)``."""
    if not isinstance(nodes, torch.Tensor) or nodes.dim() != 1:
        received = (
            f"a tensor of shape {tuple(nodes.shape)}"
            if isinstance(nodes, torch.Tensor)
            else type(nodes).__name__
        )
        raise ValueError(f"{name} must be a 1-D tensor of node ids, got {received}")
    if nodes.is_floating_point() or nodes.is_complex() or nodes.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {nodes.dtype}")
    nodes = nodes.to(device=graph.device, dtype=torch.int64)
    if nodes.numel():
        low, high = int(nodes.min()), int(nodes.max())
        if low < 0 or high >= graph.num_nodes():
            bad = low if low < 0 else high
            raise ValueError(
                f"{name} contains node id {bad}, out of range for a graph of "
                f"{graph.num_nodes()} nodes"
            )
        if distinct and torch.unique(nodes).shape[0] != nodes.shape[0]:
            raise ValueError(f"{name} must be distinct node ids, got repeats")
    return nodes
