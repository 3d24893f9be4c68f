"""Seeded synthetic graphs with planted communities, from thousands to millions of nodes.

Example:
    >>> graph = planted_partition_graph(1000, num_communities=20, average_degree=8, seed=0)
    >>> graph.num_nodes, graph.src.shape == graph.dst.shape, int(graph.labels.max()) < 20
    (1000, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tt_gnn.datasets.common import sorted_unique

__all__ = ["SyntheticGraph", "planted_partition_graph"]


@dataclass
class SyntheticGraph:
    """An undirected graph stored once per edge with ``src < dst``, no self-loops or duplicates.

    Attributes:
        num_nodes: ``N``.
        src, dst: int64 ``[E]``.
        community: int64 ``[N]``, the planted community of every node.
        labels: int64 ``[N]``, class labels derived from communities (see the generator).
    """

    num_nodes: int
    src: np.ndarray
    dst: np.ndarray
    community: np.ndarray
    labels: np.ndarray

    @property
    def num_edges(self) -> int:
        return int(self.src.shape[0])


def planted_partition_graph(
    num_nodes: int,
    num_communities: int,
    *,
    average_degree: float = 10.0,
    mixing: float = 0.2,
    num_classes: int | None = None,
    label_noise: float = 0.0,
    seed: int = 0,
) -> SyntheticGraph:
    """Sample a planted-partition graph: dense inside communities, sparse between them.

    Community sizes are multinomial (about ``N / num_communities`` each). About
    ``N * average_degree / 2`` edge draws are made; each starts at a uniform node and ends, with
    probability ``1 - mixing``, at a uniform node of the same community, otherwise at a uniform
    node anywhere. Self-loops and duplicates are dropped, so the realized degree is slightly
    lower. Node ids are a random permutation, so the communities are not contiguous in id
    order (that is what :func:`tt_gnn.reorder.reorder_graph` recovers).

    Labels: community ``c`` has class ``c % num_classes`` (default ``num_classes =
    num_communities``); a ``label_noise`` fraction of nodes get a uniformly random class instead.

    Memory: about 40 bytes per edge draw at peak (62M draws: ~2.5 GB).

    Raises:
        ValueError: for non-positive sizes, ``mixing`` or ``label_noise`` outside ``[0, 1]``,
            or more communities than nodes.
    """
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be >= 1, got {num_nodes}")
    if not 1 <= num_communities <= num_nodes:
        raise ValueError(
            f"num_communities must be in [1, num_nodes={num_nodes}], got {num_communities}"
        )
    if average_degree < 0:
        raise ValueError(f"average_degree must be >= 0, got {average_degree}")
    for name, value in (("mixing", mixing), ("label_noise", label_noise)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    num_classes = num_communities if num_classes is None else int(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")

    rng = np.random.default_rng(seed)
    community = rng.integers(0, num_communities, size=num_nodes, dtype=np.int64)
    members = np.argsort(community, kind="stable")  # nodes grouped by community
    sizes = np.bincount(community, minlength=num_communities)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    num_draws = int(round(num_nodes * average_degree / 2))
    src = rng.integers(0, num_nodes, size=num_draws, dtype=np.int64)
    dst = rng.integers(0, num_nodes, size=num_draws, dtype=np.int64)
    inside = rng.random(num_draws) >= mixing
    home = community[src[inside]]
    offsets = (rng.random(int(inside.sum())) * sizes[home]).astype(np.int64)
    dst[inside] = members[starts[home] + offsets]
    del home, offsets, inside

    low, high = np.minimum(src, dst), np.maximum(src, dst)
    del src, dst
    keep = low != high
    keys = sorted_unique(low[keep] * num_nodes + high[keep])
    del low, high, keep
    src, dst = np.divmod(keys, num_nodes)

    labels = community % num_classes
    if label_noise > 0:
        noisy = rng.random(num_nodes) < label_noise
        labels[noisy] = rng.integers(0, num_classes, size=int(noisy.sum()))
    return SyntheticGraph(num_nodes, src, dst, community, labels)
