"""The training loop: minibatches, evaluation, early stopping, checkpoints, metrics.

:func:`train` runs the whole pipeline for a :class:`~tt_gnn.training.config.TrainConfig`:

1. load and reorder the dataset (:func:`tt_gnn.training.pipeline.prepare_data`);
2. build the input module and the model (:func:`tt_gnn.training.pipeline.build_classifier`);
3. minibatch training on sampled neighbourhoods (split over ranks when data-parallel), Adam,
   evaluation by layer-wise full-neighbor inference, early stopping on the validation metric
   (the reported test metric is the one at the best validation evaluation);
4. a checkpoint after every epoch (:mod:`tt_gnn.training.checkpoint`; ``resume=True``
   continues from it) and a metrics dictionary (also written as JSON to
   ``config.output_json``).

Randomness: the model is built after seeding with ``config.seed``; every epoch reseeds from
``(seed, epoch, rank)``, so neighbor sampling, shuffling and dropout of epoch ``e`` depend only
on those, and a checkpoint's epoch number is its full RNG state.

Example:
    >>> config = TrainConfig(dataset="synthetic", embedding="tt", rank=8, epochs=2)
    >>> metrics = train(config).metrics                          # doctest: +SKIP
    >>> sorted(metrics)[:3]                                      # doctest: +SKIP
    ['best_epoch', 'compression_ratio', 'dataset']
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tt_gnn.gnn.classifier import NodeClassifier
from tt_gnn.io import write_json
from tt_gnn.metrics import accuracy, correct_count
from tt_gnn.training.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_path,
    checkpoint_to_resume,
    save_checkpoint,
)
from tt_gnn.training.config import RESUME_KEYS, TrainConfig
from tt_gnn.training.distributed import DistributedContext, all_reduce_sum, gather_rows
from tt_gnn.training.optim import Optimizers
from tt_gnn.training.pipeline import PreparedData, build_classifier, prepare_data, seed_everything
from tt_gnn.training.postprocess import post_process_metrics
from tt_gnn.training.report import format_record, print_summary

__all__ = ["TrainResult", "TrainingDiverged", "train", "evaluate"]


@dataclass
class TrainResult:
    """What :func:`train` returns: the metrics dict and the trained (best-validation) model."""

    metrics: dict[str, Any]
    model: NodeClassifier


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + (epoch + 1) * 10_007 + rank * 101) % (2**31)


def _loss(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return nn.functional.binary_cross_entropy_with_logits(logits, targets.float())
    return nn.functional.cross_entropy(logits, targets)


@dataclass
class _EarlyStopping:
    best_score: float = -math.inf
    best_epoch: int = -1
    bad_evaluations: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)


def evaluate(
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
        prepared.graph.graph,
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
        metrics[f"{split}_accuracy"] = accuracy(
            split_logits, dataset.labels[idx], dataset.multilabel
        )
        if dataset.metric != "accuracy":
            metrics[f"{split}_{dataset.metric}"] = float(dataset.evaluate(split_logits, idx))
    return metrics


def _selection_key(dataset: Any) -> str:
    return f"val_{dataset.metric}"


def _epoch_seeds(
    train_idx: torch.Tensor, config: TrainConfig, epoch: int, context: DistributedContext
) -> torch.Tensor:
    """This rank's training seeds for ``epoch``: one shuffle shared by every rank (seeded by
    ``(seed, epoch)``), then every ``world_size``-th node from ``rank`` on. With several ranks
    the ``N mod world_size`` last nodes of the shuffle sit the epoch out, so that every rank
    takes the same number of steps (DDP needs that)."""
    order = train_idx
    if config.shuffle:
        generator = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch, 0))
        order = train_idx[torch.randperm(train_idx.shape[0], generator=generator)]
    if context.is_distributed:
        usable = order.shape[0] - order.shape[0] % context.world_size
        order = order[context.rank : usable : context.world_size]
    return order


class TrainingDiverged(ValueError):
    """The loss or a parameter became NaN or infinite; the run cannot mean anything."""


def _check_splits(data: Any) -> None:
    """Refuse splits that make the run meaningless: no training, validation or test nodes."""
    for name in ("train_idx", "val_idx", "test_idx"):
        if getattr(data, name).numel() == 0:
            raise ValueError(
                f"dataset {data.name!r} has no labeled nodes in {name.split('_')[0]} "
                f"({data.split_description}); training would report nothing meaningful"
            )


def _check_finite_parameters(model: nn.Module, epoch: int) -> None:
    for name, parameter in model.named_parameters():
        if not bool(torch.isfinite(parameter).all()):
            raise TrainingDiverged(
                f"training diverged: parameter {name} holds NaN/inf after epoch {epoch + 1}"
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
    with _deterministic_mode(config.deterministic):
        return _train(config, dataset, permutation, context, on_step)


@contextlib.contextmanager
def _deterministic_mode(enabled: bool) -> Iterator[None]:
    """One thread and deterministic algorithms inside, the caller's settings restored after."""
    if not enabled:
        yield
        return
    threads = torch.get_num_threads()
    algorithms = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)


