"""Featureless baselines a user tries first, and a ``K`` labels per class split.

- :func:`propagate_labels` / :func:`label_propagation`: one-hot training labels spread over
  the symmetric normalized adjacency, clamped at the training nodes (Zhou et al., 2004, with
  Zhu and Ghahramani's clamping).
- :func:`spectral_logistic_regression`: the bottom Laplacian eigenvectors
  (:func:`tt_gnn.spectral.laplacian_eigenvectors`) as node features for a multinomial
  logistic regression (torch, L-BFGS), its L2 weight chosen on the validation nodes.
- :func:`labels_per_class_split`: ``k`` random training nodes per class, then validation and
  test nodes drawn from the rest (the Planetoid protocol on any graph).

Graphs are anything :func:`tt_gnn.graph.edge_arrays` accepts (a DGLGraph, a square
scipy.sparse matrix, a ``(src, dst)`` pair); they are symmetrized, self-loops and duplicate
edges dropped. Labels are int class ids ``[N]`` with ``-1`` for unknown; the index sets may
only hold labeled nodes.

Example:
    >>> from tt_gnn.synthetic import planted_partition_graph
    >>> g = planted_partition_graph(600, 3, average_degree=10, mixing=0.1, seed=0)
    >>> train, val, test = labels_per_class_split(g.labels, 5, 100, 300, seed=0)
    >>> result = label_propagation((g.src, g.dst), g.labels, train, val, test, num_nodes=600)
    >>> result["test_accuracy"] > 0.9
    True
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from tt_gnn.graph import GraphLike, edge_arrays
from tt_gnn.propagation import check_propagation, propagate
from tt_gnn.spectral import laplacian_eigenvectors, normalized_adjacency

__all__ = [
    "labels_per_class_split",
    "propagate_labels",
    "label_propagation",
    "spectral_logistic_regression",
]

IndexLike = Any  # torch.Tensor | np.ndarray | Sequence[int]

DEFAULT_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def _as_labels(labels: Any, num_nodes: int | None = None) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be 1-D int class ids [N], got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"labels must be integer class ids (-1 = unknown), got {array.dtype}")
    if num_nodes is not None and array.shape[0] != num_nodes:
        raise ValueError(f"labels has {array.shape[0]} entries, the graph {num_nodes} nodes")
    if array.size and array.min() < -1:
        raise ValueError(f"labels must be >= -1 (-1 = unknown), got {int(array.min())}")
    return array.astype(np.int64, copy=False)


def _as_index(index: IndexLike, name: str, labels: np.ndarray) -> np.ndarray:
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    array = np.asarray(index)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D int index, got shape {array.shape} {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < 0 or array.max() >= labels.shape[0]):
        raise ValueError(
            f"{name} holds node ids {int(array.min())}..{int(array.max())}, outside "
            f"0..{labels.shape[0] - 1}"
        )
    if array.size and (labels[array] < 0).any():
        node = int(array[labels[array] < 0][0])
        raise ValueError(f"{name} holds node {node}, which has no label (-1)")
    return array


def labels_per_class_split(
    labels: Any, k: int, num_val: int, num_test: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``k`` random training nodes per class; ``num_val`` and ``num_test`` from the rest.

    Classes are the distinct labels ``>= 0``; nodes labeled ``-1`` are never drawn. One
    random permutation of the labeled nodes (``numpy.random.default_rng(seed)``) decides
    everything: a class's training nodes are its first ``k`` nodes in that order, validation
    the next ``num_val`` non-training nodes, test the ``num_test`` after those. A pure
    function of its arguments. ``k=20, num_val=500, num_test=1000`` is the Planetoid
    protocol (Yang et al., 2016) with random rather than fixed nodes.

    Shapes:
        labels: int ``[N]`` (-1 = unknown). Output: sorted int64 tensors ``[k * C]``,
        ``[num_val]``, ``[num_test]``, disjoint.

    Raises:
        ValueError: ``k <= 0``, negative ``num_val``/``num_test``, a class with fewer than
            ``k`` nodes, or fewer remaining labeled nodes than ``num_val + num_test``.

    Example:
        >>> labels = np.array([0, 0, 0, 1, 1, 1, 1, -1])
        >>> train, val, test = labels_per_class_split(labels, 2, 2, 1, seed=0)
        >>> len(train), len(val), len(test), sorted(labels[train.numpy()].tolist())
        (4, 2, 1, [0, 0, 1, 1])
    """
    labels = _as_labels(labels)
    for name, value, lowest in (("k", k, 1), ("num_val", num_val, 0), ("num_test", num_test, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            raise ValueError(f"{name} must be an int >= {lowest}, got {value!r}")
    labeled = np.flatnonzero(labels >= 0)
    counts = np.bincount(labels[labeled]) if labeled.size else np.zeros(0, dtype=np.int64)
    classes = np.flatnonzero(counts)
    short = classes[counts[classes] < k]
    if short.size:
        raise ValueError(
            f"k={k} training nodes per class, but {short.size} of {classes.size} classes have "
            f"fewer (class {int(short[0])} has {int(counts[short[0]])} nodes)"
        )
    order = np.random.default_rng(seed).permutation(labeled)
    by_class = np.argsort(labels[order], kind="stable")
    rank_in_class = np.empty(order.shape[0], dtype=np.int64)
    class_start = np.searchsorted(labels[order][by_class], labels[order][by_class])
    rank_in_class[by_class] = np.arange(order.shape[0]) - class_start
    is_train = rank_in_class < k
    rest = order[~is_train]
    if rest.shape[0] < num_val + num_test:
        raise ValueError(
            f"num_val + num_test = {num_val + num_test}, but only {rest.shape[0]} labeled "
            f"nodes remain after {int(is_train.sum())} training nodes"
        )
    parts = (order[is_train], rest[:num_val], rest[num_val : num_val + num_test])
    return tuple(torch.from_numpy(np.sort(part)) for part in parts)  # type: ignore[return-value]


def propagate_labels(
    graph: GraphLike,
    labels: Any,
    train_idx: IndexLike,
    *,
    num_nodes: int | None = None,
    num_classes: int | None = None,
    alpha: float = 0.9,
    num_iterations: int = 50,
) -> torch.Tensor:
    """Class scores of label propagation: ``F <- alpha S F + (1 - alpha) Y``, clamped.

    ``S = D^{-1/2} A D^{-1/2}`` is the symmetric normalized adjacency of the symmetrized
    graph without self-loops (:func:`tt_gnn.spectral.normalized_adjacency`; isolated nodes
    have empty rows). ``Y`` holds the one-hot labels of the training nodes and zeros
    elsewhere; ``F`` starts at ``Y``, and after every step the training rows of ``F`` are reset
    to ``Y`` (clamping). Without clamping this is Zhou et al.'s iteration, which converges to
    ``(1 - alpha)(I - alpha S)^{-1} Y``; ``num_iterations`` of it reach nodes that many hops
    from a training node. Computed in float64 with sparse products
    (:func:`tt_gnn.propagation.propagate`, ``O(nnz C)`` per step, no dense ``N x N``), the
    same on any thread count.

    Args:
        graph: see the module docstring; ``num_nodes`` for a ``(src, dst)`` pair.
        labels: int ``[N]``, -1 = unknown (only ``labels[train_idx]`` is read).
        train_idx: int ``[T]`` labeled training nodes.
        num_classes: ``C`` (default ``max(labels) + 1``).
        alpha: weight of the neighbours against the initial labels, in ``(0, 1]`` (default
            0.9, the usual choice).
        num_iterations: propagation steps, >= 1 (default 50; graphs with longer paths
            from unlabeled nodes to labels need more).

    Returns:
        float64 ``[N, C]`` scores; rows of nodes no label reached are zero.

    Example:
        >>> scores = propagate_labels(([0, 1], [1, 2]), [0, -1, 1], [0, 2], alpha=0.5,
        ...                           num_iterations=1)
        >>> [round(score, 4) for score in scores[1].tolist()]  # 0.5 * 1 / sqrt(1 * 2) each
        [0.3536, 0.3536]
    """
    check_propagation(alpha, num_iterations)  # before reading the graph
    src, dst, total = edge_arrays(graph, num_nodes)
    label_array = _as_labels(labels, total)
    train = _as_index(train_idx, "train_idx", label_array)
    classes = int(label_array.max()) + 1 if num_classes is None else int(num_classes)
    if classes < 1 or (train.size and label_array[train].max() >= classes):
        raise ValueError(
            f"num_classes={classes} does not cover the training labels (largest "
            f"{int(label_array[train].max()) if train.size else 'none'})"
        )
    normalized, _ = normalized_adjacency((src, dst), total, dtype=np.float64)
    seeds = np.zeros((total, classes), dtype=np.float64)
    seeds[train, label_array[train]] = 1.0
    scores = propagate(normalized, seeds, alpha, num_iterations, clamp=(train, seeds[train]))
    return torch.from_numpy(scores)


def _accuracies(
    predictions: np.ndarray, labels: np.ndarray, splits: dict[str, np.ndarray]
) -> dict[str, float]:
    return {
        f"{name}_accuracy": float((predictions[index] == labels[index]).mean())
        if index.size
        else float("nan")
        for name, index in splits.items()
    }


def label_propagation(
    graph: GraphLike,
    labels: Any,
    train_idx: IndexLike,
    val_idx: IndexLike,
    test_idx: IndexLike,
    *,
    num_nodes: int | None = None,
    alpha: float = 0.9,
    num_iterations: int = 50,
) -> dict[str, float]:
    """Accuracy of label propagation (:func:`propagate_labels`) on train, val and test.

    A node's prediction is its highest-scoring class; a node no label reached (all scores
    0, e.g. in a component without training nodes) gets the most frequent training class.
    Ties go to the smaller class id. Validation nodes are not used (no parameter is tuned).

    Returns:
        ``{"train_accuracy", "val_accuracy", "test_accuracy"}`` (nan for an empty set)
        and ``"seconds"``.

    Example:
        >>> result = label_propagation(([0, 1, 2], [1, 2, 3]), [0, 0, 1, 1], [0, 3], [1], [2])
        >>> result["val_accuracy"], result["test_accuracy"]
        (1.0, 1.0)
    """
    started = time.perf_counter()
    _, _, total = edge_arrays(graph, num_nodes)
    label_array = _as_labels(labels, total)
    splits = {
        name: _as_index(index, f"{name}_idx", label_array)
        for name, index in (("train", train_idx), ("val", val_idx), ("test", test_idx))
    }
    scores = propagate_labels(
        graph,
        label_array,
        splits["train"],
        num_nodes=total,
        alpha=alpha,
        num_iterations=num_iterations,
    ).numpy()
    predictions = scores.argmax(axis=1)
    if splits["train"].size:
        majority = np.bincount(label_array[splits["train"]]).argmax()
        predictions[scores.max(axis=1) <= 0] = majority
    result = _accuracies(predictions, label_array, splits)
    result["seconds"] = time.perf_counter() - started
    return result


def spectral_logistic_regression(
    graph: GraphLike,
    labels: Any,
    train_idx: IndexLike,
    val_idx: IndexLike,
    test_idx: IndexLike,
    *,
    num_nodes: int | None = None,
    num_vectors: int = 32,
    weight_decays: tuple[float, ...] = DEFAULT_WEIGHT_DECAYS,
    max_iterations: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy of logistic regression on the graph's spectral embedding.

    Features are the ``num_vectors`` (default 32) bottom non-trivial eigenvectors of the
    normalized Laplacian (:func:`tt_gnn.spectral.laplacian_eigenvectors`, float64, ``tol=1e-3``,
    seeded), each scaled by ``sqrt(N)`` (entries of root-mean-square 1), plus a bias.
    For every L2 weight in ``weight_decays`` a multinomial logistic regression is fit on
    the training nodes by full-batch L-BFGS (``max_iterations``, float64, zero start: a
    deterministic fit); the weight with the best validation accuracy wins (ties: the
    smaller weight), and its test accuracy is reported. Few vectors suit few labels (cora,
    Planetoid split, test accuracy by ``num_vectors`` 16/32/64/128: 0.666/0.710/0.660/0.572;
    pubmed: 0.702/0.738/0.737/0.699).

    Returns:
        ``{"train_accuracy", "val_accuracy", "test_accuracy", "weight_decay",
        "solve_seconds", "seconds"}``.

    Raises:
        ValueError: ``num_vectors`` above the graph's ``N - components`` non-trivial
            eigenvectors, an empty ``weight_decays`` or a negative weight, bad labels or
            indices.

    Example:
        >>> from tt_gnn.synthetic import planted_partition_graph
        >>> g = planted_partition_graph(600, 3, average_degree=10, mixing=0.1, seed=0)
        >>> train, val, test = labels_per_class_split(g.labels, 5, 100, 300, seed=0)
        >>> result = spectral_logistic_regression((g.src, g.dst), g.labels, train, val, test,
        ...                                       num_nodes=600, num_vectors=8)
        >>> result["test_accuracy"] > 0.9
        True
    """
    started = time.perf_counter()
    if not weight_decays or any(not decay >= 0 for decay in weight_decays):
        raise ValueError(f"weight_decays must be non-empty and >= 0, got {weight_decays!r}")
    _, _, total = edge_arrays(graph, num_nodes)
    label_array = _as_labels(labels, total)
    splits = {
        name: _as_index(index, f"{name}_idx", label_array)
        for name, index in (("train", train_idx), ("val", val_idx), ("test", test_idx))
    }
    solved = laplacian_eigenvectors(
        graph, num_vectors, num_nodes=total, tol=1e-3, dtype=torch.float64, seed=seed
    )
    features = torch.cat(
        [solved.eigenvectors * math.sqrt(total), torch.ones(total, 1, dtype=torch.float64)],
        dim=1,
    )
    num_classes = int(label_array.max()) + 1
    targets = torch.from_numpy(label_array[splits["train"]])
    train_features = features[torch.from_numpy(splits["train"])]
    best: tuple[float, float, np.ndarray] | None = None
    for decay in weight_decays:
        weight = _fit_logistic_regression(
            train_features, targets, num_classes, decay, max_iterations
        )
        with torch.no_grad():
            predictions = (features @ weight).argmax(dim=1).numpy()
        val_index = splits["val"]
        val_accuracy = (
            float((predictions[val_index] == label_array[val_index]).mean())
            if val_index.size
            else 0.0
        )
        if best is None or val_accuracy > best[0]:
            best = (val_accuracy, decay, predictions)
    assert best is not None
    result = _accuracies(best[2], label_array, splits)
    result.update(weight_decay=best[1], solve_seconds=solved.seconds)
    result["seconds"] = time.perf_counter() - started
    return result


def _fit_logistic_regression(
    features: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    weight_decay: float,
    max_iterations: int,
) -> torch.Tensor:
    """Multinomial logistic regression by L-BFGS from zero; the last feature (bias) is free."""
    weight = torch.zeros(features.shape[1], num_classes, dtype=features.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight], max_iter=max_iterations, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(features @ weight, targets)
        loss = loss + weight_decay * weight[:-1].pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach()
