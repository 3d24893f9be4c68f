"""GPU lookup benchmark: TTEmbedding on the Triton kernels vs nn.Embedding vs the torch TT path.

For each shape, rank and id distribution it times three phases, median over the repeats:
- ``forward``: the lookup under ``torch.no_grad``;
- ``backward``: ``rows.backward(grad_rows)`` alone (the forward runs untimed before it);
- ``step``: zero_grad, forward, backward and an SGD step.

Methods: ``TTEmbedding(backend="triton")`` (atomic backward), the same cores through
``tt_gnn.kernels.triton.tt_lookup(..., deterministic=True)``, ``TTEmbedding(backend="torch")`` (the
CPU-path algorithm, plain torch ops, run on the GPU), ``nn.Embedding`` with dense gradients and
with sparse gradients. Columns: rows/s; achieved GFLOP/s and GB/s under the cost model of
``tt_gnn.kernels.cost`` (TT methods: model flops and compulsory bytes; ``nn.Embedding``: the
gathered rows read and written, plus the gradient it materializes); and the two floors, flops over
peak and bytes over bandwidth (``--peak-tflops``, ``--peak-gbps``; defaults are an H100 SXM's
nominal fp32 non-tensor-core rate, which the kernels' fp32 ``tl.dot`` uses, and HBM3 bandwidth).
``max err`` is the largest difference of a method's rows from the torch TT path's rows.

Real mode needs CUDA::

    python experiments/bench_gpu.py --output experiments/results/bench_gpu.md

``--dry-run`` runs the same code end to end on the CPU with tiny shapes (Triton kernels through
``TRITON_INTERPRET=1``) so that CI keeps it working; its timings say nothing about speed::

    python experiments/bench_gpu.py --dry-run
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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tt_gnn.embedding import TTEmbedding
from tt_gnn.kernels import triton as triton_kernels
from tt_gnn.kernels.cost import lookup_cost
from tt_gnn.kernels.plan import plan_prefixes


@dataclass(frozen=True)
class Shape:
    name: str
    num_embeddings: int
    embedding_dim: int
    p_shapes: tuple[int, ...]
    q_shapes: tuple[int, ...]


REAL_SHAPES = {
    "products": Shape("products", 2_449_029, 100, (125, 140, 140), (4, 5, 5)),
    "papers100M": Shape("papers100M", 111_059_956, 128, (480, 500, 500), (8, 4, 4)),
}
DRY_RUN_SHAPES = {
    "tiny-d3": Shape("tiny-d3", 300, 8, (5, 6, 10), (2, 2, 2)),
    "tiny-d2": Shape("tiny-d2", 200, 6, (10, 20), (2, 3)),
}
PHASES = ("forward", "backward", "step")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU")
    parser.add_argument(
        "--shapes",
        default=None,
        help=f"comma-separated, from: {', '.join(REAL_SHAPES)} (default: all; dry run: tiny ones)",
    )
    parser.add_argument("--ranks", default=None, help="comma-separated (default 16,32; dry 4)")
    parser.add_argument("--patterns", default="random,clustered")
    parser.add_argument("--batch-size", type=int, default=None, help="default 65536; dry 24")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--repeats", type=int, default=None, help="default 20; dry 1")
    parser.add_argument("--warmup", type=int, default=None, help="default 5; dry 0")
    parser.add_argument("--peak-tflops", type=float, default=67.0)
    parser.add_argument("--peak-gbps", type=float, default=3350.0)
    parser.add_argument(
        "--max-dense-gb",
        type=float,
        default=20.0,
        help="skip nn.Embedding when its table and gradient need more",
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    dry = args.dry_run
    shapes = DRY_RUN_SHAPES if dry else REAL_SHAPES
    names = list(shapes) if args.shapes is None else args.shapes.split(",")
    for name in names:
        if name not in shapes:
            parser.error(f"unknown shape {name!r}; choose from {', '.join(shapes)}")
    args.shape_list = [shapes[name] for name in names]
    args.rank_list = [int(r) for r in (args.ranks or ("4" if dry else "16,32")).split(",")]
    args.pattern_list = args.patterns.split(",")
    for pattern in args.pattern_list:
        if pattern not in ("random", "clustered"):
            parser.error(f"unknown pattern {pattern!r}; choose random or clustered")
    args.batch_size = args.batch_size or (24 if dry else 65536)
    args.repeats = args.repeats or (1 if dry else 20)
    args.warmup = args.warmup if args.warmup is not None else (0 if dry else 5)
    return args


def make_ids(
    pattern: str,
    num_embeddings: int,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator,
) -> torch.Tensor:
    """``random``: uniform; ``clustered``: 100-id windows of 1000 consecutive rows (a reordered
    graph's minibatch)."""
    if pattern == "random":
        ids = torch.randint(0, num_embeddings, (batch_size,), generator=generator)
    else:
        window, per_window = min(1000, num_embeddings), 100
        num_windows = -(-batch_size // per_window)
        starts = torch.randint(
            0, num_embeddings - window + 1, (num_windows, 1), generator=generator
        )
        offsets = torch.randint(0, window, (num_windows, per_window), generator=generator)
        ids = (starts + offsets).reshape(-1)[:batch_size]
    return ids.to(device)


class DeterministicTT(nn.Module):
    """The cores of a TTEmbedding looked up with ``deterministic=True`` kernels."""

    def __init__(self, source: TTEmbedding) -> None:
        super().__init__()
        self.cores = nn.ParameterList(nn.Parameter(c.detach().clone()) for c in source.cores)
        self.p_shapes, self.q_shapes = source.p_shapes, source.q_shapes

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return triton_kernels.tt_lookup(
            list(self.cores), ids, self.p_shapes, self.q_shapes, deterministic=True
        )


def build_methods(
    shape: Shape, rank: int, args: argparse.Namespace, device: torch.device, dtype: torch.dtype
) -> tuple[dict[str, nn.Module], list[str]]:
    common = dict(
        rank=rank,
        p_shapes=shape.p_shapes,
        q_shapes=shape.q_shapes,
        seed=0,
        dtype=dtype,
        device=device,
    )
    reference = TTEmbedding(shape.num_embeddings, shape.embedding_dim, backend="torch", **common)
    triton_tt = TTEmbedding(shape.num_embeddings, shape.embedding_dim, backend="triton", **common)
    triton_tt.load_state_dict(reference.state_dict())
    methods: dict[str, nn.Module] = {
        "TT triton": triton_tt,
        "TT triton deterministic": DeterministicTT(reference),
        "TT torch path": reference,
    }
    skipped = []
    dense_gb = (
        2 * shape.num_embeddings * shape.embedding_dim * (2 if dtype == torch.bfloat16 else 4) / 1e9
    )
    if dense_gb <= args.max_dense_gb:
        for sparse in (False, True):
            table = nn.Embedding(
                shape.num_embeddings, shape.embedding_dim, sparse=sparse, device=device, dtype=dtype
            )
            methods[f"nn.Embedding {'sparse' if sparse else 'dense'}"] = table
    else:
        skipped.append(
            f"nn.Embedding skipped for {shape.name}: table + gradient need "
            f"{dense_gb:.1f} GB > --max-dense-gb {args.max_dense_gb}"
        )
    return methods, skipped


def timer(device: torch.device) -> Callable[[Callable[[], None], Callable[[], None]], float]:
    """Seconds of ``measured()`` after an untimed ``prepare()``: CUDA events or wall clock."""
    if device.type == "cuda":

        def time_cuda(prepare: Callable[[], None], measured: Callable[[], None]) -> float:
            prepare()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            measured()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3

        return time_cuda

    def time_cpu(prepare: Callable[[], None], measured: Callable[[], None]) -> float:
        prepare()
        start = time.perf_counter()
        measured()
        return time.perf_counter() - start

    return time_cpu


def time_phases(
    module: nn.Module,
    ids: torch.Tensor,
    grad_rows: torch.Tensor,
    args: argparse.Namespace,
    device: torch.device,
) -> dict[str, float]:
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-3)
    measure = timer(device)
    state: dict[str, torch.Tensor] = {}

    def nothing() -> None:
        return None

    def forward_no_grad() -> None:
        with torch.no_grad():
            module(ids)

    def forward_with_graph() -> None:
        optimizer.zero_grad(set_to_none=True)
        state["rows"] = module(ids)

    def backward() -> None:
        state.pop("rows").backward(grad_rows)

    def step() -> None:
        forward_with_graph()
        backward()
        optimizer.step()

    plans = {
        "forward": (nothing, forward_no_grad),
        "backward": (forward_with_graph, backward),
        "step": (nothing, step),
    }
    medians = {}
    for phase, (prepare, measured) in plans.items():
        for _ in range(args.warmup):
            measure(prepare, measured)
        medians[phase] = statistics.median(measure(prepare, measured) for _ in range(args.repeats))
    return medians


def phase_cost(
    name: str, phase: str, shape: Shape, rank: int, ids: torch.Tensor, dtype_bytes: int
) -> tuple[int, int]:
    """(model flops, model bytes) of one phase for one method."""
    n, dim = ids.numel(), shape.embedding_dim
    if name.startswith("TT"):
        ranks = (1, *([rank] * (len(shape.p_shapes) - 1)), 1)
        core_elements = [
            p * ranks[k] * q * ranks[k + 1]
            for k, (p, q) in enumerate(zip(shape.p_shapes, shape.q_shapes, strict=True))
        ]
        cost = lookup_cost(
            shape.q_shapes,
            ranks,
            terms_per_level=plan_prefixes(ids, shape.p_shapes).num_terms[1:],
            dtype_bytes=dtype_bytes,
            core_elements=core_elements,
        )
        update_bytes = 3 * sum(core_elements) * dtype_bytes  # SGD: read w, g; write w
        return {
            "forward": (cost.forward_flops, cost.forward_bytes),
            "backward": (cost.backward_flops, cost.backward_bytes),
            "step": (
                cost.forward_flops + cost.backward_flops,
                cost.forward_bytes + cost.backward_bytes + update_bytes,
            ),
        }[phase]
    rows_bytes = n * (8 + 2 * dim * dtype_bytes)  # ids; rows read and written
    if name.endswith("dense"):
        gradient_bytes = shape.num_embeddings * dim * dtype_bytes  # the N x D gradient written
        update_bytes = 3 * shape.num_embeddings * dim * dtype_bytes
    else:
        gradient_bytes = n * (8 + dim * dtype_bytes)  # sparse gradient values and indices
        update_bytes = 3 * n * dim * dtype_bytes
    backward_bytes = n * dim * dtype_bytes + gradient_bytes
    return {
        "forward": (0, rows_bytes),
        "backward": (0, backward_bytes),
        "step": (0, rows_bytes + backward_bytes + update_bytes),
    }[phase]


def benchmark(args: argparse.Namespace, device: torch.device) -> tuple[list[dict], list[str]]:
    dtype = getattr(torch, args.dtype)
    dtype_bytes = torch.finfo(dtype).bits // 8
    rows: list[dict] = []
    notes: list[str] = []
    generator = torch.Generator().manual_seed(0)
    for shape in args.shape_list:
        for rank in args.rank_list:
            methods, skipped = build_methods(shape, rank, args, device, dtype)
            notes.extend(skipped)
            for pattern in args.pattern_list:
                ids = make_ids(pattern, shape.num_embeddings, args.batch_size, device, generator)
                grad_rows = torch.randn(ids.numel(), shape.embedding_dim, generator=generator)
                grad_rows = grad_rows.to(device=device, dtype=dtype)
                with torch.no_grad():
                    reference_rows = methods["TT torch path"](ids).float()
                for name, module in methods.items():
                    with torch.no_grad():
                        error = (module(ids).float() - reference_rows).abs().max().item()
                    medians = time_phases(module, ids, grad_rows, args, device)
                    for phase in PHASES:
                        flops, num_bytes = phase_cost(name, phase, shape, rank, ids, dtype_bytes)
                        seconds = medians[phase]
                        rows.append(
                            {
                                "shape": shape.name,
                                "rank": rank,
                                "ids": pattern,
                                "method": name,
                                "phase": phase,
                                "ms": 1e3 * seconds,
                                "rows/s": ids.numel() / seconds,
                                "GFLOP/s": flops / seconds / 1e9,
                                "GB/s": num_bytes / seconds / 1e9,
                                "flop floor ms": 1e3 * flops / (args.peak_tflops * 1e12),
                                "byte floor ms": 1e3 * num_bytes / (args.peak_gbps * 1e9),
                                "max err": error if name.startswith(("TT",)) else float("nan"),
                            }
                        )
    return rows, notes


def format_table(rows: list[dict]) -> str:
    columns = [
        "shape",
        "rank",
        "ids",
        "method",
        "phase",
        "ms",
        "rows/s",
        "GFLOP/s",
        "GB/s",
        "flop floor ms",
        "byte floor ms",
        "max err",
    ]

    def cell(value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    command_arguments = sys.argv[1:] if argv is None else argv
    args = parse_args(command_arguments)
    if args.dry_run:
        # Must precede the first kernel call, which imports and decorates the Triton kernels.
        os.environ.setdefault("TRITON_INTERPRET", "1")
        device = torch.device("cpu")
    else:
        if not torch.cuda.is_available():
            print("bench_gpu.py needs a CUDA device; use --dry-run on a CPU", file=sys.stderr)
            return 2
        device = torch.device("cuda")
    if not triton_kernels.installed():
        print("bench_gpu.py needs Triton (pip install 'tt-gnn[gpu]')", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    rows, notes = benchmark(args, device)
    device_name = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    header = [
        f"command: `python experiments/bench_gpu.py {' '.join(command_arguments)}`",
        f"device: {device} ({device_name}); torch {torch.__version__}; dtype {args.dtype}; "
        f"batch {args.batch_size}; median of {args.repeats} after {args.warmup} warm-up",
        f"floors use peak {args.peak_tflops} TFLOP/s and {args.peak_gbps} GB/s",
    ]
    if args.dry_run:
        header.append("DRY RUN: Triton interpreter on the CPU; timings say nothing about speed")
    bullets = [f"- {line}" for line in [*header, *notes]]
    text = "\n".join(["# bench_gpu", "", *bullets, "", format_table(rows)]) + "\n"
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        temporary = args.output.with_suffix(args.output.suffix + ".tmp")
        temporary.write_text(text)
        os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
