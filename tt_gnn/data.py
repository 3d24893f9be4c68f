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

import math
import os
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "NodeDataset",
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
DEFAULT_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "num_nodes": 20_000,
    "num_communities": None,  # num_nodes // 100: communities of ~100 nodes
    "average_degree": 10.0,
    "mixing": 0.3,
    "num_classes": 16,
    "label_noise": 0.0,
    "seed": 0,
}
_INTEGER_FIELD = re.compile(r"[+-]?\d+")


# --------------------------------------------------------------------------------------------
# The dataset type
# --------------------------------------------------------------------------------------------


@dataclass
class NodeDataset:
    """A node-classification dataset: one graph, labels, a split and a metric.

    Attributes:
        name: the dataset name (``"cora"``, ``"ogbn-arxiv"``, ``"synthetic"``, a file stem).
        graph: homogeneous ``dgl.DGLGraph`` on the CPU with int64 ids; undirected edges in both
            directions, no duplicates, no self-loops.
        labels: single-label: int64 ``[N]`` with ``-1`` for unknown; multi-label: float32
            ``[N, C]`` of 0/1.
        num_classes: ``C``.
        multilabel: whether ``labels`` is ``[N, C]``.
        train_idx, val_idx, test_idx: int64 node ids, disjoint, labeled nodes only.
        features: float32 ``[N, F]`` when the dataset has node features and they were
            requested, else ``None``.
        metric: ``"accuracy"`` (single-label), ``"micro_f1"`` (multi-label npz/CSV data,
            positive where the logit is > 0) or ``"rocauc"`` (OGB multi-task, e.g.
            ogbn-proteins); :meth:`evaluate` computes it.
        split_description: where the split comes from, e.g. ``"Planetoid public split"``,
            ``"random 60/20/20 split of labeled nodes, seed 0"``, ``"OGB official split"``.
        ogb_evaluator: OGB's ``Evaluator`` for OGB datasets (used by :meth:`evaluate`).

    Example:
        >>> dataset = load_dataset("synthetic", num_nodes=1000)
        >>> logits = torch.zeros(dataset.num_nodes, dataset.num_classes)
        >>> 0.0 <= dataset.evaluate(logits, dataset.test_idx) <= 1.0
        True
    """

    name: str
    graph: Any
    labels: torch.Tensor
    num_classes: int
    multilabel: bool
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor
    features: torch.Tensor | None
    metric: str
    split_description: str
    ogb_evaluator: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        num_nodes = self.num_nodes
        if self.multilabel:
            if self.labels.dtype != torch.float32 or self.labels.shape != (
                num_nodes,
                self.num_classes,
            ):
                raise ValueError(
                    f"multi-label labels must be float32 [{num_nodes}, {self.num_classes}], got "
                    f"{self.labels.dtype} {tuple(self.labels.shape)}"
                )
        elif self.labels.dtype != torch.int64 or self.labels.shape != (num_nodes,):
            raise ValueError(
                f"single-label labels must be int64 [{num_nodes}], got {self.labels.dtype} "
                f"{tuple(self.labels.shape)}"
            )
        if self.features is not None and (
            self.features.dtype != torch.float32
            or self.features.dim() != 2
            or self.features.shape[0] != num_nodes
        ):
            raise ValueError(
                f"features must be float32 [{num_nodes}, F], got {self.features.dtype} "
                f"{tuple(self.features.shape)}"
            )
        coverage = torch.zeros(num_nodes, dtype=torch.int8)
        for split_name in ("train_idx", "val_idx", "test_idx"):
            idx = getattr(self, split_name)
            if idx.dtype != torch.int64 or idx.dim() != 1:
                raise ValueError(
                    f"{split_name} must be int64 [n], got {idx.dtype} {tuple(idx.shape)}"
                )
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_nodes):
                raise ValueError(
                    f"{split_name} holds ids in [{int(idx.min())}, {int(idx.max())}], outside "
                    f"0..{num_nodes - 1}"
                )
            if not self.multilabel and idx.numel() and bool((self.labels[idx] < 0).any()):
                raise ValueError(f"{split_name} contains unlabeled nodes (label -1)")
            coverage.index_add_(0, idx, torch.ones(idx.numel(), dtype=torch.int8))
        if coverage.numel() and int(coverage.max()) > 1:
            raise ValueError("train_idx, val_idx and test_idx must be disjoint and duplicate-free")

    @property
    def num_nodes(self) -> int:
        """``N``, the number of nodes of :attr:`graph`."""
        return int(self.graph.num_nodes())

    def evaluate(self, logits_or_scores: torch.Tensor, idx: torch.Tensor) -> float:
        """The dataset's :attr:`metric` of predictions on the nodes ``idx``.

        Args:
            logits_or_scores: ``[len(idx), C]`` (row ``k`` belongs to node ``idx[k]``) or
                ``[N, C]`` for all nodes (then the rows ``idx`` are used). When
                ``len(idx) == N`` the rows are taken as aligned with ``idx``. Single-label:
                any scores whose argmax is the prediction. Multi-label ``micro_f1``: logits,
                a class is predicted where its logit is > 0. ``rocauc``: any scores.
            idx: int64 ``[n]`` labeled node ids, e.g. :attr:`test_idx`.

        Returns:
            accuracy, micro-F1 or ROC-AUC (OGB datasets use OGB's ``Evaluator``).

        Example:
            >>> dataset = load_dataset("synthetic", num_nodes=1000)
            >>> scores = torch.nn.functional.one_hot(dataset.labels, dataset.num_classes)
            >>> dataset.evaluate(scores.float(), dataset.val_idx)
            1.0
        """
        idx = torch.as_tensor(idx).detach().cpu()
        if idx.dtype not in (torch.int64, torch.int32) or idx.dim() != 1:
            raise ValueError(
                f"idx must be a 1-D integer tensor, got {idx.dtype} {tuple(idx.shape)}"
            )
        if idx.numel() == 0:
            raise ValueError("idx is empty: nothing to evaluate")
        idx = idx.long()
        scores = logits_or_scores.detach().cpu()
        if scores.dim() != 2 or scores.shape[1] != self.num_classes:
            raise ValueError(
                f"expected scores of shape [{idx.numel()} or {self.num_nodes}, "
                f"{self.num_classes}], got {tuple(scores.shape)}"
            )
        if scores.shape[0] == idx.numel():
            pass
        elif scores.shape[0] == self.num_nodes:
            scores = scores[idx]
        else:
            raise ValueError(
                f"scores have {scores.shape[0]} rows; expected one per id in idx "
                f"({idx.numel()}) or one per node ({self.num_nodes})"
            )
        if int(idx.min()) < 0 or int(idx.max()) >= self.num_nodes:
            raise ValueError(f"idx holds ids outside 0..{self.num_nodes - 1}")
        true = self.labels[idx]
        if self.multilabel:
            if self.metric == "rocauc":
                return self._ogb_eval(true, scores.float())
            return micro_f1(true > 0.5, scores > 0)
        if bool((true < 0).any()):
            raise ValueError("idx contains unlabeled nodes (label -1); evaluate labeled nodes only")
        predicted = scores.argmax(dim=1)
        if self.ogb_evaluator is not None:
            return self._ogb_eval(true[:, None], predicted[:, None])
        return float((predicted == true).double().mean())

    def _ogb_eval(self, true: torch.Tensor, predicted: torch.Tensor) -> float:
        if self.ogb_evaluator is None:
            raise ValueError(f"metric {self.metric!r} needs OGB's Evaluator, which is not set")
        result = self.ogb_evaluator.eval({"y_true": true, "y_pred": predicted})
        return float(result[self.ogb_evaluator.eval_metric])


