"""TT embeddings at 2.45M, 111M and 1B rows: memory, compression and CPU lookup throughput.

For every row count and TT rank it builds ``TTEmbedding(N, D, rank=r, backend="torch")`` (the
cores only: the ``N x D`` table is never materialized) and reports its parameter bytes, the
compression ratio, the bytes a dense fp32 table would need (and with Adam's two moment
buffers and a dense gradient, 4x that, for training), and the median rows/s of

- forward (``torch.no_grad``) and
- forward + backward (``(rows * upstream).sum().backward()`` into the cores' gradients),

on two id distributions of ``--batch-size`` ids: uniform random, and clustered (``--window``
consecutive ids per window, ``--per-window`` ids drawn in each, as the minibatch of a graph
reordered by partition would be). Wall time is noisy on a shared machine: the table gives the
median over ``--repeats`` timed repeats (after one warm-up), the CPU seconds of the median
repeat and the torch thread count.

It also prints the ogbn-papers100M compression table for ``p = (480, 500, 500)``,
``q = (8, 4, 4)`` at ranks 8/16/32/64 computed with ``N = 111,059,956`` rows and with
``prod(p) = 120,000,000`` rows, against the published figures.

Example::

    .venv/bin/python experiments/scale.py --threads 1 --output experiments/results/scale.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from tt_gnn.embedding import TTEmbedding

PAPERS100M_ROWS = 111_059_956
PAPERS100M_P = (480, 500, 500)
PAPERS100M_Q = (8, 4, 4)
# Published compression on ogbn-papers100M (Yin et al., KDD 2022), by rank.
PUBLISHED_PAPERS100M = {8: 81_363, 16: 23_480, 32: 6_361, 64: 1_660}
DEFAULT_ROWS = (2_449_029, 111_059_956, 1_000_000_000)


def tt_parameter_count(p_shapes: Sequence[int], q_shapes: Sequence[int], rank: int) -> int:
    """Scalars in TT cores ``(p_k, r_{k-1}, q_k, r_k)`` with inner ranks ``rank``.

    Example:
        >>> tt_parameter_count((480, 500, 500), (8, 4, 4), 8)
        174720
    """
    ranks = [1] + [rank] * (len(p_shapes) - 1) + [1]
    return sum(p * ranks[k] * q * ranks[k + 1] for k, (p, q) in enumerate(zip(p_shapes, q_shapes)))


def papers100m_compression(rank: int, rows: int = PAPERS100M_ROWS) -> float:
    """``rows * 128 / parameters`` for the published papers100M shapes at ``rank``.

    Example:
        >>> round(papers100m_compression(8))
        81363
    """
    dim = 1
    for q in PAPERS100M_Q:
        dim *= q
    return rows * dim / tt_parameter_count(PAPERS100M_P, PAPERS100M_Q, rank)


def make_ids(
    kind: str,
    num_rows: int,
    batch_size: int,
    window: int,
    per_window: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """``batch_size`` int64 ids in ``[0, num_rows)``: ``"random"`` (uniform) or ``"clustered"``.

    Clustered: ``batch_size / per_window`` windows of ``window`` consecutive ids at uniform
    random starts, ``per_window`` ids drawn uniformly inside each.

    Example:
        >>> ids = make_ids("clustered", 10_000, 64, 100, 16, torch.Generator().manual_seed(0))
        >>> ids.shape, bool((ids.view(4, 16).amax(1) - ids.view(4, 16).amin(1) < 100).all())
        (torch.Size([64]), True)
    """
    if kind == "random":
        return torch.randint(0, num_rows, (batch_size,), generator=generator)
    if kind != "clustered":
        raise ValueError(f"kind must be 'random' or 'clustered', got {kind!r}")
    if not 1 <= window <= num_rows:
        raise ValueError(f"window must be in [1, {num_rows}], got {window}")
    if per_window < 1 or batch_size % per_window:
        raise ValueError(
            f"per_window must be >= 1 and divide batch_size {batch_size}, got {per_window}"
        )
    num_windows = batch_size // per_window
    starts = torch.randint(0, num_rows - window + 1, (num_windows, 1), generator=generator)
    offsets = torch.randint(0, window, (num_windows, per_window), generator=generator)
    return (starts + offsets).reshape(-1)


def time_repeats(step: Callable[..., None], repeats: int, *step_args: Any) -> tuple[float, float]:
    """Run ``step(*step_args)`` once to warm up, then ``repeats`` times; median (wall s, CPU s)."""
    step(*step_args)
    timings = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step(*step_args)
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    timings.sort()
    return timings[len(timings) // 2]


def _current_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _gib(num_bytes: float) -> str:
    if num_bytes >= 2**30:
        return f"{num_bytes / 2**30:,.1f} GiB"
    return f"{num_bytes / 2**20:,.2f} MiB"


def _forward(embedding: TTEmbedding, ids: torch.Tensor) -> None:
    with torch.no_grad():
        embedding(ids)


def _forward_backward(embedding: TTEmbedding, ids: torch.Tensor, upstream: torch.Tensor) -> None:
    for core in embedding.cores:
        core.grad = None
    (embedding(ids) * upstream).sum().backward()


def measure(
    num_rows: int, rank: int, args: argparse.Namespace, generator: torch.Generator
) -> list[str]:
    """Markdown rows (one per id kind) for one ``TTEmbedding(num_rows, args.dim, rank)``."""
    started = time.perf_counter()
    embedding = TTEmbedding(num_rows, args.dim, rank=rank, seed=0, backend="torch")
    build_seconds = time.perf_counter() - started
    parameter_bytes = sum(core.numel() * core.element_size() for core in embedding.cores)
    dense_bytes = num_rows * args.dim * 4
    rows = []
    for kind in ("random", "clustered"):
        ids = make_ids(kind, num_rows, args.batch_size, args.window, args.per_window, generator)
        upstream = torch.randn(args.batch_size, args.dim, generator=generator)

        forward_wall, forward_cpu = time_repeats(_forward, args.repeats, embedding, ids)
        train_wall, train_cpu = time_repeats(
            _forward_backward, args.repeats, embedding, ids, upstream
        )
        rows.append(
            f"| {num_rows:,} | {rank} | {embedding.p_shapes} | {_gib(parameter_bytes)} | "
            f"{embedding.compression_ratio:,.0f}x | {_gib(dense_bytes)} | "
            f"{_gib(4 * dense_bytes)} | {kind} | {args.batch_size / forward_wall:,.0f} | "
            f"{args.batch_size / forward_cpu:,.0f} | {args.batch_size / train_wall:,.0f} | "
            f"{args.batch_size / train_cpu:,.0f} | {train_cpu / train_wall:.2f} | "
            f"{build_seconds:.2f} | "
            f"{_gib(_current_rss_bytes())} |"
        )
        print(rows[-1], flush=True)
    return rows


def papers100m_table() -> list[str]:
    """Markdown rows: papers100M compression by rank, with N rows and with prod(p) rows."""
    capacity = 1
    for p in PAPERS100M_P:
        capacity *= p
    lines = [
        "| rank | parameters (formula) | parameters (TTEmbedding) | compression, N = "
        f"{PAPERS100M_ROWS:,} | compression, prod(p) = {capacity:,} | published |",
        "|---|---|---|---|---|---|",
    ]
    for rank, published in PUBLISHED_PAPERS100M.items():
        module = TTEmbedding(
            PAPERS100M_ROWS,
            128,
            rank=rank,
            p_shapes=PAPERS100M_P,
            q_shapes=PAPERS100M_Q,
            seed=0,
            backend="torch",
        )
        lines.append(
            f"| {rank} | {tt_parameter_count(PAPERS100M_P, PAPERS100M_Q, rank):,} | "
            f"{module.num_parameters():,} | {papers100m_compression(rank):,.1f}x | "
            f"{papers100m_compression(rank, capacity):,.1f}x | {published:,}x |"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(DEFAULT_ROWS))
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--window", type=int, default=4096, help="clustered: ids per window")
    parser.add_argument("--per-window", type=int, default=64, help="clustered: draws per window")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="write the report here (.md)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    command = " ".join(shlex.quote(part) for part in ["python", "experiments/scale.py", *argv])
    lines = [
        "# TT embeddings at scale (CPU, torch path)",
        "",
        f"Command: `{command}`",
        "",
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other jobs), torch threads {args.threads}; "
        f"D = {args.dim}, fp32, batch {args.batch_size} ids, median of {args.repeats} repeats "
        f"after a warm-up. Clustered ids: windows of {args.window} consecutive ids, "
        f"{args.per_window} draws per window. 'dense' = the fp32 N x D table; 'dense + Adam' "
        "= table, gradient and two moment buffers. CPU/wall = process CPU seconds per wall "
        "second of the median fwd+bwd repeat (below 1: the process waited for a core; rows per "
        "CPU-second is the steadier figure on a shared machine). RSS = this process's resident "
        "memory after the row.",
        "",
        "| rows N | rank | p | TT parameter bytes | compression | dense table | dense + Adam | "
        "ids | forward rows/s | forward rows/CPU-s | fwd+bwd rows/s | fwd+bwd rows/CPU-s | "
        "CPU/wall | build s | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for num_rows in args.rows:
        for rank in args.ranks:
            lines += measure(num_rows, rank, args, generator)
    table = papers100m_table()
    lines += [
        "",
        "## ogbn-papers100M compression, p = (480, 500, 500), q = (8, 4, 4), D = 128",
        "",
        *table,
        "",
    ]
    print("\n".join(["", *table]), flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{args.output.name}.", suffix=".tmp", dir=args.output.parent
        )
        with os.fdopen(handle, "w") as stream:
            stream.write("\n".join(lines))
        os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
