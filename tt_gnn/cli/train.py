"""``tt-gnn train``: train GraphSAGE/GAT with TT, full or feature inputs on one dataset.

Prints per-epoch loss and accuracy, the final test metric, the embedding parameter count and
the compression ratio; ``--output-json`` writes them. ``--nproc N`` runs N data-parallel
processes (gloo on CPU, NCCL with ``--devices``); under ``torchrun`` the processes come from
the launcher (see ``tt_gnn.training.distributed`` for a multi-node command).

Example::

    tt-gnn train --dataset cora --model sage --embedding tt --rank 16 --reorder tt-metis \\
        --epochs 50 --output-json cora.json
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

from tt_gnn.options import (
    EMBEDDING_KINDS,
    GNN_BACKENDS,
    MODEL_NAMES,
    POST_PROCESS_METHODS,
    parse_devices,
    parse_fanouts,
    parse_reorder,
)
from tt_gnn.training.config import TrainConfig, default_options

__all__ = ["add_arguments", "add_training_arguments", "config_from_args", "run"]

_DEFAULTS = SimpleNamespace(**default_options())


def _shape_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated ints like '4,4,8', got {text!r}"
        ) from None
    return values


def _fanouts(text: str) -> tuple[int, ...]:
    try:
        return parse_fanouts(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _devices(text: str) -> list[int]:
    try:
        return parse_devices(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _reorder(text: str) -> str:
    try:
        parse_reorder(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, embedding and optimization options shared by ``train`` and ``demo``."""
    group = parser.add_argument_group("model and embedding")
    group.add_argument("--model", choices=MODEL_NAMES, default=_DEFAULTS.model)
    group.add_argument(
        "--gnn",
        choices=GNN_BACKENDS,
        default=_DEFAULTS.gnn,
        help="graph backend (sampler + layers): torch (torch only, CPU or CUDA), dgl, pyg; "
        "auto (default) = torch",
    )
    group.add_argument("--rank", type=int, help=f"TT rank (default {_DEFAULTS.rank})")
    group.add_argument("--embedding-dim", type=int, default=_DEFAULTS.embedding_dim)
    group.add_argument("--num-cores", type=int, help=f"TT cores (default {_DEFAULTS.num_cores})")
    group.add_argument("--p-shapes", type=_shape_list, help="TT row factors, e.g. 20,30,40")
    group.add_argument("--q-shapes", type=_shape_list, help="TT column factors, e.g. 4,4,8")
    group.add_argument(
        "--init",
        help="initializer of the TT or full table: gaussian, ortho, spectral (default: spectral "
        "for --embedding tt, gaussian for full)",
    )
    group.add_argument(
        "--reorder",
        type=_reorder,
        default=None,
        help="node order: tt-metis, metis, metis:<k>, random or none (default: tt-metis for "
        "--embedding tt, none otherwise)",
    )
    group.add_argument("--hidden", type=int, default=_DEFAULTS.hidden, help="per head for GAT")
    group.add_argument("--layers", type=int, help="number of layers (default: one per fanout)")
    group.add_argument("--heads", type=int, default=_DEFAULTS.heads, help="GAT heads")
    group.add_argument("--dropout", type=float, default=_DEFAULTS.dropout)
    group = parser.add_argument_group("optimization")
    group.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    group.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    group.add_argument(
        "--patience", type=int, default=_DEFAULTS.patience, help="0 disables early stopping"
    )
    group.add_argument("--eval-every", type=int, default=_DEFAULTS.eval_every)
    group.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    group.add_argument(
        "--fanouts",
        type=_fanouts,
        help="neighbors per layer, e.g. 10,10 (-1: all; default 10 per layer)",
    )
    group.add_argument("--lr", type=float, default=_DEFAULTS.lr)
    group.add_argument("--weight-decay", type=float, default=_DEFAULTS.weight_decay)
    group.add_argument(
        "--post-process",
        choices=POST_PROCESS_METHODS,
        default=_DEFAULTS.post_process,
        help="after training: cs = Correct and Smooth (label propagation of the model's "
        "residuals and predictions, its weight chosen on the validation nodes); auto "
        "(default) = cs where it applies (single-label data that fits in memory), else none",
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bars")
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="bit-identical results on any machine: one thread, deterministic kernels "
        "(default: a seed fixes every random choice; float sums may differ across thread counts)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``tt-gnn train``'s options on ``parser``."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        default=_DEFAULTS.dataset,
        help="synthetic, a shared name (cora, pubmed, ...), ogbn-*, or a path to graph.npz / "
        "an edge-list CSV",
    )
    group.add_argument("--data-root", help="folder of shared datasets (default ../shared/data)")
    group.add_argument("--split", type=int, default=0, help="which standard split")
    group.add_argument("--split-seed", type=int, default=0, help="seed of a random split")
    group.add_argument(
        "--random-split",
        action="store_true",
        help="a seeded random 60/20/20 split even where the dataset has a standard one "
        "(shared npz datasets)",
    )
    group.add_argument(
        "--labels", help="labels file for an edge-list CSV dataset (CSV node,label or .npy)"
    )
    group.add_argument("--num-nodes", type=int, help="synthetic dataset size (default 20000)")
    group.add_argument(
        "--labels-per-class",
        type=int,
        help="label-sparse protocol: K random training nodes per class (seed: --split-seed)",
    )
    group.add_argument(
        "--num-val", type=int, default=500, help="validation nodes with --labels-per-class"
    )
    group.add_argument(
        "--num-test", type=int, default=1000, help="test nodes with --labels-per-class"
    )
    group.add_argument(
        "--embedding",
        choices=EMBEDDING_KINDS,
        default=_DEFAULTS.embedding,
        help="tt, full (nn.Embedding), or the dataset's node features",
    )
    add_training_arguments(parser)
    group = parser.add_argument_group("output, checkpoints and processes")
    group.add_argument("--output-json", help="write the final metrics there")
    group.add_argument("--checkpoint-dir", help="write checkpoint.pt there after every epoch")
    group.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint-dir's checkpoint"
    )
    group.add_argument("--nproc", type=int, default=1, help="data-parallel processes (gloo on CPU)")
    group.add_argument("--devices", type=_devices, default=[], help="CUDA devices, e.g. 0,1 (NCCL)")


