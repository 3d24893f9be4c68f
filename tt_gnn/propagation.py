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

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "DEFAULT_SMOOTH_ALPHAS",
    "propagate",
    "correct_and_smooth",
    "tune_correct_and_smooth",
    "correct_and_smooth_memory_bytes",
]

#: Smoothing weights :func:`tune_correct_and_smooth` tries (besides no post-processing).
DEFAULT_SMOOTH_ALPHAS = (0.8, 0.9, 0.95, 0.99)


def _operator(adjacency: Any, dtype: np.dtype) -> torch.Tensor:
    """``adjacency`` as a torch CSR tensor of ``dtype`` (scipy input shares its arrays where it
    can).

    Products then run on torch's threads (parallel over rows, each row summed in one fixed
    order, so the result does not depend on the thread count): 3x scipy's single-threaded
    product on 2 cores (`experiments/results/bench_postprocess.md`).
    """
    if isinstance(adjacency, torch.Tensor):
        if adjacency.layout != torch.sparse_csr:
            raise ValueError(f"adjacency must be a CSR tensor, got layout {adjacency.layout}")
        wanted = torch.from_numpy(np.zeros(0, dtype=dtype)).dtype
        return adjacency if adjacency.dtype == wanted else adjacency.to(wanted)
    matrix = sp.csr_matrix(adjacency)
    index_dtype = np.int32 if matrix.nnz < 2**31 and matrix.shape[0] < 2**31 else np.int64
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(index_dtype, copy=False)),
            torch.from_numpy(matrix.indices.astype(index_dtype, copy=False)),
            torch.from_numpy(matrix.data.astype(dtype, copy=False)),
            size=matrix.shape,
        )


def check_propagation(alpha: float, num_iterations: int) -> None:
    """Raise ValueError unless ``0 < alpha <= 1`` and ``num_iterations`` is an int >= 1."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if (
        isinstance(num_iterations, bool)
        or not isinstance(num_iterations, int)
        or num_iterations < 1
    ):
        raise ValueError(f"num_iterations must be an int >= 1, got {num_iterations!r}")


def propagate(
    adjacency: Any,
    start: np.ndarray,
    alpha: float,
    num_iterations: int,
    *,
    clamp: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``X <- alpha S X + (1 - alpha) X0`` from ``X0 = start``, ``num_iterations`` times.

    Args:
        adjacency: ``S``, ``(N, N)``: a scipy sparse matrix or a torch CSR tensor (of the
            same float dtype as ``start``).
        start: ``X0``, ``[N, C]`` (not modified).
        alpha: in ``(0, 1]``.
        num_iterations: >= 1.
        clamp: ``(rows, values)``: after every step ``X[rows] = values`` (label propagation's
            clamping of the training nodes).

    Returns:
        ``[N, C]`` array of ``start``'s dtype.
    """
    check_propagation(alpha, num_iterations)
    if tuple(adjacency.shape) != (start.shape[0], start.shape[0]):
        raise ValueError(
            f"adjacency has shape {tuple(adjacency.shape)}, expected ({start.shape[0]}, "
            f"{start.shape[0]}) for {start.shape[0]} rows"
        )
    start = np.ascontiguousarray(start)
    operator = _operator(adjacency, start.dtype)
    kept = (1.0 - alpha) * start
    result = start.copy()
    if clamp is not None:
        result[clamp[0]] = clamp[1]
    for _ in range(num_iterations):
        result = (operator @ torch.from_numpy(result)).numpy()
        result *= alpha
        result += kept
        if clamp is not None:
            result[clamp[0]] = clamp[1]
    return result


#: Columns (classes) propagated at a time: the propagation's temporaries are ``N x 16``.
_COLUMN_CHUNK = 16


def _float_dtype(array: np.ndarray) -> type:
    return np.float32 if array.dtype == np.float32 else np.float64


def _one_hot(labels: np.ndarray, num_classes: int, dtype: type) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"training labels must be class ids in 0..{num_classes - 1}, got "
            f"{int(labels.min())}..{int(labels.max())}"
        )
    encoded = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    encoded[np.arange(labels.shape[0]), labels] = 1.0
    return encoded


