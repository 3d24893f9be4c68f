"""The data side of a training run: load, reorder, and build the model's input and classifier.

:func:`prepare_data` loads the dataset (unless given) and reorders it (``config.reorder``): the
permutation (new id -> old id) is computed once (on rank 0, then broadcast) and applied to the
graph, labels, splits and features, so that a node's id is its TT row.
:func:`build_classifier` seeds with ``config.seed`` and builds the input module
(``TTEmbedding``, ``nn.Embedding`` or fixed features) and the GNN.

Example:
    >>> from tt_gnn.training.config import TrainConfig
    >>> prepared = prepare_data(TrainConfig(dataset="synthetic", reorder="random",
    ...                                     dataset_options={"num_nodes": 500}))
    >>> sorted(prepared.permutation.tolist()) == list(range(500))
    True
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tt_gnn.gnn.backend import GraphBackend, PreparedGraph, resolve_graph_backend
from tt_gnn.gnn.classifier import NodeClassifier, NodeFeatures
from tt_gnn.graph import inverse_permutation
from tt_gnn.options import parse_reorder
from tt_gnn.training.config import TrainConfig
from tt_gnn.training.distributed import DistributedContext, broadcast_tensor

__all__ = [
    "PreparedData",
    "seed_everything",
    "tt_shapes",
    "apply_permutation",
    "compute_permutation",
    "prepare_data",
    "labels_per_class_dataset",
    "build_node_input",
    "build_classifier",
]


@dataclass
class PreparedData:
    """A dataset after reordering, plus what the trainer derives from it.

    Attributes:
        dataset: the (reordered) ``NodeDataset``: ids are TT rows.
        graph: the graph the model runs on (self-loops added for GAT), on the training device,
            in the backend's form (``graph.graph`` is the framework-free one).
        backend: the graph backend that samples and builds the layers.
        permutation: int64 ``[N]``, new id -> original id (None: original order).
        reorder_seconds: wall time of computing the permutation.
    """

    dataset: Any
    graph: PreparedGraph
    backend: GraphBackend
    permutation: torch.Tensor | None
    reorder_seconds: float


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    seed = int(seed) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tt_shapes(config: TrainConfig, num_nodes: int):
    from tt_gnn.shapes import choose_shapes

    return choose_shapes(
        num_nodes, config.embedding_dim, config.num_cores, config.p_shapes, config.q_shapes
    )


def apply_permutation(dataset: Any, permutation: torch.Tensor) -> Any:
    """Relabel ``dataset`` so that new node ``i`` is old node ``permutation[i]``.

    The graph is relabeled (``graph.original_ids`` holds the original ids), and labels, features
    and the split indices follow. Returns a copy (``dataclasses.replace``).

    Shapes:
        permutation: int64 ``[N]``, a bijection of ``0..N-1`` (checked).
    """
    num_nodes = dataset.graph.num_nodes()
    inverse = inverse_permutation(permutation, num_nodes)
    permutation = torch.as_tensor(permutation, dtype=torch.int64).cpu()
    features = dataset.features
    return dataclasses.replace(
        dataset,
        graph=dataset.graph.relabel(permutation),
        labels=dataset.labels[permutation],
        train_idx=inverse[dataset.train_idx],
        val_idx=inverse[dataset.val_idx],
        test_idx=inverse[dataset.test_idx],
        features=None if features is None else features[permutation],
    )


def compute_permutation(config: TrainConfig, dataset: Any) -> torch.Tensor | None:
    method, num_parts = parse_reorder(config.reorder)
    if method == "none":
        return None
    from tt_gnn.reorder import compute_order

    shapes = tt_shapes(config, dataset.graph.num_nodes())
    report = compute_order(
        dataset.graph, shapes.p_shapes, method=method, num_parts=num_parts, seed=config.seed
    )
    return torch.as_tensor(np.asarray(report.permutation), dtype=torch.int64)


def labels_per_class_dataset(dataset: Any, config: TrainConfig) -> Any:
    """``dataset`` with the label-sparse split of ``config`` (see ``labels_per_class``)."""
    from tt_gnn.baselines import labels_per_class_split

    if dataset.multilabel:
        raise ValueError(f"labels_per_class needs single-label data; {dataset.name} is multi-label")
    train_idx, val_idx, test_idx = labels_per_class_split(
        dataset.labels, config.labels_per_class, config.num_val, config.num_test, config.split_seed
    )
    description = (
        f"{config.labels_per_class} labels per class, {config.num_val} validation and "
        f"{config.num_test} test nodes, seed {config.split_seed}"
    )
    return dataclasses.replace(
        dataset,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        split_description=description,
    )


def prepare_data(
    config: TrainConfig,
    *,
    dataset: Any = None,
    permutation: torch.Tensor | None = None,
    context: DistributedContext | None = None,
) -> PreparedData:
    """Load (unless given) and reorder the dataset; add self-loops for GAT.

    Args:
        config: the run's options.
        dataset: a ``NodeDataset`` to use instead of loading ``config.dataset``.
        permutation: a permutation to apply instead of computing one (resume).
        context: data-parallel context; rank 0 computes the permutation and broadcasts it.
    """
    context = context or DistributedContext(device=torch.device(config.device))
    if dataset is None:
        from tt_gnn.data import load_dataset

        with warnings.catch_warnings():
            if config.embedding == "features":  # no features is an error below, not a warning
                warnings.filterwarnings("ignore", message=".*has no node features")
            dataset = load_dataset(
                config.dataset,
                root=config.data_root,
                split=config.split,
                split_seed=config.split_seed,
                use_features=config.use_features,
                **config.dataset_options,
            )
    if config.labels_per_class is not None:
        dataset = labels_per_class_dataset(dataset, config)
    started = time.perf_counter()
    if permutation is None and parse_reorder(config.reorder)[0] != "none":
        if context.is_main:
            permutation = compute_permutation(config, dataset)
        permutation = broadcast_tensor(permutation, context)
    reorder_seconds = time.perf_counter() - started
    if permutation is not None:
        dataset = apply_permutation(dataset, permutation)
    device = context.device
    backend = resolve_graph_backend(config.gnn, device)
    graph = backend.prepare(dataset.graph, device, self_loops=config.model == "gat")
    return PreparedData(dataset, graph, backend, permutation, reorder_seconds)


def resolve_init(config: TrainConfig, graph: Any) -> str:
    """The initializer to run, also stored in ``config.init_used``: ``config.init``, except
    that a *default* spectral init (``config.init_is_default``) whose eigen-solve would need
    more than the available memory becomes ``"gaussian"``, with a printed notice. An explicit
    ``init="spectral"`` is never replaced: it fails with the solver's MemoryError instead.
    ``config.init`` itself is kept, so a checkpoint resumes under the same options.
    """
    used = config.init
    if config.init == "spectral" and config.init_is_default:
        from tt_gnn.io import available_memory_bytes
        from tt_gnn.spectral import solve_memory_bytes

        needed = solve_memory_bytes(graph.num_nodes(), graph.num_edges(), config.embedding_dim)
        available = available_memory_bytes()
        if available is not None and needed > available:
            print(
                f"tt-gnn: the default spectral init needs about {needed / 2**30:.1f} GiB for "
                f"its eigen-solve, more than the {available / 2**30:.1f} GiB available: using "
                "init='gaussian' (pass --init spectral to insist)",
                file=sys.stderr,
            )
            used = "gaussian"
    config.init_used = used
    return used


def build_node_input(
    config: TrainConfig, prepared: PreparedData
) -> tuple[nn.Module, int, int, float | None]:
    """The model's input module and its size.

    Returns:
        ``(module, input_dim, embedding_parameters, compression_ratio)``; the ratio is
        ``N * D / embedding_parameters`` for learned embeddings and None for features.
    """
    dataset = prepared.dataset
    num_nodes = dataset.graph.num_nodes()
    if config.embedding == "features":
        if dataset.features is None:
            raise ValueError(f"dataset {dataset.name!r} has no node features")
        module = NodeFeatures(dataset.features.float())
        return module, module.embedding_dim, 0, None
    dense_parameters = num_nodes * config.embedding_dim
    init = resolve_init(config, dataset.graph)
    if config.embedding == "full":
        from tt_gnn.init import initialize_table

        module = nn.Embedding(num_nodes, config.embedding_dim, sparse=True)
        with torch.no_grad():
            module.weight.copy_(
                initialize_table(
                    init,
                    num_nodes,
                    config.embedding_dim,
                    graph=dataset.graph if init == "spectral" else None,
                    seed=config.seed,
                )
            )
        return module, config.embedding_dim, dense_parameters, 1.0
    from tt_gnn.embedding import TTEmbedding

    shapes = tt_shapes(config, num_nodes)
    module = TTEmbedding(
        num_nodes,
        config.embedding_dim,
        rank=config.rank,
        p_shapes=shapes.p_shapes,
        q_shapes=shapes.q_shapes,
        init=init,
        graph=dataset.graph if init != "gaussian" else None,
        seed=config.seed,
        deterministic=config.deterministic,
    )
    parameters = int(module.num_parameters())
    return module, config.embedding_dim, parameters, dense_parameters / parameters


def build_classifier(
    config: TrainConfig, prepared: PreparedData
) -> tuple[NodeClassifier, int, float | None]:
    """Seed with ``config.seed`` and build the model; returns ``(model, params, ratio)``."""
    seed_everything(config.seed)
    node_input, input_dim, parameters, ratio = build_node_input(config, prepared)
    model = prepared.backend.build_model(
        config.model,
        node_input,
        input_dim,
        config.hidden,
        prepared.dataset.num_classes,
        num_layers=config.num_layers,
        heads=config.heads,
        dropout=config.dropout,
    )
    return model, parameters, ratio
