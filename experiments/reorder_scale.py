"""Wall time and peak memory of tt-metis vs one flat METIS call on an ogbn-products-sized graph.

Generates ``planted_partition_graph(N, communities, average_degree, seed)`` once and stores its
edges as a ``.npy`` pair (in a temporary folder, or in ``--edge-cache`` to reuse them), then
runs each method in a fresh Python process. Each worker loads the edges, calls
``reorder_graph((src, dst), p_shapes, ...)`` and reports wall time, its own CPU time (less
sensitive than wall time to other processes sharing the cores), time inside METIS, peak
resident memory (``VmHWM``, which starts afresh at ``exec``; includes the 1 GB of loaded edges
and the interpreter with torch) and the leaf-block edge cut. ``p_shapes`` is what
``TTEmbedding`` chooses for ``--num-cores`` cores; the flat baseline is one METIS call into
``p_1 * ... * p_{d-1}`` parts (as many parts as leaf blocks).

The default ``--average-degree 59`` is the generator's draw rate: draws inside communities of
~122 nodes collide, so it yields about 62M unique undirected edges (realized average degree
~51, as in ogbn-products); 51 draws per node gave only 54.6M.

Usage:
    .venv/bin/python experiments/reorder_scale.py            # 2,449,029 nodes, ~62M edges
    .venv/bin/python experiments/reorder_scale.py --num-nodes 200000 --communities 1600
    add ``--edge-cache DIR`` to keep the generated edges for a later run.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tt_gnn.io import atomic_write
from tt_gnn.reorder import reorder_graph
from tt_gnn.shapes import choose_shapes
from tt_gnn.synthetic import planted_partition_graph


def peak_rss_gb() -> float:
    """Peak resident memory of this process in GiB.

    Reads ``VmHWM`` from ``/proc/self/status``: unlike ``getrusage().ru_maxrss``, it starts
    afresh at ``exec``, so a worker does not inherit the high-water mark of the parent that
    forked it. Falls back to ``ru_maxrss`` where ``/proc`` is absent.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def edge_files(args: argparse.Namespace, directory: Path) -> Path:
    """Generate the edges into ``directory/<parameters>/{src,dst}.npy`` unless already there."""
    key = f"planted_{args.num_nodes}_{args.communities}_{args.average_degree:g}_{args.seed}"
    edge_dir = directory / key
    if (edge_dir / "src.npy").is_file() and (edge_dir / "dst.npy").is_file():
        print(f"graph: reusing {edge_dir}", flush=True)
        return edge_dir
    started = time.perf_counter()
    graph = planted_partition_graph(
        args.num_nodes, args.communities, average_degree=args.average_degree, seed=args.seed
    )
    print(f"graph: generated in {time.perf_counter() - started:.1f} s", flush=True)
    edge_dir.mkdir(parents=True, exist_ok=True)
    for name, values in (("src", graph.src), ("dst", graph.dst)):
        with atomic_write(edge_dir / f"{name}.npy") as stream:
            np.save(stream, values)
    return edge_dir


def run_worker(edge_dir: Path, num_nodes: int, method: str, num_cores: int, seed: int) -> dict:
    """Load the edges and reorder; return measurements (runs inside a fresh process)."""
    src = np.load(edge_dir / "src.npy")
    dst = np.load(edge_dir / "dst.npy")
    loaded_rss_gb = peak_rss_gb()
    p_shapes = choose_shapes(num_nodes, 1, num_cores=num_cores).p_shapes
    num_parts = math.prod(p_shapes[:-1]) if method == "metis" else None
    started = time.perf_counter()
    cpu_started = time.process_time()
    _, report = reorder_graph(
        (src, dst), p_shapes, num_nodes=num_nodes, method=method, num_parts=num_parts, seed=seed
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "method": method,
        "p_shapes": list(p_shapes),
        "num_parts": num_parts,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "metis_seconds": report.metis_seconds,
        "peak_rss_gb": peak_rss_gb(),
        "rss_after_loading_edges_gb": loaded_rss_gb,
        "leaf_cut": report.leaf_edge_cut,
        "leaf_cut_fraction": report.levels[-1].cut_fraction,
        "partition_cut": None if report.partition is None else report.partition.edge_cut,
        "num_edges": report.num_edges,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-nodes", type=int, default=2_449_029)
    parser.add_argument("--communities", type=int, default=20_000)
    parser.add_argument("--average-degree", type=float, default=59.0)
    parser.add_argument("--num-cores", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="tt-metis,metis")
    parser.add_argument(
        "--edge-cache", type=Path, default=None, help="keep/reuse generated edges in this folder"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--edge-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = run_worker(args.edge_dir, args.num_nodes, args.worker, args.num_cores, args.seed)
        print(json.dumps(result))
        return 0

    rows = []
    with tempfile.TemporaryDirectory() as temporary_directory:
        edge_dir = edge_files(args, args.edge_cache or Path(temporary_directory))
        num_edges = np.load(edge_dir / "src.npy", mmap_mode="r").shape[0]
        print(
            f"graph: N={args.num_nodes:,}, undirected edges={num_edges:,}, "
            f"communities={args.communities:,}, draws per node={args.average_degree:g}",
            flush=True,
        )
        for method in args.methods.split(","):
            command = [
                sys.executable,
                __file__,
                "--worker",
                method,
                "--edge-dir",
                str(edge_dir),
                "--num-nodes",
                str(args.num_nodes),
                "--num-cores",
                str(args.num_cores),
                "--seed",
                str(args.seed),
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print()
    print(
        "| method | p_shapes | parts | wall s | CPU s | METIS wall s | peak RSS GB | leaf cut | "
        "leaf cut fraction | METIS parts cut |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        parts = row["num_parts"] or f"{math.prod(row['p_shapes'][:-1]):,} leaves"
        partition_cut = "" if row["partition_cut"] is None else f"{row['partition_cut']:,}"
        print(
            f"| {row['method']} | {tuple(row['p_shapes'])} | {parts} | {row['seconds']:.1f} | "
            f"{row['cpu_seconds']:.1f} | {row['metis_seconds']:.1f} | "
            f"{row['peak_rss_gb']:.2f} | {row['leaf_cut']:,} | "
            f"{row['leaf_cut_fraction']:.4f} | {partition_cut} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
