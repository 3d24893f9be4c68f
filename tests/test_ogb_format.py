"""OGB datasets load through ``ogb.nodeproppred.DglNodePropPredDataset`` (the real code path).

This machine cannot download OGB data, so each test writes a tiny dataset in OGB's on-disk
layout (``<root>/<name_underscored>/{raw,split/<type>}/*.csv.gz`` or ``raw/*.npz``, plus
``RELEASE_v<version>.txt``), under a real OGB name so that OGB's master table and ``Evaluator``
apply unchanged, and loads it with ``load_dataset("ogbn-...", root=tmp)``.
"""

from __future__ import annotations

import builtins
import io
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tt_gnn.data import load_dataset
from tt_gnn.datasets import ogb as ogb_loader

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")


def _write_csv_gz(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(rows)).to_csv(path, header=False, index=False, compression="gzip")


def _write_split(dataset_dir: Path, split_type: str, splits: dict[str, np.ndarray]) -> None:
    for key, ids in splits.items():
        _write_csv_gz(dataset_dir / "split" / split_type / f"{key}.csv.gz", ids[:, None])


def _symmetric_edge_set(src: np.ndarray, dst: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        if u != v:
            pairs.add((u, v))
            pairs.add((v, u))
    return pairs


def _graph_edge_list(graph) -> list[tuple[int, int]]:
    src, dst = graph.edges()
    return list(zip(src.tolist(), dst.tolist(), strict=True))


@pytest.fixture
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks for input (CI has no stdin)."""

    def refuse(*args: object) -> str:
        raise AssertionError(f"input() was called: {args}")

    monkeypatch.setattr(builtins, "input", refuse)


def write_fake_arxiv(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A 30-node graph in ogbn-arxiv's raw CSV layout (directed, node features, years)."""
    rng = np.random.default_rng(seed)
    num_nodes, num_edges = 30, 80
    edges = rng.integers(0, num_nodes, size=(num_edges, 2))
    edges[:3] = [[4, 4], [1, 2], [2, 1]]  # a self-loop and a reciprocal pair
    features = rng.standard_normal((num_nodes, 4)).astype(np.float32)
    labels = rng.integers(0, 40, size=num_nodes)
    dataset_dir = root / "ogbn_arxiv"
    raw = dataset_dir / "raw"
    _write_csv_gz(raw / "edge.csv.gz", edges)
    _write_csv_gz(raw / "num-node-list.csv.gz", np.array([[num_nodes]]))
    _write_csv_gz(raw / "num-edge-list.csv.gz", np.array([[num_edges]]))
    _write_csv_gz(raw / "node-feat.csv.gz", features)
    _write_csv_gz(raw / "node_year.csv.gz", rng.integers(2000, 2020, size=(num_nodes, 1)))
    _write_csv_gz(raw / "node-label.csv.gz", labels[:, None])
    order = rng.permutation(num_nodes)
    splits = {"train": order[:18], "valid": order[18:24], "test": order[24:]}
    _write_split(dataset_dir, "time", splits)
    (dataset_dir / "RELEASE_v1.txt").write_text("fake ogbn-arxiv for tests\n")
    return {"edges": edges, "features": features, "labels": labels, **splits}


def test_arxiv_layout_loads_through_ogb(tmp_path: Path, no_prompt: None) -> None:
    written = write_fake_arxiv(tmp_path)
    dataset = load_dataset("ogbn-arxiv", root=tmp_path)

    assert dataset.name == "ogbn-arxiv"
    assert dataset.num_nodes == 30 and dataset.num_classes == 40
    assert not dataset.multilabel and dataset.metric == "accuracy"
    assert dataset.split_description == "OGB official split (time)"
    assert dataset.labels.dtype == torch.int64
    assert dataset.labels.tolist() == written["labels"].tolist()
    for ours, theirs in (("train_idx", "train"), ("val_idx", "valid"), ("test_idx", "test")):
        assert getattr(dataset, ours).tolist() == written[theirs].tolist()
    assert dataset.features is None  # featureless unless asked
    expected = _symmetric_edge_set(written["edges"][:, 0], written["edges"][:, 1])
    edges = _graph_edge_list(dataset.graph)
    assert len(edges) == len(set(edges)) and set(edges) == expected
    assert dataset.graph.indices.dtype == torch.int64
    # OGB cached its processed DGL file: the second load reads that instead of the CSVs.
    assert (tmp_path / "ogbn_arxiv" / "processed" / "dgl_data_processed").is_file()
    again = load_dataset("ogbn-arxiv", root=tmp_path, use_features=True)
    assert set(_graph_edge_list(again.graph)) == expected
    torch.testing.assert_close(again.features, torch.from_numpy(written["features"]))


def test_arxiv_evaluate_uses_ogb_accuracy(tmp_path: Path, no_prompt: None) -> None:
    written = write_fake_arxiv(tmp_path)
    dataset = load_dataset("ogbn-arxiv", root=tmp_path)
    assert dataset.ogb_evaluator is not None and dataset.ogb_evaluator.name == "ogbn-arxiv"
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(dataset.num_nodes, 40, generator=generator)
    test_idx = dataset.test_idx
    predicted = scores.argmax(1).numpy()
    expected = float(np.mean(predicted[written["test"]] == written["labels"][written["test"]]))
    assert dataset.evaluate(scores, test_idx) == pytest.approx(expected)
    assert dataset.evaluate(scores[test_idx], test_idx) == pytest.approx(expected)
    perfect = torch.nn.functional.one_hot(dataset.labels, 40).float()
    assert dataset.evaluate(perfect, test_idx) == 1.0


def _write_fake_proteins(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """ogbn-proteins' layout: undirected (OGB adds inverse edges), 112 binary tasks."""
    rng = np.random.default_rng(seed)
    num_nodes, num_edges, num_tasks = 40, 100, 112
    edges = rng.integers(0, num_nodes, size=(num_edges, 2))
    labels = rng.integers(0, 2, size=(num_nodes, num_tasks))
    dataset_dir = root / "ogbn_proteins"
    raw = dataset_dir / "raw"
    _write_csv_gz(raw / "edge.csv.gz", edges)
    _write_csv_gz(raw / "edge-feat.csv.gz", rng.random((num_edges, 8)).round(3))
    _write_csv_gz(raw / "num-node-list.csv.gz", np.array([[num_nodes]]))
    _write_csv_gz(raw / "num-edge-list.csv.gz", np.array([[num_edges]]))
    _write_csv_gz(raw / "node_species.csv.gz", rng.integers(0, 8, size=(num_nodes, 1)))
    _write_csv_gz(raw / "node-label.csv.gz", labels)
    splits = {"train": np.arange(0, 20), "valid": np.arange(20, 30), "test": np.arange(30, 40)}
    _write_split(dataset_dir, "species", splits)
    (dataset_dir / "RELEASE_v1.txt").write_text("fake\n")
    return {"edges": edges, "labels": labels, **splits}


def _brute_force_rocauc(true: np.ndarray, scores: np.ndarray) -> float:
    """Mean over tasks with both classes of P(score_pos > score_neg) + 0.5 P(tie)."""
    values = []
    for task in range(true.shape[1]):
        positive = scores[true[:, task] == 1, task]
        negative = scores[true[:, task] == 0, task]
        if positive.size and negative.size:
            greater = (positive[:, None] > negative[None, :]).mean()
            ties = (positive[:, None] == negative[None, :]).mean()
            values.append(greater + 0.5 * ties)
    return float(np.mean(values))


def test_proteins_layout_is_multilabel_with_rocauc(tmp_path: Path, no_prompt: None) -> None:
    written = _write_fake_proteins(tmp_path)
    dataset = load_dataset("ogbn-proteins", root=tmp_path)
    assert dataset.multilabel and dataset.num_classes == 112 and dataset.metric == "rocauc"
    assert dataset.labels.dtype == torch.float32 and dataset.labels.shape == (40, 112)
    np.testing.assert_array_equal(dataset.labels.numpy(), written["labels"])
    expected = _symmetric_edge_set(written["edges"][:, 0], written["edges"][:, 1])
    edges = _graph_edge_list(dataset.graph)
    assert len(edges) == len(set(edges)) and set(edges) == expected
    assert dataset.features is None
    scores = torch.randn(10, 112, generator=torch.Generator().manual_seed(2))
    reference = _brute_force_rocauc(written["labels"][written["test"]], scores.numpy())
    assert dataset.evaluate(scores, dataset.test_idx) == pytest.approx(reference)


def _write_fake_papers100m(root: Path, with_csv_split: bool = True) -> dict[str, np.ndarray]:
    """ogbn-papers100M's binary layout: ``raw/data.npz``, float labels with NaN = unlabeled."""
    rng = np.random.default_rng(3)
    num_nodes, num_edges = 50, 120
    edges = rng.integers(0, num_nodes, size=(2, num_edges))
    labels = rng.integers(0, 172, size=num_nodes).astype(np.float32)
    unlabeled = np.arange(0, num_nodes, 5)
    labels[unlabeled] = np.nan
    dataset_dir = root / "ogbn_papers100M"
    raw = dataset_dir / "raw"
    raw.mkdir(parents=True)
    np.savez(
        raw / "data.npz",
        edge_index=edges,
        num_nodes_list=np.array([num_nodes]),
        num_edges_list=np.array([num_edges]),
        node_feat=rng.standard_normal((num_nodes, 3)).astype(np.float32),
        node_year=rng.integers(2000, 2020, size=(num_nodes, 1)),
    )
    np.savez(raw / "node-label.npz", node_label=labels[:, None])
    labeled = np.setdiff1d(np.arange(num_nodes), unlabeled)
    splits = {"train": labeled[:20], "valid": labeled[20:30], "test": labeled[30:]}
    if with_csv_split:
        _write_split(dataset_dir, "time", splits)
    else:
        (dataset_dir / "split" / "time").mkdir(parents=True)
    (dataset_dir / "RELEASE_v1.txt").write_text("fake\n")
    return {"labels": labels, "unlabeled": unlabeled, **splits}


def test_papers100m_binary_layout_marks_nan_labels_unknown(tmp_path: Path, no_prompt: None) -> None:
    written = _write_fake_papers100m(tmp_path)
    dataset = load_dataset("ogbn-papers100M", root=tmp_path)
    assert dataset.num_nodes == 50 and dataset.num_classes == 172 and not dataset.multilabel
    assert dataset.labels[written["unlabeled"]].tolist() == [-1] * written["unlabeled"].size
    labeled = np.setdiff1d(np.arange(50), written["unlabeled"])
    assert dataset.labels[labeled].tolist() == written["labels"][labeled].astype(int).tolist()
    assert dataset.test_idx.tolist() == written["test"].tolist()


@pytest.mark.parametrize("as_numpy", [False, True])
def test_split_dict_shortcut_under_weights_only_load(
    tmp_path: Path, no_prompt: None, as_numpy: bool
) -> None:
    """OGB's get_idx_split() reads ``split_dict.pt`` with torch.load's default (weights_only
    since torch 2.6). Tensors load; numpy arrays are refused, and the CSV split is used."""
    written = _write_fake_papers100m(tmp_path)
    if as_numpy:
        stored = {key: written[key] for key in ("train", "valid", "test")}
        expected_train = written["train"]  # refused, so the CSV split is read instead
    else:
        stored = {key: torch.from_numpy(written[key]) for key in ("train", "valid", "test")}
        stored["train"] = stored["train"][:5]  # differs from the CSV: proves the .pt was read
        expected_train = written["train"][:5]
    torch.save(stored, tmp_path / "ogbn_papers100M" / "split" / "time" / "split_dict.pt")
    dataset = load_dataset("ogbn-papers100M", root=tmp_path)
    assert dataset.train_idx.tolist() == expected_train.tolist()
    assert dataset.train_idx.dtype == torch.int64


def test_unloadable_split_dict_without_csv_is_a_clear_error(
    tmp_path: Path, no_prompt: None
) -> None:
    written = _write_fake_papers100m(tmp_path, with_csv_split=False)
    split_dir = tmp_path / "ogbn_papers100M" / "split" / "time"
    torch.save({"train": written["train"]}, split_dir / "split_dict.pt")
    with pytest.raises(RuntimeError, match="weights_only=True.*CSV split files"):
        load_dataset("ogbn-papers100M", root=tmp_path)


def test_first_load_processes_under_an_exclusive_lock(
    tmp_path: Path, no_prompt: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranks loading at once: the first load (which writes OGB's processed file) locks
    exclusively, later loads share the lock."""
    write_fake_arxiv(tmp_path)
    calls: list[tuple[Path, bool]] = []
    real_lock = ogb_loader._file_lock

    def recording_lock(path: Path, *, exclusive: bool):
        calls.append((path, exclusive))
        return real_lock(path, exclusive=exclusive)

    monkeypatch.setattr(ogb_loader, "_file_lock", recording_lock)
    load_dataset("ogbn-arxiv", root=tmp_path)
    load_dataset("ogbn-arxiv", root=tmp_path)
    lock_path = tmp_path / ".ogbn_arxiv.lock"
    assert calls == [(lock_path, True), (lock_path, False)]


def test_file_lock_excludes_while_shared_is_held(tmp_path: Path) -> None:
    import fcntl
    import threading

    lock_path = tmp_path / ".x.lock"
    entered = threading.Event()

    def take_exclusive() -> None:
        with ogb_loader._file_lock(lock_path, exclusive=True):
            entered.set()

    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        worker = threading.Thread(target=take_exclusive)
        worker.start()
        assert not entered.wait(timeout=0.5), "exclusive lock taken while a shared one was held"
        fcntl.flock(handle, fcntl.LOCK_UN)
    worker.join(timeout=10)
    assert entered.is_set()


def test_outdated_folder_raises_instead_of_prompting(tmp_path: Path, no_prompt: None) -> None:
    write_fake_arxiv(tmp_path)
    (tmp_path / "ogbn_arxiv" / "RELEASE_v1.txt").unlink()
    with pytest.raises(FileNotFoundError, match="RELEASE_v1.txt"):
        load_dataset("ogbn-arxiv", root=tmp_path)


class _FakeResponse:
    def __init__(self, size_bytes: int):
        self.size_bytes = size_bytes

    def info(self) -> dict[str, str]:
        return {"Content-Length": str(self.size_bytes)}


def test_missing_dataset_without_network_is_a_clear_error(
    tmp_path: Path, no_prompt: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match="ogbn_arxiv.*download"):
        load_dataset("ogbn-arxiv", root=tmp_path)


def test_large_download_prompt_without_stdin_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OGB asks before downloading > 1 GB; with no stdin (CI) that must not hang or exit."""
    monkeypatch.setattr(urllib.request, "urlopen", lambda url: _FakeResponse(2 << 30))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(FileNotFoundError, match="ogbn_products.*download"):
        load_dataset("ogbn-products", root=tmp_path)


def test_unknown_ogb_name_and_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown OGB node-property dataset 'ogbn-nope'"):
        load_dataset("ogbn-nope", root=tmp_path)
    with pytest.raises(ValueError, match="num_nodes"):
        load_dataset("ogbn-arxiv", root=tmp_path, num_nodes=5)
    write_fake_arxiv(tmp_path)
    with pytest.raises(ValueError, match="one official split"):
        load_dataset("ogbn-arxiv", root=tmp_path, split=1)
