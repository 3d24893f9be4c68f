"""CPU lookup benchmark: TTEmbedding vs the naive TT path vs nn.Embedding, side by side.

For each id distribution (uniform random; clustered = ids drawn from contiguous windows, as a
reordered graph's minibatch would be) it times, interleaving the methods repeat by repeat:
- forward only (``torch.no_grad``),
- a training step: forward, ``sum().backward()`` of a random projection, optimizer step.

Methods: ``nn.Embedding`` with dense gradients + Adam, ``nn.Embedding(sparse=True)`` +
SparseAdam, the naive TT lookup (one gathered slice per core per row, autograd through batched
matmuls) + Adam, and ``TTEmbedding`` (prefix-sharing autograd.Function) + Adam. Reported: median
rows/s over the repeats, and ratios against the naive TT path and sparse ``nn.Embedding``.

Run (products scale, the default)::

    python experiments/bench_lookup.py --threads 2 --output experiments/results/bench_lookup.md

glibc returns large freed blocks to the OS, so every large temporary is page-faulted in again
on the next step; on some VMs that costs more than the arithmetic. Running with
``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296`` keeps them mapped; the
command line recorded in the output names those variables when they are set.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from tt_gnn import TTEmbedding
from tt_gnn.ops import naive_tt_lookup


def make_ids(kind: str, num_embeddings: int, batch_size: int, window: int, per_window: int,
             generator: torch.Generator) -> torch.Tensor:
    if kind == "random":
        return torch.randint(0, num_embeddings, (batch_size,), generator=generator)
    num_windows = max(1, batch_size // per_window)
    starts = torch.randint(0, num_embeddings - window + 1, (num_windows, 1), generator=generator)
    offsets = torch.randint(0, window, (num_windows, per_window), generator=generator)
    return (starts + offsets).reshape(-1)[:batch_size]


class NaiveTT(nn.Module):
    """The naive TT path with the same cores as a TTEmbedding."""

    def __init__(self, source: TTEmbedding) -> None:
        super().__init__()
        self.cores = nn.ParameterList(nn.Parameter(c.detach().clone()) for c in source.cores)
        self.p_shapes = source.p_shapes

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return naive_tt_lookup(list(self.cores), ids, self.p_shapes)


def build_methods(args: argparse.Namespace) -> dict[str, tuple[nn.Module, torch.optim.Optimizer]]:
    tt = TTEmbedding(args.num_embeddings, args.dim, rank=args.rank, p_shapes=args.p_shapes,
                     q_shapes=args.q_shapes, seed=0, backend="torch")
    naive = NaiveTT(tt)
    methods: dict[str, tuple[nn.Module, torch.optim.Optimizer]] = {}
    if not args.skip_dense:
        dense = nn.Embedding(args.num_embeddings, args.dim)
        methods["nn.Embedding dense + Adam"] = (dense, torch.optim.Adam(dense.parameters()))
    sparse = nn.Embedding(args.num_embeddings, args.dim, sparse=True)
    methods["nn.Embedding sparse + SparseAdam"] = (
        sparse, torch.optim.SparseAdam(sparse.parameters()))
    methods["naive TT + Adam"] = (naive, torch.optim.Adam(naive.parameters()))
    methods["TTEmbedding + Adam"] = (tt, torch.optim.Adam(tt.parameters()))
    return methods


def time_call(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def time_method(module: nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor,
                projection: torch.Tensor) -> tuple[float, float]:
    """Seconds for a forward pass and for a training step on ``ids``."""
    with torch.no_grad():
        forward = time_call(lambda: module(ids))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        (module(ids) @ projection).sum().backward()
        optimizer.step()

    return forward, time_call(step)


def benchmark(args: argparse.Namespace) -> list[dict[str, object]]:
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    methods = build_methods(args)
    projection = torch.randn(args.dim, generator=generator)
    results = []
    for kind in ("random", "clustered"):
        batches = [make_ids(kind, args.num_embeddings, args.batch_size, args.window,
                            args.per_window, generator) for _ in range(args.repeats + 1)]
        forward_times: dict[str, list[float]] = {name: [] for name in methods}
        step_times: dict[str, list[float]] = {name: [] for name in methods}
        for repeat, ids in enumerate(batches):
            for name, (module, optimizer) in methods.items():
                forward, train = time_method(module, optimizer, ids, projection)
                if repeat > 0:  # the first batch warms up allocators and caches
                    forward_times[name].append(forward)
                    step_times[name].append(train)
        for name in methods:
            results.append({
                "ids": kind,
                "method": name,
                "forward": args.batch_size / statistics.median(forward_times[name]),
                "step": args.batch_size / statistics.median(step_times[name]),
            })
    return results


def to_markdown(results: list[dict[str, object]], args: argparse.Namespace) -> str:
    by_key = {(r["ids"], r["method"]): r for r in results}
    lines = [
        "| ids | method | forward rows/s | fwd+bwd+step rows/s | step vs naive TT | "
        "step vs sparse nn.Embedding |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        naive = by_key[(r["ids"], "naive TT + Adam")]["step"]
        sparse = by_key[(r["ids"], "nn.Embedding sparse + SparseAdam")]["step"]
        lines.append(
            f"| {r['ids']} | {r['method']} | {r['forward'] / 1e6:.3f}M | {r['step'] / 1e6:.3f}M | "
            f"{r['step'] / naive:.2f}x | {r['step'] / sparse:.2f}x |"
        )
    header = (
        f"N={args.num_embeddings}, D={args.dim}, p={tuple(args.p_shapes)}, "
        f"q={tuple(args.q_shapes)}, rank {args.rank}, batch {args.batch_size} ids, "
        f"clustered = {args.per_window} ids per window of {args.window}, "
        f"{args.threads} threads, median of {args.repeats} repeats; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}"
    )
    return header + "\n\n" + "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-embeddings", type=int, default=2_449_029)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--p-shapes", type=int, nargs="+", default=[125, 140, 140])
    parser.add_argument("--q-shapes", type=int, nargs="+", default=[4, 4, 8])
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--per-window", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-dense", action="store_true", help="skip dense nn.Embedding+Adam")
    parser.add_argument("--output", type=Path, help="also write the table (Markdown) here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    table = to_markdown(benchmark(args), args)
    print(table)
    if args.output:
        allocator = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                             if k.startswith("MALLOC_"))
        command = (allocator + " " if allocator else "") + "python experiments/bench_lookup.py "
        command += " ".join(sys.argv[1:])
        text = f"# TT lookup benchmark (CPU)\n\nCommand: `{command}`\n\n{table}"
        temporary = args.output.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
