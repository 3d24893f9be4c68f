"""Propagation over the normalized adjacency, and Correct and Smooth on a model's predictions.

A featureless 2-layer GNN sees two hops: a node farther than that from every training node
learns its embedding from no label at all. Label propagation reaches 50 hops, which is why it
beats every featureless model here at ~20 labels per class (``experiments/results/``).
Correct and Smooth (Huang et al., 2021, "Combining Label Propagation and Simple Models
Out-performs Graph Neural Networks") adds that reach to any trained model, after training:

1. *correct*: the training nodes' residuals ``Y - P`` spread over the graph (training rows
   held at their residual), rescaled to the training residuals' mean L1 size, added to ``P``;
2. *smooth*: label propagation started from the corrected predictions (training rows held
   at their one-hot labels): ``G <- a S G + (1 - a) G0``.

:func:`correct_and_smooth` runs it for one smoothing weight ``a``;
:func:`tune_correct_and_smooth` picks ``a`` (or no post-processing at all) on the validation
nodes. ``S = D^{-1/2} A D^{-1/2}`` is :func:`tt_gnn.spectral.normalized_adjacency` of the
symmetrized graph without self-loops.

Example:
    >>> import numpy as np
    >>> from tt_gnn.spectral import normalized_adjacency
    >>> s, _ = normalized_adjacency(([0, 1, 2], [1, 2, 3]), 4, dtype=np.float64)
    >>> probabilities = np.full((4, 2), 0.5)          # a model that knows nothing
    >>> scores = correct_and_smooth(s, probabilities, np.array([0, -1, -1, 1]), [0, 3])
    >>> scores.argmax(axis=1).tolist()                # each node takes its nearer label
    [0, 0, 1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "DEFAULT_SMOOTH_ALPHAS",
    "propagate",
    "correct_and_smooth",
    "tune_correct_and_smooth",
    "correct_and_smooth_memory_bytes",
]

#: Smoothing weights :func:`tune_correct_and_smooth` tries (besides no post-processing).
DEFAULT_SMOOTH_ALPHAS = (0.8, 0.9, 0.95, 0.99)


def propagate(
    adjacency: sp.spmatrix,
    start: np.ndarray,
    alpha: float,
    num_iterations: int,
    *,
    clamp: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``X <- alpha S X + (1 - alpha) X0`` from ``X0 = start``, ``num_iterations`` times.

    Args:
        adjacency: ``S``, ``(N, N)`` sparse.
        start: ``X0``, ``[N, C]`` (not modified).
        alpha: in ``(0, 1]``.
        num_iterations: >= 1.
        clamp: ``(rows, values)``: after every step ``X[rows] = values`` (label propagation's
            clamping of the training nodes).

    Returns:
        ``[N, C]`` array of ``start``'s dtype.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if (
        isinstance(num_iterations, bool)
        or not isinstance(num_iterations, int)
        or num_iterations < 1
    ):
        raise ValueError(f"num_iterations must be an int >= 1, got {num_iterations!r}")
    if adjacency.shape != (start.shape[0], start.shape[0]):
        raise ValueError(
            f"adjacency has shape {adjacency.shape}, expected ({start.shape[0]}, "
            f"{start.shape[0]}) for {start.shape[0]} rows"
        )
    kept = (1.0 - alpha) * start
    result = start.copy()
    if clamp is not None:
        result[clamp[0]] = clamp[1]
    for _ in range(num_iterations):
        result = adjacency @ result
        result *= alpha
        result += kept
        if clamp is not None:
            result[clamp[0]] = clamp[1]
    return result


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"training labels must be class ids in 0..{num_classes - 1}, got "
            f"{int(labels.min())}..{int(labels.max())}"
        )
    encoded = np.zeros((labels.shape[0], num_classes))
    encoded[np.arange(labels.shape[0]), labels] = 1.0
    return encoded


def correct_and_smooth(
    adjacency: sp.spmatrix,
    probabilities: np.ndarray,
    labels: np.ndarray,
    train_idx: Any,
    *,
    correct_alpha: float = 0.8,
    smooth_alpha: float = 0.9,
    num_iterations: int = 50,
) -> np.ndarray:
    """Correct and Smooth scores of every node (see the module docstring).

    Args:
        adjacency: ``S``, ``(N, N)`` sparse (:func:`tt_gnn.spectral.normalized_adjacency`).
        probabilities: ``P``, ``[N, C]`` class probabilities of the trained model (rows sum to
            1), every node.
        labels: int ``[N]`` class ids (only ``labels[train_idx]`` is read).
        train_idx: int ``[T]`` training nodes.
        correct_alpha, smooth_alpha: propagation weights of the two steps, in ``(0, 1]``.
        num_iterations: steps of each propagation.

    Returns:
        float64 ``[N, C]`` scores (argmax = prediction); training rows are their one-hot labels.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [N, C], got shape {probabilities.shape}")
    train = np.asarray(train_idx, dtype=np.int64)
    targets = _one_hot(np.asarray(labels)[train], probabilities.shape[1])
    residual = np.zeros_like(probabilities)
    residual[train] = targets - probabilities[train]
    spread = propagate(
        adjacency, residual, correct_alpha, num_iterations, clamp=(train, residual[train])
    )
    # "Autoscale": every node's correction gets the mean L1 size of the training residuals.
    scale = np.abs(residual[train]).sum(axis=1).mean() if train.size else 0.0
    size = np.abs(spread).sum(axis=1, keepdims=True)
    corrected = probabilities + scale * np.divide(
        spread, size, out=np.zeros_like(spread), where=size > 0
    )
    corrected[train] = targets
    return propagate(adjacency, corrected, smooth_alpha, num_iterations, clamp=(train, targets))


