"""Spectral initialization at scale: eigen-solve time, TT-SVD time, TT error, peak memory.

Two modes, each printing a markdown table:

- ``--datasets cora pubmed ...`` (default: every graph in ``../shared/data``): for each graph,
  spectral init with the original node order and after ``reorder_graph`` (tt-metis).
- ``--synthetic``: a planted-partition graph (``--num-nodes``, ``--communities``,
  ``--average-degree``), ids either as generated (random) or sorted by planted community
  (``--order community``, standing in for a partition-aligned reordering); ``--edge-cache``
  keeps the generated edges for another run. The init runs in
  a fresh subprocess that loads the edge arrays, so its peak RSS covers the init alone (plus
  the edge arrays it was given).

Examples:
    .venv/bin/python experiments/spectral_scale.py --datasets cora pubmed --dim 64 --rank 16
    .venv/bin/python experiments/spectral_scale.py --synthetic --num-nodes 2449029 \\
        --communities 20000 --average-degree 51 --dim 64 --rank 16 --order community
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from tt_gnn.init import initialize_cores
from tt_gnn.shapes import choose_shapes

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def spectral_init(src, dst, num_nodes: int, args: argparse.Namespace) -> dict:
    """Run the registered ``"spectral"`` initializer and return its report plus timings."""
    shapes = choose_shapes(num_nodes, args.dim, num_cores=args.num_cores)
    tt_ranks = (1, *([args.rank] * (args.num_cores - 1)), 1)
    report: dict = {}
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    initialize_cores(
        "spectral",
        shapes,
        tt_ranks,
        graph=(src, dst),
        seed=args.seed,
        tol=args.tol,
        max_iterations=args.max_iterations,
        filter_degree=args.filter_degree,
        report=report,
    )
    return {
        "p_shapes": shapes.p_shapes,
        "q_shapes": shapes.q_shapes,
        "total_s": time.perf_counter() - started,
        "solve_s": report["solve_seconds"],
        "tt_svd_s": report["tt_svd_seconds"],
        "iterations": report["iterations"],
        "max_residual": float(report["residual_norms"].max()),
        "converged": report["converged"],
        "eigenvalue_range": (
            float(report["eigenvalues"][0]),
            float(report["eigenvalues"][-1]),
        ),
        "components": report["num_components"],
        "relative_error": report["relative_error"],
        "error_bound": report["error_bound"],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "cpu_s": _cpu_seconds() - cpu_started,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _row(name: str, num_nodes: int, num_edges: int, order: str, result: dict, args) -> str:
    low, high = result["eigenvalue_range"]
    return (
        f"| {name} | {num_nodes:,} | {num_edges:,} | {order} | {args.dim} | {args.rank} | "
        f"{result['p_shapes']} x {result['q_shapes']} | {result['solve_s']:.1f} | "
        f"{result['iterations']} | {result['max_residual']:.1e} | {low:.3f}..{high:.3f} | "
        f"{result['tt_svd_s']:.1f} | {result['relative_error']:.3f} | "
        f"{result['error_bound']:.3f} | {result['total_s']:.1f} | {result['cpu_s']:.0f} | "
        f"{result['peak_rss_gib']:.2f} |"
    )


HEADER = (
    "| graph | nodes | edges | order | D | rank | p x q | solve s | iters | max residual | "
    "eigenvalues | TT-SVD s | TT rel. error | bound | total s | CPU s | peak RSS GiB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def run_datasets(args: argparse.Namespace) -> None:
    from tt_gnn.reorder import reorder_graph

    names = args.datasets or sorted(p.name for p in SHARED_DATA.iterdir() if p.is_dir())
    print(HEADER)
    for name in names:
        data = np.load(SHARED_DATA / name / "graph.npz")
        num_nodes = int(data["num_nodes"])
        src, dst = data["edges"][:, 0], data["edges"][:, 1]
        if args.dim > num_nodes // 2:
            print(f"| {name} | {num_nodes:,} | skipped: D={args.dim} too large |")
            continue
        for order in ("original", "tt-metis"):
            if order == "tt-metis":
                shapes = choose_shapes(num_nodes, args.dim, num_cores=args.num_cores)
                (src_new, dst_new), _ = reorder_graph(
                    (src, dst), shapes.p_shapes, num_nodes=num_nodes, seed=args.seed
                )
            else:
                src_new, dst_new = src, dst
            result = spectral_init(np.asarray(src_new), np.asarray(dst_new), num_nodes, args)
            print(_row(name, num_nodes, src.shape[0], order, result, args), flush=True)


def run_synthetic(args: argparse.Namespace) -> None:
    if args.edge_cache is not None and (Path(args.edge_cache) / "src.npy").exists():
        folder = Path(args.edge_cache)
        print(f"reusing the edge arrays in {folder}", file=sys.stderr, flush=True)
        result = _run_worker_process(folder)
    elif args.edge_cache is not None:
        folder = Path(args.edge_cache)
        folder.mkdir(parents=True, exist_ok=True)
        _write_synthetic_edges(folder, args)
        result = _run_worker_process(folder)
    else:
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            _write_synthetic_edges(folder, args)
            result = _run_worker_process(folder)
    num_edges = int(result["num_edges"])
    print(HEADER)
    name = f"planted partition ({args.communities:,} communities)"
    print(_row(name, args.num_nodes, num_edges, args.order, result, args))


def _write_synthetic_edges(folder: Path, args: argparse.Namespace) -> None:
    from tt_gnn.synthetic import planted_partition_graph

    started = time.perf_counter()
    graph = planted_partition_graph(
        args.num_nodes,
        args.communities,
        average_degree=args.average_degree,
        mixing=args.mixing,
        seed=args.seed,
    )
    src, dst = graph.src, graph.dst
    if args.order == "community":
        new_id = np.empty(graph.num_nodes, dtype=np.int64)
        new_id[np.argsort(graph.community, kind="stable")] = np.arange(graph.num_nodes)
        src, dst = new_id[src], new_id[dst]
    print(
        f"generated {graph.num_nodes:,} nodes, {graph.num_edges:,} edges in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    for name, values in (("src", src), ("dst", dst)):
        temporary = folder / f"{name}.tmp.npy"
        np.save(temporary, values)
        os.replace(temporary, folder / f"{name}.npy")


def _run_worker_process(folder: Path) -> dict:
    command = [sys.executable, __file__, "--worker", str(folder), *sys.argv[1:]]
    completed = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_worker(folder: str, args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    src = np.load(Path(folder) / "src.npy")
    dst = np.load(Path(folder) / "dst.npy")
    result = spectral_init(src, dst, args.num_nodes, args)
    result["num_edges"] = int(src.shape[0])
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--num-nodes", type=int, default=245_000)
    parser.add_argument("--communities", type=int, default=2_000)
    parser.add_argument("--average-degree", type=float, default=51.0)
    parser.add_argument("--mixing", type=float, default=0.2)
    parser.add_argument("--order", choices=("random", "community"), default="community")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--num-cores", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-2)
    parser.add_argument("--max-iterations", type=int, default=30)
    parser.add_argument("--filter-degree", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--edge-cache",
        default=None,
        help="folder for the synthetic edge arrays: reused when present, written otherwise "
        "(the graph options must match the ones that wrote it)",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    if args.worker is not None:
        run_worker(args.worker, args)
    elif args.synthetic:
        run_synthetic(args)
    else:
        run_datasets(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
