"""Tests for tt_gnn.propagation (propagation, Correct and Smooth) and the trainer's use of it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tt_gnn.propagation import (
    correct_and_smooth,
    correct_and_smooth_memory_bytes,
    propagate,
    tune_correct_and_smooth,
)
from tt_gnn.spectral import normalized_adjacency
from tt_gnn.synthetic import planted_partition_graph


def _graph(num_nodes: int = 300, classes: int = 3, mixing: float = 0.1, seed: int = 0):
    g = planted_partition_graph(num_nodes, classes, average_degree=8, mixing=mixing, seed=seed)
    adjacency, _ = normalized_adjacency((g.src, g.dst), num_nodes, dtype=np.float64)
    return adjacency, np.asarray(g.labels)


def _dense_reference(s, probabilities, labels, train, a1, a2, steps):
    """Correct and Smooth written out with dense float64 matrices, step by step."""
    s = np.asarray(s.todense())
    n, c = probabilities.shape
    y = np.eye(c)[labels[train]]
    e0 = np.zeros((n, c))
    e0[train] = y - probabilities[train]
    e = e0.copy()
    for _ in range(steps):
        e = a1 * s.dot(e) + (1 - a1) * e0
        e[train] = e0[train]
    sigma = np.mean(np.sum(np.abs(e0[train]), axis=1))
    z = probabilities.copy()
    for i in range(n):
        size = np.sum(np.abs(e[i]))
        if size > 0:
            z[i] += sigma * e[i] / size
    z[train] = y
    g = z.copy()
    for _ in range(steps):
        g = a2 * s.dot(g) + (1 - a2) * z
        g[train] = y
    return g


def test_propagate_converges_to_the_closed_form():
    adjacency, _ = _graph(60)
    start = np.random.default_rng(0).normal(size=(60, 4))
    alpha = 0.5
    result = propagate(adjacency, start, alpha, 200)
    dense = np.asarray(adjacency.todense())
    expected = (1 - alpha) * np.linalg.solve(np.eye(60) - alpha * dense, start)
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
    assert not np.shares_memory(result, start)


def test_propagate_holds_clamped_rows():
    adjacency, _ = _graph(50)
    start = np.random.default_rng(1).random((50, 3))
    rows, values = np.array([3, 7]), np.ones((2, 3))
    result = propagate(adjacency, start, 0.9, 5, clamp=(rows, values))
    np.testing.assert_array_equal(result[rows], values)
    assert not np.allclose(result, start)


def test_correct_and_smooth_matches_a_dense_reference():
    adjacency, labels = _graph(120)
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(120, 3))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    train = np.sort(rng.choice(120, 15, replace=False))
    result = correct_and_smooth(
        adjacency, probabilities, labels, train, correct_alpha=0.7, smooth_alpha=0.9,
        num_iterations=20,
    )  # fmt: skip
    expected = _dense_reference(adjacency, probabilities, labels, train, 0.7, 0.9, 20)
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(result[train], np.eye(3)[labels[train]])


def test_smoothing_fixes_a_weak_model_on_a_homophilous_graph():
    adjacency, labels = _graph(600, mixing=0.05)
    rng = np.random.default_rng(3)
    # A weak model: the true class gets a small edge over noise (about 50% accurate).
    probabilities = rng.random((600, 3)) + 0.35 * np.eye(3)[labels]
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    order = rng.permutation(600)
    train, val, test = np.sort(order[:30]), np.sort(order[30:230]), np.sort(order[230:])
    alpha, scores = tune_correct_and_smooth(adjacency, probabilities, labels, train, val)
    model = (probabilities[test].argmax(axis=1) == labels[test]).mean()
    smoothed = (scores[test].argmax(axis=1) == labels[test]).mean()
    assert alpha is not None
    assert model < 0.7 and smoothed > model + 0.2, (model, smoothed)


def test_tuning_keeps_a_model_it_cannot_improve():
    adjacency, labels = _graph(300, mixing=0.3)
    perfect = np.eye(3)[labels]
    order = np.random.default_rng(4).permutation(300)
    train, val = np.sort(order[:20]), np.sort(order[20:120])
    alpha, scores = tune_correct_and_smooth(adjacency, perfect, labels, train, val)
    assert alpha is None and scores is perfect


def test_bad_inputs_are_named():
    adjacency, labels = _graph(40)
    probabilities = np.full((40, 3), 1 / 3)
    with pytest.raises(ValueError, match="alpha must be in"):
        propagate(adjacency, probabilities, 0.0, 3)
    with pytest.raises(ValueError, match="num_iterations"):
        propagate(adjacency, probabilities, 0.5, 0)
    with pytest.raises(ValueError, match="adjacency has shape"):
        propagate(sp.identity(39, format="csr"), probabilities, 0.5, 1)
    with pytest.raises(ValueError, match="class ids in 0..1"):
        correct_and_smooth(adjacency, probabilities[:, :2], labels, [0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="probabilities must be"):
        correct_and_smooth(adjacency, probabilities[0], labels, [0])
    with pytest.raises(ValueError, match="val_idx is empty"):
        tune_correct_and_smooth(adjacency, probabilities, labels, [0], [])


def test_memory_estimate_grows_with_nodes_edges_and_classes():
    base = correct_and_smooth_memory_bytes(1000, 5000, 10)
    assert base == 25 * 5000 + 4 * 1000 * (2 * 10 + 64) + 2**28
    assert correct_and_smooth_memory_bytes(1000, 5000, 10, itemsize=8) > base
    assert correct_and_smooth_memory_bytes(2000, 5000, 10) > base
    assert correct_and_smooth_memory_bytes(1000, 5000, 20) > base


def _softmax_inputs(num_nodes: int, classes: int, seed: int):
    g = planted_partition_graph(num_nodes, classes, average_degree=8, mixing=0.2, seed=seed)
    adjacency, _ = normalized_adjacency((g.src, g.dst), num_nodes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(num_nodes, classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    order = rng.permutation(num_nodes)
    return adjacency, probabilities, np.asarray(g.labels), np.sort(order[: 2 * classes]), order


def test_rows_chunks_and_float32_agree_with_the_full_float64_result(monkeypatch):
    import tt_gnn.propagation as propagation

    adjacency, probabilities, labels, train, order = _softmax_inputs(400, 20, seed=5)
    full = correct_and_smooth(adjacency, probabilities, labels, train, num_iterations=30)
    rows = order[100:160]
    np.testing.assert_array_equal(
        correct_and_smooth(adjacency, probabilities, labels, train, num_iterations=30, rows=rows),
        full[rows],
    )
    # Every class column propagates on its own: one class at a time gives the same scores.
    monkeypatch.setattr(propagation, "_COLUMN_CHUNK", 1)
    one_by_one = correct_and_smooth(adjacency, probabilities, labels, train, num_iterations=30)
    np.testing.assert_allclose(one_by_one, full, rtol=1e-12, atol=1e-14)
    monkeypatch.undo()
    single = correct_and_smooth(
        adjacency.astype(np.float32), probabilities.astype(np.float32), labels, train,
        num_iterations=30,
    )  # fmt: skip
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, full, rtol=1e-3, atol=1e-5)


def test_tuning_with_rows_returns_those_rows_of_the_chosen_scores():
    adjacency, probabilities, labels, train, order = _softmax_inputs(300, 3, seed=6)
    val, test = np.sort(order[10:110]), np.sort(order[110:])
    alpha, everything = tune_correct_and_smooth(adjacency, probabilities, labels, train, val)
    same_alpha, test_scores = tune_correct_and_smooth(
        adjacency, probabilities, labels, train, val, rows=test
    )
    assert alpha is not None and same_alpha == alpha
    np.testing.assert_array_equal(test_scores, everything[test])
    np.testing.assert_array_equal(
        test_scores,
        correct_and_smooth(adjacency, probabilities, labels, train, smooth_alpha=alpha, rows=test),
    )


# --- the trainer's post_process="cs" -----------------------------------------------------

SMALL_GRAPH = {"num_nodes": 600, "num_communities": 12, "num_classes": 4, "average_degree": 8.0}


@pytest.fixture(scope="module")
def small_dataset():
    from tt_gnn.data import load_dataset

    return load_dataset("synthetic", **SMALL_GRAPH)


def _config(**overrides):
    from tt_gnn.training import TrainConfig

    settings = dict(dataset="synthetic", dataset_options=SMALL_GRAPH, embedding="tt",
                    embedding_dim=16, rank=4, hidden=16, fanouts=(5, 5), batch_size=64,
                    epochs=3, verbose=False, progress=False, deterministic=True)  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


def test_trainer_reports_the_model_and_the_post_processed_accuracy(small_dataset, tmp_path):
    from tt_gnn.training import train

    plain = train(_config(post_process="none"), dataset=small_dataset).metrics
    output = tmp_path / "metrics.json"
    smoothed = train(_config(post_process="cs", output_json=str(output)), dataset=small_dataset)
    metrics = smoothed.metrics
    # Same (deterministic) training, so the model's own numbers are the plain run's.
    assert metrics["model_val_accuracy"] == plain["val_accuracy"]
    assert metrics["model_test_accuracy"] == plain["test_accuracy"]
    assert plain["post_process_used"] == "none" and "model_test_accuracy" not in plain
    assert metrics["post_process"] == "cs" and metrics["post_process_used"] == "cs"
    assert metrics["post_process_seconds"] > 0
    # Chosen on validation: never below the model there; unchanged when not chosen.
    assert metrics["val_accuracy"] >= metrics["model_val_accuracy"]
    if metrics["smooth_alpha"] is None:
        assert metrics["test_accuracy"] == metrics["model_test_accuracy"]
    else:
        assert metrics["val_accuracy"] > metrics["model_val_accuracy"]
    import json

    assert json.loads(output.read_text())["test_accuracy"] == metrics["test_accuracy"]


def test_auto_skips_what_does_not_fit_and_cs_refuses_it(small_dataset, monkeypatch, capsys):
    import tt_gnn.io
    from tt_gnn.training import train

    monkeypatch.setattr(tt_gnn.io, "available_memory_bytes", lambda: 1000)
    metrics = train(_config(epochs=1), dataset=small_dataset).metrics  # post_process="auto"
    assert metrics["post_process"] == "auto" and metrics["post_process_used"] == "none"
    assert "more than the available memory (0.0 GiB)" in metrics["post_process_skipped"]
    assert "model_test_accuracy" not in metrics
    assert "correct-and-smooth skipped" in capsys.readouterr().err
    with pytest.raises(MemoryError, match=r"post_process='cs' needs about .* --post-process none"):
        train(_config(post_process="cs", epochs=1), dataset=small_dataset)


def test_auto_runs_correct_and_smooth_where_it_applies(small_dataset):
    from tt_gnn.training import train

    metrics = train(_config(epochs=1), dataset=small_dataset).metrics
    assert metrics["post_process"] == "auto" and metrics["post_process_used"] == "cs"
    assert metrics["val_accuracy"] >= metrics["model_val_accuracy"]


def test_multilabel_data_is_skipped_by_auto_and_refused_by_cs(small_dataset):
    import dataclasses

    import torch

    from tt_gnn.training import train

    with pytest.raises(ValueError, match="post_process must be one of"):
        _config(post_process="smooth")
    labels = torch.nn.functional.one_hot(small_dataset.labels, 4).float()
    multilabel = dataclasses.replace(
        small_dataset, labels=labels, multilabel=True, metric="micro_f1"
    )
    with pytest.raises(ValueError, match="multi-label"):
        train(_config(post_process="cs", epochs=1, embedding="full"), dataset=multilabel)
    metrics = train(_config(epochs=1, embedding="full"), dataset=multilabel).metrics
    assert metrics["post_process_skipped"] == "multi-label dataset"
    assert metrics["post_process_used"] == "none"


def test_cli_post_process_option(tmp_path, capsys):
    import json

    from tt_gnn.cli import main

    output = tmp_path / "metrics.json"
    arguments = ["train", "--dataset", "synthetic", "--num-nodes", "400", "--embedding-dim",
                 "16", "--hidden", "16", "--rank", "4", "--batch-size", "64", "--fanouts",
                 "5,5", "--no-progress", "--epochs", "1", "--output-json", str(output)]  # fmt: skip
    assert main([*arguments, "--post-process", "cs"]) == 0
    printed = capsys.readouterr().out
    assert "(the model alone): val accuracy" in printed and "after correct-and-smooth" in printed
    assert json.loads(output.read_text())["post_process"] == "cs"
    with pytest.raises(SystemExit):
        main([*arguments, "--post-process", "lp"])
    assert "invalid choice: 'lp'" in capsys.readouterr().err


def test_propagation_is_the_same_on_any_thread_count_and_takes_torch_csr():
    import torch

    adjacency, _ = _graph(500)
    start = np.random.default_rng(7).random((500, 16))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = propagate(adjacency, start, 0.9, 10)
        torch.set_num_threads(2)
        two = propagate(adjacency, start, 0.9, 10)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(one, two)
    reference = start.copy()
    for _ in range(10):
        reference = 0.9 * (adjacency @ reference) + 0.1 * start  # scipy's product
    np.testing.assert_allclose(one, reference, rtol=1e-12, atol=1e-14)
    as_torch = torch.sparse_csr_tensor(
        torch.from_numpy(adjacency.indptr), torch.from_numpy(adjacency.indices),
        torch.from_numpy(adjacency.data), size=adjacency.shape,
    )  # fmt: skip
    np.testing.assert_array_equal(propagate(as_torch, start, 0.9, 10), one)
    with pytest.raises(ValueError, match="must be a CSR tensor"):
        propagate(as_torch.to_sparse_coo(), start, 0.9, 1)
