"""``Block``: the message-flow graph of one GNN layer, in plain torch tensors.

A block has ``num_src`` source nodes and ``num_dst`` destination nodes; as in DGL, the
destination nodes are the first ``num_dst`` source nodes, so a layer reads its destinations'
own inputs as ``h[:num_dst]``. Edges are in local ids and grouped by destination (``dst`` is
non-decreasing), which is how the samplers of :mod:`tt_gnn.gnn.sampler` build them.

Example:
    >>> block = Block(torch.tensor([7, 3, 9]), torch.tensor([1, 2, 0]), torch.tensor([0, 0, 1]), 2)
    >>> block.num_src, block.num_dst, block.num_edges, block.in_degrees().tolist()
    (3, 2, 3, [2, 1])
    >>> block.edge_index().tolist()
    [[1, 2, 0], [0, 0, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Block"]


@dataclass(eq=False)
class Block:
    """One layer's bipartite message-flow graph (sources -> destinations).

    Attributes:
        src_ids: int64 ``[num_src]``, the graph's node id of every source node; the first
            ``num_dst`` are the destination nodes.
        src: int64 ``[E]``, local source id of every edge, in ``[0, num_src)``.
        dst: int64 ``[E]``, local destination id of every edge, in ``[0, num_dst)``,
            non-decreasing.
        num_dst: number of destination nodes (``<= num_src``).

    Shapes are checked on construction; id ranges are not (that would synchronize a GPU on
    every layer), the samplers guarantee them.

    Example:
        >>> Block(torch.tensor([4, 5]), torch.tensor([1]), torch.tensor([0]), 1)
        Block(num_src=2, num_dst=1, num_edges=1, device=cpu)
    """

    src_ids: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    num_dst: int

    def __post_init__(self) -> None:
        for name in ("src_ids", "src", "dst"):
            tensor = getattr(self, name)
            if not isinstance(tensor, torch.Tensor) or tensor.dim() != 1:
                raise ValueError(f"{name} must be a 1-D tensor, got {_describe(tensor)}")
            if tensor.dtype != torch.int64:
                raise TypeError(f"{name} must be int64, got {tensor.dtype}")
        if self.src.shape != self.dst.shape:
            raise ValueError(
                f"src and dst must have the same length, got {self.src.shape[0]} and "
                f"{self.dst.shape[0]}"
            )
        self.num_dst = int(self.num_dst)
        if not 0 <= self.num_dst <= self.num_src:
            raise ValueError(f"num_dst must be in [0, num_src={self.num_src}], got {self.num_dst}")

    @property
    def num_src(self) -> int:
        """Number of source nodes."""
        return int(self.src_ids.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.src.shape[0])

    @property
    def dst_ids(self) -> torch.Tensor:
        """int64 ``[num_dst]``: the graph's node id of every destination node."""
        return self.src_ids[: self.num_dst]

    @property
    def device(self) -> torch.device:
        return self.src.device

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Block:
        """The same block with its tensors on ``device``."""
        return Block(
            self.src_ids.to(device, non_blocking=non_blocking),
            self.src.to(device, non_blocking=non_blocking),
            self.dst.to(device, non_blocking=non_blocking),
            self.num_dst,
        )

    def in_degrees(self) -> torch.Tensor:
        """int64 ``[num_dst]``: edges into every destination node."""
        return torch.bincount(self.dst, minlength=self.num_dst)

    def edge_index(self) -> torch.Tensor:
        """int64 ``[2, E]``: row 0 the local sources, row 1 the local destinations (the
        ``edge_index`` layout of PyG, with ``size=(num_src, num_dst)``)."""
        return torch.stack([self.src, self.dst])

    def __repr__(self) -> str:
        return (
            f"Block(num_src={self.num_src}, num_dst={self.num_dst}, num_edges={self.num_edges}, "
            f"device={self.device})"
        )


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__
