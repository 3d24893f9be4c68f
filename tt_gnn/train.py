"""Train GraphSAGE/GAT node classifiers with TT, full or feature inputs.

The pipeline (:func:`train`):

1. load the dataset (``tt_gnn.data.load_dataset``) unless one is given;
2. reorder it (``config.reorder``: ``"tt-metis"``, ``"metis:<k>"``, ``"random"``, ``"none"``):
   the permutation (new id -> old id) is computed once (on rank 0) and applied to the graph,
   labels, splits and features, so that a node's id is its TT row;
3. build the input module (``TTEmbedding``, ``nn.Embedding`` or fixed features) and the model;
4. minibatch training with ``dgl.dataloading.NeighborSampler`` (split over ranks with
   ``use_ddp=True`` when data-parallel), Adam, evaluation by layer-wise full-neighbor inference,
   early stopping on the validation metric (the reported test metric is the one at the best
   validation evaluation);
5. a checkpoint after every epoch (atomic; ``resume=True`` continues from it) and a metrics
   dictionary (also written as JSON to ``config.output_json``).

Randomness: the model is built after seeding with ``config.seed``; every epoch reseeds torch,
numpy, Python and DGL from ``(seed, epoch, rank)``, so neighbor sampling, shuffling and dropout
of epoch ``e`` depend only on those, and a checkpoint's epoch number is its full RNG state.
Runs are bitwise reproducible (and a resumed run bitwise equal to an uninterrupted one) with one
thread (``torch.set_num_threads(1)``): DGL's multi-threaded neighbor sampler draws in a
thread-dependent order.

Example:
    >>> config = TrainConfig(dataset="synthetic", embedding="tt", rank=8, epochs=2)
    >>> metrics = train(config).metrics                          # doctest: +SKIP
    >>> sorted(metrics)[:3]                                      # doctest: +SKIP
    ['best_epoch', 'compression_ratio', 'dataset']
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tt_gnn.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from tt_gnn.dgl import dgl
from tt_gnn.dgl.convert import to_dgl
from tt_gnn.distributed import (
    DistributedContext,
    all_reduce_sum,
    broadcast_tensor,
    gather_rows,
)
from tt_gnn.graph import inverse_permutation
from tt_gnn.models import (
    MODEL_NAMES,
    NodeClassifier,
    NodeFeatures,
    build_model,
    iterate_quietly,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "PreparedData",
    "EMBEDDING_KINDS",
    "parse_reorder",
    "parse_fanouts",
    "seed_everything",
    "prepare_data",
    "apply_permutation",
    "build_node_input",
    "build_classifier",
    "train",
    "write_json",
]

EMBEDDING_KINDS = ("tt", "full", "features")
_CHECKPOINT_FORMAT = 1
# Fields that must match between a checkpoint and the run resuming it.
_RESUME_KEYS = (
    "dataset", "data_root", "split", "split_seed", "use_features", "model", "embedding",
    "embedding_dim", "rank", "num_cores", "p_shapes", "q_shapes", "init", "reorder", "seed",
    "batch_size", "fanouts", "lr", "weight_decay", "hidden", "heads", "dropout", "shuffle",
    "dataset_options",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a training run depends on (the ``tt-gnn train`` options).

    Attributes:
        dataset: name or path for ``tt_gnn.data.load_dataset`` (default ``"synthetic"``).
        data_root: folder of shared datasets (default: the loader's own default).
        split: which standard split; split_seed: seed of a random split.
        use_features: load node features (needed for ``embedding="features"``).
        model: ``"sage"`` or ``"gat"``.
        embedding: ``"tt"``, ``"full"`` (``nn.Embedding``) or ``"features"``.
        embedding_dim: ``D`` of the learned embedding (default 128).
        rank: TT rank (all inner ranks); num_cores: ``d``; p_shapes/q_shapes: factorizations
            (None: chosen by ``tt_gnn.shapes.choose_shapes``).
        init: TT initializer name (``"gaussian"``, ``"ortho"``, ``"spectral"``, ...).
        reorder: ``"none"``, ``"random"``, ``"metis:<k>"`` or ``"tt-metis"``.
        seed: seeds the model, the reordering and every epoch's randomness.
        epochs: maximum epochs; patience: evaluations without validation improvement before
            stopping (0: never stop early); eval_every: epochs between evaluations.
        batch_size: seed nodes per step (per process when data-parallel).
        fanouts: neighbors sampled per layer, first layer first (-1: all); its length is the
            number of layers.
        lr, weight_decay: Adam's.
        hidden: hidden width (per head for GAT); heads: GAT heads; dropout: on layer inputs.
        shuffle: shuffle training seeds every epoch.
        eval_chunk_size: destination nodes per chunk in layer-wise inference.
        checkpoint_dir: write ``checkpoint.pt`` there after every epoch (None: no checkpoints).
        resume: continue from ``checkpoint_dir``'s checkpoint when it exists.
        output_json: write the final metrics there (None: don't).
        progress: tqdm bars (None: when stderr is a terminal); verbose: print per-epoch lines.
        device: ``"cpu"`` or ``"cuda:<i>"`` for a single process.
        dataset_options: extra ``load_dataset`` options (synthetic ``num_nodes``, CSV
            ``labels``, ...).
    """

    dataset: str = "synthetic"
    data_root: str | None = None
    split: int = 0
    split_seed: int = 0
    use_features: bool = False
    model: str = "sage"
    embedding: str = "tt"
    embedding_dim: int = 128
    rank: int = 16
    num_cores: int = 3
    p_shapes: tuple[int, ...] | None = None
    q_shapes: tuple[int, ...] | None = None
    init: str = "gaussian"
    reorder: str = "none"
    seed: int = 0
    epochs: int = 20
    patience: int = 10
    eval_every: int = 1
    batch_size: int = 1024
    fanouts: tuple[int, ...] = (10, 10)
    lr: float = 0.01
    weight_decay: float = 0.0
    hidden: int = 128
    heads: int = 4
    dropout: float = 0.5
    shuffle: bool = True
    eval_chunk_size: int = 4096
    checkpoint_dir: str | None = None
    resume: bool = False
    output_json: str | None = None
    progress: bool | None = None
    verbose: bool = True
    device: str = "cpu"
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fanouts = tuple(int(f) for f in self.fanouts)
        if self.p_shapes is not None:
            self.p_shapes = tuple(int(p) for p in self.p_shapes)
        if self.q_shapes is not None:
            self.q_shapes = tuple(int(q) for q in self.q_shapes)
        self.validate()

    @property
    def num_layers(self) -> int:
        return len(self.fanouts)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid option."""
        if self.model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {MODEL_NAMES}, got {self.model!r}")
        if self.embedding not in EMBEDDING_KINDS:
            raise ValueError(f"embedding must be one of {EMBEDDING_KINDS}, got {self.embedding!r}")
        if self.embedding == "features" and not self.use_features:
            raise ValueError("embedding='features' needs use_features=True")
        parse_reorder(self.reorder)
        if self.embedding == "tt":
            from tt_gnn.init import available_initializers

            if self.init not in available_initializers():
                raise ValueError(
                    f"unknown init {self.init!r}; expected one of {available_initializers()}"
                )
        for name in ("embedding_dim", "rank", "num_cores", "epochs", "eval_every", "batch_size",
                     "hidden", "heads", "eval_chunk_size"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if not self.fanouts or any(f == 0 or f < -1 for f in self.fanouts):
            raise ValueError(
                f"fanouts must be a non-empty list of positive ints or -1 (all neighbors), got "
                f"{list(self.fanouts)}"
            )
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir")

    def to_dict(self) -> dict[str, Any]:
        """JSON/checkpoint-friendly dict (tuples become lists)."""
        result = dataclasses.asdict(self)
        for key, value in result.items():
            if isinstance(value, tuple):
                result[key] = list(value)
        return result


@dataclass
class PreparedData:
    """A dataset after reordering, plus what the trainer derives from it.

    Attributes:
        dataset: the (reordered) ``NodeDataset``: ids are TT rows.
        graph: the graph the model runs on (self-loops added for GAT).
        permutation: int64 ``[N]``, new id -> original id (None: original order).
        reorder_seconds: wall time of computing the permutation.
    """

    dataset: Any
    graph: Any
    permutation: torch.Tensor | None
    reorder_seconds: float


@dataclass
class TrainResult:
    """What :func:`train` returns: the metrics dict and the trained (best-validation) model."""

    metrics: dict[str, Any]
    model: NodeClassifier


def parse_reorder(spec: str) -> tuple[str, int | None]:
    """``"metis:64"`` -> ``("metis", 64)``; ``"tt-metis"`` -> ``("tt-metis", None)``.

    Example:
        >>> parse_reorder("metis:16"), parse_reorder("none")
        (('metis', 16), ('none', None))
    """
    expected = "expected 'tt-metis', 'metis:<k>' (k >= 2), 'random' or 'none'"
    if spec in ("tt-metis", "random", "none"):
        return spec, None
    if isinstance(spec, str) and spec.startswith("metis:"):
        text = spec.split(":", 1)[1]
        if text.isdigit() and int(text) >= 2:
            return "metis", int(text)
    raise ValueError(f"invalid reorder {spec!r}: {expected}")


def parse_fanouts(text: str) -> tuple[int, ...]:
    """``"10,10"`` -> ``(10, 10)``; ``-1`` means all neighbors.

    Example:
        >>> parse_fanouts("5,10,-1")
        (5, 10, -1)
    """
    try:
        fanouts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"fanouts must be comma-separated ints like '10,10', got {text!r}"
        ) from None
    if any(f == 0 or f < -1 for f in fanouts):
        raise ValueError(f"every fanout must be a positive int or -1 (all), got {text!r}")
    return fanouts


def seed_everything(seed: int) -> None:
    """Seed Python, numpy, torch and DGL's sampler."""
    seed = int(seed) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    dgl.seed(seed)


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + (epoch + 1) * 10_007 + rank * 101) % (2**31)


