"""Leaf-block edge cut and label homophily of tt-metis vs flat METIS vs random orderings.

For every graph in ``../shared/data`` (or ``--data``), with the TT row shape ``TTEmbedding``
would choose for ``--num-cores`` cores, prints one markdown row per dataset:

- leaf cut of ``tt-metis`` (leaf blocks of exactly ``p_d`` consecutive ids),
- the cut of one flat METIS call into the same number of parts (ceil(N / p_d), sizes free),
- the leaf cut of the flat METIS order (parts not aligned to leaf blocks),
- the leaf cut of a random order,
- label homophily inside tt-metis leaf blocks (pairs of labeled nodes sharing a leaf), the
  graph's edge homophily, and chance.

Usage:
    .venv/bin/python experiments/reorder_quality.py [--num-cores 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tt_gnn.reorder import reorder_graph

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def evaluate(path: Path, num_cores: int, seed: int) -> str:
    with np.load(path / "graph.npz") as archive:
        num_nodes = int(archive["num_nodes"])
        edges = archive["edges"]
        labels = archive["labels"] if "labels" in archive.files else None
    graph = (edges[:, 0], edges[:, 1])
    _, tt = reorder_graph(graph, num_nodes=num_nodes, num_cores=num_cores, seed=seed, labels=labels)
    leaf_parts = tt.levels[-1].num_blocks
    _, flat = reorder_graph(
        graph, tt.p_shapes, num_nodes=num_nodes, method="metis", num_parts=leaf_parts, seed=seed
    )
    _, random = reorder_graph(graph, tt.p_shapes, num_nodes=num_nodes, method="random", seed=seed)
    flat_cut = flat.partition.edge_cut
    homophily = (
        f"{tt.leaf_homophily:.3f} | {tt.edge_homophily:.3f} | {tt.chance_homophily:.3f}"
        if tt.leaf_homophily is not None
        else "n/a | n/a | n/a"
    )
    return (
        f"| {path.name} | {tt.num_nodes:,} | {tt.num_edges:,} | {tt.p_shapes} | {leaf_parts:,} | "
        f"{tt.leaf_edge_cut:,} | {flat_cut:,} | {tt.leaf_edge_cut / max(flat_cut, 1):.3f} | "
        f"{flat.leaf_edge_cut:,} | {random.leaf_edge_cut:,} | "
        f"{tt.levels[-1].cut_fraction:.3f} | {random.levels[-1].cut_fraction:.3f} | "
        f"{homophily} | {tt.seconds:.2f} | {flat.seconds:.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--num-cores", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"datasets not found at {args.data}", file=sys.stderr)
        return 1
    print(
        "| dataset | N | E | p | leaf parts | tt-metis leaf cut | flat METIS cut | ratio | "
        "flat order leaf cut | random leaf cut | tt-metis cut frac | random cut frac | "
        "leaf homophily | edge homophily | chance | tt-metis s | flat s |"
    )
    print("|" + "---|" * 17)
    for path in sorted(p for p in args.data.iterdir() if (p / "graph.npz").is_file()):
        print(evaluate(path, args.num_cores, args.seed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
