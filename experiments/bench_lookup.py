"""CPU lookup benchmark: the TT lookup paths against nn.Embedding, side by side in one run.

For each id distribution (uniform random; runs = contiguous runs of ``--run-length`` ids with
uniform random starts, as a reordered graph's minibatch would look) it times, interleaving the
methods repeat by repeat so that load on a shared machine hits all of them alike:
- forward only (``torch.no_grad``),
- a training step: forward, ``sum().backward()`` of a random projection, optimizer step; its
  three phases are timed separately.

Methods: ``nn.Embedding`` with dense gradients + Adam, ``nn.Embedding(sparse=True)`` +
SparseAdam, the naive TT lookup (one gathered slice per core per row) + Adam, ``TTEmbedding``
on the torch path (prefix-sharing ``autograd.Function``) + Adam, and the same cores through the
fused CPU kernel (:mod:`tt_gnn.kernels.cpu_fused`) + Adam. Reported: median rows/s and phase
times over the repeats, ratios against sparse ``nn.Embedding`` and the torch TT path, and the
TT step's rows/s as a fraction of the flop floor.

Flop floor: a TT row costs ``sum_k 2 Q_{k-1} r_k q_k r_{k+1}`` flops forward without prefix
sharing (:func:`tt_gnn.kernels.cost.level_flops_per_term`; 12,288 at products size, rank 16),
and a training step three times that (the backward pass does two products of the forward's
size per level). The peak is measured in the same run: the median rate of a 2048 x 2048
float32 matmul on the same threads. floor rows/s = peak / flops per row.

Run (products scale, the default)::

    python experiments/bench_lookup.py --threads 2 --output experiments/results/bench_lookup.md

glibc returns large freed blocks to the OS, so every large temporary is page-faulted in again
on the next step; on some VMs that costs more than the arithmetic. Running with
``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296`` keeps them mapped; the
command line recorded in the output names those variables when they are set, and likewise
``OMP_*`` ones: on a machine shared with other jobs, ``OMP_WAIT_POLICY=PASSIVE`` stops torch's
OpenMP threads from spin-waiting while the cores they wait for are busy elsewhere, which
otherwise slows every OpenMP-parallel op (and the torch TT path most) by up to 10x.
"""

from __future__ import annotations

import argparse
import math
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
from tt_gnn.kernels import cpu_fused
from tt_gnn.kernels.cost import level_flops_per_term
from tt_gnn.ops import naive_tt_lookup

ID_KINDS = ("random", "runs")
SPARSE = "nn.Embedding sparse + SparseAdam"
TORCH_TT = "TT torch path + Adam"
FUSED_TT = "TT fused CPU kernel + Adam"
#: Environment variables that change the timings; the recorded command line names them.
ENVIRONMENT = ("MALLOC_", "OMP_", "MKL_", "GOMP_", "NUMBA_")


