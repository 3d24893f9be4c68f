"""Dropout on the CPU: ``nn.Dropout`` vs ``tt_gnn.gnn.dropout.Dropout``, side by side.

Question: how much of a GraphSAGE step does dropout on the sampled input rows cost, and how
much does the cheaper mask save? Shape: the first layer's input at ogbn-products size (batch
1024, fanouts 15,10,5: ~614k input nodes x D 128), forward + backward, median of ``--repeats``
after one warm-up, interleaved.

Command (results in ``experiments/results/bench_dropout.md``)::

    OMP_WAIT_POLICY=PASSIVE python experiments/bench_dropout.py \
        --output experiments/results/bench_dropout.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tt_gnn.gnn.dropout import Dropout  # noqa: E402


def time_step(layer: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """Seconds of forward and of backward of ``layer(x).sum()``."""
    started = time.perf_counter()
    out = layer(x)
    middle = time.perf_counter()
    out.backward(torch.ones_like(out))
    return middle - started, time.perf_counter() - middle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=614_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--p", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.rows, args.dim, requires_grad=True)
    methods = {"nn.Dropout": nn.Dropout(args.p), "tt_gnn Dropout": Dropout(args.p)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    for repeat in range(args.repeats + 1):
        for name, layer in methods.items():
            x.grad = None
            measured = time_step(layer, x)
            if repeat > 0:
                times[name].append(measured)
    command = " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        f"Command: `python experiments/bench_dropout.py {command}`",
        "",
        f"x: {args.rows} x {args.dim} float32, p {args.p}, {args.threads} threads, median of "
        f"{args.repeats}; torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}",
        "",
        "| method | forward ms | backward ms | total ms | vs nn.Dropout |",
        "|---|---|---|---|---|",
    ]
    baseline = None
    for name, values in times.items():
        forward = statistics.median(v[0] for v in values) * 1000
        backward = statistics.median(v[1] for v in values) * 1000
        total = forward + backward
        baseline = baseline or total
        lines.append(
            f"| {name} | {forward:.0f} | {backward:.0f} | {total:.0f} | {baseline / total:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output is not None:
        args.output.write_text("# Dropout on the CPU\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
