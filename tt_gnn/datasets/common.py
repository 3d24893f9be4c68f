"""Helpers shared by the loaders: canonical graphs, splits, label checks, option checks."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tt_gnn.graph import Graph
from tt_gnn.io import available_memory_bytes

DEFAULT_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)


def reject_options(options: dict[str, Any], accepted: tuple[str, ...], source: str) -> None:
    """Raise ``ValueError`` naming any option of ``options`` not in ``accepted``.

    Example:
        >>> reject_options({"seed": 1}, ("seed",), "'synthetic'")
    """
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"unexpected option(s) {unknown} for {source}; accepted: {list(accepted) or 'none'}"
        )


def check_regular_file(path: Path, what: str) -> None:
    """Raise unless ``path`` is a regular file (or a symbolic link to one).

    Raises:
        FileNotFoundError: ``path`` does not exist, or is a symbolic link to nothing.
        ValueError: ``path`` is a directory, a device such as ``/dev/null``, a pipe or a socket.

    Example:
        >>> check_regular_file(Path("/dev/null"), "labels file")
        Traceback (most recent call last):
        ...
        ValueError: labels file /dev/null is not a file (it is a device, pipe or socket)
    """
    if path.is_file():
        return
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"{what} {path} is a broken symbolic link (to {os.readlink(path)!r})"
        )
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    kind = "a directory" if path.is_dir() else "a device, pipe or socket"
    raise ValueError(f"{what} {path} is not a file (it is {kind})")


# What loading allocates per node at the least: int64 labels and int64 CSR row offsets.
LOADER_BYTES_PER_NODE = 16


def check_node_count(num_nodes: int, bytes_per_node: float, description: str) -> None:
    """Refuse a node count whose arrays cannot fit in memory, before allocating any of them.

    A single stray id (``3000000000`` in a 50-node edge list) makes ``max id + 1`` nodes; that
    must be an error naming the id, not a process killed by the kernel.

    Args:
        num_nodes: ``N``.
        bytes_per_node: a lower bound on what the caller allocates per node.
        description: what asks for ``N`` nodes, e.g. ``"edges.csv: node id 3000000000"``.

    Raises:
        MemoryError: naming ``description``, ``N``, the bytes needed and the bytes available.

    Example:
        >>> check_node_count(1000, 16, "edges.csv: node id 999")
    """
    available = available_memory_bytes()
    needed = num_nodes * bytes_per_node
    if available is not None and needed > available:
        raise MemoryError(
            f"{description} makes a graph of {num_nodes:,} nodes, which needs at least "
            f"{needed / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB of memory "
            "available"
        )


def undirected_edges(
    src: np.ndarray, dst: np.ndarray, num_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every edge, duplicates and self-loops removed, sorted by (src, dst).

    Args:
        src, dst: int64 ``[E]`` node ids in ``0..num_nodes-1`` (validated by the caller).
        num_nodes: ``N``.

    Returns:
        int64 ``src, dst`` of length ``2 * U`` for ``U`` distinct undirected non-loop edges.

    Example:
        >>> undirected_edges(np.array([0, 1, 1, 2]), np.array([1, 0, 1, 0]), 3)
        (array([0, 0, 1, 2]), array([1, 2, 0, 0]))
    """
    if num_nodes > math.isqrt(np.iinfo(np.int64).max):
        raise ValueError(f"num_nodes={num_nodes} is too large for int64 edge keys")
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    keep = src != dst
    low = np.minimum(src[keep], dst[keep])
    high = np.maximum(src[keep], dst[keep])
    keys = sorted_unique(low * num_nodes + high)
    del low, high, keep
    low, high = np.divmod(keys, num_nodes)
    del keys
    both = np.sort(np.concatenate([low * num_nodes + high, high * num_nodes + low]))
    return np.divmod(both, num_nodes)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array, like ``np.unique`` but by sort + mask.

    ``np.unique`` on int64 in numpy 2.4 is about 20x slower than a sort (10M values: 62 s
    against 3 s, measured on this project's 2-core machine under load).

    Example:
        >>> sorted_unique(np.array([3, 1, 3, 2]))
        array([1, 2, 3])
    """
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def make_graph(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> Graph:
    """The canonical :class:`~tt_gnn.graph.Graph` of an edge list (see :func:`undirected_edges`).

    Args:
        src, dst: int64 ``[E]`` ids in ``0..num_nodes-1``, any direction, duplicates allowed.
        num_nodes: ``N`` (isolated nodes are kept).

    Returns:
        a CPU graph with both directions of every edge, no duplicates or loops.

    Example:
        >>> make_graph(np.array([0, 1]), np.array([1, 1]), 3).num_edges()
        2
    """
    both_src, both_dst = undirected_edges(src, dst, num_nodes)
    return Graph.from_sorted_undirected(both_src, both_dst, num_nodes)


def check_fractions(split_fractions: Any) -> tuple[float, float, float]:
    """Validate ``(train, val, test)`` shares: three non-negative numbers summing to 1.

    Example:
        >>> check_fractions([0.5, 0.25, 0.25])
        (0.5, 0.25, 0.25)
    """
    try:
        fractions = tuple(float(f) for f in split_fractions)
    except (TypeError, ValueError):
        raise ValueError(
            f"split_fractions must be (train, val, test), got {split_fractions!r}"
        ) from None
    if (
        len(fractions) != 3
        or not all(math.isfinite(f) and f >= 0 for f in fractions)
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise ValueError(
            f"split_fractions must be three non-negative fractions summing to 1, got "
            f"{split_fractions!r}"
        )
    return fractions  # type: ignore[return-value]


def random_split(
    labeled: np.ndarray | torch.Tensor,
    *,
    fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded uniform random split of the labeled nodes into train/val/test.

    Args:
        labeled: bool ``[N]``, which nodes have a label.
        fractions: ``(train, val, test)`` shares, summing to 1; sizes are ``round(share *
            n_labeled)`` for train and val, the rest is test.
        seed: the split is a function of ``(labeled, fractions, seed)`` only.

    Returns:
        ``train_idx, val_idx, test_idx``: sorted int64 node ids.

    Example:
        >>> train, val, test = random_split(np.ones(10, dtype=bool), seed=0)
        >>> len(train), len(val), len(test)
        (6, 2, 2)
    """
    train_share, val_share, _ = check_fractions(fractions)
    labeled = np.asarray(labeled, dtype=bool)
    candidates = np.flatnonzero(labeled)
    order = np.random.default_rng(seed).permutation(candidates)
    num_train = int(round(train_share * candidates.size))
    num_val = min(int(round(val_share * candidates.size)), candidates.size - num_train)
    parts = np.split(order, [num_train, num_train + num_val])
    return tuple(torch.from_numpy(np.sort(part).astype(np.int64)) for part in parts)  # type: ignore[return-value]


def fraction_text(fractions: tuple[float, float, float]) -> str:
    """``(0.6, 0.2, 0.2)`` -> ``"60/20/20"``, for split descriptions.

    Example:
        >>> fraction_text((0.6, 0.2, 0.2))
        '60/20/20'
    """
    return "/".join(f"{100 * f:g}" for f in fractions)


def split_from_masks(
    masks: dict[str, np.ndarray], labeled: np.ndarray, split: int, source: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Pick split ``split`` from ``[N]`` or ``[S, N]`` masks; unlabeled nodes are dropped.

    Args:
        masks: bool ``train_mask``, ``val_mask``, ``test_mask``, all ``[N]`` or all ``[S, N]``.
        labeled: bool ``[N]``.
        split: index into ``S`` (0 for ``[N]`` masks).
        source: the file, for error messages.

    Returns:
        ``train_idx, val_idx, test_idx`` (sorted int64) and ``S``.

    Example:
        >>> masks = {k: np.array([True, False]) for k in ("train_mask", "val_mask", "test_mask")}
        >>> split_from_masks(masks, np.array([True, True]), 0, "x.npz")[3]
        1
    """
    num_nodes = labeled.shape[0]
    shapes = {key: mask.shape for key, mask in masks.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"{source}: split masks have different shapes {shapes}")
    shape = next(iter(shapes.values()))
    if len(shape) not in (1, 2) or shape[-1] != num_nodes:
        raise ValueError(
            f"{source}: split masks must be [N] or [S, N] with N={num_nodes}, got {shape}"
        )
    num_splits = 1 if len(shape) == 1 else shape[0]
    if split >= num_splits:
        raise ValueError(
            f"{source}: split={split} requested but the file has {num_splits} split(s)"
        )
    picked = []
    for key in ("train_mask", "val_mask", "test_mask"):
        mask = masks[key] if len(shape) == 1 else masks[key][split]
        if mask.dtype != np.bool_:
            raise ValueError(f"{source}: {key} must be bool, got {mask.dtype}")
        picked.append(torch.from_numpy(np.flatnonzero(mask & labeled).astype(np.int64)))
    return picked[0], picked[1], picked[2], num_splits


def labeled_nodes(labels: torch.Tensor, multilabel: bool) -> np.ndarray:
    """Bool ``[N]``: single-label nodes with label >= 0; every node of a multi-label set.

    Example:
        >>> labeled_nodes(torch.tensor([2, -1]), multilabel=False)
        array([ True, False])
    """
    if multilabel:
        return np.ones(labels.shape[0], dtype=bool)
    return (labels >= 0).numpy()


def check_class_ids(values: np.ndarray, source: str) -> None:
    """Check single-label ``[N]`` labels: integers, each a class id in ``0..N-1`` or ``-1``.

    A class id must be below the node count ``N``: models get one output per class id
    ``0..max(label)``, so a larger id (``10**9``, a typo, an unmapped code) would size the
    output layer by it instead of by the classes present.

    Raises:
        ValueError: naming ``source``, the first bad entry and its value.

    Example:
        >>> check_class_ids(np.array([0, 5, -1]), "labels.npy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: labels.npy: label[1] = 5 is not a class id in 0..2 (below the node count 3) ...
    """
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"{source}: single-label labels must be integers, got dtype {values.dtype}"
        )
    if not values.size:
        return
    count = values.shape[0]
    low, high = int(values.min()), int(values.max())
    if low < -1 or high >= count:
        row = int(np.argmin(values)) if low < -1 else int(np.argmax(values))
        raise ValueError(
            f"{source}: label[{row}] = {int(values[row])} is not a class id in 0..{count - 1} "
            f"(below the node count {count}) or -1 for unknown; relabel the classes to 0..C-1"
        )


def labels_tensor(values: Any, source: str) -> tuple[torch.Tensor, bool, int]:
    """Validate label values: int ``[N]`` (``-1`` unknown, see :func:`check_class_ids`) or 0/1
    ``[N, C]``.

    Returns:
        ``(labels, multilabel, num_classes)``: int64 ``[N]`` or float32 ``[N, C]``; for
        single-label sets ``num_classes`` is ``max(label) + 1``.

    Raises:
        ValueError: naming ``source`` and the first bad entry.

    Example:
        >>> labels_tensor(np.array([0, 2, -1]), "labels.npy")[2]
        3
    """
    values = np.asarray(values)
    if values.ndim == 1:
        check_class_ids(values, source)
        labels = values.astype(np.int64)
        if not labels.size or int(labels.max()) < 0:
            raise ValueError(f"{source}: no node has a label")
        return torch.from_numpy(labels), False, int(labels.max()) + 1
    if values.ndim == 2:
        if values.dtype != np.bool_ and not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                f"{source}: multi-label labels must be 0/1 numbers, got {values.dtype}"
            )
        bad = np.argwhere((values != 0) & (values != 1))
        if bad.size:
            row, column = (int(v) for v in bad[0])
            raise ValueError(
                f"{source}: multi-label labels must be 0/1, got {values[row, column].item()!r} at "
                f"[{row}, {column}]"
            )
        return torch.from_numpy(values.astype(np.float32)), True, int(values.shape[1])
    raise ValueError(f"{source}: labels must be [N] or [N, C], got shape {values.shape}")