def _train(
    config: TrainConfig,
    dataset: Any,
    permutation: torch.Tensor | None,
    context: DistributedContext | None,
    on_step: Callable[[int, int], None] | None,
) -> TrainResult:
    started = time.perf_counter()
    context = context or DistributedContext(device=torch.device(config.device))

    progress = sys.stderr.isatty() if config.progress is None else config.progress
    progress = progress and context.is_main
    verbose = config.verbose and context.is_main
    checkpoint = checkpoint_to_resume(config, context.world_size, verbose)
    if checkpoint is not None and checkpoint.get("permutation") is not None:
        permutation = checkpoint["permutation"]
    prepared = prepare_data(config, dataset=dataset, permutation=permutation, context=context)
    data = prepared.dataset
    _check_splits(data)
    model, embedding_parameters, compression_ratio = build_classifier(config, prepared)
    model = model.to(context.device)
    trained: nn.Module = model
    if context.is_distributed:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[context.device] if context.device.type == "cuda" else None
        )
    optimizer = Optimizers.for_model(model, lr=config.lr, weight_decay=config.weight_decay)
    stopping = _EarlyStopping()
    history: list[dict[str, float]] = []
    best_state = _state_copy(model)
    start_epoch = 0
    if checkpoint is not None:
        try:
            model.load_state_dict(checkpoint["best_model"])  # checked now, used at the end
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            reason = " ".join(line.strip() for line in str(error).splitlines()[:2])
            raise ValueError(
                f"checkpoint {checkpoint_path(config.checkpoint_dir)} does not fit this run's "
                f"model or optimizer: {reason}"
            ) from error
        best_state = checkpoint["best_model"]
        stopping = _EarlyStopping(**checkpoint["early_stopping"])
        history = list(checkpoint["history"])
        start_epoch = int(checkpoint["epoch"])
        if verbose:
            print(f"resumed from {checkpoint_path(config.checkpoint_dir)} at epoch {start_epoch}")
            if start_epoch >= config.epochs:
                print(
                    f"the checkpoint already holds {start_epoch} epochs (>= epochs="
                    f"{config.epochs}): nothing to train; reporting its results"
                )
    if verbose:
        print(
            f"{data.name}: {data.num_nodes} nodes, {data.graph.num_edges()} edges, "
            f"{data.num_classes} classes, {data.split_description}; model {config.model}, "
            f"embedding {config.embedding} ({embedding_parameters:,} parameters"
            + (f", {compression_ratio:.1f}x compression" if compression_ratio else "")
            + f"), reorder {config.reorder}, gnn backend {prepared.backend.name}"
        )
    labels = data.labels
    selection = _selection_key(data)
    epoch = start_epoch
    stopped_early = 0 < config.patience <= stopping.bad_evaluations
    while epoch < config.epochs and not stopped_early:
        epoch_started = time.perf_counter()
        epoch_seed = _epoch_seed(config.seed, epoch, context.rank)
        seed_everything(epoch_seed)
        loader = prepared.backend.batches(
            prepared.graph,
            _epoch_seeds(data.train_idx, config, epoch, context).to(context.device),
            config.fanouts,
            config.batch_size,
            seed=epoch_seed,
        )
        model.train()
        loss_sum, correct, seen = 0.0, 0.0, 0
        from tqdm.auto import tqdm

        batches = tqdm(
            loader,
            total=len(loader),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        for step, (input_ids, output_ids, blocks) in enumerate(batches):
            targets = labels[output_ids.cpu()].to(context.device)
            logits = trained(blocks, input_ids)
            loss = _loss(logits, targets, data.multilabel)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"training diverged: loss is {loss_value} at epoch {epoch + 1}, step "
                    f"{step + 1} (lower --lr, check the inputs for NaN/inf)"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            count = int(output_ids.shape[0])
            loss_sum += loss_value * count
            correct += correct_count(logits.detach(), targets, data.multilabel)
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
            record.update(evaluate(model, prepared, config, context, progress))
            score = record[selection]
            if score > stopping.best_score:
                stopping = _EarlyStopping(score, epoch + 1, 0, dict(record))
                best_state = _state_copy(model)
            else:
                stopping.bad_evaluations += 1
                stopped_early = 0 < config.patience <= stopping.bad_evaluations
        _check_finite_parameters(model, epoch)
        record["seconds"] = time.perf_counter() - epoch_started
        history.append(record)
        if verbose:
            print(format_record(record, config.epochs))
        epoch += 1
        if config.checkpoint_dir is not None and context.is_main:
            save_checkpoint(
                {
                    "format": CHECKPOINT_FORMAT,
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
        "epoch_seconds": [record["seconds"] for record in history],
        "optimizer": optimizer.name,
        "gnn_backend": prepared.backend.name,
        **{key: value for key, value in config.to_dict().items() if key in RESUME_KEYS},
        "post_process": config.post_process,
    }
    metrics.update(post_process_metrics(model, prepared, config, context, progress))
    if data.metric != "accuracy":
        for split in ("test", "val"):
            metrics[f"{split}_{data.metric}"] = best.get(f"{split}_{data.metric}", float("nan"))
    tt_input = getattr(model.node_input, "tt_ranks", None)
    if tt_input is not None:
        metrics["tt_ranks"] = [int(r) for r in model.node_input.tt_ranks]
        metrics["p_shapes"] = [int(p) for p in model.node_input.p_shapes]
        metrics["q_shapes"] = [int(q) for q in model.node_input.q_shapes]
    if verbose:
        print_summary(metrics)
    if config.output_json is not None and context.is_main:
        write_json(metrics, config.output_json)
    return TrainResult(metrics, model)