def _inputs(
    probabilities: np.ndarray, labels: np.ndarray, train_idx: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(probabilities as float32/float64, train ids, one-hot training labels)``."""
    probabilities = np.asarray(probabilities)
    probabilities = probabilities.astype(_float_dtype(probabilities), copy=False)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [N, C], got shape {probabilities.shape}")
    train = np.asarray(train_idx, dtype=np.int64)
    targets = _one_hot(np.asarray(labels)[train], probabilities.shape[1], probabilities.dtype)
    return probabilities, train, targets


def _correct(
    adjacency: torch.Tensor,
    probabilities: np.ndarray,
    train: np.ndarray,
    targets: np.ndarray,
    alpha: float,
    num_iterations: int,
) -> np.ndarray:
    """Step 1: ``P`` plus the spread training residuals, autoscaled; training rows = labels.

    One new ``[N, C]`` block; the residuals are spread ``_COLUMN_CHUNK`` classes at a time.
    """
    num_nodes, num_classes = probabilities.shape
    train_residual = targets - probabilities[train]
    corrected = np.empty_like(probabilities)  # the spread residuals first
    for first in range(0, num_classes, _COLUMN_CHUNK):
        columns = slice(first, first + _COLUMN_CHUNK)
        residual = np.zeros((num_nodes, train_residual[:, columns].shape[1]), probabilities.dtype)
        residual[train] = train_residual[:, columns]
        corrected[:, columns] = propagate(
            adjacency, residual, alpha, num_iterations, clamp=(train, residual[train])
        )
    # "Autoscale": every node's correction gets the mean L1 size of the training residuals.
    scale = np.abs(train_residual).sum(axis=1).mean() if train.size else 0.0
    size = np.abs(corrected).sum(axis=1, keepdims=True)
    np.divide(corrected, size, out=corrected, where=size > 0)  # rows of size 0 are all 0
    corrected *= scale
    corrected += probabilities
    corrected[train] = targets
    return corrected


def _smooth(
    adjacency: torch.Tensor,
    corrected: np.ndarray,
    train: np.ndarray,
    targets: np.ndarray,
    alpha: float,
    num_iterations: int,
    rows: np.ndarray | None,
) -> np.ndarray:
    """Step 2: label propagation from ``corrected``, training rows held; ``rows`` kept."""
    num_classes = corrected.shape[1]
    kept_rows = corrected.shape[0] if rows is None else rows.shape[0]
    scores = np.empty((kept_rows, num_classes), dtype=corrected.dtype)
    for first in range(0, num_classes, _COLUMN_CHUNK):
        columns = slice(first, first + _COLUMN_CHUNK)
        smoothed = propagate(
            adjacency,
            np.ascontiguousarray(corrected[:, columns]),
            alpha,
            num_iterations,
            clamp=(train, targets[:, columns]),
        )
        scores[:, columns] = smoothed if rows is None else smoothed[rows]
    return scores


def _rows(rows: Any) -> np.ndarray | None:
    return None if rows is None else np.asarray(rows, dtype=np.int64)


def correct_and_smooth(
    adjacency: Any,
    probabilities: np.ndarray,
    labels: np.ndarray,
    train_idx: Any,
    *,
    correct_alpha: float = 0.8,
    smooth_alpha: float = 0.9,
    num_iterations: int = 50,
    rows: Any = None,
) -> np.ndarray:
    """Correct and Smooth scores (see the module docstring).

    Memory: besides ``adjacency`` and ``probabilities``, one ``[N, C]`` block and
    temporaries of ``N x 16`` (classes are propagated 16 at a time; each class column
    propagates on its own, so the result does not depend on the grouping).

    Args:
        adjacency: ``S``, ``(N, N)``, scipy sparse (:func:`tt_gnn.spectral.normalized_adjacency`)
            or a torch CSR tensor.
        probabilities: ``P``, ``[N, C]`` class probabilities of the trained model (rows sum to
            1), every node; float32 stays float32 (half the memory), anything else is float64.
        labels: int ``[N]`` class ids (only ``labels[train_idx]`` is read).
        train_idx: int ``[T]`` training nodes.
        correct_alpha, smooth_alpha: propagation weights of the two steps, in ``(0, 1]``.
        num_iterations: steps of each propagation.
        rows: int node ids whose scores to return (default: all nodes).

    Returns:
        ``[len(rows), C]`` scores (``[N, C]`` by default; argmax = prediction) in
        ``probabilities``' float dtype; training rows are their one-hot labels.
    """
    probabilities, train, targets = _inputs(probabilities, labels, train_idx)
    adjacency = _operator(adjacency, probabilities.dtype)
    corrected = _correct(adjacency, probabilities, train, targets, correct_alpha, num_iterations)
    return _smooth(adjacency, corrected, train, targets, smooth_alpha, num_iterations, _rows(rows))


def tune_correct_and_smooth(
    adjacency: Any,
    probabilities: np.ndarray,
    labels: np.ndarray,
    train_idx: Any,
    val_idx: Any,
    *,
    rows: Any = None,
    smooth_alphas: tuple[float, ...] = DEFAULT_SMOOTH_ALPHAS,
    num_iterations: int = 50,
) -> tuple[float | None, np.ndarray]:
    """The smoothing weight with the best validation accuracy, and its scores for ``rows``.

    The correction (step 1, ``correct_alpha=0.8``) is computed once and smoothed with every
    weight. The model's own predictions compete too: ``(None, probabilities[rows])`` is
    returned unless some weight is strictly better on ``val_idx`` (ties go to the earlier
    candidate), so the post-processing cannot be chosen where it does not help the
    validation nodes.

    Returns:
        ``(smooth_alpha or None, [len(rows), C] scores)`` (``[N, C]`` without ``rows``).
    """
    labels = np.asarray(labels)
    val = np.asarray(val_idx, dtype=np.int64)
    if val.size == 0:
        raise ValueError("tune_correct_and_smooth needs validation nodes (val_idx is empty)")
    probabilities, train, targets = _inputs(probabilities, labels, train_idx)
    adjacency = _operator(adjacency, probabilities.dtype)
    wanted = _rows(rows)
    kept = None if wanted is None else np.concatenate([val, wanted])

    def split(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(validation rows, wanted rows)`` of scores for ``kept`` (or all) rows."""
        if kept is None:
            return scores[val], scores
        return scores[: val.shape[0]], scores[val.shape[0] :]

    def val_accuracy(val_scores: np.ndarray) -> float:
        return float((val_scores.argmax(axis=1) == labels[val]).mean())

    own = probabilities if kept is None else probabilities[kept]
    best_alpha, (val_scores, best_scores) = None, split(own)
    best = val_accuracy(val_scores)
    corrected = _correct(adjacency, probabilities, train, targets, 0.8, num_iterations)
    for alpha in smooth_alphas:
        val_scores, scores = split(
            _smooth(adjacency, corrected, train, targets, alpha, num_iterations, kept)
        )
        score = val_accuracy(val_scores)
        if score > best:
            best_alpha, best_scores, best = alpha, scores, score
    return best_alpha, best_scores


def correct_and_smooth_memory_bytes(
    num_nodes: int, num_edges: int, num_classes: int, itemsize: int = 4
) -> int:
    """About the peak memory of :func:`tune_correct_and_smooth` beside the model.

    Building the symmetrized normalized adjacency (~25 bytes per edge, as
    :func:`tt_gnn.spectral.symmetric_adjacency`), the probabilities and the corrected block
    (``2 N C`` entries of ``itemsize`` bytes), the propagation's ``N x 16`` temporaries (about
    four) and 256 MiB for the threads of the sparse product (0.18 GiB measured on 2 threads,
    `experiments/results/bench_postprocess.md`).
    """
    return (
        25 * int(num_edges) + int(itemsize) * int(num_nodes) * (2 * int(num_classes) + 64) + 2**28
    )
