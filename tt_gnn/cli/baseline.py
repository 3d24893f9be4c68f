"""``tt-gnn baseline``: the featureless floors a user tries first, on the trainer's splits.

Label propagation (:func:`tt_gnn.baselines.label_propagation`) and, with ``--method
spectral-lr``, Laplacian eigenvectors + logistic regression
(:func:`tt_gnn.baselines.spectral_logistic_regression`), on the dataset's own split or the
label-sparse ``--labels-per-class K`` split that ``tt-gnn train`` uses for the same options.

Example::

    tt-gnn baseline --dataset cora
    tt-gnn baseline --dataset pubmed --labels-per-class 20 --split-seed 1 --method spectral-lr
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run", "METHODS"]

METHODS = ("lp", "spectral-lr")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``tt-gnn baseline``'s options on ``parser``."""
    parser.add_argument("--dataset", required=True, help="a shared name, ogbn-*, or a path")
    parser.add_argument("--data-root", help="folder of shared datasets (default ../shared/data)")
    parser.add_argument("--method", choices=METHODS, default="lp", help="default: lp")
    parser.add_argument("--split", type=int, default=0, help="which standard split")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of a random split")
    parser.add_argument(
        "--random-split",
        action="store_true",
        help="a seeded random 60/20/20 split even where the dataset has a standard one",
    )
    parser.add_argument("--labels-per-class", type=int, help="K training nodes per class")
    parser.add_argument("--num-val", type=int, default=500)
    parser.add_argument("--num-test", type=int, default=1000)
    parser.add_argument("--output-json", help="write the accuracies there")


def run(args: argparse.Namespace) -> int:
    """Run the baseline and print train/val/test accuracy."""
    from tt_gnn import baselines
    from tt_gnn.data import load_dataset
    from tt_gnn.io import check_writable_file, write_json
    from tt_gnn.training.config import TrainConfig
    from tt_gnn.training.pipeline import labels_per_class_dataset

    if args.output_json is not None:
        check_writable_file(args.output_json, "--output-json")
    config = TrainConfig(
        dataset=args.dataset,
        data_root=args.data_root,
        split=args.split,
        split_seed=args.split_seed,
        labels_per_class=args.labels_per_class,
        num_val=args.num_val,
        num_test=args.num_test,
        epochs=1,
    )
    dataset = load_dataset(
        config.dataset,
        root=config.data_root,
        split=config.split,
        split_seed=config.split_seed,
        **({"random_split": True} if args.random_split else {}),
    )
    if dataset.multilabel:
        raise ValueError(f"baselines need single-label data; {dataset.name} is multi-label")
    if config.labels_per_class is not None:
        dataset = labels_per_class_dataset(dataset, config)
    function = (
        baselines.label_propagation
        if args.method == "lp"
        else baselines.spectral_logistic_regression
    )
    result = function(
        dataset.graph, dataset.labels, dataset.train_idx, dataset.val_idx, dataset.test_idx
    )
    print(
        f"{dataset.name} ({dataset.split_description}), {args.method}: train "
        f"{result['train_accuracy']:.4f}, val {result['val_accuracy']:.4f}, test "
        f"{result['test_accuracy']:.4f}"
    )
    if args.output_json is not None:
        write_json(
            {
                **result,
                "dataset": dataset.name,
                "method": args.method,
                "split_description": dataset.split_description,
                "labels_per_class": args.labels_per_class,
            },
            args.output_json,
        )
    return 0