def micro_f1(true: torch.Tensor, predicted: torch.Tensor) -> float:
    """Micro-averaged F1 of boolean ``[n, C]`` predictions (0.0 when there are no positives).

    Example:
        >>> micro_f1(torch.tensor([[True, False]]), torch.tensor([[True, True]]))
        0.6666666666666666
    """
    true_positive = int((true & predicted).sum())
    false_positive = int((~true & predicted).sum())
    false_negative = int((true & ~predicted).sum())
    denominator = 2 * true_positive + false_positive + false_negative
    return 2 * true_positive / denominator if denominator else 0.0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def default_data_root() -> Path:
    """Folder that bare dataset names resolve in.

    ``$TT_GNN_DATA`` when set, else ``../shared/data`` beside the project root, else
    ``../shared/data`` beside the working directory (the first that exists; the project one
    when none does).
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
        FileNotFoundError: unknown name or missing file (the message lists what was tried).
        ValueError: malformed files, named with the file and line or field.
        TypeError: options the chosen source does not take.

    Example:
        >>> cora = load_dataset("cora")  # doctest: +SKIP
        >>> cora.split_description  # doctest: +SKIP
        'Planetoid public split'
    """
    if isinstance(split, bool) or not isinstance(split, int) or split < 0:
        raise ValueError(f"split must be an int >= 0, got {split!r}")
    name = os.fspath(name_or_path)
    if name == "synthetic":
        return _load_synthetic(split, split_seed, use_features, options)
    if name.startswith("ogbn-"):
        _reject_options(options, (), name)
        return _load_ogb(name, root, split, use_features)
    path = Path(name).expanduser()
    if path.is_dir():
        graph_file = path / "graph.npz"
        if not graph_file.is_file():
            raise FileNotFoundError(f"directory {path} has no graph.npz")
        return _load_npz(graph_file, path.name, split, split_seed, use_features, options)
    if path.is_file():
        if path.suffix == ".npz":
            return _load_npz(path, path.stem, split, split_seed, use_features, options)
        return _load_edge_list(path, split, split_seed, use_features, options)
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
    return _load_npz(graph_file, name, split, split_seed, use_features, options)


