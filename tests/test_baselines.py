"""Tests for tt_gnn.baselines: label propagation against brute force, splits, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tt_gnn.baselines import (
    label_propagation,
    labels_per_class_split,
    propagate_labels,
    spectral_logistic_regression,
)
from tt_gnn.synthetic import planted_partition_graph


def brute_force_propagation(edges, num_nodes, labels, train, num_classes, alpha, steps):
    """Dense float64 loops: S = D^-1/2 A D^-1/2 (no self-loops), clamp after every step."""
    adjacency = np.zeros((num_nodes, num_nodes))
    for u, v in edges:
        if u != v:
            adjacency[u, v] = adjacency[v, u] = 1.0
    degree = adjacency.sum(axis=1)
    normalized = np.zeros_like(adjacency)
    for u in range(num_nodes):
        for v in range(num_nodes):
            if adjacency[u, v]:
                normalized[u, v] = 1.0 / np.sqrt(degree[u] * degree[v])
    seeds = np.zeros((num_nodes, num_classes))
    for node in train:
        seeds[node, labels[node]] = 1.0
    scores = seeds.copy()
    for _ in range(steps):
        scores = alpha * normalized @ scores + (1 - alpha) * seeds
        for node in train:
            scores[node] = seeds[node]
    return scores


def test_propagation_matches_dense_brute_force():
    # a path, a triangle with a duplicate edge and a self-loop, and an isolated node (8)
    edges = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 4), (5, 4), (6, 6), (3, 4)]
    labels = np.array([0, -1, 2, -1, 1, -1, -1, 0, 1])
    train = [0, 4, 7]
    src, dst = np.array(edges).T
    for alpha, steps in ((0.9, 1), (0.5, 7), (1.0, 20)):
        scores = propagate_labels(
            (src, dst), labels, train, num_nodes=9, alpha=alpha, num_iterations=steps
        )
        expected = brute_force_propagation(edges, 9, labels, train, 3, alpha, steps)
        assert scores.dtype == torch.float64
        np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-13, atol=1e-15)
        assert scores[8].abs().sum() == 0  # isolated, unlabeled
        assert scores[[0, 4, 7]].tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]  # clamped


def test_unreached_nodes_get_the_majority_training_class():
    # component {0, 1, 2, 5} holds every training node (classes 1, 0, 1); component {3, 4} none
    src, dst = np.array([0, 1, 2, 3]), np.array([1, 2, 5, 4])
    labels = np.array([1, 1, 0, 1, 0, 1])
    result = label_propagation((src, dst), labels, [0, 2, 5], [1], [3, 4], num_nodes=6)
    assert result["train_accuracy"] == 1.0
    assert result["val_accuracy"] == 1.0  # node 1: 1/sqrt(2) for class 1 vs 1/2 for class 0
    assert result["test_accuracy"] == 0.5  # nodes 3 and 4 both get class 1


def test_label_propagation_beats_chance_and_is_reproducible():
    graph = planted_partition_graph(3000, 10, average_degree=10, mixing=0.3, seed=1)
    train, val, test = labels_per_class_split(graph.labels, 5, 500, 1000, seed=0)
    pair = (graph.src, graph.dst)
    first = label_propagation(pair, graph.labels, train, val, test, num_nodes=3000)
    second = label_propagation(pair, torch.from_numpy(graph.labels), train, val, test)
    assert first["test_accuracy"] > 0.8  # chance: 0.1
    assert first["train_accuracy"] == 1.0
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    matrix = sp.coo_matrix((np.ones(graph.num_edges), pair), shape=(3000, 3000)).tocsr()
    scores = propagate_labels(matrix, graph.labels, train)
    assert torch.equal(scores, propagate_labels(pair, graph.labels, train, num_nodes=3000))


def test_spectral_logistic_regression_beats_chance_and_is_reproducible():
    graph = planted_partition_graph(1500, 5, average_degree=10, mixing=0.2, seed=2)
    train, val, test = labels_per_class_split(graph.labels, 10, 300, 600, seed=1)
    pair = (graph.src, graph.dst)
    first = spectral_logistic_regression(pair, graph.labels, train, val, test, num_nodes=1500)
    second = spectral_logistic_regression(pair, graph.labels, train, val, test, num_nodes=1500)
    assert first["test_accuracy"] > 0.8  # chance: 0.2
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "weight_decay"):
        assert first[key] == second[key]


def test_labels_per_class_split_draws_k_per_class_and_disjoint_rest():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 4, 400)
    train, val, test = labels_per_class_split(labels, 7, 50, 80, seed=3)
    assert np.bincount(labels[train.numpy()], minlength=4).tolist() == [7, 7, 7, 7]
    assert (len(val), len(test)) == (50, 80)
    everything = torch.cat([train, val, test]).numpy()
    assert np.unique(everything).size == everything.size
    assert (labels[everything] >= 0).all()
    for part in (train, val, test):
        assert part.dtype == torch.int64 and torch.equal(part, part.sort().values)
    again = labels_per_class_split(labels, 7, 50, 80, seed=3)
    other = labels_per_class_split(labels, 7, 50, 80, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(again, (train, val, test), strict=True))
    assert not torch.equal(other[0], train)


@pytest.mark.parametrize(
    ("k", "num_val", "num_test", "message"),
    [
        (0, 1, 1, "k must be an int >= 1, got 0"),
        (-2, 1, 1, "k must be an int >= 1, got -2"),
        (2, -1, 1, "num_val must be an int >= 0, got -1"),
        (4, 0, 0, r"k=4 training nodes per class, but 1 of 2 classes have fewer \(class 1 has 3"),
        (2, 3, 2, "num_val \\+ num_test = 5, but only 3 labeled nodes remain"),
    ],
)
def test_labels_per_class_split_errors(k, num_val, num_test, message):
    labels = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    with pytest.raises(ValueError, match=message):
        labels_per_class_split(labels, k, num_val, num_test, seed=0)


def test_bad_inputs_are_named():
    pair = (np.array([0, 1]), np.array([1, 2]))
    labels = np.array([0, -1, 1])
    with pytest.raises(ValueError, match="train_idx holds node 1, which has no label"):
        label_propagation(pair, labels, [0, 1], [2], [2])
    with pytest.raises(ValueError, match="alpha must be in \\(0, 1\\], got 0"):
        propagate_labels(pair, labels, [0], alpha=0)
    with pytest.raises(ValueError, match="num_iterations must be an int >= 1, got 0"):
        propagate_labels(pair, labels, [0], num_iterations=0)
    with pytest.raises(ValueError, match="test_idx holds node ids 5..5, outside 0..2"):
        label_propagation(pair, labels, [0], [2], [5])
    with pytest.raises(ValueError, match="labels has 2 entries, the graph 3 nodes"):
        propagate_labels(pair, labels[:2], [0])
