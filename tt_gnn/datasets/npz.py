"""The shared ``graph.npz`` format (see ``../shared/data/README.md``) and npz edge lists.

:func:`read_npz` is the one npz reader of tt-gnn (datasets and ``tt-gnn reorder``): it never
unpickles, and every way a file can be unreadable (missing, not a regular file, empty,
truncated, not a zip archive, a corrupt member, an object array) is a ``ValueError`` or
``FileNotFoundError`` naming the file and, where it applies, the array.
"""

from __future__ import annotations

import os
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from tt_gnn.checks import positive_int
from tt_gnn.datasets.base import NodeDataset
from tt_gnn.datasets.common import (
    DEFAULT_SPLIT_FRACTIONS,
    check_class_ids,
    check_fractions,
    check_regular_file,
    fraction_text,
    labeled_nodes,
    make_graph,
    random_split,
    reject_options,
    split_from_masks,
)
from tt_gnn.datasets.edge_list import finish_labels, read_labels_file

__all__ = ["read_npz", "read_npz_graph", "load_npz"]

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
_NPY_SIGNATURE = b"\x93NUMPY"
# What numpy and zipfile raise on a damaged archive or member.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without unpickling anything.

    Args:
        path: the ``.npz`` file.

    Returns:
        ``{name: array}`` for every member of the archive.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: naming ``path`` (and the array): not a regular file, empty, not a zip
            archive (e.g. random bytes, a pickle or an ``.npy`` file), truncated or corrupt,
            a member that is not an array, or an object (pickled) array.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "g.npz"
        >>> np.savez(path, edges=np.array([[0, 1]]))
        >>> read_npz(path)["edges"].tolist()
        [[0, 1]]
    """
    path = Path(path)
    check_regular_file(path, "npz file")
    cannot = f"{path}: cannot read as .npz"
    arrays: dict[str, np.ndarray] = {}
    # numpy leaks the file handle when the archive fails to open, so it gets our own handle
    with open(path, "rb") as stream:
        head = stream.read(len(_NPY_SIGNATURE))
        if not head:
            raise ValueError(f"{cannot}: the file is empty")
        if head.startswith(_NPY_SIGNATURE):
            raise ValueError(f"{cannot}: it is an .npy array file, not an .npz archive")
        if not head.startswith(_ZIP_SIGNATURES):
            raise ValueError(
                f"{cannot}: not a zip archive (first bytes {head[:4]!r}, expected "
                f"{_ZIP_SIGNATURES[0]!r})"
            )
        stream.seek(0)
        try:
            archive = np.load(stream, allow_pickle=False)
        except _ARCHIVE_ERRORS as error:
            raise ValueError(
                f"{cannot}: truncated or corrupt archive ({_reason(error)})"
            ) from error
        with archive:
            for key in archive.files:
                arrays[key] = _member(archive, key, cannot)
    return arrays


def _member(archive: Any, key: str, cannot: str) -> np.ndarray:
    member = f"{cannot}: array {key!r}"
    try:
        value = archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(
                f"{member} is an object (pickled) array; tt-gnn reads numeric arrays only and "
                "never unpickles"
            ) from error
        raise ValueError(f"{member} is corrupt ({_reason(error)})") from error
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{member} is truncated or corrupt ({_reason(error)})") from error
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{member} is not an .npy array")
    return value


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
    split; the option ``random_split=True`` takes the random split even where masks exist),
    CSR features ``x_data``, ``x_indices``, ``x_indptr``, ``x_shape``.

    Example:
        >>> load_npz(Path("cora/graph.npz"), "cora", 0, 0, False, {})  # doctest: +SKIP
    """
    reject_options(
        options, ("labels", "num_nodes", "split_fractions", "random_split"), f"npz file {path}"
    )
    force_random = options.get("random_split", False)
    if not isinstance(force_random, bool):
        raise ValueError(f"random_split must be True or False, got {force_random!r}")
    fractions = check_fractions(options.get("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    arrays = read_npz(path)
    source = str(path)
    edges = _edges_array(arrays, source)

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
    largest_id = _largest_id(edges)
    labels, multilabel, num_classes = finish_labels(
        label_values, labels_source, num_nodes, largest_id, source
    )
    num_nodes = labels.shape[0]
    edges = _checked_edge_ids(edges, num_nodes, source)

    mask_keys = ("train_mask", "val_mask", "test_mask")
    present = [key for key in mask_keys if key in arrays]
    labeled = labeled_nodes(labels, multilabel)
    if present and not force_random:
        if len(present) != 3:
            raise ValueError(f"{source}: has {present} but needs all of {list(mask_keys)}")
        train_idx, val_idx, test_idx, num_splits = split_from_masks(
            {key: arrays[key] for key in mask_keys}, labeled, split, source
        )
        split_description = _standard_split_name(name, num_splits, split)
    else:
        if split != 0:
            reason = "a random split was asked for" if present else "it has no standard split"
            raise ValueError(
                f"{source}: split={split} is meaningless because {reason} (use split_seed)"
            )
        train_idx, val_idx, test_idx = random_split(labeled, fractions=fractions, seed=split_seed)
        what = "labeled nodes" if not bool(labeled.all()) else "nodes"
        split_description = (
            f"random {fraction_text(fractions)} split of {what}, seed {split_seed} "
            + ("(standard split not used)" if present else "(no standard split)")
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
    shape = arrays["x_shape"]
    if shape.shape != (2,) or not np.issubdtype(shape.dtype, np.integer):
        raise ValueError(
            f"{source}: 'x_shape' must be two integers [N, F], got {shape.dtype} {shape.tolist()!r}"
        )
    if int(shape[0]) != num_nodes or int(shape[1]) < 0:
        raise ValueError(f"{source}: 'x_shape' must be [N={num_nodes}, F], got {shape.tolist()}")
    for key in ("x_indices", "x_indptr"):
        if arrays[key].ndim != 1 or not np.issubdtype(arrays[key].dtype, np.integer):
            raise ValueError(
                f"{source}: '{key}' must be 1-D integers, got {arrays[key].dtype} "
                f"{arrays[key].shape}"
            )
    values = arrays["x_data"]
    if values.ndim != 1 or not (
        np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)
    ):
        raise ValueError(f"{source}: 'x_data' must be 1-D real numbers, got {values.dtype}")
    not_finite = np.flatnonzero(~np.isfinite(values))
    if not_finite.size:
        index = int(not_finite[0])
        raise ValueError(
            f"{source}: 'x_data'[{index}] = {values[index]!r}; node features must be finite "
            f"({not_finite.size} NaN/inf entries)"
        )
    try:
        matrix = sp.csr_matrix(
            (values, arrays["x_indices"], arrays["x_indptr"]), shape=tuple(int(v) for v in shape)
        )
        matrix.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as error:
        raise ValueError(f"{source}: malformed CSR features x_*: {error}") from error
    return torch.from_numpy(matrix.toarray().astype(np.float32))


def _edges_array(arrays: dict[str, np.ndarray], source: str) -> np.ndarray:
    """``arrays['edges']`` checked to be integer ``[E, 2]`` (dtype kept; ids checked later)."""
    if "edges" not in arrays:
        raise ValueError(f"{source}: missing array 'edges' (int [E, 2]); found {sorted(arrays)}")
    edges = arrays["edges"]
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"{source}: 'edges' must have shape [E, 2], got {edges.shape}")
    if edges.size and not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"{source}: 'edges' must hold integers, got dtype {edges.dtype}")
    int64_max = np.iinfo(np.int64).max
    if edges.size and edges.dtype.kind == "u" and int(edges.max()) > int64_max:
        row = int(np.flatnonzero(edges.max(axis=1) > int64_max)[0])
        raise ValueError(
            f"{source}: edges[{row}] = {edges[row].tolist()} has node id "
            f"{int(edges[row].max())}, larger than int64 allows"
        )
    return edges


