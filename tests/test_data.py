"""Tests for ``tt_gnn.data``: shared npz datasets, CSV/npz edge lists, synthetic, splits, metrics.

The OGB path is tested in ``test_ogb_format.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tt_gnn.data import (
    NodeDataset,
    load_dataset,
    micro_f1,
    random_split,
    read_edge_list_csv,
    sorted_unique,
    undirected_edges,
)


def _edge_set(graph) -> list[tuple[int, int]]:
    src, dst = graph.edges()
    return list(zip(src.tolist(), dst.tolist(), strict=True))


def _assert_canonical_undirected(graph) -> None:
    edges = _edge_set(graph)
    assert len(edges) == len(set(edges)), "duplicate edges"
    assert all(u != v for u, v in edges), "self-loops"
    assert set(edges) == {(v, u) for u, v in edges}, "not symmetric"
    assert graph.indices.dtype == torch.int64 and graph.device == torch.device("cpu")


def _assert_valid_split(dataset: NodeDataset) -> None:
    parts = [dataset.train_idx, dataset.val_idx, dataset.test_idx]
    together = torch.cat(parts)
    assert together.unique().numel() == together.numel(), "splits overlap"
    if not dataset.multilabel:
        assert bool((dataset.labels[together] >= 0).all()), "unlabeled node in a split"


# ------------------------------------------------------------------------------------------
# Shared npz datasets
# ------------------------------------------------------------------------------------------


def test_cora_public_split_and_graph(shared_data: Path) -> None:
    cora = load_dataset("cora", root=shared_data)
    raw = np.load(shared_data / "cora" / "graph.npz")
    assert cora.name == "cora" and cora.num_nodes == 2708 and cora.num_classes == 7
    assert not cora.multilabel and cora.metric == "accuracy"
    assert cora.split_description == "Planetoid public split"
    assert cora.labels.dtype == torch.int64
    np.testing.assert_array_equal(cora.labels.numpy(), raw["labels"])
    assert (len(cora.train_idx), len(cora.val_idx), len(cora.test_idx)) == (140, 500, 1000)
    assert torch.bincount(cora.labels[cora.train_idx]).tolist() == [20] * 7
    np.testing.assert_array_equal(cora.test_idx.numpy(), np.flatnonzero(raw["test_mask"]))
    _assert_valid_split(cora)
    _assert_canonical_undirected(cora.graph)
    stored = {(int(u), int(v)) for u, v in raw["edges"]}
    assert set(_edge_set(cora.graph)) == stored | {(v, u) for u, v in stored}
    assert cora.graph.num_edges() == 2 * 5278
    assert cora.features is None
    assert repr(cora) == (
        "NodeDataset(name='cora', num_nodes=2708, num_edges=10556, num_classes=7, "
        "multilabel=False, train/val/test=140/500/1000, features=None, metric='accuracy', "
        "split_description='Planetoid public split')"
    )


def test_cora_features_only_when_asked(shared_data: Path) -> None:
    cora = load_dataset("cora", root=shared_data, use_features=True)
    raw = np.load(shared_data / "cora" / "graph.npz")
    dense = sp.csr_matrix(
        (raw["x_data"], raw["x_indices"], raw["x_indptr"]), shape=tuple(raw["x_shape"])
    ).toarray()
    assert cora.features.dtype == torch.float32 and cora.features.shape == (2708, 1433)
    np.testing.assert_array_equal(cora.features.numpy(), dense)
    with pytest.warns(UserWarning, match="no node features"):
        pubmed = load_dataset("pubmed", root=shared_data, use_features=True)
    assert pubmed.features is None


def test_citeseer_unlabeled_nodes_are_minus_one_and_not_in_splits(shared_data: Path) -> None:
    citeseer = load_dataset("citeseer", root=shared_data)
    assert int((citeseer.labels == -1).sum()) == 15
    _assert_valid_split(citeseer)
    assert citeseer.num_classes == 6


def test_blogcatalog_is_multilabel_with_random_split(shared_data: Path) -> None:
    blog = load_dataset("blogcatalog", root=shared_data)
    raw = np.load(shared_data / "blogcatalog" / "graph.npz")
    assert blog.multilabel and blog.metric == "micro_f1" and blog.num_classes == 39
    assert blog.labels.dtype == torch.float32 and blog.labels.shape == (10312, 39)
    np.testing.assert_array_equal(blog.labels.numpy(), raw["labels_multi"].astype(np.float32))
    assert blog.split_description == "random 60/20/20 split of nodes, seed 0 (no standard split)"
    together = torch.cat([blog.train_idx, blog.val_idx, blog.test_idx]).sort().values
    assert together.tolist() == list(range(10312))
    assert len(blog.train_idx) == round(0.6 * 10312)


def test_multiple_standard_splits_pick_one(shared_data: Path) -> None:
    raw = np.load(shared_data / "chameleon" / "graph.npz")
    third = load_dataset("chameleon", root=shared_data, split=3)
    np.testing.assert_array_equal(third.train_idx.numpy(), np.flatnonzero(raw["train_mask"][3]))
    assert third.split_description == "Geom-GCN split 3 of 10"
    with pytest.raises(ValueError, match="split=10 requested but the file has 10 split"):
        load_dataset("chameleon", root=shared_data, split=10)
    with pytest.raises(ValueError, match="split=1 is meaningless because it has no standard"):
        load_dataset("facebook_pagepage", root=shared_data, split=1)


def test_random_split_is_deterministic_in_the_seed(shared_data: Path) -> None:
    first = load_dataset("facebook_pagepage", root=shared_data, split_seed=7)
    second = load_dataset("facebook_pagepage", root=shared_data, split_seed=7)
    other = load_dataset("facebook_pagepage", root=shared_data, split_seed=8)
    assert torch.equal(first.train_idx, second.train_idx)
    assert torch.equal(first.test_idx, second.test_idx)
    assert not torch.equal(first.train_idx, other.train_idx)
    assert "seed 7" in first.split_description


def test_random_split_properties() -> None:
    labeled = np.ones(101, dtype=bool)
    labeled[[3, 50, 77]] = False
    train, val, test = random_split(labeled, fractions=(0.5, 0.25, 0.25), seed=3)
    assert (len(train), len(val), len(test)) == (49, 24, 25)
    together = torch.cat([train, val, test]).sort().values
    assert together.tolist() == np.flatnonzero(labeled).tolist()
    again = random_split(labeled, fractions=(0.5, 0.25, 0.25), seed=3)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    with pytest.raises(ValueError, match="summing to 1"):
        random_split(labeled, fractions=(0.5, 0.5, 0.5))


def test_data_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny").mkdir()
    _write_npz(tmp_path / "tiny" / "graph.npz")
    monkeypatch.setenv("TT_GNN_DATA", str(tmp_path))
    assert load_dataset("tiny").num_nodes == 6
    with pytest.raises(
        FileNotFoundError, match=r"unknown dataset 'nope'.*Available there: \['tiny'\]"
    ):
        load_dataset("nope")
    assert load_dataset(tmp_path / "tiny").name == "tiny"  # a directory holding graph.npz
    assert load_dataset(tmp_path / "tiny" / "graph.npz").name == "tiny"


# ------------------------------------------------------------------------------------------
# npz files (shared format or a bare edge list) and their errors
# ------------------------------------------------------------------------------------------


def _write_npz(path: Path, **overrides: object) -> Path:
    arrays: dict[str, object] = {
        "num_nodes": np.int64(6),
        "edges": np.array([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [1, 0]], dtype=np.int64),
        "directed": np.bool_(False),
        "labels": np.array([0, 0, 0, 1, 1, -1], dtype=np.int64),
    }
    arrays.update(overrides)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def test_npz_file_path_and_masks_drop_unlabeled_nodes(tmp_path: Path) -> None:
    masks = np.zeros((2, 6), dtype=bool)
    masks[:, [0, 3]] = True
    val = np.zeros((2, 6), dtype=bool)
    val[:, [1, 4]] = True
    test = np.zeros((2, 6), dtype=bool)
    test[:, [2, 5]] = True  # node 5 is unlabeled: it must be dropped
    path = _write_npz(tmp_path / "g.npz", train_mask=masks, val_mask=val, test_mask=test)
    dataset = load_dataset(path, split=1)
    assert dataset.name == "g" and dataset.num_classes == 2
    assert dataset.test_idx.tolist() == [2]
    assert dataset.split_description == "standard split stored in the file 1 of 2"
    assert sorted(_edge_set(dataset.graph)) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3), (4, 5), (5, 4)
    ]  # fmt: skip


def test_npz_edge_list_with_external_labels(tmp_path: Path) -> None:
    np.save(tmp_path / "labels.npy", np.array([1, 1, 0, 0, 2, 2]))
    path = _write_npz(tmp_path / "edges.npz", labels=None, num_nodes=None)
    dataset = load_dataset(path, labels=tmp_path / "labels.npy")
    assert dataset.num_nodes == 6 and dataset.num_classes == 3
    assert dataset.labels.tolist() == [1, 1, 0, 0, 2, 2]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"edges": None}, r"missing array 'edges'"),
        ({"edges": np.array([0, 1, 2])}, r"'edges' must have shape \[E, 2\], got \(3,\)"),
        ({"edges": np.array([[0.0, 1.0]])}, r"'edges' must hold integers, got dtype float64"),
        (
            {"edges": np.array([[0, 1], [2, 6]])},
            r"edges\[1\] = \[2, 6\] has target id 6 out of range 0..5",
        ),
        ({"edges": np.array([[0, 1], [-1, 2]])}, r"edges\[1\] = \[-1, 2\] has source id -1"),
        ({"labels": np.array([0, 1, 1])}, r"labels have 3 entries but the graph has 6 nodes"),
        ({"labels": None}, r"no labels: expected array 'labels'"),
        ({"labels": np.array([0, 1, 1, 0, 1, -2])}, r"label\[5\] = -2"),
        ({"labels": np.zeros(6)}, r"must be integers, got dtype float64"),
        ({"labels": None, "labels_multi": np.full((6, 2), 2)}, r"must be 0/1, got 2 at \[0, 0\]"),
        ({"train_mask": np.ones(6, dtype=bool)}, r"needs all of \['train_mask', 'val_mask'"),
        ({"num_nodes": np.int64(0)}, r"'num_nodes' must be a positive integer scalar"),
    ],
)
def test_malformed_npz_errors_name_the_file_and_field(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    path = _write_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(ValueError, match=message) as error:
        load_dataset(path)
    assert str(path) in str(error.value)


def test_malformed_masks(tmp_path: Path) -> None:
    masks = {key: np.ones((2, 5), dtype=bool) for key in ("train_mask", "val_mask", "test_mask")}
    with pytest.raises(ValueError, match=r"masks must be \[N\] or \[S, N\] with N=6, got \(2, 5\)"):
        load_dataset(_write_npz(tmp_path / "a.npz", **masks))
    masks = {key: np.ones(6, dtype=np.int64) for key in ("train_mask", "val_mask", "test_mask")}
    with pytest.raises(ValueError, match="train_mask must be bool, got int64"):
        load_dataset(_write_npz(tmp_path / "b.npz", **masks))


def test_not_an_npz_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read as .npz"):
        load_dataset(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "missing.npz")


# ------------------------------------------------------------------------------------------
# CSV edge lists and their errors
# ------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_edge_list_with_header_comments_and_csv_labels(tmp_path: Path) -> None:
    edges = _write(
        tmp_path / "edges.csv",
        "# a comment line\nweight,dst,src\n1.5,1,0\n0.5,2,1\n\n2.0,2,2  # self-loop\n7,0,1\n",
    )
    labels = _write(tmp_path / "labels.csv", "node,label\n0,1\n2,0\n3,1\n")
    dataset = load_dataset(edges, labels=labels, split_fractions=(0.34, 0.33, 0.33))
    assert dataset.name == "edges" and dataset.num_nodes == 4
    assert dataset.labels.tolist() == [1, -1, 0, 1]  # node 1 is unlabeled; 3 only has a label
    assert sorted(_edge_set(dataset.graph)) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    _assert_valid_split(dataset)
    assert sum(len(i) for i in (dataset.train_idx, dataset.val_idx, dataset.test_idx)) == 3
    assert dataset.split_description == "random 34/33/33 split of labeled nodes, seed 0"


def test_csv_edge_list_without_header_and_npy_labels(tmp_path: Path) -> None:
    edges = _write(tmp_path / "edges.txt", "0,1\n1,2\n2,3\n")
    np.save(tmp_path / "labels.npy", np.array([0, 1, 0, 1, 2]))
    dataset = load_dataset(edges, labels=tmp_path / "labels.npy")
    assert dataset.num_nodes == 5  # the labels define N: node 4 is isolated
    assert dataset.graph.in_degrees(4) == 0
    multi = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], dtype=np.uint8)
    np.save(tmp_path / "multi.npy", multi)
    multilabel = load_dataset(edges, labels=tmp_path / "multi.npy")
    assert multilabel.multilabel and multilabel.metric == "micro_f1"
    np.testing.assert_array_equal(multilabel.labels.numpy(), multi)


def test_gzipped_csv_and_file_format_errors(tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "edges.csv.gz", "wt") as handle:
        handle.write("src,dst\n0,1\n1,2\n")
    np.save(tmp_path / "labels.npy", np.array([0, 1, 0]))
    dataset = load_dataset(tmp_path / "edges.csv.gz", labels=tmp_path / "labels.npy")
    assert dataset.graph.num_edges() == 4 and dataset.name == "edges"
    (tmp_path / "latin1.csv").write_bytes(b"0,1\n1,\xe9\n")
    with pytest.raises(
        ValueError, match=r"latin1.csv: not a UTF-8 text file .*byte 0xe9 in position 6"
    ):
        load_dataset(tmp_path / "latin1.csv", labels=tmp_path / "labels.npy")
    _write(tmp_path / "spaces.txt", "0 1\n1 2\n")
    with pytest.raises(ValueError, match=r"is the file comma-separated\?"):
        load_dataset(tmp_path / "spaces.txt", labels=tmp_path / "labels.npy")


def test_read_edge_list_csv_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 1000, size=(500, 2))
    path = tmp_path / "big.csv"
    np.savetxt(path, edges, fmt="%d", delimiter=",", header="src,dst", comments="")
    src, dst = read_edge_list_csv(path, num_nodes=1000)
    np.testing.assert_array_equal(np.stack([src, dst], 1), edges)
    assert src.dtype == np.int64


@pytest.mark.parametrize(
    ("edges_text", "message"),
    [
        (
            "src,target\n0,1\n",
            r"edges.csv, line 1: header \['src', 'target'\] lacks column\(s\) \['dst'\]",
        ),
        (
            "0,1\n1\n",
            r"edges.csv, line 2: expected at least 2 comma-separated fields \(src,dst\), got 1",
        ),
        ("src,dst\n0,1\n\n1,x\n", r"edges.csv, line 4, field 'dst': 'x' is not an integer"),
        ("0,1\n1,2.0\n", r"edges.csv, line 2, field 'dst': '2.0' is not an integer"),
        ("0,1\n-3,2\n", r"edges.csv, line 2, field 'src': negative node id -3"),
        (
            "0,1\n1,2\n2,9\n",
            r"edges.csv, line 3, field 'dst': node id 9 out of range 0..3 "
            r"\(labels.npy has 4 labels\)",
        ),
        ("# only a comment\n\n", r"edges.csv: file is empty"),
    ],
)
def test_malformed_csv_edge_list(tmp_path: Path, edges_text: str, message: str) -> None:
    edges = _write(tmp_path / "edges.csv", edges_text)
    np.save(tmp_path / "labels.npy", np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=message):
        load_dataset(edges, labels=tmp_path / "labels.npy")


@pytest.mark.parametrize(
    ("labels_text", "message"),
    [
        (
            "node,class\n0,1\n",
            r"labels.csv, line 1: header \['node', 'class'\] lacks column\(s\) \['label'\]",
        ),
        ("0,1\n1,a\n", r"labels.csv, line 2, field 'label': 'a' is not an integer"),
        ("0,1\n1,0\n0,1\n", r"labels.csv, line 3, field 'node': node 0 is listed twice"),
        ("0,1\n1,-4\n", r"labels.csv, line 2, field 'label': -4 is not a class id"),
        ("node,label\n0,1\n-1,0\n", r"labels.csv, line 3, field 'node': negative node id -1"),
        (
            "0,1\n7,1\n",
            r"labels.csv, line 2, field 'node': node id 7 out of range 0..2 "
            r"\(the graph has 3 nodes\)",
        ),
    ],
)
def test_malformed_csv_labels(tmp_path: Path, labels_text: str, message: str) -> None:
    edges = _write(tmp_path / "edges.csv", "0,1\n1,2\n")
    labels = _write(tmp_path / "labels.csv", labels_text)
    with pytest.raises(ValueError, match=message):
        load_dataset(edges, labels=labels, num_nodes=3)


def test_labels_of_the_wrong_length(tmp_path: Path) -> None:
    edges = _write(tmp_path / "edges.csv", "0,1\n1,2\n")
    np.save(tmp_path / "labels.npy", np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"labels.npy: labels have 3 entries but num_nodes=4"):
        load_dataset(edges, labels=tmp_path / "labels.npy", num_nodes=4)
    np.save(tmp_path / "three_d.npy", np.zeros((3, 2, 2), dtype=np.int64))
    with pytest.raises(
        ValueError, match=r"labels must be \[N\] or \[N, C\], got shape \(3, 2, 2\)"
    ):
        load_dataset(edges, labels=tmp_path / "three_d.npy")


def test_edge_list_option_errors(tmp_path: Path) -> None:
    edges = _write(tmp_path / "edges.csv", "0,1\n")
    with pytest.raises(ValueError, match="needs labels: pass labels="):
        load_dataset(edges)
    with pytest.raises(FileNotFoundError, match="labels file .*nope.npy does not exist"):
        load_dataset(edges, labels=tmp_path / "nope.npy")
    with pytest.raises(ValueError, match=r"unexpected option\(s\) \['mixing'\]"):
        load_dataset(edges, labels=tmp_path / "x.npy", mixing=0.1)


# ------------------------------------------------------------------------------------------
# Synthetic graph
# ------------------------------------------------------------------------------------------


def test_synthetic_defaults_and_determinism() -> None:
    first = load_dataset("synthetic", num_nodes=3000, seed=5)
    second = load_dataset("synthetic", num_nodes=3000, seed=5)
    other = load_dataset("synthetic", num_nodes=3000, seed=6)
    assert first.num_nodes == 3000 and first.num_classes == 16 and first.metric == "accuracy"
    assert torch.equal(first.labels, second.labels)
    assert _edge_set(first.graph) == _edge_set(second.graph)
    assert not torch.equal(first.labels, other.labels)
    _assert_canonical_undirected(first.graph)
    _assert_valid_split(first)
    assert int(first.labels.min()) >= 0 and int(first.labels.max()) < 16
    assert "30 communities" in first.split_description


def test_synthetic_labels_are_predictable_from_structure() -> None:
    """Labels follow communities: a neighbour vote over training labels predicts test labels."""
    dataset = load_dataset("synthetic", num_nodes=4000, seed=0)
    src, dst = (t.numpy() for t in dataset.graph.edges())
    known = np.full(dataset.num_nodes, -1)
    known[dataset.train_idx.numpy()] = dataset.labels[dataset.train_idx].numpy()
    votes = np.zeros((dataset.num_nodes, dataset.num_classes))
    has_label = known[src] >= 0
    np.add.at(votes, (dst[has_label], known[src[has_label]]), 1)
    test = dataset.test_idx.numpy()
    accuracy = float((votes[test].argmax(1) == dataset.labels[test].numpy()).mean())
    assert accuracy > 0.8  # chance is 1/16
    homophily = float((dataset.labels[src] == dataset.labels[dst]).double().mean())
    assert homophily > 0.6


def test_synthetic_options() -> None:
    dataset = load_dataset(
        "synthetic", num_nodes=500, num_communities=10, num_classes=5, average_degree=4, seed=1
    )
    assert dataset.num_classes == 5 and int(dataset.labels.max()) <= 4
    assert dataset.graph.num_edges() <= 2 * 500 * 4 / 2
    with pytest.raises(ValueError, match=r"unexpected option\(s\) \['labels'\] for 'synthetic'"):
        load_dataset("synthetic", labels="x.npy")
    with pytest.raises(ValueError, match="mixing must be in"):
        load_dataset("synthetic", num_nodes=100, mixing=1.5)
    with pytest.raises(ValueError, match="split must be an int >= 0"):
        load_dataset("synthetic", split=-1)


# ------------------------------------------------------------------------------------------
# Graph helper, evaluation and validation
# ------------------------------------------------------------------------------------------


def test_undirected_edges_matches_a_brute_force_set() -> None:
    rng = np.random.default_rng(4)
    src = rng.integers(0, 30, size=200)
    dst = rng.integers(0, 30, size=200)
    out_src, out_dst = undirected_edges(src, dst, 30)
    expected = sorted(
        {(int(u), int(v)) for u, v in zip(src, dst, strict=True) if u != v}
        | {(int(v), int(u)) for u, v in zip(src, dst, strict=True) if u != v}
    )
    assert list(zip(out_src.tolist(), out_dst.tolist(), strict=True)) == expected


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_sorted_unique_matches_numpy_unique(size: int) -> None:
    values = np.random.default_rng(size).integers(-50, 50, size=size)
    np.testing.assert_array_equal(sorted_unique(values), np.unique(values))


def _tiny_dataset(multilabel: bool = False) -> NodeDataset:
    dataset = load_dataset("synthetic", num_nodes=200, num_communities=4, seed=0)
    if not multilabel:
        return dataset
    labels = torch.nn.functional.one_hot(dataset.labels % 3, 3).float()
    labels[::4, 0] = 1.0
    return dataclasses.replace(
        dataset, labels=labels, num_classes=3, multilabel=True, metric="micro_f1"
    )


def test_evaluate_accuracy_against_manual_count() -> None:
    dataset = _tiny_dataset()
    scores = torch.randn(dataset.num_nodes, dataset.num_classes)
    idx = dataset.test_idx
    expected = (scores[idx].argmax(1) == dataset.labels[idx]).double().mean().item()
    assert dataset.evaluate(scores, idx) == pytest.approx(expected)
    assert dataset.evaluate(scores[idx], idx) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"scores have 7 rows"):
        dataset.evaluate(scores[:7], idx)
    with pytest.raises(ValueError, match=r"expected scores of shape"):
        dataset.evaluate(scores[:, :2], idx)
    with pytest.raises(ValueError, match="idx is empty"):
        dataset.evaluate(scores, idx[:0])


def test_evaluate_rejects_unlabeled_nodes(tmp_path: Path) -> None:
    path = _write_npz(tmp_path / "g.npz")
    dataset = load_dataset(path)
    with pytest.raises(ValueError, match="unlabeled nodes"):
        dataset.evaluate(torch.zeros(6, 2), torch.tensor([0, 5]))


def test_micro_f1_against_sklearn() -> None:
    from sklearn.metrics import f1_score

    dataset = _tiny_dataset(multilabel=True)
    logits = torch.randn(dataset.num_nodes, 3, generator=torch.Generator().manual_seed(1))
    idx = dataset.val_idx
    expected = f1_score(
        dataset.labels[idx].numpy().astype(int), (logits[idx] > 0).numpy().astype(int),
        average="micro",
    )  # fmt: skip
    assert dataset.evaluate(logits, idx) == pytest.approx(expected)
    assert micro_f1(torch.zeros(2, 2, dtype=torch.bool), torch.zeros(2, 2, dtype=torch.bool)) == 0


def test_node_dataset_validates_its_fields() -> None:
    dataset = _tiny_dataset()
    with pytest.raises(ValueError, match="must be disjoint"):
        dataclasses.replace(dataset, val_idx=dataset.train_idx[:3])
    with pytest.raises(ValueError, match=r"single-label labels must be int64 \[200\]"):
        dataclasses.replace(dataset, labels=dataset.labels[:10])
    with pytest.raises(ValueError, match="outside 0..199"):
        dataclasses.replace(dataset, test_idx=torch.tensor([200]))
    with pytest.raises(ValueError, match=r"features must be float32 \[200, F\]"):
        dataclasses.replace(dataset, features=torch.zeros(200, 3, dtype=torch.float64))


def test_random_split_option_overrides_a_standard_split(shared_data: Path) -> None:
    """cora with random_split=True: a seeded 60/20/20 split of the labeled nodes, not the
    Planetoid masks; split=1 with it is refused, and a non-bool value too."""
    public = load_dataset("cora", root=shared_data)
    rich = load_dataset("cora", root=shared_data, split_seed=4, random_split=True)
    again = load_dataset("cora", root=shared_data, split_seed=4, random_split=True)
    assert torch.equal(rich.train_idx, again.train_idx)
    sizes = [len(rich.train_idx), len(rich.val_idx), len(rich.test_idx)]
    assert sum(sizes) == public.graph.num_nodes() and abs(sizes[0] - 0.6 * sum(sizes)) <= 2
    assert len(public.train_idx) == 140 and "standard split not used" in rich.split_description
    assert not set(rich.train_idx.tolist()) & set(rich.test_idx.tolist())
    with pytest.raises(ValueError, match="split=1 is meaningless because a random split"):
        load_dataset("cora", root=shared_data, split=1, random_split=True)
    with pytest.raises(ValueError, match="random_split must be True or False"):
        load_dataset("cora", root=shared_data, random_split="yes")
