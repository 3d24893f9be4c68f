"""``tt-gnn reorder``: relabel a graph so that TT row blocks follow graph partitions.

Reads an edge list, runs :func:`tt_gnn.reorder.reorder_graph`, writes the permutation and
prints the report.

Inputs:
- ``.npz`` in the shared-data format (``num_nodes``, ``edges [E, 2]``, optional ``labels``);
- ``.csv`` with ``src,dst`` rows (header optional, ``#`` comments), node count from
  ``--num-nodes`` or ``max id + 1``.

Outputs (written atomically):
- ``.npy``: the permutation only, int64 ``[N]``, ``permutation[new] = old``;
- ``.npz``: ``permutation``, ``inverse`` (``inverse[old] = new``), ``p_shapes``, ``method``,
  ``seed``.

Example:
    tt-gnn reorder ../shared/data/cora/graph.npz -o cora_order.npz --num-cores 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tt_gnn.options import parse_reorder

if TYPE_CHECKING:
    import numpy as np

    from tt_gnn.reorder import ReorderReport

__all__ = ["add_arguments", "run", "read_graph", "write_permutation"]

# What reordering allocates per node at the least: int64 CSR offsets, permutation and inverse.
_BYTES_PER_NODE = 24


def _shape_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 125,140,140, got {text!r}"
        ) from None


def _method(text: str) -> str:
    try:
        parse_reorder(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``reorder`` options on ``parser``."""
    parser.add_argument("input", type=Path, help="edge list: .npz (shared-data format) or .csv")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="where to write the permutation (.npy or .npz)",
    )
    parser.add_argument(
        "--method",
        type=_method,
        default="tt-metis",
        help="tt-metis (default), metis, metis:<k>, random or none",
    )
    parser.add_argument(
        "--p-shapes", type=_shape_list, default=None, help="TT row factors, e.g. 125,140,140"
    )
    parser.add_argument(
        "--num-cores", type=int, default=3, help="cores when --p-shapes is not given (default 3)"
    )
    parser.add_argument(
        "--num-parts",
        type=int,
        default=None,
        help="deprecated: use --method metis:<k> (parts for --method metis)",
    )
    parser.add_argument("--num-nodes", type=int, default=None, help="node count for a CSV input")
    parser.add_argument("--seed", type=int, default=0)


def read_graph(
    path: Path, num_nodes: int | None = None
) -> tuple[tuple[np.ndarray, np.ndarray], int | None, np.ndarray | None]:
    """Read ``((src, dst), num_nodes, labels)`` from a shared-data ``.npz`` or a CSV edge list.

    Both go through the dataset loaders' readers (:func:`tt_gnn.datasets.npz.read_npz_graph`,
    :func:`tt_gnn.data.read_edge_list_csv`), so a file is accepted or refused with the same
    message by ``tt-gnn reorder`` and ``tt-gnn train``.

    Example:
        >>> (src, dst), n, labels = read_graph(Path("graph.npz"))  # doctest: +SKIP
    """
    from tt_gnn.checks import positive_int
    from tt_gnn.datasets.common import check_node_count, check_regular_file

    if num_nodes is not None:
        num_nodes = positive_int(num_nodes, "--num-nodes")
    check_regular_file(path, "input file")
    labels = None
    if path.suffix == ".npz":
        from tt_gnn.datasets.npz import read_npz_graph

        (src, dst), stored_nodes, labels = read_npz_graph(path)
        if num_nodes is not None and stored_nodes is not None and num_nodes != stored_nodes:
            raise ValueError(f"--num-nodes {num_nodes} does not match {path}'s {stored_nodes}")
        num_nodes = stored_nodes if stored_nodes is not None else num_nodes
    elif path.suffix == ".csv":
        from tt_gnn.data import read_edge_list_csv

        src, dst = read_edge_list_csv(path, num_nodes)
    else:
        raise ValueError(f"input {path} must be a .npz (shared-data format) or a .csv edge list")
    if num_nodes is None:
        largest = max(int(src.max(initial=-1)), int(dst.max(initial=-1)))
        description = f"{path}: node id {largest} (ids must be 0..N-1)"
        check_node_count(largest + 1, _BYTES_PER_NODE, description)
    else:
        check_node_count(num_nodes, _BYTES_PER_NODE, f"{path} with num_nodes={num_nodes}")
    return (src, dst), num_nodes, labels


def write_permutation(path: Path, report: ReorderReport) -> None:
    """Write ``report``'s permutation to ``.npy`` or (with the inverse and shapes) ``.npz``."""
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"output {path} must end in .npy or .npz")
    import numpy as np

    from tt_gnn.io import atomic_write

    with atomic_write(path) as stream:
        if path.suffix == ".npy":
            np.save(stream, report.permutation)
        else:
            np.savez(
                stream,
                permutation=report.permutation,
                inverse=report.inverse,
                p_shapes=np.array(report.p_shapes, dtype=np.int64),
                method=np.array(report.method),
                seed=np.array(report.seed),
            )


def run(args: argparse.Namespace) -> int:
    """Reorder the input graph, write the permutation, print the report."""
    from tt_gnn.io import check_writable_file
    from tt_gnn.reorder import compute_order

    if args.output.suffix not in (".npy", ".npz"):
        raise ValueError(f"output {args.output} must end in .npy or .npz")
    check_writable_file(args.output, "--output")
    if args.num_parts is not None:
        print("tt-gnn reorder: --num-parts is deprecated; use --method metis:<k>", file=sys.stderr)
    graph, num_nodes, labels = read_graph(args.input, args.num_nodes)
    report = compute_order(
        graph,
        args.p_shapes,
        method=args.method,
        num_parts=args.num_parts,
        seed=args.seed,
        labels=labels,
        num_nodes=num_nodes,
        num_cores=args.num_cores,
    )
    write_permutation(args.output, report)
    print(report.to_markdown())
    print(f"\npermutation (new -> old) written to {args.output}")
    return 0
