"""What does ``--post-process cs`` (Correct and Smooth) cost at scale, in time and memory?

The trainer runs it once, after training: full-graph inference (the same as one evaluation)
and then :func:`tt_gnn.propagation.tune_correct_and_smooth` over the normalized adjacency. This
script measures the second part alone on ``main_job.py``'s cached synthetic graph (generate
it with ``python experiments/main_job.py --num-nodes N --average-degree K``; ``--generate``
does it here), in its tt-metis order as the trainer sees it, with stand-in model
probabilities over ``--num-classes`` classes (the work does not depend on their values):

- ``adjacency s``: building the float32 symmetric normalized adjacency;
- ``tune s``: the correction and the smoothing with each of the four weights (``spmm``: sparse
  products of ``N x 16`` blocks it ran, on torch's threads, and the time per one); with
  ``--num-iterations`` below the trainer's 50, ``tune s at 50 steps`` scales it to 50 (every
  step costs the same);
- ``extra peak``: the peak RSS above what the process held before (the graph and the
  probabilities), against :func:`tt_gnn.propagation.correct_and_smooth_memory_bytes`, the
  estimate the trainer checks before it starts.

Commands (results in ``experiments/results/bench_postprocess.md``)::

    python experiments/bench_postprocess.py --num-nodes 300000 --average-degree 20
    python experiments/bench_postprocess.py --num-nodes 2449029 --average-degree 51 \
        --num-iterations 5

``--dry-run``: a tiny generated graph (the test suite runs it).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from main_job import peak_rss_bytes, prepare_cache, reset_peak_rss  # noqa: E402


def current_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-nodes", type=int, default=300_000)
    parser.add_argument("--average-degree", type=float, default=20.0)
    parser.add_argument("--num-classes", type=int, default=47, help="ogbn-products has 47")
    parser.add_argument("--num-iterations", type=int, default=50,
                        help="steps per propagation (the trainer runs 50; fewer to time a "
                        "large graph in less time: the cost per step is the same)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/tt-gnn-main-job"))
    parser.add_argument("--generate", action="store_true", help="make the cache if missing")
    parser.add_argument("--dry-run", action="store_true", help="a tiny graph, for tests")
    parser.add_argument("--output", type=Path, help="append the table to this markdown file")
    args = parser.parse_args(argv)
    args.reorder, args.embedding_dim = "tt-metis", 128  # what prepare_cache needs
    if args.dry_run:
        args.num_nodes, args.average_degree, args.num_classes = 2000, 6.0, 20
        args.generate = True
    return args


def run(args: argparse.Namespace) -> dict[str, float]:
    from tt_gnn.graph import Graph
    from tt_gnn.propagation import (
        DEFAULT_SMOOTH_ALPHAS,
        correct_and_smooth_memory_bytes,
        tune_correct_and_smooth,
    )
    from tt_gnn.spectral import normalized_adjacency

    folder = args.cache_dir / f"synthetic-{args.num_nodes}-{args.average_degree:g}"
    if not (folder / f"order-{args.reorder}.npy").exists():
        if not args.generate:
            raise SystemExit(f"no cached graph in {folder}: run main_job.py or pass --generate")
        prepare_cache(args)
    graph = Graph(
        torch.from_numpy(np.load(folder / "indptr.npy")),
        torch.from_numpy(np.load(folder / "indices.npy")),
    )
    order = torch.from_numpy(np.load(folder / f"order-{args.reorder}.npy"))
    graph = graph.relabel(order)
    inverse = np.empty(order.shape[0], dtype=np.int64)
    inverse[order.numpy()] = np.arange(order.shape[0])
    labels = np.empty(order.shape[0], dtype=np.int64)
    labels[inverse] = np.load(folder / "labels.npy")
    train, val, test = (
        np.sort(inverse[np.load(folder / f"{name}.npy")])
        for name in ("train_idx", "val_idx", "test_idx")
    )
    labels %= args.num_classes
    rng = np.random.default_rng(0)
    probabilities = rng.random((args.num_nodes, args.num_classes), dtype=np.float32)
    probabilities[np.arange(args.num_nodes), labels] += 1.0
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    estimate = correct_and_smooth_memory_bytes(
        graph.num_nodes(), graph.num_edges(), args.num_classes, itemsize=4
    )
    before = current_rss_bytes()
    reset_peak_rss()
    started = time.perf_counter()
    adjacency, _ = normalized_adjacency(graph, graph.num_nodes(), dtype=np.float32)
    adjacency_seconds = time.perf_counter() - started
    del graph
    started = time.perf_counter()
    alpha, _ = tune_correct_and_smooth(
        adjacency,
        probabilities,
        labels,
        train,
        val,
        rows=np.concatenate([val, test]),
        num_iterations=args.num_iterations,
    )
    tune_seconds = time.perf_counter() - started
    chunks = math.ceil(args.num_classes / 16) * (1 + len(DEFAULT_SMOOTH_ALPHAS))
    spmm = chunks * args.num_iterations
    return {
        "nodes": args.num_nodes,
        "nnz": int(adjacency.nnz),
        "classes": args.num_classes,
        "adjacency s": adjacency_seconds,
        "tune s": tune_seconds,
        "spmm": spmm,
        "ms per spmm": 1000 * tune_seconds / spmm,
        "tune s at 50 steps": tune_seconds * 50 / args.num_iterations,
        "extra peak GiB": (peak_rss_bytes() - before) / 2**30,
        "estimate GiB": estimate / 2**30,
        "chosen alpha": alpha if alpha is not None else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    header = list(result)
    row = [f"{value:,}" if isinstance(value, int) else f"{value:.3g}" for value in result.values()]
    table = "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                       "| " + " | ".join(row) + " |"])  # fmt: skip
    command = "python experiments/bench_postprocess.py " + " ".join(argv or sys.argv[1:])
    text = f"`{command}` (torch threads: {torch.get_num_threads()})\n\n{table}\n"
    print(text)
    if args.output is not None:
        with args.output.open("a") as stream:
            stream.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
