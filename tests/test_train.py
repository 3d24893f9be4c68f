"""Tests for tt_gnn.training: pipeline, permutation, checkpoints, resume."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tt_gnn.data import NodeDataset, load_dataset
from tt_gnn.options import parse_fanouts, parse_reorder
from tt_gnn.training import TrainConfig, apply_permutation, prepare_data, train
from tt_gnn.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint

SMALL_GRAPH = {"num_nodes": 600, "num_communities": 12, "num_classes": 4, "average_degree": 8.0}


def _small_config(**overrides) -> TrainConfig:
    settings = dict(
        dataset="synthetic",
        dataset_options=SMALL_GRAPH,
        embedding="tt",
        embedding_dim=16,
        rank=4,
        hidden=16,
        fanouts=(5, 5),
        batch_size=64,
        epochs=3,
        lr=0.01,
        verbose=False,
        progress=False,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def small_dataset() -> NodeDataset:
    return load_dataset("synthetic", **SMALL_GRAPH)


def test_parse_reorder_and_fanouts():
    assert parse_reorder("tt-metis") == ("tt-metis", None)
    assert parse_reorder("metis:8") == ("metis", 8)
    assert parse_reorder("random") == ("random", None)
    for bad in ("metis:1", "metis:x", "metis:-3", "tt_metis", ""):
        with pytest.raises(ValueError, match="invalid reorder"):
            parse_reorder(bad)
    assert parse_fanouts("15,10,-1") == (15, 10, -1)
    for bad in ("10,0", "a,b", "-2"):
        with pytest.raises(ValueError, match="fanout"):
            parse_fanouts(bad)


def test_config_validation_names_the_option():
    with pytest.raises(ValueError, match="model must be one of"):
        _small_config(model="gcn")
    with pytest.raises(ValueError, match="embedding must be one of"):
        _small_config(embedding="hash")
    with pytest.raises(ValueError, match="rank must be an int >= 1, got 0"):
        _small_config(rank=0)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        _small_config(resume=True)
    with pytest.raises(ValueError, match="unknown init 'eigen'"):
        _small_config(init="eigen")
    with pytest.raises(ValueError, match="use_features"):
        _small_config(embedding="features")


def test_apply_permutation_moves_edges_labels_splits_and_features(small_dataset):
    num_nodes = small_dataset.num_nodes
    features = torch.randn(num_nodes, 3)
    dataset = dataclasses.replace(small_dataset, features=features)
    permutation = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(0))
    moved = apply_permutation(dataset, permutation)
    old_edges = set(zip(*(e.tolist() for e in dataset.graph.edges()), strict=True))
    new_src, new_dst = moved.graph.edges()
    mapped = set(zip(permutation[new_src].tolist(), permutation[new_dst].tolist(), strict=True))
    assert mapped == old_edges and moved.graph.num_edges() == dataset.graph.num_edges()
    assert torch.equal(moved.graph.original_ids, permutation)
    assert torch.equal(moved.labels, dataset.labels[permutation])
    assert torch.equal(moved.features, features[permutation])
    for split in ("train_idx", "val_idx", "test_idx"):
        assert torch.equal(permutation[getattr(moved, split)], getattr(dataset, split))
    with pytest.raises(ValueError, match="bijection"):
        apply_permutation(dataset, torch.zeros(num_nodes, dtype=torch.int64))
    with pytest.raises(ValueError, match="shape"):
        apply_permutation(dataset, permutation[:-1])


def test_reorder_default_follows_the_embedding():
    assert _small_config().reorder == "tt-metis"
    assert _small_config(embedding="full").reorder == "none"
    assert _small_config(reorder="random").reorder == "random"
    assert _small_config().init == "spectral" and _small_config(embedding="full").init == "gaussian"


def test_prepare_data_reorders_and_adds_self_loops_for_gat(small_dataset):
    prepared = prepare_data(_small_config(model="gat", reorder="random"), dataset=small_dataset)
    assert prepared.permutation is not None
    assert sorted(prepared.permutation.tolist()) == list(range(small_dataset.num_nodes))
    graph = prepared.graph.graph
    self_loops = (graph.edges()[0] == graph.edges()[1]).sum()
    assert int(self_loops) == small_dataset.num_nodes
    unchanged = prepare_data(_small_config(reorder="none"), dataset=small_dataset)
    assert unchanged.permutation is None
    assert unchanged.graph.graph.num_edges() == small_dataset.graph.num_edges()


def test_checkpoint_roundtrip_is_atomic(tmp_path):
    path = tmp_path / "deep" / "checkpoint.pt"
    save_checkpoint({"epoch": 2, "weights": torch.arange(4.0), "meta": {"name": "x"}}, path)
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and torch.equal(state["weights"], torch.arange(4.0))
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"], "no temporary left"
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a tt-gnn checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises((TypeError, AttributeError)):
        save_checkpoint({"epoch": 1, "bad": lambda: None}, path)
    assert load_checkpoint(path)["epoch"] == 2, "a failed save must keep the old checkpoint"
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]


def test_training_learns_the_planted_communities(small_dataset, tmp_path):
    output = tmp_path / "metrics.json"
    config = _small_config(
        epochs=8, reorder="tt-metis", lr=0.03, batch_size=32, output_json=str(output)
    )
    result = train(config, dataset=small_dataset)
    metrics = json.loads(output.read_text())
    chance = 1.0 / small_dataset.num_classes
    assert metrics["test_accuracy"] > 2 * chance, metrics["history"]
    for key in ("test_accuracy", "val_accuracy", "embedding_parameters", "compression_ratio",
                "epochs", "seconds"):  # fmt: skip
        assert key in metrics
    tt_input = result.model.node_input
    assert metrics["embedding_parameters"] == sum(core.numel() for core in tt_input.cores)
    assert metrics["compression_ratio"] == pytest.approx(
        small_dataset.num_nodes * 16 / metrics["embedding_parameters"]
    )
    assert metrics["epochs"] == 8 and len(metrics["history"]) == 8
    best = max(metrics["history"], key=lambda record: record["val_accuracy"])
    assert metrics["val_accuracy"] == best["val_accuracy"]
    assert metrics["test_accuracy"] == best["test_accuracy"]
    assert metrics["best_epoch"] == best["epoch"]


class _Interrupt(RuntimeError):
    pass


def test_resume_after_a_crash_ends_with_the_same_parameters(small_dataset, tmp_path):
    config = _small_config(epochs=3, reorder="random", dropout=0.5)
    reference = train(dataclasses.replace(config, checkpoint_dir=str(tmp_path / "a")),
                      dataset=small_dataset)  # fmt: skip

    def crash_in_epoch_two(epoch: int, step: int) -> None:
        if epoch == 1 and step == 2:
            raise _Interrupt("injected failure")

    interrupted = dataclasses.replace(config, checkpoint_dir=str(tmp_path / "b"), resume=True)
    with pytest.raises(_Interrupt):
        train(interrupted, dataset=small_dataset, on_step=crash_in_epoch_two)
    assert load_checkpoint(checkpoint_path(tmp_path / "b"))["epoch"] == 1
    resumed = train(interrupted, dataset=small_dataset)
    assert resumed.metrics["epochs"] == 3 and len(resumed.metrics["history"]) == 3
    final_reference = load_checkpoint(checkpoint_path(tmp_path / "a"))["model"]
    final_resumed = load_checkpoint(checkpoint_path(tmp_path / "b"))["model"]
    assert final_reference.keys() == final_resumed.keys()
    for key, value in final_reference.items():
        torch.testing.assert_close(final_resumed[key], value, rtol=0, atol=0, msg=key)
    for key, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    assert resumed.metrics["test_accuracy"] == reference.metrics["test_accuracy"]


def test_resume_refuses_a_checkpoint_made_with_other_options(small_dataset, tmp_path):
    config = _small_config(epochs=1, embedding="full", checkpoint_dir=str(tmp_path))
    train(config, dataset=small_dataset)
    changed = dataclasses.replace(config, lr=0.5, resume=True, epochs=2)
    with pytest.raises(ValueError, match="lr: checkpoint 0.01, now 0.5"):
        train(changed, dataset=small_dataset)


def test_full_embedding_and_features_inputs(small_dataset):
    full = train(_small_config(embedding="full", epochs=1), dataset=small_dataset)
    assert full.metrics["embedding_parameters"] == small_dataset.num_nodes * 16
    assert full.metrics["compression_ratio"] == 1.0
    features = torch.nn.functional.one_hot(small_dataset.labels, 4).float()
    with_features = dataclasses.replace(small_dataset, features=features)
    config = _small_config(embedding="features", use_features=True, epochs=4, dropout=0.0)
    metrics = train(config, dataset=with_features).metrics
    assert metrics["embedding_parameters"] == 0 and metrics["compression_ratio"] is None
    assert metrics["test_accuracy"] > 0.9, "one-hot label features make the task trivial"


def test_multilabel_dataset_reports_its_metric(small_dataset):
    labels = torch.nn.functional.one_hot(small_dataset.labels, 4).float()
    labels[:, 0] = 1.0 - labels[:, 1]
    multilabel = dataclasses.replace(
        small_dataset, labels=labels, multilabel=True, metric="micro_f1"
    )
    metrics = train(_small_config(epochs=2, embedding="full"), dataset=multilabel).metrics
    assert metrics["metric"] == "micro_f1"
    assert 0.0 <= metrics["test_micro_f1"] <= 1.0 and 0.0 <= metrics["val_micro_f1"] <= 1.0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_precomputed_permutation_gives_the_same_run(small_dataset):
    from tt_gnn.reorder import reorder_graph

    config = _small_config(reorder="tt-metis", epochs=1)
    computed = train(config, dataset=small_dataset)
    p_shapes = computed.model.node_input.p_shapes
    _, report = reorder_graph(small_dataset.graph, p_shapes, method="tt-metis", seed=config.seed)
    given = train(config, dataset=small_dataset, permutation=report.permutation)
    for a, b in zip(computed.model.state_dict().values(), given.model.state_dict().values()):
        assert torch.equal(a, b)
    shuffled = train(config, dataset=small_dataset, permutation=torch.randperm(600))
    assert not all(
        torch.equal(a, b)
        for a, b in zip(computed.model.state_dict().values(), shuffled.model.state_dict().values())
    )
