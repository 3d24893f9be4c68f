"""Label propagation (and spectral embedding + logistic regression) on every shared graph.

Two splits per graph:

- **standard**: the split ``tt_gnn.data.load_dataset`` gives the trainer (Planetoid public
  for cora/citeseer/pubmed, Geom-GCN split 0 for chameleon/squirrel, a seeded random
  60/20/20 split of the labeled nodes elsewhere: the numbers TT training is compared with);
- **20 per class**: ``labels_per_class_split(labels, 20, 500, 1000, seed)`` for seeds
  0, 1, 2 (mean ± std), the Planetoid label rate on every graph.

Multi-label graphs (blogcatalog) are listed as skipped; a graph with a class of fewer than 20
nodes gets the split's error message instead of a number.

Usage:
    PYTHONPATH=$PWD .venv/bin/python experiments/baselines.py \\
        --output experiments/results/baselines.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from tt_gnn.baselines import label_propagation, labels_per_class_split, spectral_logistic_regression
from tt_gnn.data import load_dataset

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPLIT_SEEDS = (0, 1, 2)


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def evaluate(name: str, data: Path, with_spectral: bool) -> str:
    """One markdown row for the dataset ``name``."""
    started = time.perf_counter()
    dataset = load_dataset(name, root=data)
    if dataset.multilabel:
        return f"| {name} | {dataset.num_nodes:,} | {dataset.num_classes} | multi-label: skipped |"
    graph, labels = dataset.graph, dataset.labels
    standard = (dataset.train_idx, dataset.val_idx, dataset.test_idx)
    methods = [label_propagation, spectral_logistic_regression if with_spectral else None]
    try:
        per_class = [labels_per_class_split(labels, 20, 500, 1000, seed) for seed in SPLIT_SEEDS]
    except ValueError as error:
        per_class = str(error)
    standard_cells, per_class_cells = [], []
    for method in methods:
        if method is None:
            standard_cells.append("-")
            per_class_cells.append("-")
            continue
        standard_cells.append(f"{method(graph, labels, *standard)['test_accuracy']:.3f}")
        if isinstance(per_class, str):
            per_class_cells.append(f"n/a: {per_class}")
        else:
            accuracies = [method(graph, labels, *split)["test_accuracy"] for split in per_class]
            per_class_cells.append(_mean_std(accuracies))
    cells = [
        name,
        f"{dataset.num_nodes:,}",
        str(dataset.num_classes),
        f"{dataset.split_description} ({len(dataset.train_idx):,} train)",
        *standard_cells,
        *per_class_cells,
        f"{time.perf_counter() - started:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", help="comma-separated names (default: every graph.npz)")
    parser.add_argument("--no-spectral", action="store_true", help="label propagation only")
    parser.add_argument("--output", type=Path, help="also write the markdown table there")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"datasets not found at {args.data}", file=sys.stderr)
        return 1
    names = (
        args.datasets.split(",")
        if args.datasets
        else sorted(p.name for p in args.data.iterdir() if (p / "graph.npz").is_file())
    )
    lines = [
        "| dataset | N | classes | standard split | LP test | spectral+LR test | "
        "LP test, 20/class | spectral+LR test, 20/class | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name in names:
        lines.append(evaluate(name, args.data, not args.no_spectral))
        print(lines[-1], flush=True)
    if args.output is not None:
        command = " ".join(["python", "experiments/baselines.py", *(argv or sys.argv[1:])])
        args.output.write_text(_report(command, lines))
    return 0


def _report(command: str, table: list[str]) -> str:
    return "\n".join(
        [
            "# Featureless baselines: label propagation and spectral embedding + LR",
            "",
            "Produced by:",
            "",
            "```",
            f"PYTHONPATH=$PWD {command}",
            "```",
            "",
            "Test accuracy. *LP*: `tt_gnn.baselines.label_propagation` (alpha 0.9, 50 "
            "iterations, clamped training labels). *spectral+LR*: "
            "`tt_gnn.baselines.spectral_logistic_regression` (32 bottom Laplacian "
            "eigenvectors, L2 weight chosen on validation). *standard*: the split the trainer "
            "uses (`tt_gnn.data.load_dataset`); *20/class*: `labels_per_class_split(labels, 20, "
            "500, 1000, seed)`, mean ± std over seeds 0, 1, 2. No parameter is tuned on test "
            "nodes; LP tunes nothing. Machine: 2 shared CPU cores (seconds under load).",
            "",
            *table,
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