def _largest_id(edges: np.ndarray) -> int:
    return int(edges.max()) if edges.size else -1


def _checked_edge_ids(edges: np.ndarray, num_nodes: int, source: str) -> np.ndarray:
    """int64 ``edges`` after checking every id is in ``0..num_nodes-1`` in the stored dtype
    (so a uint64 id above ``2**63`` is reported as itself, not wrapped to a negative)."""
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
    return edges.astype(np.int64, copy=False)


def read_npz_graph(
    path: str | os.PathLike[str],
) -> tuple[tuple[np.ndarray, np.ndarray], int | None, np.ndarray | None]:
    """The graph of a shared-format ``.npz`` (or npz edge list), checked like :func:`load_npz`
    checks it, without labels being required: for ``tt-gnn reorder``.

    Returns:
        ``((src, dst), num_nodes, labels)``: int64 ``[E]`` ids; ``num_nodes`` from the
        ``num_nodes`` array, else the length of ``labels``, else None (then one past the
        largest id); ``labels`` int64 ``[N]`` (-1 unknown) when the file has single-label
        ``labels``, else None.

    Raises:
        ValueError: naming the file and array, as :func:`read_npz` and :func:`load_npz` do.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "g.npz"
        >>> np.savez(path, edges=np.array([[0, 1], [1, 2]]), num_nodes=np.int64(4))
        >>> (src, dst), num_nodes, labels = read_npz_graph(path)
        >>> src.tolist(), dst.tolist(), num_nodes, labels
        ([0, 1], [1, 2], 4, None)
    """
    arrays = read_npz(path)
    source = str(path)
    edges = _edges_array(arrays, source)
    num_nodes = _npz_num_nodes(arrays, {}, source)
    labels = None
    if "labels" in arrays and arrays["labels"].ndim == 1:
        label_values = arrays["labels"]
        labels_source = f"{source}['labels']"
        check_class_ids(label_values, labels_source)
        if num_nodes is not None and label_values.shape[0] != num_nodes:
            raise ValueError(
                f"{labels_source}: labels have {label_values.shape[0]} entries but the graph "
                f"has {num_nodes} nodes"
            )
        labels = label_values.astype(np.int64)
        num_nodes = labels.shape[0]
    if num_nodes is not None:
        edges = _checked_edge_ids(edges, num_nodes, source)
    else:
        edges = _checked_edge_ids(edges, _largest_id(edges) + 1, source)
    return (edges[:, 0], edges[:, 1]), num_nodes, labels
