"""Post-processing of the best model's predictions (``TrainConfig.post_process``).

``"cs"``: Correct and Smooth (:mod:`tt_gnn.propagation`) over the training graph, its
smoothing weight (or no post-processing) chosen on the validation nodes. ``"auto"`` (the
default) is ``"cs"`` where it applies: not on a multi-label dataset, and not where its memory
estimate exceeds the available memory (skipped with a notice). The model's own accuracies
stay in the metrics as ``model_val_accuracy`` / ``model_test_accuracy``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from tt_gnn.training.distributed import DistributedContext, all_reduce_sum, gather_rows

__all__ = ["post_process_metrics"]


def post_process_metrics(
    model: Any, prepared: Any, config: Any, context: DistributedContext, progress: bool
) -> dict[str, Any]:
    """Metrics of ``config.post_process`` applied to ``model`` (already the best state).

    Every process returns the same dict: ``{"post_process_used": "none"}`` when nothing ran
    (with ``post_process_skipped`` saying why, for ``"auto"``); otherwise
    ``post_process_used="cs"``, ``val_accuracy`` / ``test_accuracy`` after post-processing,
    the model's own as ``model_val_accuracy`` / ``model_test_accuracy``, ``smooth_alpha``
    (None: the model's predictions won on the validation nodes) and ``post_process_seconds``.

    Raises:
        ValueError: ``"cs"`` on a multi-label dataset.
        MemoryError: ``"cs"`` where its memory estimate exceeds the available memory.
    """
    if config.post_process == "none":
        return {"post_process_used": "none"}
    from tt_gnn.io import available_memory_bytes
    from tt_gnn.propagation import correct_and_smooth_memory_bytes

    data = prepared.dataset
    explicit = config.post_process == "cs"
    if data.multilabel:
        if explicit:
            raise ValueError(
                f"post_process='cs' needs single-label classes; {data.name} is multi-label"
            )
        return {"post_process_used": "none", "post_process_skipped": "multi-label dataset"}
    graph = prepared.graph.graph
    needed = correct_and_smooth_memory_bytes(
        graph.num_nodes(), graph.num_edges(), data.num_classes, itemsize=4
    )
    available = available_memory_bytes()
    too_big = available is not None and needed > available
    # Every process must take the same branch (the inference below gathers across them).
    if all_reduce_sum([float(too_big)], context)[0] > 0:
        reason = f"needs about {needed / 2**30:.1f} GiB, more than the available memory" + (
            f" ({available / 2**30:.1f} GiB)" if too_big else " of another process"
        )
        if explicit:
            raise MemoryError(f"post_process='cs' {reason} (pass --post-process none)")
        if context.is_main:
            print(f"tt-gnn: correct-and-smooth skipped: it {reason}", file=sys.stderr)
        return {"post_process_used": "none", "post_process_skipped": reason}
    started = time.perf_counter()
    shard = (context.rank, context.world_size) if context.is_distributed else None
    gather = (lambda rows, total: gather_rows(rows, total, context)) if shard else None
    logits = model.layerwise_inference(
        graph,
        chunk_size=config.eval_chunk_size,
        shard=shard,
        gather=gather,
        device=context.device,
        progress=progress,
    )
    metrics = _correct_and_smooth(logits, data, graph) if context.is_main else None
    del logits
    if context.is_distributed:
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        metrics = shared[0]
    assert metrics is not None
    metrics["post_process_seconds"] = time.perf_counter() - started
    return metrics


def _correct_and_smooth(logits: torch.Tensor, data: Any, graph: Any) -> dict[str, Any]:
    from tt_gnn.propagation import tune_correct_and_smooth
    from tt_gnn.spectral import normalized_adjacency

    # float32 throughout: half the memory of float64, and 50 steps lose nothing an argmax sees.
    probabilities = torch.softmax(logits.detach().cpu().float(), dim=1).numpy()
    labels = data.labels.cpu().numpy()
    train, val, test = (idx.cpu().numpy() for idx in (data.train_idx, data.val_idx, data.test_idx))
    adjacency, _ = normalized_adjacency(graph, graph.num_nodes(), dtype=np.float32)
    rows = np.concatenate([val, test])
    alpha, scores = tune_correct_and_smooth(adjacency, probabilities, labels, train, val, rows=rows)

    def accuracy(values: np.ndarray, idx: np.ndarray) -> float:
        return float((values.argmax(axis=1) == labels[idx]).mean())

    return {
        "post_process_used": "cs",
        "model_val_accuracy": accuracy(probabilities[val], val),
        "model_test_accuracy": accuracy(probabilities[test], test),
        "val_accuracy": accuracy(scores[: val.shape[0]], val),
        "test_accuracy": accuracy(scores[val.shape[0] :], test),
        "smooth_alpha": alpha,
    }
