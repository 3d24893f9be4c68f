"""The shared ``graph.npz`` format (see ``../shared/data/README.md``) and npz edge lists."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from tt_gnn.checks import positive_int
from tt_gnn.datasets.base import NodeDataset
from tt_gnn.datasets.common import (
    DEFAULT_SPLIT_FRACTIONS,
    check_fractions,
    fraction_text,
    labeled_nodes,
    make_graph,
    random_split,
    reject_options,
    split_from_masks,
)
from tt_gnn.datasets.edge_list import finish_labels, read_labels_file


def load_npz(
    path: Path,
    name: str,
    split: int,
    split_seed: int,
    use_features: bool,
    options: dict[str, Any],
) -> NodeDataset:
    """Load a ``graph.npz`` in the shared format, or an npz edge list with ``labels=<path>``.

    Required: ``edges`` int ``[E, 2]``. Optional: ``num_nodes`` (default: the label count),
    ``labels`` int ``[N]`` or ``labels_multi`` 0/1 ``[N, C]`` (or the ``labels`` option),
    ``train_mask``/``val_mask``/``test_mask`` bool ``[N]`` or ``[S, N]`` (else a seeded random
    split), CSR features ``x_data``, ``x_indices``, ``x_indptr``, ``x_shape``.

    Example:
        >>> load_npz(Path("cora/graph.npz"), "cora", 0, 0, False, {})  # doctest: +SKIP
    """
    reject_options(options, ("labels", "num_nodes", "split_fractions"), f"npz file {path}")
    fractions = check_fractions(options.get("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as .npz: {error}") from error
    with archive:
        arrays = {key: archive[key] for key in archive.files}
    source = str(path)
    if "edges" not in arrays:
        raise ValueError(f"{source}: missing array 'edges' (int [E, 2]); found {sorted(arrays)}")
    edges = arrays["edges"]
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"{source}: 'edges' must have shape [E, 2], got {edges.shape}")
    if edges.size and not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"{source}: 'edges' must hold integers, got dtype {edges.dtype}")
    edges = edges.astype(np.int64, copy=False)

    labels_option = options.get("labels")
    if labels_option is not None:
        if "labels" in arrays or "labels_multi" in arrays:
            raise ValueError(f"{source} has its own labels; do not pass labels={labels_option!r}")
        labels_source = str(labels_option)
        label_values = read_labels_file(labels_option)
    elif "labels_multi" in arrays:
        labels_source, label_values = f"{source}['labels_multi']", arrays["labels_multi"]
    elif "labels" in arrays:
        labels_source, label_values = f"{source}['labels']", arrays["labels"]
    else:
        raise ValueError(
            f"{source}: no labels: expected array 'labels' [N] or 'labels_multi' [N, C], or "
            f"pass labels=<path>; found {sorted(arrays)}"
        )

    num_nodes = _npz_num_nodes(arrays, options, source)
    largest_id = int(edges.max()) if edges.size else -1
    labels, multilabel, num_classes = finish_labels(
        label_values, labels_source, num_nodes, largest_id
    )
    num_nodes = labels.shape[0]
    if edges.size:
        for column, column_name in ((0, "source"), (1, "target")):
            bad = np.flatnonzero((edges[:, column] < 0) | (edges[:, column] >= num_nodes))
            if bad.size:
                row = int(bad[0])
                raise ValueError(
                    f"{source}: edges[{row}] = {edges[row].tolist()} has {column_name} id "
                    f"{int(edges[row, column])} out of range 0..{num_nodes - 1} "
                    f"(num_nodes={num_nodes})"
                )

    mask_keys = ("train_mask", "val_mask", "test_mask")
    present = [key for key in mask_keys if key in arrays]
    labeled = labeled_nodes(labels, multilabel)
    if present:
        if len(present) != 3:
            raise ValueError(f"{source}: has {present} but needs all of {list(mask_keys)}")
        train_idx, val_idx, test_idx, num_splits = split_from_masks(
            {key: arrays[key] for key in mask_keys}, labeled, split, source
        )
        split_description = _standard_split_name(name, num_splits, split)
    else:
        if split != 0:
            raise ValueError(
                f"{source} has no standard split; split={split} is meaningless (use split_seed)"
            )
        train_idx, val_idx, test_idx = random_split(labeled, fractions=fractions, seed=split_seed)
        what = "labeled nodes" if not bool(labeled.all()) else "nodes"
        split_description = (
            f"random {fraction_text(fractions)} split of {what}, seed {split_seed} "
            "(no standard split)"
        )

    features = None
    if use_features:
        features = _npz_features(arrays, num_nodes, source)
        if features is None:
            warnings.warn(f"{source} has no node features; features=None", stacklevel=3)
    return NodeDataset(
        name=name,
        graph=make_graph(edges[:, 0], edges[:, 1], num_nodes),
        labels=labels,
        num_classes=num_classes,
        multilabel=multilabel,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        features=features,
        metric="micro_f1" if multilabel else "accuracy",
        split_description=split_description,
    )


def _npz_num_nodes(
    arrays: dict[str, np.ndarray], options: dict[str, Any], source: str
) -> int | None:
    stored = None
    if "num_nodes" in arrays:
        value = arrays["num_nodes"]
        if value.ndim != 0 or not np.issubdtype(value.dtype, np.integer) or int(value) < 1:
            raise ValueError(
                f"{source}: 'num_nodes' must be a positive integer scalar, got {value!r}"
            )
        stored = int(value)
    requested = options.get("num_nodes")
    if requested is not None:
        requested = positive_int(requested, "num_nodes")
        if stored is not None and stored != requested:
            raise ValueError(f"num_nodes={requested} contradicts {source}['num_nodes'] = {stored}")
        return requested
    return stored


def _standard_split_name(name: str, num_splits: int, split: int) -> str:
    known = {
        "cora": "Planetoid public split",
        "citeseer": "Planetoid public split",
        "pubmed": "Planetoid public split",
        "chameleon": "Geom-GCN split",
        "squirrel": "Geom-GCN split",
    }
    base = known.get(name, "standard split stored in the file")
    return base if num_splits == 1 else f"{base} {split} of {num_splits}"


def _npz_features(
    arrays: dict[str, np.ndarray], num_nodes: int, source: str
) -> torch.Tensor | None:
    keys = ("x_data", "x_indices", "x_indptr", "x_shape")
    if not all(key in arrays for key in keys):
        return None
    shape = tuple(int(v) for v in arrays["x_shape"])
    if len(shape) != 2 or shape[0] != num_nodes:
        raise ValueError(f"{source}: 'x_shape' must be [N={num_nodes}, F], got {shape}")
    try:
        matrix = sp.csr_matrix(
            (arrays["x_data"], arrays["x_indices"], arrays["x_indptr"]), shape=shape
        )
    except ValueError as error:
        raise ValueError(f"{source}: malformed CSR features x_*: {error}") from error
    return torch.from_numpy(matrix.toarray().astype(np.float32))