def _reject_options(options: dict[str, Any], accepted: tuple[str, ...], source: str) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"unexpected option(s) {unknown} for {source}; accepted: {list(accepted) or 'none'}"
        )


# --------------------------------------------------------------------------------------------
# Graph and split helpers
# --------------------------------------------------------------------------------------------


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


def _make_graph(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> Any:
    from tt_gnn._dgl import dgl

    both_src, both_dst = undirected_edges(src, dst, num_nodes)
    return dgl.graph(
        (torch.from_numpy(both_src), torch.from_numpy(both_dst)),
        num_nodes=num_nodes,
        idtype=torch.int64,
    )


def _check_fractions(split_fractions: Any) -> tuple[float, float, float]:
    try:
        fractions = tuple(float(f) for f in split_fractions)
    except TypeError:
        raise ValueError(
            f"split_fractions must be (train, val, test), got {split_fractions!r}"
        ) from None
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
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
    train_share, val_share, _ = _check_fractions(fractions)
    labeled = np.asarray(labeled, dtype=bool)
    candidates = np.flatnonzero(labeled)
    order = np.random.default_rng(seed).permutation(candidates)
    num_train = int(round(train_share * candidates.size))
    num_val = min(int(round(val_share * candidates.size)), candidates.size - num_train)
    parts = np.split(order, [num_train, num_train + num_val])
    return tuple(torch.from_numpy(np.sort(part).astype(np.int64)) for part in parts)  # type: ignore[return-value]


def _fraction_text(fractions: tuple[float, float, float]) -> str:
    return "/".join(f"{100 * f:g}" for f in fractions)


def _split_from_masks(
    masks: dict[str, np.ndarray], labeled: np.ndarray, split: int, source: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Pick split ``split`` from ``[N]`` or ``[S, N]`` masks; unlabeled nodes are dropped."""
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


# --------------------------------------------------------------------------------------------
# Synthetic
# --------------------------------------------------------------------------------------------


def _load_synthetic(
    split: int, split_seed: int, use_features: bool, options: dict[str, Any]
) -> NodeDataset:
    from tt_gnn.synthetic import planted_partition_graph

    _reject_options(options, (*SYNTHETIC_DEFAULTS, "split_fractions"), "'synthetic'")
    if split != 0:
        raise ValueError(f"'synthetic' has one random split per split_seed; got split={split}")
    settings = {**SYNTHETIC_DEFAULTS, **options}
    fractions = _check_fractions(settings.pop("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    num_nodes = int(settings.pop("num_nodes"))
    num_communities = settings.pop("num_communities")
    if num_communities is None:
        num_communities = max(1, num_nodes // 100)
    if "num_classes" not in options:
        settings["num_classes"] = min(settings["num_classes"], num_communities)
    generated = planted_partition_graph(num_nodes, int(num_communities), **settings)
    if use_features:
        warnings.warn("the synthetic graph has no node features; features=None", stacklevel=3)
    labels = torch.from_numpy(generated.labels.astype(np.int64))
    train_idx, val_idx, test_idx = random_split(
        np.ones(num_nodes, dtype=bool), fractions=fractions, seed=split_seed
    )
    return NodeDataset(
        name="synthetic",
        graph=_make_graph(generated.src, generated.dst, num_nodes),
        labels=labels,
        num_classes=int(settings["num_classes"]),
        multilabel=False,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        features=None,
        metric="accuracy",
        split_description=(
            f"random {_fraction_text(fractions)} split, seed {split_seed} (planted partition: "
            f"{num_nodes} nodes, {num_communities} communities, seed {settings['seed']})"
        ),
    )


# --------------------------------------------------------------------------------------------
# The shared npz format (and npz edge lists)
# --------------------------------------------------------------------------------------------


def _load_npz(
    path: Path,
    name: str,
    split: int,
    split_seed: int,
    use_features: bool,
    options: dict[str, Any],
) -> NodeDataset:
    _reject_options(options, ("labels", "num_nodes", "split_fractions"), f"npz file {path}")
    fractions = _check_fractions(options.get("split_fractions", DEFAULT_SPLIT_FRACTIONS))
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
    labels, multilabel, num_classes = _finish_labels(
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
    labeled = _labeled_nodes(labels, multilabel)
    if present:
        if len(present) != 3:
            raise ValueError(f"{source}: has {present} but needs all of {list(mask_keys)}")
        train_idx, val_idx, test_idx, num_splits = _split_from_masks(
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
            f"random {_fraction_text(fractions)} split of {what}, seed {split_seed} "
            "(no standard split)"
        )

    features = None
    if use_features:
        features = _npz_features(arrays, num_nodes, source)
        if features is None:
            warnings.warn(f"{source} has no node features; features=None", stacklevel=3)
    return NodeDataset(
        name=name,
        graph=_make_graph(edges[:, 0], edges[:, 1], num_nodes),
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
        requested = _positive_int(requested, "num_nodes")
        if stored is not None and stored != requested:
            raise ValueError(f"num_nodes={requested} contradicts {source}['num_nodes'] = {stored}")
        return requested
    return stored


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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


def _labeled_nodes(labels: torch.Tensor, multilabel: bool) -> np.ndarray:
    if multilabel:
        return np.ones(labels.shape[0], dtype=bool)
    return (labels >= 0).numpy()


def _labels_tensor(values: Any, source: str) -> tuple[torch.Tensor, bool, int]:
    """Validate label values: int ``[N]`` (``-1`` unknown) or 0/1 ``[N, C]``."""
    values = np.asarray(values)
    if values.ndim == 1:
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise ValueError(
                f"{source}: single-label labels must be integers, got dtype {values.dtype}"
            )
        labels = values.astype(np.int64)
        if labels.size and int(labels.min()) < -1:
            row = int(np.argmin(labels))
            raise ValueError(
                f"{source}: label[{row}] = {int(labels[row])}; labels are class ids >= 0 or -1 "
                "for unknown"
            )
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


def _finish_labels(
    values: Any, source: str, num_nodes: int | None, largest_edge_id: int
) -> tuple[torch.Tensor, bool, int]:
    """Labels as a tensor of ``num_nodes`` rows (default: the label count, or for a
    ``node,label`` CSV one past the largest id in edges and labels)."""
    if isinstance(values, _SparseLabels):
        if num_nodes is None:
            num_nodes = max(largest_edge_id, int(values.nodes.max(initial=-1))) + 1
        return values.to_tensor(num_nodes)
    labels, multilabel, num_classes = _labels_tensor(values, source)
    if num_nodes is not None and labels.shape[0] != num_nodes:
        raise ValueError(
            f"{source}: labels have {labels.shape[0]} entries but the graph has {num_nodes} nodes"
        )
    return labels, multilabel, num_classes


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


# --------------------------------------------------------------------------------------------
# CSV edge lists and label files
# --------------------------------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


@dataclass
class _CsvLayout:
    """Where the two integer columns of a CSV file are."""

    path: Path
    columns: tuple[str, str]
    positions: tuple[int, int]
    header_line: int  # 1-based line of the header, 0 when there is none


def _csv_layout(path: Path, columns: tuple[str, str]) -> _CsvLayout:
    """Detect an optional header naming ``columns``; without one the first two columns hold them."""
    with open(path, encoding="utf-8") as handle:
        numbered = ((number, _strip_comment(line)) for number, line in enumerate(handle, start=1))
        line_number, content = next(((n, c) for n, c in numbered if c), (0, ""))
    if not content:
        raise ValueError(f"{path}: file is empty (expected {','.join(columns)} rows)")
    fields = [text.strip() for text in content.split(",")]
    if all(_INTEGER_FIELD.fullmatch(text) for text in fields):
        return _CsvLayout(path, columns, (0, 1), 0)
    names = [text.lower() for text in fields]
    missing = [column for column in columns if column not in names]
    if missing:
        raise ValueError(
            f"{path}, line {line_number}: header {fields} lacks column(s) {missing}; expected a "
            f"header naming {list(columns)}, or no header (then the first two columns are "
            f"{','.join(columns)})"
        )
    return _CsvLayout(
        path, columns, (names.index(columns[0]), names.index(columns[1])), line_number
    )


def _data_rows(layout: _CsvLayout):
    """Yield ``(line_number, fields)`` for every data row (blank/comment lines skipped)."""
    with open(layout.path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            content = _strip_comment(line)
            if content and line_number != layout.header_line:
                yield line_number, content, [text.strip() for text in content.split(",")]


def _scan_csv(
    layout: _CsvLayout, id_column: str | None, id_limit: int | None, limit_reason: str
) -> None:
    """Walk the file line by line and raise ``ValueError`` at the first malformed row."""
    needed = max(layout.positions) + 1
    for line_number, content, fields in _data_rows(layout):
        where = f"{layout.path}, line {line_number}"
        if len(fields) < needed:
            raise ValueError(
                f"{where}: expected at least {needed} comma-separated fields "
                f"({','.join(layout.columns)}), got {len(fields)}: {content!r}"
            )
        for position, column in zip(layout.positions, layout.columns, strict=True):
            text = fields[position]
            if not _INTEGER_FIELD.fullmatch(text):
                raise ValueError(f"{where}, field {column!r}: {text!r} is not an integer")
            if id_column is not None and column in (id_column, "dst"):
                value = int(text)
                if value < 0:
                    raise ValueError(f"{where}, field {column!r}: negative node id {value}")
                if id_limit is not None and value >= id_limit:
                    raise ValueError(
                        f"{where}, field {column!r}: node id {value} out of range "
                        f"0..{id_limit - 1} ({limit_reason})"
                    )


def _read_two_int_columns(
    path: Path,
    columns: tuple[str, str],
    id_limit: int | None = None,
    limit_reason: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Read two integer columns; ids (``src``/``dst`` or ``node``) must be in ``0..id_limit-1``.

    Parsed with ``np.loadtxt``; on any problem the file is re-walked line by line to report
    the exact line and field.
    """
    layout = _csv_layout(path, columns)
    id_column = "node" if columns[0] == "node" else "src"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(
                path,
                delimiter=",",
                comments="#",
                dtype=np.int64,
                skiprows=layout.header_line,
                usecols=layout.positions,
                ndmin=2,
            )
    except ValueError as error:
        _scan_csv(layout, id_column, id_limit, limit_reason)
        raise ValueError(
            f"{path}: cannot parse as {','.join(columns)} integers: {error}"
        ) from error
    first, second = table[:, 0].copy(), table[:, 1].copy()
    for values in [first, second] if id_column == "src" else [first]:
        too_large = id_limit is not None and values.size and int(values.max()) >= id_limit
        if values.size and (int(values.min()) < 0 or too_large):
            _scan_csv(layout, id_column, id_limit, limit_reason)
    return first, second


def read_edge_list_csv(
    path: str | os.PathLike, num_nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV edge list: ``src,dst`` per line; header optional; ``#`` starts a comment.

    A header, when present, must name the columns ``src`` and ``dst`` (in any position; other
    columns are ignored). Without a header the first two columns are ``src, dst``.

    Args:
        path: the CSV file.
        num_nodes: when given, every id must be in ``0..num_nodes-1``.

    Returns:
        int64 ``src, dst`` arrays ``[E]``.

    Raises:
        ValueError: naming the file, the line and the field: missing columns, a non-integer
            field, a negative or out-of-range id.

    Example:
        >>> src, dst = read_edge_list_csv("edges.csv")  # doctest: +SKIP
    """
    return _read_two_int_columns(Path(path), ("src", "dst"), num_nodes, f"num_nodes={num_nodes}")


class _SparseLabels:
    """Labels from a ``node,label`` CSV; nodes not listed are unknown (-1)."""

    def __init__(self, path: Path, nodes: np.ndarray, values: np.ndarray):
        self.path, self.nodes, self.values = path, nodes, values

    def to_tensor(self, num_nodes: int) -> tuple[torch.Tensor, bool, int]:
        if self.nodes.size and int(self.nodes.max()) >= num_nodes:
            layout = _csv_layout(self.path, ("node", "label"))
            _scan_csv(layout, "node", num_nodes, f"the graph has {num_nodes} nodes")
        labels = np.full(num_nodes, -1, dtype=np.int64)
        labels[self.nodes] = self.values
        return _labels_tensor(labels, str(self.path))


def read_labels_file(path: str | os.PathLike) -> np.ndarray | _SparseLabels:
    """Read labels from ``.npy`` (int ``[N]`` or 0/1 ``[N, C]``) or a ``node,label`` CSV.

    In a CSV, a header is optional (if present it must name ``node`` and ``label``); each node
    may appear once; nodes that do not appear get the unknown label ``-1``; labels are class ids
    ``>= 0`` (``-1`` allowed for unknown).

    Raises:
        ValueError: naming the file and line: non-integer fields, negative ids, duplicate nodes,
            labels below -1.

    Example:
        >>> labels = read_labels_file("labels.npy")  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"labels file {path} does not exist")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: cannot read as .npy: {error}") from error
    nodes, values = _read_two_int_columns(path, ("node", "label"))
    layout = _csv_layout(path, ("node", "label"))
    unique_nodes, counts = np.unique(nodes, return_counts=True)
    if unique_nodes.size != nodes.size:
        duplicate = int(unique_nodes[np.argmax(counts > 1)])
        line = _line_of_row(layout, int(np.flatnonzero(nodes == duplicate)[1]))
        raise ValueError(f"{path}, line {line}, field 'node': node {duplicate} is listed twice")
    if values.size and int(values.min()) < -1:
        line = _line_of_row(layout, int(np.argmin(values)))
        raise ValueError(
            f"{path}, line {line}, field 'label': {int(values.min())} is not a class id >= 0 "
            "(or -1 for unknown)"
        )
    return _SparseLabels(path, nodes, values)


def _line_of_row(layout: _CsvLayout, row: int) -> int:
    """1-based line number of data row ``row`` (0-based)."""
    for index, (line_number, _, _) in enumerate(_data_rows(layout)):
        if index == row:
            return line_number
    raise IndexError(f"{layout.path} has no data row {row}")


def _load_edge_list(
    path: Path, split: int, split_seed: int, use_features: bool, options: dict[str, Any]
) -> NodeDataset:
    _reject_options(options, ("labels", "num_nodes", "split_fractions"), f"edge list {path}")
    if options.get("labels") is None:
        raise ValueError(
            f"edge list {path} needs labels: pass labels=<path to a node,label CSV or .npy>"
        )
    if split != 0:
        raise ValueError(f"edge list {path} has no standard split; split={split} (use split_seed)")
    fractions = _check_fractions(options.get("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    labels_path = Path(options["labels"]).expanduser()
    label_values = read_labels_file(labels_path)
    num_nodes = options.get("num_nodes")
    if num_nodes is not None:
        num_nodes = _positive_int(num_nodes, "num_nodes")
    id_limit, limit_reason = num_nodes, f"num_nodes={num_nodes}"
    if not isinstance(label_values, _SparseLabels) and np.ndim(label_values) >= 1:
        label_count = int(np.shape(label_values)[0])
        if num_nodes is not None and label_count != num_nodes:
            raise ValueError(
                f"{labels_path}: labels have {label_count} entries but num_nodes={num_nodes}"
            )
        id_limit, limit_reason = label_count, f"{labels_path.name} has {label_count} labels"
    src, dst = _read_two_int_columns(path, ("src", "dst"), id_limit, limit_reason)
    largest_id = max(int(src.max(initial=-1)), int(dst.max(initial=-1)))
    labels, multilabel, num_classes = _finish_labels(
        label_values, str(labels_path), num_nodes, largest_id
    )
    num_nodes = labels.shape[0]
    labeled = _labeled_nodes(labels, multilabel)
    train_idx, val_idx, test_idx = random_split(labeled, fractions=fractions, seed=split_seed)
    if use_features:
        warnings.warn(f"edge list {path} has no node features; features=None", stacklevel=3)
    what = "labeled nodes" if not bool(labeled.all()) else "nodes"
    return NodeDataset(
        name=path.stem,
        graph=_make_graph(src, dst, num_nodes),
        labels=labels,
        num_classes=num_classes,
        multilabel=multilabel,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        features=None,
        metric="micro_f1" if multilabel else "accuracy",
        split_description=f"random {_fraction_text(fractions)} split of {what}, seed {split_seed}",
    )


# --------------------------------------------------------------------------------------------
# OGB
# --------------------------------------------------------------------------------------------


def _ogb_meta(name: str) -> Any:
    import pandas as pd
    from ogb import nodeproppred

    master_path = Path(nodeproppred.__file__).parent / "master.csv"
    master = pd.read_csv(master_path, index_col=0, keep_default_na=False)
    if name not in master:
        raise ValueError(f"unknown OGB node-property dataset {name!r}; OGB knows {list(master)}")
    return master[name]


def _load_ogb(
    name: str, root: str | os.PathLike | None, split: int, use_features: bool
) -> NodeDataset:
    """Load ``ogbn-*`` through ``DglNodePropPredDataset`` without ever reaching OGB's prompts."""
    from tt_gnn._dgl import dgl  # noqa: F401  (sets up DGL before OGB imports it)

    # isort: split
    from ogb.nodeproppred import DglNodePropPredDataset, Evaluator

    if split != 0:
        raise ValueError(f"{name} has one official split; got split={split}")
    meta = _ogb_meta(name)
    ogb_root = Path(root).expanduser() if root is not None else default_data_root()
    dataset_dir = ogb_root / name.replace("-", "_")
    if (ogb_root / (dataset_dir.name + "_dgl")).exists():
        dataset_dir = ogb_root / (dataset_dir.name + "_dgl")
    release = dataset_dir / f"RELEASE_v{meta['version']}.txt"
    if dataset_dir.is_dir() and not release.exists():
        raise FileNotFoundError(
            f"{dataset_dir} exists but has no {release.name}: an incomplete or outdated copy of "
            f"{name} (OGB would stop to ask whether to delete it). Remove the folder to download "
            "again, or complete it"
        )
    if meta["is hetero"] == "True":
        raise ValueError(f"{name} is heterogeneous; tt-gnn loads homogeneous OGB graphs only")
    if _ogb_files_present(dataset_dir, meta):
        ogb_dataset = DglNodePropPredDataset(name, root=str(ogb_root))
    else:
        ogb_dataset = _download_ogb(name, ogb_root, dataset_dir, meta)
    ogb_graph, ogb_labels = ogb_dataset[0]
    split_indices = _ogb_split(ogb_dataset, dataset_dir, meta)
    num_nodes = int(ogb_graph.num_nodes())
    src, dst = (t.numpy().astype(np.int64) for t in ogb_graph.edges())

    num_tasks = int(meta["num tasks"])
    raw_labels = ogb_labels.numpy()
    if raw_labels.ndim == 1:
        raw_labels = raw_labels[:, None]
    if raw_labels.shape != (num_nodes, num_tasks):
        raise ValueError(
            f"{name}: OGB labels have shape {raw_labels.shape}, expected ({num_nodes}, {num_tasks})"
        )
    multilabel = num_tasks > 1
    if multilabel:
        if np.isnan(raw_labels.astype(np.float64)).any():
            raise ValueError(
                f"{name}: multi-task labels with missing (NaN) entries are not supported"
            )
        labels = torch.from_numpy(raw_labels.astype(np.float32))
        num_classes = num_tasks
    else:
        column = raw_labels[:, 0].astype(np.float64)
        unknown = np.isnan(column)
        labels = torch.from_numpy(np.where(unknown, -1, column).astype(np.int64))
        num_classes = int(meta["num classes"])
    metric = {"acc": "accuracy", "rocauc": "rocauc"}.get(meta["eval metric"], meta["eval metric"])

    features = None
    if use_features:
        if "feat" in ogb_graph.ndata:
            features = ogb_graph.ndata["feat"].to(torch.float32)
        else:
            warnings.warn(f"{name} has no node features; features=None", stacklevel=3)
    return NodeDataset(
        name=name,
        graph=_make_graph(src, dst, num_nodes),
        labels=labels,
        num_classes=num_classes,
        multilabel=multilabel,
        train_idx=split_indices["train"],
        val_idx=split_indices["valid"],
        test_idx=split_indices["test"],
        features=features,
        metric=metric,
        split_description=f"OGB official split ({meta['split']})",
        ogb_evaluator=Evaluator(name),
    )


def _ogb_files_present(dataset_dir: Path, meta: Any) -> bool:
    """Whether OGB will find its processed file or raw files (else it would download)."""
    raw_file = "data.npz" if meta["binary"] == "True" else "edge.csv.gz"
    return (dataset_dir / "processed" / "dgl_data_processed").is_file() or (
        dataset_dir / "raw" / raw_file
    ).is_file()


def _download_ogb(name: str, ogb_root: Path, dataset_dir: Path, meta: Any) -> Any:
    """Let OGB download the dataset; its confirmation prompt (> 1 GB) and network errors
    become one clear ``FileNotFoundError`` (no stdin, as in CI, must not hang or exit)."""
    from ogb.nodeproppred import DglNodePropPredDataset

    try:
        return DglNodePropPredDataset(name, root=str(ogb_root))
    except (EOFError, OSError, SystemExit) as error:
        reason = "the download was declined" if isinstance(error, SystemExit) else repr(error)
        raise FileNotFoundError(
            f"{name} is not under {dataset_dir} and OGB could not download it ({reason}); "
            f"download {meta['url']} and unzip it into {ogb_root}"
        ) from error


def _ogb_split(ogb_dataset: Any, dataset_dir: Path, meta: Any) -> dict[str, torch.Tensor]:
    """OGB's ``get_idx_split()``; when its ``split_dict.pt`` shortcut holds objects that
    ``torch.load(weights_only=True)`` (the default since torch 2.6) refuses, read the split's
    CSV files instead (never unpickle arbitrary objects)."""
    try:
        indices = ogb_dataset.get_idx_split()
    except pickle.UnpicklingError as error:
        import pandas as pd

        split_dir = dataset_dir / "split" / meta["split"]
        files = {key: split_dir / f"{key}.csv.gz" for key in ("train", "valid", "test")}
        if not all(path.is_file() for path in files.values()):
            raise RuntimeError(
                f"{split_dir / 'split_dict.pt'} holds objects that torch.load(weights_only=True) "
                f"refuses (see the chained error), and the CSV split files "
                f"{sorted(p.name for p in files.values())} are absent"
            ) from error
        indices = {
            key: torch.from_numpy(pd.read_csv(path, header=None).values[:, 0].astype(np.int64))
            for key, path in files.items()
        }
    return {
        key: torch.as_tensor(indices[key]).to(torch.int64).reshape(-1)
        for key in ("train", "valid", "test")
    }