def make_ids(
    kind: str, num_embeddings: int, batch_size: int, run_length: int, generator: torch.Generator
) -> torch.Tensor:
    """``(batch_size,)`` ids: uniform (``random``) or contiguous runs of ``run_length`` ids."""
    if kind == "random":
        return torch.randint(0, num_embeddings, (batch_size,), generator=generator)
    num_runs = -(-batch_size // run_length)
    starts = torch.randint(0, num_embeddings - run_length + 1, (num_runs, 1), generator=generator)
    return (starts + torch.arange(run_length)).reshape(-1)[:batch_size]


class CoresLookup(nn.Module):
    """A TT table whose cores are copies of ``source``'s, looked up by ``lookup``."""

    def __init__(self, source: TTEmbedding, lookup: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.cores = nn.ParameterList(nn.Parameter(c.detach().clone()) for c in source.cores)
        self.p_shapes, self.q_shapes = source.p_shapes, source.q_shapes
        self.lookup = lookup

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lookup(list(self.cores), ids, self.p_shapes, self.q_shapes)


def build_methods(args: argparse.Namespace) -> dict[str, tuple[nn.Module, torch.optim.Optimizer]]:
    tt = TTEmbedding(
        args.num_embeddings,
        args.dim,
        rank=args.rank,
        p_shapes=args.p_shapes,
        q_shapes=args.q_shapes,
        seed=0,
        backend="torch",
    )
    methods: dict[str, tuple[nn.Module, torch.optim.Optimizer]] = {}
    if not args.skip_dense:
        dense = nn.Embedding(args.num_embeddings, args.dim)
        methods["nn.Embedding dense + Adam"] = (dense, torch.optim.Adam(dense.parameters()))
    sparse = nn.Embedding(args.num_embeddings, args.dim, sparse=True)
    methods[SPARSE] = (sparse, torch.optim.SparseAdam(sparse.parameters()))
    if not args.skip_naive:
        naive = CoresLookup(tt, lambda cores, ids, p, q: naive_tt_lookup(cores, ids, p))
        methods["naive TT + Adam"] = (naive, torch.optim.Adam(naive.parameters()))
    methods[TORCH_TT] = (tt, torch.optim.Adam(tt.parameters()))
    if cpu_fused.available():
        fused = CoresLookup(tt, cpu_fused.tt_lookup)
        methods[FUSED_TT] = (fused, torch.optim.Adam(fused.parameters()))
    return methods


def time_method(
    module: nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor, projection: torch.Tensor
) -> dict[str, float]:
    """Seconds for a forward pass, and for the forward, backward and optimizer phases of a
    training step on ``ids``."""
    start = time.perf_counter()
    with torch.no_grad():
        module(ids)
    inference = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = (module(ids) @ projection).sum()
    forward = time.perf_counter()
    loss.backward()
    backward = time.perf_counter()
    optimizer.step()
    end = time.perf_counter()
    return {
        "inference": inference - start,
        "forward": forward - inference,
        "backward": backward - forward,
        "optimizer": end - backward,
    }


def profile_step(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[torch.Tensor],
    projection: torch.Tensor,
    row_limit: int = 14,
) -> str:
    """torch.profiler's table of training steps on ``batches``, by self CPU time."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for ids in batches:
            time_method(module, optimizer, ids, projection)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit)


def matmul_peak(threads: int, repeats: int = 7, size: int = 2048) -> float:
    """Median flop/s of a ``size x size`` float32 matmul on ``threads`` threads."""
    torch.set_num_threads(threads)
    left, right = torch.randn(size, size), torch.randn(size, size)
    left @ right
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        left @ right
        seconds.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(seconds)


def step_flops_per_row(args: argparse.Namespace) -> int:
    """Flops of one row in a training step without prefix sharing: 3x the forward's."""
    ranks = (1, *([args.rank] * (len(args.q_shapes) - 1)), 1)
    return 3 * sum(level_flops_per_term(args.q_shapes, ranks))


def benchmark(args: argparse.Namespace) -> tuple[list[dict[str, object]], dict[str, str]]:
    """Rows/s and phase times per (ids, method); profiles of the fused TT step per ids kind."""
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    methods = build_methods(args)
    projection = torch.randn(args.dim, generator=generator)
    results, profiles = [], {}
    for kind in ID_KINDS:
        batches = [
            make_ids(kind, args.num_embeddings, args.batch_size, args.run_length, generator)
            for _ in range(args.repeats + 1)
        ]
        times: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
        for repeat, ids in enumerate(batches):
            for name, (module, optimizer) in methods.items():
                measured = time_method(module, optimizer, ids, projection)
                if repeat > 0:  # the first batch warms up allocators, caches and the JIT
                    times[name].append(measured)
        if args.profile and FUSED_TT in methods:
            profiles[kind] = profile_step(*methods[FUSED_TT], batches[1 : 1 + args.profile],
                                          projection)  # fmt: skip
        for name in methods:
            phases = {
                phase: statistics.median(t[phase] for t in times[name])
                for phase in ("inference", "forward", "backward", "optimizer")
            }
            step = statistics.median(
                t["forward"] + t["backward"] + t["optimizer"] for t in times[name]
            )
            results.append(
                {
                    "ids": kind,
                    "method": name,
                    "step": args.batch_size / step,
                    "inference": args.batch_size / phases["inference"],
                    **{
                        f"{phase}_ms": 1e3 * phases[phase]
                        for phase in ("forward", "backward", "optimizer")
                    },
                }
            )
    return results, profiles


def to_markdown(
    results: list[dict[str, object]],
    args: argparse.Namespace,
    peak: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    by_key = {(r["ids"], r["method"]): r for r in results}
    flops = step_flops_per_row(args)
    floor = peak / flops
    lines = [
        "| ids | method | forward rows/s (no grad) | step rows/s | step: fwd / bwd / opt ms | "
        "step vs sparse nn.Embedding | step vs TT torch | TT step / flop floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        sparse = by_key[(r["ids"], SPARSE)]["step"]
        torch_tt = by_key[(r["ids"], TORCH_TT)]["step"]
        fraction = f"{r['step'] / floor:.0%}" if "TT" in str(r["method"]) else ""
        lines.append(
            f"| {r['ids']} | {r['method']} | {r['inference'] / 1e6:.3f}M | "
            f"{r['step'] / 1e6:.3f}M | {r['forward_ms']:.1f} / {r['backward_ms']:.1f} / "
            f"{r['optimizer_ms']:.1f} | {r['step'] / sparse:.2f}x | {r['step'] / torch_tt:.2f}x | "
            f"{fraction} |"
        )
    header = (
        f"N={args.num_embeddings}, D={args.dim}, p={tuple(args.p_shapes)}, "
        f"q={tuple(args.q_shapes)}, rank {args.rank}, batch {args.batch_size} ids, "
        f"runs = contiguous runs of {args.run_length} ids, {args.threads} threads, "
        f"median of {args.repeats} repeats; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs. "
        f"Load average (1, 5, 15 min) before: {_load_text(load[0])}, after: "
        f"{_load_text(load[1])}.\n\n"
        f"Flop floor: {flops:,} flops per row per training step (no prefix sharing); peak "
        f"{peak / 1e9:.1f} GFLOP/s (median 2048 x 2048 float32 matmul, {args.threads} threads, "
        f"same run), so at most {floor / 1e6:.2f}M rows/s."
    )
    return header + "\n\n" + "\n".join(lines) + "\n"


def _load_text(load: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-embeddings", type=int, default=2_449_029)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--p-shapes", type=int, nargs="+", default=[125, 140, 140])
    parser.add_argument("--q-shapes", type=int, nargs="+", default=[4, 4, 8])
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--run-length", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-dense", action="store_true", help="skip dense nn.Embedding+Adam")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive TT lookup")
    parser.add_argument(
        "--profile", type=int, default=0, help="profile this many fused TT steps per ids kind"
    )
    parser.add_argument("--output", type=Path, help="also write the table (Markdown) here")
    args = parser.parse_args(argv)
    if math.prod(args.q_shapes) != args.dim:
        parser.error(f"prod(--q-shapes) must equal --dim {args.dim}, got {args.q_shapes}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    results, profiles = benchmark(args)
    peak = matmul_peak(args.threads)
    table = to_markdown(results, args, peak, (load_before, os.getloadavg()))
    for kind, profile in profiles.items():
        table += (
            f"\n`torch.profiler` of {args.profile} fused TT training steps on {kind} ids "
            f"(self CPU time; `tt_gnn.cpu_fused.*` is the fused kernel, `aten::*` the torch "
            f"levels, the loss and Adam):\n\n```\n{profile}```\n"
        )
    print(table)
    if args.output:
        environment = " ".join(
            f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(ENVIRONMENT)
        )
        command = (environment + " " if environment else "") + "python experiments/bench_lookup.py "
        command += " ".join(sys.argv[1:] if argv is None else argv)
        text = f"# TT lookup benchmark (CPU)\n\nCommand: `{command}`\n\n{table}"
        temporary = args.output.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