def _tt_shapes(config: TrainConfig, num_nodes: int):
    from tt_gnn.shapes import choose_shapes

    return choose_shapes(
        num_nodes, config.embedding_dim, config.num_cores, config.p_shapes, config.q_shapes
    )


def apply_permutation(dataset: Any, permutation: torch.Tensor) -> Any:
    """Relabel ``dataset`` so that new node ``i`` is old node ``permutation[i]``.

    The graph is relabeled (``ndata[dgl.NID]`` holds the original ids), and labels, features
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


def _compute_permutation(config: TrainConfig, dataset: Any) -> torch.Tensor | None:
    method, num_parts = parse_reorder(config.reorder)
    if method == "none":
        return None
    from tt_gnn.reorder import reorder_graph

    shapes = _tt_shapes(config, dataset.graph.num_nodes())
    _, report = reorder_graph(
        dataset.graph, shapes.p_shapes, method=method, num_parts=num_parts, seed=config.seed
    )
    return torch.as_tensor(np.asarray(report.permutation), dtype=torch.int64)


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
    context = context or DistributedContext()
    if dataset is None:
        from tt_gnn.data import load_dataset

        dataset = load_dataset(
            config.dataset,
            root=config.data_root,
            split=config.split,
            split_seed=config.split_seed,
            use_features=config.use_features,
            **config.dataset_options,
        )
    started = time.perf_counter()
    if permutation is None and parse_reorder(config.reorder)[0] != "none":
        if context.is_main:
            permutation = _compute_permutation(config, dataset)
        permutation = broadcast_tensor(permutation, context)
    reorder_seconds = time.perf_counter() - started
    if permutation is not None:
        dataset = apply_permutation(dataset, permutation)
    graph = dataset.graph.with_self_loops() if config.model == "gat" else dataset.graph
    graph = to_dgl(graph)
    return PreparedData(dataset, graph, permutation, reorder_seconds)


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
    if config.embedding == "full":
        module = nn.Embedding(num_nodes, config.embedding_dim)
        return module, config.embedding_dim, dense_parameters, 1.0
    from tt_gnn.embedding import TTEmbedding

    shapes = _tt_shapes(config, num_nodes)
    module = TTEmbedding(
        num_nodes,
        config.embedding_dim,
        rank=config.rank,
        p_shapes=shapes.p_shapes,
        q_shapes=shapes.q_shapes,
        init=config.init,
        graph=dataset.graph if config.init != "gaussian" else None,
        seed=config.seed,
    )
    parameters = int(module.num_parameters())
    return module, config.embedding_dim, parameters, dense_parameters / parameters


def build_classifier(
    config: TrainConfig, prepared: PreparedData
) -> tuple[NodeClassifier, int, float | None]:
    """Seed with ``config.seed`` and build the model; returns ``(model, params, ratio)``."""
    seed_everything(config.seed)
    node_input, input_dim, parameters, ratio = build_node_input(config, prepared)
    model = build_model(
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


def write_json(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(payload, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _loss(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return nn.functional.binary_cross_entropy_with_logits(logits, targets.float())
    return nn.functional.cross_entropy(logits, targets)


def _accuracy(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> float:
    """Single-label: fraction of argmax hits; multi-label: fraction of correct 0/1 entries."""
    if targets.shape[0] == 0:
        return float("nan")
    if multilabel:
        return float(((logits > 0).float() == targets.float()).float().mean())
    return float((logits.argmax(dim=-1) == targets).float().mean())


def _correct_count(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> float:
    if multilabel:
        return float(((logits > 0).float() == targets.float()).float().mean(dim=-1).sum())
    return float((logits.argmax(dim=-1) == targets).sum())


@dataclass
class _EarlyStopping:
    best_score: float = -math.inf
    best_epoch: int = -1
    bad_evaluations: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)


def _evaluate(
    model: NodeClassifier,
    prepared: PreparedData,
    config: TrainConfig,
    context: DistributedContext,
    progress: bool,
) -> dict[str, float]:
    dataset = prepared.dataset
    eval_nodes = torch.cat([dataset.val_idx, dataset.test_idx])
    shard = (context.rank, context.world_size) if context.is_distributed else None
    gather = (lambda rows, total: gather_rows(rows, total, context)) if shard else None
    logits = model.layerwise_inference(
        prepared.graph,
        chunk_size=config.eval_chunk_size,
        output_nodes=eval_nodes,
        shard=shard,
        gather=gather,
        device=context.device,
        progress=progress,
    ).cpu()
    num_val = dataset.val_idx.shape[0]
    parts = {
        "val": (logits[:num_val], dataset.val_idx),
        "test": (logits[num_val:], dataset.test_idx),
    }
    metrics: dict[str, float] = {}
    for split, (split_logits, idx) in parts.items():
        metrics[f"{split}_accuracy"] = _accuracy(
            split_logits, dataset.labels[idx], dataset.multilabel
        )
        if dataset.metric != "accuracy":
            metrics[f"{split}_{dataset.metric}"] = float(dataset.evaluate(split_logits, idx))
    return metrics


def _selection_key(dataset: Any) -> str:
    return f"val_{dataset.metric}"


def _check_resumable(checkpoint: dict[str, Any], config: TrainConfig, world_size: int) -> None:
    saved = checkpoint.get("config", {})
    current = config.to_dict()
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {current[key]!r}"
        for key in _RESUME_KEYS
        if saved.get(key) != current[key]
    ]
    if checkpoint.get("world_size", 1) != world_size:
        differences.append(
            f"world_size: checkpoint {checkpoint.get('world_size')}, now {world_size}"
        )
    if checkpoint.get("format") != _CHECKPOINT_FORMAT:
        differences.append(
            f"format: checkpoint {checkpoint.get('format')}, now {_CHECKPOINT_FORMAT}"
        )
    if differences:
        raise ValueError(
            "cannot resume: the checkpoint was made with different options: "
            + "; ".join(differences)
        )


def _state_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().cpu().clone() for key, value in module.state_dict().items()}


def train(
    config: TrainConfig,
    *,
    dataset: Any = None,
    permutation: torch.Tensor | None = None,
    context: DistributedContext | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Run the whole pipeline for ``config``; see the module docstring.

    Args:
        config: the options.
        dataset: use this ``NodeDataset`` instead of loading ``config.dataset``.
        permutation: a precomputed ``new -> old`` node order (e.g. from
            :func:`tt_gnn.reorder.reorder_graph`, reused across runs) applied instead of
            computing ``config.reorder``; ``config.reorder`` should still describe it, since it
            is what the metrics report. A resumed run uses the checkpoint's permutation.
        context: data-parallel context (default: one process on ``config.device``); the
            process group must already exist (``tt_gnn.distributed.initialize``).
        on_step: called as ``on_step(epoch, step)`` after every optimizer step (hooks for
            logging or fault injection).

    Returns:
        :class:`TrainResult` whose ``metrics`` holds ``test_accuracy``, ``val_accuracy``,
        ``embedding_parameters``, ``compression_ratio``, ``epochs``, ``seconds``, the
        dataset's metric under ``test_<metric>``/``val_<metric>`` for multi-label data,
        ``best_epoch``, ``history`` and the run's options; and the best-validation model.
    """
    started = time.perf_counter()
    context = context or DistributedContext(device=torch.device(config.device))
    progress = sys.stderr.isatty() if config.progress is None else config.progress
    progress = progress and context.is_main
    verbose = config.verbose and context.is_main
    checkpoint = None
    if config.resume and checkpoint_path(config.checkpoint_dir).is_file():
        checkpoint = load_checkpoint(checkpoint_path(config.checkpoint_dir))
        _check_resumable(checkpoint, config, context.world_size)
    if checkpoint is not None and checkpoint.get("permutation") is not None:
        permutation = checkpoint["permutation"]
    prepared = prepare_data(config, dataset=dataset, permutation=permutation, context=context)
    data = prepared.dataset
    model, embedding_parameters, compression_ratio = build_classifier(config, prepared)
    model = model.to(context.device)
    trained: nn.Module = model
    if context.is_distributed:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[context.device] if context.device.type == "cuda" else None
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    stopping = _EarlyStopping()
    history: list[dict[str, float]] = []
    best_state = _state_copy(model)
    start_epoch = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        best_state = checkpoint["best_model"]
        stopping = _EarlyStopping(**checkpoint["early_stopping"])
        history = list(checkpoint["history"])
        start_epoch = int(checkpoint["epoch"])
        if verbose:
            print(f"resumed from {checkpoint_path(config.checkpoint_dir)} at epoch {start_epoch}")
    if verbose:
        print(
            f"{data.name}: {data.num_nodes} nodes, {data.graph.num_edges()} edges, "
            f"{data.num_classes} classes, {data.split_description}; model {config.model}, "
            f"embedding {config.embedding} ({embedding_parameters:,} parameters"
            + (f", {compression_ratio:.1f}x compression" if compression_ratio else "")
            + f"), reorder {config.reorder}"
        )
    labels = data.labels
    sampler = dgl.dataloading.NeighborSampler(list(config.fanouts))
    selection = _selection_key(data)
    epoch = start_epoch
    stopped_early = 0 < config.patience <= stopping.bad_evaluations
    while epoch < config.epochs and not stopped_early:
        epoch_started = time.perf_counter()
        seed_everything(_epoch_seed(config.seed, epoch, context.rank))
        loader = dgl.dataloading.DataLoader(
            prepared.graph,
            data.train_idx,
            sampler,
            batch_size=config.batch_size,
            shuffle=config.shuffle,
            drop_last=False,
            use_ddp=context.is_distributed,
            ddp_seed=config.seed,
        )
        model.train()
        loss_sum, correct, seen = 0.0, 0.0, 0
        from tqdm.auto import tqdm

        batches = tqdm(
            iterate_quietly(loader),
            total=len(loader),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        for step, (input_ids, output_ids, blocks) in enumerate(batches):
            blocks = [block.to(context.device) for block in blocks]
            targets = labels[output_ids].to(context.device)
            logits = trained(blocks, input_ids.to(context.device))
            loss = _loss(logits, targets, data.multilabel)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            count = int(output_ids.shape[0])
            loss_sum += float(loss.detach()) * count
            correct += _correct_count(logits.detach(), targets, data.multilabel)
            seen += count
            if on_step is not None:
                on_step(epoch, step)
        loss_sum, correct, seen = all_reduce_sum([loss_sum, correct, seen], context)
        record: dict[str, float] = {
            "epoch": epoch + 1,
            "loss": loss_sum / max(seen, 1),
            "train_accuracy": correct / max(seen, 1),
        }
        evaluate_now = (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs
        if evaluate_now:
            record.update(_evaluate(model, prepared, config, context, progress))
            score = record[selection]
            if score > stopping.best_score:
                stopping = _EarlyStopping(score, epoch + 1, 0, dict(record))
                best_state = _state_copy(model)
            else:
                stopping.bad_evaluations += 1
                stopped_early = 0 < config.patience <= stopping.bad_evaluations
        record["seconds"] = time.perf_counter() - epoch_started
        history.append(record)
        if verbose:
            print(_format_record(record, config.epochs))
        epoch += 1
        if config.checkpoint_dir is not None and context.is_main:
            save_checkpoint(
                {
                    "format": _CHECKPOINT_FORMAT,
                    "epoch": epoch,
                    "world_size": context.world_size,
                    "model": _state_copy(model),
                    "optimizer": optimizer.state_dict(),
                    "best_model": best_state,
                    "early_stopping": dataclasses.asdict(stopping),
                    "history": history,
                    "permutation": prepared.permutation,
                    "config": config.to_dict(),
                },
                checkpoint_path(config.checkpoint_dir),
            )
    model.load_state_dict(best_state)
    best = stopping.best_metrics
    metrics: dict[str, Any] = {
        "test_accuracy": best.get("test_accuracy", float("nan")),
        "val_accuracy": best.get("val_accuracy", float("nan")),
        "embedding_parameters": embedding_parameters,
        "compression_ratio": compression_ratio,
        "epochs": epoch,
        "best_epoch": stopping.best_epoch,
        "stopped_early": stopped_early,
        "seconds": time.perf_counter() - started,
        "reorder_seconds": prepared.reorder_seconds,
        "metric": data.metric,
        "num_nodes": data.num_nodes,
        "num_classes": data.num_classes,
        "split_description": data.split_description,
        "world_size": context.world_size,
        "history": history,
        **{key: value for key, value in config.to_dict().items() if key in _RESUME_KEYS},
    }
    if data.metric != "accuracy":
        for split in ("test", "val"):
            metrics[f"{split}_{data.metric}"] = best.get(f"{split}_{data.metric}", float("nan"))
    tt_input = getattr(model.node_input, "tt_ranks", None)
    if tt_input is not None:
        metrics["tt_ranks"] = [int(r) for r in model.node_input.tt_ranks]
        metrics["p_shapes"] = [int(p) for p in model.node_input.p_shapes]
        metrics["q_shapes"] = [int(q) for q in model.node_input.q_shapes]
    if verbose:
        _print_summary(metrics)
    if config.output_json is not None and context.is_main:
        write_json(metrics, config.output_json)
    return TrainResult(metrics, model)


def _format_record(record: dict[str, float], epochs: int) -> str:
    parts = [f"epoch {int(record['epoch']):>3}/{epochs}", f"loss {record['loss']:.4f}",
             f"train_acc {record['train_accuracy']:.4f}"]  # fmt: skip
    for key, value in record.items():
        if key.startswith(("val_", "test_")):
            parts.append(f"{key.replace('accuracy', 'acc')} {value:.4f}")
    parts.append(f"{record['seconds']:.1f}s")
    return "  ".join(parts)


def _print_summary(metrics: dict[str, Any]) -> None:
    ratio = metrics["compression_ratio"]
    lines = [
        f"best epoch {metrics['best_epoch']} of {metrics['epochs']}: "
        f"val accuracy {metrics['val_accuracy']:.4f}, test accuracy {metrics['test_accuracy']:.4f}",
    ]
    if metrics["metric"] != "accuracy":
        name = metrics["metric"]
        lines.append(
            f"test {name} {metrics[f'test_{name}']:.4f} (val {metrics[f'val_{name}']:.4f})"
        )
    lines.append(
        f"embedding parameters {metrics['embedding_parameters']:,}"
        + (f", compression {ratio:.1f}x" if ratio is not None else "")
        + f"; {metrics['seconds']:.1f}s"
    )
    print("\n".join(lines))


def main_worker(context: DistributedContext, config: TrainConfig) -> None:
    """Entry point of one spawned data-parallel process (see ``tt_gnn.distributed.spawn``)."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.world_size))
    train(config, context=context)


def run(config: TrainConfig, nproc: int = 1, devices: Sequence[int] = ()) -> dict[str, Any] | None:
    """Train in this process, under torchrun, or in ``nproc`` spawned processes.

    Returns the metrics in the main process (None on non-zero ranks under torchrun; spawned
    processes return them through ``config.output_json``, a temporary file when not set).
    """
    from tt_gnn.distributed import (
        context_from_environment,
        initialize,
        launched_by_torchrun,
        shutdown,
        spawn,
    )

    if launched_by_torchrun():
        context = context_from_environment(devices)
        initialize(context)
        try:
            result = train(config, context=context)
        finally:
            shutdown(context)
        return result.metrics if context.is_main else None
    if nproc > 1:
        with tempfile.TemporaryDirectory(prefix="tt-gnn-") as folder:
            if config.output_json is None:
                config = dataclasses.replace(config, output_json=os.path.join(folder, "m.json"))
            spawn(main_worker, config, nproc, devices)
            with open(config.output_json) as stream:
                return json.load(stream)
    if devices:
        config = dataclasses.replace(config, device=f"cuda:{devices[0]}")
    return train(config).metrics
