"""``tt-gnn demo``: full vs TT node embeddings on the built-in synthetic graph, side by side.

Trains the same featureless GraphSAGE twice on a planted-community graph (20,000 nodes by
default): once with a full ``nn.Embedding`` table, once with a ``TTEmbedding`` on the graph
reordered by ``tt-metis``; then prints accuracy, embedding parameters, compression and wall
time for both. Sized to finish in a few minutes on 2 CPU cores.

Example::

    tt-gnn demo                      # defaults
    tt-gnn demo --num-nodes 5000 --epochs 3 --rank 8
"""

from __future__ import annotations

import argparse
from typing import Any

from tt_gnn.cli.train import add_training_arguments, training_options
from tt_gnn.training.config import TrainConfig

__all__ = ["add_arguments", "run", "format_table"]

_DEMO_DEFAULTS = {
    "rank": 16,
    "embedding_dim": 64,
    "hidden": 64,
    "epochs": 5,
    "batch_size": 512,
    "lr": 0.03,
    "patience": 0,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``tt-gnn demo``'s options on ``parser``."""
    parser.add_argument(
        "--num-nodes", type=int, default=20_000, help="synthetic graph size (default 20000)"
    )
    add_training_arguments(parser)
    parser.set_defaults(**_DEMO_DEFAULTS)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render result rows (``label``, ``reorder`` and a metrics dict each) as a text table.

    Example:
        >>> print(format_table([{"label": "full", "reorder": "none", "test_accuracy": 0.5,
        ...     "val_accuracy": 0.4, "embedding_parameters": 1000, "compression_ratio": 1.0,
        ...     "seconds": 2.0}]))
        embedding  reorder  test acc  val acc  embedding params  compression  seconds
        full       none       0.5000   0.4000             1,000         1.0x      2.0
    """
    header = ["embedding", "reorder", "test acc", "val acc", "embedding params", "compression",
              "seconds"]  # fmt: skip
    cells = [
        [
            row["label"],
            row["reorder"],
            f"{row['test_accuracy']:.4f}",
            f"{row['val_accuracy']:.4f}",
            f"{row['embedding_parameters']:,}",
            f"{row['compression_ratio']:.1f}x",
            f"{row['seconds']:.1f}",
        ]
        for row in rows
    ]
    widths = [max(len(line[k]) for line in [header, *cells]) for k in range(len(header))]
    left_aligned = 2
    lines = []
    for line in [header, *cells]:
        parts = [
            text.ljust(width) if k < left_aligned or line is header else text.rjust(width)
            for k, (text, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status (bad options raise ``ValueError``, which
    ``tt_gnn.cli.main`` reports with status 2)."""
    from tt_gnn.training.loop import train

    common = dict(
        dataset="synthetic",
        dataset_options={"num_nodes": args.num_nodes},
        **training_options(args, default_fanout=5),
    )
    runs = [
        ("full (nn.Embedding)", TrainConfig(embedding="full", reorder="none", **common)),
        (
            f"TT rank {args.rank}",
            TrainConfig(embedding="tt", reorder=args.reorder or "tt-metis", **common),
        ),
    ]
    rows = []
    for label, config in runs:
        print(f"\n== {label}, reorder {config.reorder} ==", flush=True)
        metrics = train(config).metrics
        rows.append({"label": label, "reorder": config.reorder, **metrics})
    print(f"\nsynthetic planted-community graph, {args.num_nodes:,} nodes, {args.model}:")
    print(format_table(rows))
    return 0
