"""Node-classification datasets for tt-gnn: one loader, one dataset type.

:func:`load_dataset` resolves a name or a path to a :class:`NodeDataset`:

- ``"synthetic"``: a seeded planted-community graph (:mod:`tt_gnn.synthetic`), the default
  for the main demo; options ``num_nodes``, ``num_communities``, ``average_degree``,
  ``mixing``, ``num_classes``, ``label_noise``, ``seed``.
- ``"ogbn-*"``: an OGB node-property dataset through
  ``ogb.nodeproppred.DglNodePropPredDataset`` with OGB's official split and ``Evaluator``.
- a bare name such as ``"cora"``: ``<data root>/cora/graph.npz`` in the shared npz format
  (see :func:`default_data_root`).
- a path to a ``.npz`` file, or to a directory holding ``graph.npz``.
- a path to a CSV edge list (``src,dst`` per line, header optional) with ``labels=<path>``
  (CSV ``node,label`` or ``.npy``).

Every graph is returned the same way: homogeneous, on the CPU, int64 ids, each undirected
edge stored in both directions, no duplicate edges, no self-loops (the model decides whether to
add them). Directed sources (OGB's arxiv and papers100M, npz files with ``directed=True``) are
symmetrized, the usual practice for node classification with message passing.

Example:
    >>> dataset = load_dataset("synthetic", num_nodes=2000, seed=0)
    >>> dataset.num_nodes, dataset.num_classes, dataset.metric
    (2000, 16, 'accuracy')
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import non_negative_int, positive_float, positive_int
from tt_gnn.datasets.base import NodeDataset, micro_f1
from tt_gnn.datasets.common import (
    DEFAULT_SPLIT_FRACTIONS,
    LOADER_BYTES_PER_NODE,
    check_fractions,
    check_node_count,
    check_regular_file,
    fraction_text,
    make_graph,
    random_split,
    reject_options,
    sorted_unique,
    undirected_edges,
)
from tt_gnn.datasets.edge_list import load_edge_list, read_edge_list_csv, read_labels_file
from tt_gnn.datasets.npz import load_npz
from tt_gnn.datasets.ogb import load_ogb

__all__ = [
    "NodeDataset",
    "micro_f1",
    "load_dataset",
    "default_data_root",
    "random_split",
    "undirected_edges",
    "sorted_unique",
    "read_edge_list_csv",
    "read_labels_file",
    "DEFAULT_SPLIT_FRACTIONS",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT_ENV = "TT_GNN_DATA"
SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "num_nodes": 20_000,
    "num_communities": None,  # num_nodes // 100: communities of ~100 nodes
    "average_degree": 10.0,
    "mixing": 0.3,
    "num_classes": 16,
    "label_noise": 0.0,
    "seed": 0,
}


def default_data_root() -> Path:
    """Folder that bare dataset names resolve in.

    ``$TT_GNN_DATA`` when set, else ``../shared/data`` beside the project root, else
    ``../shared/data`` beside the working directory (the first that exists; the project one
    when none does).

    Example:
        >>> (default_data_root() / "cora" / "graph.npz").name
        'graph.npz'
    """
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env)
    candidates = [PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    split: int = 0,
    split_seed: int = 0,
    use_features: bool = False,
    **options: Any,
) -> NodeDataset:
    """Load a node-classification dataset by name or path (see the module docstring).

    Args:
        name_or_path: ``"synthetic"``, ``"ogbn-<name>"``, a shared dataset name (``"cora"``),
            a ``.npz`` file, a directory with ``graph.npz``, or a CSV edge list.
        root: folder holding the named datasets (default :func:`default_data_root`); for OGB,
            the folder holding ``ogbn_<name>/``.
        split: which standard split when the dataset stores several (masks ``[S, N]``).
        split_seed: seed of the random split for datasets without a standard split.
        use_features: return node features when the dataset has them (default featureless).
        options: ``synthetic``: ``num_nodes`` (20000), ``num_communities`` (``num_nodes //
            100``), ``average_degree`` (10), ``mixing`` (0.3), ``num_classes`` (16),
            ``label_noise`` (0), ``seed`` (0). CSV/npz edge lists: ``labels`` (path),
            ``num_nodes``. Random splits: ``split_fractions`` (default ``(0.6, 0.2, 0.2)``).

    Returns:
        a :class:`NodeDataset`.

    Raises:
        FileNotFoundError: unknown name, missing file or broken link (the message lists what
            was tried).
        ValueError: malformed or unreadable files (named with the file and line, field or
            array), paths that are not regular files (``/dev/null``, a folder), bad arguments
            and options the chosen source does not take.
        MemoryError: a node count (``num_nodes``, or one past the largest id) whose arrays
            cannot fit in the available memory, before anything is allocated.
        TypeError: ``name_or_path`` is neither a string nor a path.

    Example:
        >>> cora = load_dataset("cora")  # doctest: +SKIP
        >>> cora.split_description  # doctest: +SKIP
        'Planetoid public split'
    """
    if isinstance(split, bool) or not isinstance(split, int) or split < 0:
        raise ValueError(f"split must be an int >= 0, got {split!r}")
    non_negative_int(split_seed, "split_seed")
    if not isinstance(use_features, bool):
        raise ValueError(f"use_features must be True or False, got {use_features!r}")
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a dataset name or a path, got {name_or_path!r}")
    name = os.fspath(name_or_path)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name_or_path must be a dataset name or a path, got {name_or_path!r}")
    if name == "synthetic":
        return _load_synthetic(split, split_seed, use_features, options)
    if name.startswith("ogbn-"):
        reject_options(options, (), name)
        ogb_root = root if root is not None else default_data_root()
        return load_ogb(name, ogb_root, split, use_features)
    path = Path(name).expanduser()
    if path.is_dir():
        graph_file = path / "graph.npz"
        if not graph_file.exists() and not graph_file.is_symlink():
            raise FileNotFoundError(f"directory {path} has no graph.npz")
        return load_npz(graph_file, path.name, split, split_seed, use_features, options)
    if path.is_file():
        if path.suffix == ".npz":
            name = path.parent.name if path.name == "graph.npz" else path.stem
            return load_npz(path, name, split, split_seed, use_features, options)
        return load_edge_list(path, split, split_seed, use_features, options)
    if path.exists() or path.is_symlink():  # /dev/null, a pipe, a broken link
        check_regular_file(path, "dataset file")
    if os.sep in name or "/" in name or path.suffix:
        raise FileNotFoundError(f"dataset file {path} does not exist")
    data_root = Path(root).expanduser() if root is not None else default_data_root()
    graph_file = data_root / name / "graph.npz"
    if not graph_file.is_file():
        available = sorted(p.parent.name for p in data_root.glob("*/graph.npz"))
        raise FileNotFoundError(
            f"unknown dataset {name!r}: {graph_file} does not exist (data root {data_root}; "
            f"set root= or ${DATA_ROOT_ENV}). Available there: {available or 'none'}; also "
            "'synthetic', 'ogbn-<name>', or a path to a .npz file, a folder with graph.npz or "
            "a CSV edge list"
        )
    return load_npz(graph_file, name, split, split_seed, use_features, options)


# Two communities of 50: fewer nodes leave a one-class (meaningless) task.
_SYNTHETIC_MIN_NODES = 100


def _load_synthetic(
    split: int, split_seed: int, use_features: bool, options: dict[str, Any]
) -> NodeDataset:
    from tt_gnn.synthetic import planted_partition_graph

    reject_options(options, (*SYNTHETIC_DEFAULTS, "split_fractions"), "'synthetic'")
    if split != 0:
        raise ValueError(f"'synthetic' has one random split per split_seed; got split={split}")
    settings = {**SYNTHETIC_DEFAULTS, **options}
    fractions = check_fractions(settings.pop("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    num_nodes = positive_int(settings.pop("num_nodes"), "num_nodes")
    if num_nodes < _SYNTHETIC_MIN_NODES:
        raise ValueError(
            f"the synthetic graph needs num_nodes >= {_SYNTHETIC_MIN_NODES} (two communities of "
            f"{_SYNTHETIC_MIN_NODES // 2}, so at least two classes), got {num_nodes}"
        )
    num_communities = settings.pop("num_communities")
    if num_communities is None:
        num_communities = max(2, num_nodes // 100)
    num_communities = positive_int(num_communities, "num_communities")
    if "num_classes" not in options:
        settings["num_classes"] = min(settings["num_classes"], num_communities)
    if positive_int(settings["num_classes"], "num_classes") < 2:
        raise ValueError(
            f"the synthetic graph needs num_classes >= 2, got {settings['num_classes']}"
        )
    average_degree = settings["average_degree"]
    if average_degree != 0:
        positive_float(average_degree, "average_degree")
    non_negative_int(settings["seed"], "seed")
    # the generator's int64 src/dst draws: 8 bytes per node per unit of average degree
    check_node_count(
        num_nodes,
        LOADER_BYTES_PER_NODE + 8 * float(average_degree),
        f"'synthetic' with num_nodes={num_nodes}, average_degree={average_degree}",
    )
    generated = planted_partition_graph(num_nodes, int(num_communities), **settings)
    if use_features:
        warnings.warn("the synthetic graph has no node features; features=None", stacklevel=3)
    labels = torch.from_numpy(generated.labels.astype(np.int64))
    train_idx, val_idx, test_idx = random_split(
        np.ones(num_nodes, dtype=bool), fractions=fractions, seed=split_seed
    )
    return NodeDataset(
        name="synthetic",
        graph=make_graph(generated.src, generated.dst, num_nodes),
        labels=labels,
        num_classes=int(settings["num_classes"]),
        multilabel=False,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        features=None,
        metric="accuracy",
        split_description=(
            f"random {fraction_text(fractions)} split, seed {split_seed} (planted partition: "
            f"{num_nodes} nodes, {num_communities} communities, seed {settings['seed']})"
        ),
    )
