"""The ``"dgl"`` graph backend: DGL's ``NeighborSampler`` and the ``dgl.nn`` models.

See :mod:`tt_gnn.gnn.backend` for the interface. DGL's PyPI wheels are CPU-only (its CUDA
builds stop at torch 2.4), so :meth:`DGLBackend.available` checks that a DGL graph can be put
on the device.

Example:
    >>> from tt_gnn.graph import Graph
    >>> prepared = BACKEND.prepare(Graph.from_edges([0, 1], [1, 2]), "cpu", self_loops=False)
    >>> batches = BACKEND.batches(prepared, torch.tensor([2, 1]), [1], 1, seed=0)
    >>> [output_ids.tolist() for _, output_ids, _ in batches]
    [[2], [1]]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from tt_gnn.checks import positive_int
from tt_gnn.dgl._compat import dgl
from tt_gnn.dgl.convert import to_dgl
from tt_gnn.dgl.models import MODELS
from tt_gnn.gnn.backend import GraphBackend
from tt_gnn.gnn.sampler import check_fanouts
from tt_gnn.graph import Graph

__all__ = ["DGLBackend", "DGLBatches", "BACKEND"]


class DGLBatches:
    """Mini-batches from ``dgl.dataloading.NeighborSampler`` over ``seeds`` in order.

    Yields ``(input_ids, output_ids, blocks)`` on the graph's device. Iterating calls
    ``dgl.seed(seed)`` first, so the same seed repeats the batches (with one sampling thread:
    DGL's multi-threaded sampler draws in a thread-dependent order).
    """

    def __init__(
        self,
        graph: dgl.DGLGraph,
        seeds: torch.Tensor,
        fanouts: Sequence[int],
        batch_size: int,
        *,
        seed: int,
    ) -> None:
        self.graph = graph
        self.seeds = torch.as_tensor(seeds, dtype=torch.int64).to(graph.device)
        self.sampler = dgl.dataloading.NeighborSampler(check_fanouts(fanouts))
        self.batch_size = positive_int(batch_size, "batch_size")
        self.seed = int(seed)

    def __len__(self) -> int:
        return math.ceil(self.seeds.shape[0] / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[dgl.DGLGraph]]]:
        dgl.seed(self.seed % 2**31)
        for start in range(0, self.seeds.shape[0], self.batch_size):
            seeds = self.seeds[start : start + self.batch_size]
            input_ids, output_ids, blocks = self.sampler.sample_blocks(self.graph, seeds)
            yield input_ids, output_ids, blocks


class DGLBackend(GraphBackend):
    """DGL's sampler and layers (CPU, or a device a DGL build supports)."""

    name = "dgl"
    models = MODELS
    batch_sampler = DGLBatches

    def available(self, device: torch.device | str) -> tuple[bool, str]:
        device = torch.device(device)
        description = f"DGL {dgl.__version__} sampler and dgl.nn layers"
        if device.type == "cpu":
            return True, description
        try:
            dgl.graph(([0], [0])).to(device)
        except Exception as error:  # DGL raises several types for a device it was not built for
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            return False, f"DGL {dgl.__version__} cannot put a graph on {device}: {message}"
        return True, description

    def native_graph(self, graph: Graph) -> dgl.DGLGraph:
        return to_dgl(graph)


BACKEND = DGLBackend()