def tune_correct_and_smooth(
    adjacency: sp.spmatrix,
    probabilities: np.ndarray,
    labels: np.ndarray,
    train_idx: Any,
    val_idx: Any,
    *,
    smooth_alphas: tuple[float, ...] = DEFAULT_SMOOTH_ALPHAS,
    num_iterations: int = 50,
) -> tuple[float | None, np.ndarray]:
    """The smoothing weight with the best validation accuracy, and its scores.

    The model's own predictions compete too: ``(None, probabilities)`` is returned unless
    some weight is strictly better on ``val_idx`` (ties go to the earlier candidate), so the
    post-processing cannot be chosen where it does not help the validation nodes.

    Returns:
        ``(smooth_alpha or None, [N, C] scores)``.
    """
    labels = np.asarray(labels)
    val = np.asarray(val_idx, dtype=np.int64)
    if val.size == 0:
        raise ValueError("tune_correct_and_smooth needs validation nodes (val_idx is empty)")

    def val_accuracy(scores: np.ndarray) -> float:
        return float((scores[val].argmax(axis=1) == labels[val]).mean())

    best_alpha, best_scores = None, np.asarray(probabilities)
    best = val_accuracy(best_scores)
    for alpha in smooth_alphas:
        scores = correct_and_smooth(
            adjacency,
            probabilities,
            labels,
            train_idx,
            smooth_alpha=alpha,
            num_iterations=num_iterations,
        )
        score = val_accuracy(scores)
        if score > best:
            best_alpha, best_scores, best = alpha, scores, score
    return best_alpha, best_scores


def correct_and_smooth_memory_bytes(num_nodes: int, num_edges: int, num_classes: int) -> int:
    """About the peak memory of :func:`tune_correct_and_smooth` beside the model.

    The float64 symmetrized adjacency (~2 entries per edge, 12 bytes each) and about eight
    ``N x C`` float64 blocks (probabilities, residuals, corrections, the propagation's
    iterate and product, the best scores so far).
    """
    return 24 * int(num_edges) + 8 * 8 * int(num_nodes) * int(num_classes)
