"""Data-parallel helpers on ``torch.distributed``: process groups, gathers, and launching.

Two ways to run N processes:

- ``tt-gnn train --nproc N`` (:func:`spawn`): starts N local processes with
  ``torch.multiprocessing``, gloo on CPU or NCCL with ``--devices 0,1,...`` (process ``i`` uses
  ``cuda:devices[i]``).
- ``torchrun`` (single or multi node): every process finds ``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment
  (:func:`context_from_environment`). On two nodes with 4 GPUs each::

      # on node 0 (reachable as node0:29500), and the same with --node-rank=1 on node 1
      torchrun --nnodes=2 --nproc-per-node=4 --node-rank=0 --master-addr=node0 \\
          --master-port=29500 -m tt_gnn.cli train --dataset ogbn-products --devices 0,1,2,3

  Every node needs the dataset at the same path; with ``--devices`` a process uses
  ``cuda:devices[LOCAL_RANK]``.

Example:
    >>> context = DistributedContext()          # the single-process default
    >>> context.world_size, context.is_main
    (1, True)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from tt_gnn.checks import positive_int

__all__ = [
    "DistributedContext",
    "context_from_environment",
    "launched_by_torchrun",
    "initialize",
    "shutdown",
    "gather_rows",
    "broadcast_tensor",
    "all_reduce_sum",
    "spawn",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in a (possibly single-process) data-parallel run.

    Attributes:
        rank: global rank in ``[0, world_size)``.
        world_size: number of processes (1: no process group).
        local_rank: rank on this node (selects the CUDA device).
        device: the device this process computes on.
        backend: ``"gloo"`` or ``"nccl"`` (unused when ``world_size == 1``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _device_for(local_rank: int, devices: Sequence[int]) -> torch.device:
    if not devices:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"devices {list(devices)} requested but CUDA is not available")
    if local_rank >= len(devices):
        raise ValueError(
            f"local rank {local_rank} has no device: --devices lists only {list(devices)}"
        )
    return torch.device("cuda", devices[local_rank])


def launched_by_torchrun() -> bool:
    """True when ``torchrun`` (or another launcher) set ``RANK``/``WORLD_SIZE``."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def context_from_environment(devices: Sequence[int] = ()) -> DistributedContext:
    """The context described by torchrun's environment variables (single process without)."""
    if not launched_by_torchrun():
        return DistributedContext(device=_device_for(0, devices))
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    return DistributedContext(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        device=_device_for(local_rank, devices),
        backend="nccl" if devices else "gloo",
    )


def initialize(context: DistributedContext, init_method: str | None = None) -> None:
    """Create the default process group for ``context`` (no-op for a single process).

    Args:
        init_method: a rendezvous URL (e.g. ``file:///tmp/x/rendezvous``); None reads
            ``MASTER_ADDR``/``MASTER_PORT`` from the environment (torchrun sets them).
    """
    if not context.is_distributed or dist.is_initialized():
        return
    if context.device.type == "cuda":
        torch.cuda.set_device(context.device)
    dist.init_process_group(
        context.backend,
        init_method=init_method,
        rank=context.rank,
        world_size=context.world_size,
    )


def shutdown(context: DistributedContext) -> None:
    """Destroy the process group created by :func:`initialize`."""
    if context.is_distributed and dist.is_initialized():
        dist.destroy_process_group()


def gather_rows(local_rows: torch.Tensor, total_rows: int, context: DistributedContext):
    """Concatenate every rank's ``local_rows`` in rank order (all ranks get the result).

    Ranks may hold different row counts (gloo/NCCL need equal sizes, so rows are padded to
    the largest count and trimmed after the gather).

    Shapes:
        local_rows: ``[n_rank, ...]``. Output: ``[total_rows, ...]`` with
        ``total_rows == sum(n_rank)`` (checked).
    """
    if not context.is_distributed:
        if local_rows.shape[0] != total_rows:
            raise ValueError(f"expected {total_rows} rows, got {local_rows.shape[0]}")
        return local_rows
    device = context.device if context.backend == "nccl" else torch.device("cpu")
    rows = local_rows.to(device)
    count = torch.tensor([rows.shape[0]], device=device)
    counts = [torch.zeros_like(count) for _ in range(context.world_size)]
    dist.all_gather(counts, count)
    largest = int(max(int(c) for c in counts))
    padded = torch.zeros((largest, *rows.shape[1:]), dtype=rows.dtype, device=device)
    padded[: rows.shape[0]] = rows
    pieces = [torch.zeros_like(padded) for _ in range(context.world_size)]
    dist.all_gather(pieces, padded)
    result = torch.cat([piece[: int(c)] for piece, c in zip(pieces, counts, strict=True)])
    if result.shape[0] != total_rows:
        raise RuntimeError(f"gathered {result.shape[0]} rows, expected {total_rows}")
    return result.to(local_rows.device)


def broadcast_tensor(tensor: torch.Tensor | None, context: DistributedContext) -> torch.Tensor:
    """Rank 0's 1-D int64 ``tensor`` on every rank (others pass None)."""
    if not context.is_distributed:
        assert tensor is not None
        return tensor
    device = context.device if context.backend == "nccl" else torch.device("cpu")
    length = torch.tensor([0 if tensor is None else tensor.numel()], device=device)
    dist.broadcast(length, src=0)
    buffer = (
        tensor.to(device=device, dtype=torch.int64)
        if context.is_main and tensor is not None
        else torch.empty(int(length), dtype=torch.int64, device=device)
    )
    dist.broadcast(buffer, src=0)
    return buffer.cpu()


def all_reduce_sum(values: Sequence[float], context: DistributedContext) -> list[float]:
    """Sum a few floats over ranks (for logging losses and counts)."""
    if not context.is_distributed:
        return [float(v) for v in values]
    device = context.device if context.backend == "nccl" else torch.device("cpu")
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def _spawned_worker(
    local_rank: int,
    world_size: int,
    devices: list[int],
    function: Callable[[DistributedContext, Any], Any],
    argument: Any,
    rendezvous_file: str,
) -> None:
    os.environ.update(RANK=str(local_rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank))
    context = context_from_environment(devices)
    initialize(context, init_method=Path(rendezvous_file).as_uri())
    try:
        function(context, argument)
    finally:
        shutdown(context)


def spawn(
    function: Callable[[DistributedContext, Any], Any],
    argument: Any,
    nproc: int,
    devices: Sequence[int] = (),
) -> None:
    """Run ``function(context, argument)`` in ``nproc`` new local processes and wait.

    Each process gets its own process group member (gloo on CPU, NCCL when ``devices`` is
    given; process ``i`` uses ``cuda:devices[i]``). ``function`` and ``argument`` must be
    picklable; results travel back through files or the like (see ``tt_gnn.training.launch``).

    The processes meet through a rendezvous file in a fresh temporary folder (torch's
    ``FileStore``), not a TCP port: nothing else on the host can take it between choosing and
    binding (a free-port probe left a window of several seconds).
    """
    import torch.multiprocessing as multiprocessing

    nproc = positive_int(nproc, "nproc")
    devices = list(devices)
    if devices and len(devices) < nproc:
        raise ValueError(f"nproc={nproc} processes need {nproc} devices, got {devices}")
    with tempfile.TemporaryDirectory(prefix="tt-gnn-rendezvous-") as folder:
        multiprocessing.spawn(
            _spawned_worker,
            args=(nproc, devices, function, argument, os.path.join(folder, "rendezvous")),
            nprocs=nproc,
            join=True,
        )