def resolve_fanouts(
    fanouts: tuple[int, ...] | None, layers: int | None, default_fanout: int = 10
) -> tuple[int, ...]:
    """Combine ``--fanouts`` and ``--layers`` (``default_fanout`` per layer, 2 layers by
    default)."""
    if layers is not None and layers < 1:
        raise ValueError(f"--layers must be >= 1, got {layers}")
    if fanouts is None:
        return (default_fanout,) * (layers or 2)
    if layers is not None and layers != len(fanouts):
        raise ValueError(
            f"--layers {layers} does not match --fanouts {','.join(map(str, fanouts))} "
            f"({len(fanouts)} layers)"
        )
    return fanouts


def training_options(args: argparse.Namespace, default_fanout: int = 10) -> dict[str, Any]:
    """``TrainConfig`` keyword arguments for the options of :func:`add_training_arguments`
    (``--reorder`` excluded: each command has its own default)."""
    return dict(
        model=args.model,
        gnn=args.gnn,
        rank=_DEFAULTS.rank if args.rank is None else args.rank,
        embedding_dim=args.embedding_dim,
        num_cores=_DEFAULTS.num_cores if args.num_cores is None else args.num_cores,
        p_shapes=args.p_shapes,
        q_shapes=args.q_shapes,
        init=args.init,
        hidden=args.hidden,
        heads=args.heads,
        dropout=args.dropout,
        seed=args.seed,
        epochs=args.epochs,
        patience=args.patience,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        fanouts=resolve_fanouts(args.fanouts, args.layers, default_fanout),
        lr=args.lr,
        weight_decay=args.weight_decay,
        progress=False if args.no_progress else None,
        deterministic=args.deterministic,
        post_process=args.post_process,
    )


# Options that shape a TT table: an error with another --embedding, never silently ignored.
TT_ONLY_OPTIONS = ("rank", "num_cores", "p_shapes", "q_shapes")
LEARNED_ONLY_OPTIONS = ("init",)


def check_embedding_options(args: argparse.Namespace, embedding: str) -> None:
    """Refuse options that the chosen ``--embedding`` cannot use."""
    if embedding != "tt":
        given = [name for name in TT_ONLY_OPTIONS if getattr(args, name, None) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ValueError(f"{flag} applies to --embedding tt only, not --embedding {embedding}")
    if embedding == "features" and getattr(args, "init", None) is not None:
        raise ValueError("--init applies to learned tables (--embedding tt or full), not features")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`~tt_gnn.training.TrainConfig` described by parsed ``tt-gnn train`` options."""
    check_embedding_options(args, args.embedding)
    dataset_options = {}
    if args.num_nodes is not None:
        dataset_options["num_nodes"] = args.num_nodes
    if args.labels is not None:
        dataset_options["labels"] = args.labels
    if args.random_split:
        dataset_options["random_split"] = True
    return TrainConfig(
        dataset=args.dataset,
        data_root=args.data_root,
        split=args.split,
        split_seed=args.split_seed,
        use_features=args.embedding == "features",
        embedding=args.embedding,
        reorder=args.reorder,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        output_json=args.output_json,
        dataset_options=dataset_options,
        labels_per_class=args.labels_per_class,
        num_val=args.num_val,
        num_test=args.num_test,
        **training_options(args),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``tt-gnn train``; returns the exit status (bad options raise ``ValueError``, which
    ``tt_gnn.cli.main`` reports with status 2)."""
    from tt_gnn.training.launch import run as run_training

    config = config_from_args(args)
    nproc = args.nproc
    if args.devices and nproc == 1:
        nproc = len(args.devices)
    run_training(config, nproc=nproc, devices=args.devices)
    return 0
