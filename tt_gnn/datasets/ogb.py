"""OGB node-property datasets through ``ogb.nodeproppred.DglNodePropPredDataset``."""

from __future__ import annotations

import contextlib
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tt_gnn.datasets.base import NodeDataset
from tt_gnn.datasets.common import make_graph


def _ogb_meta(name: str) -> Any:
    import pandas as pd
    from ogb import nodeproppred

    master_path = Path(nodeproppred.__file__).parent / "master.csv"
    master = pd.read_csv(master_path, index_col=0, keep_default_na=False)
    if name not in master:
        raise ValueError(f"unknown OGB node-property dataset {name!r}; OGB knows {list(master)}")
    return master[name]


def load_ogb(name: str, root: str | os.PathLike, split: int, use_features: bool) -> NodeDataset:
    """Load ``ogbn-<name>`` from ``root/ogbn_<name>`` through ``DglNodePropPredDataset``.

    Single-task labels ``[N, 1]`` become int64 ``[N]`` (NaN, as in papers100M, becomes -1);
    multi-task binary labels (proteins) become float32 ``[N, T]`` with metric ``rocauc``. The
    split is OGB's ``get_idx_split()`` and :meth:`NodeDataset.evaluate` uses OGB's
    ``Evaluator``. OGB never reaches its stdin prompts from here: an outdated folder raises
    ``FileNotFoundError`` first, and a failed or unconfirmable download is reported as one.

    Example:
        >>> load_ogb("ogbn-arxiv", "dataset", 0, False).split_description  # doctest: +SKIP
        'OGB official split (time)'
    """
    from tt_gnn.dgl import dgl  # noqa: F401  (sets up DGL before OGB imports it)

    # isort: split
    from ogb.nodeproppred import DglNodePropPredDataset, Evaluator

    if split != 0:
        raise ValueError(f"{name} has one official split; got split={split}")
    meta = _ogb_meta(name)
    if meta["is hetero"] == "True":
        raise ValueError(f"{name} is heterogeneous; tt-gnn loads homogeneous OGB graphs only")
    ogb_root = Path(root).expanduser()
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
    processed = (dataset_dir / "processed" / "dgl_data_processed").is_file()
    # OGB writes processed/dgl_data_processed in place on first load: data-parallel ranks
    # loading at once take the lock exclusively for that, shared otherwise.
    with _file_lock(ogb_root / f".{dataset_dir.name}.lock", exclusive=not processed):
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
        graph=make_graph(src, dst, num_nodes),
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


@contextlib.contextmanager
def _file_lock(path: Path, *, exclusive: bool) -> Iterator[None]:
    """``flock`` on ``path`` (created if needed); a no-op where the folder is read-only or
    the platform has no ``fcntl`` (then OGB cannot write its processed file anyway)."""
    try:
        import fcntl

        handle = open(path, "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
