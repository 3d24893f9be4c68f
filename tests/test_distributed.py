"""Data-parallel training on 2 CPU processes (gloo) against a single-process reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tt_gnn.data import load_dataset
from tt_gnn.gnn.classifier import shard_bounds
from tt_gnn.gnn.sampler import sample_blocks
from tt_gnn.options import parse_devices
from tt_gnn.training import TrainConfig, build_classifier, prepare_data, train
from tt_gnn.training.distributed import DistributedContext, gather_rows, spawn

WORLD_SIZE = 2
BATCH_PER_RANK = 45
GRAPH = {"num_nodes": 600, "num_communities": 12, "num_classes": 4, "average_degree": 8.0}


def _config() -> TrainConfig:
    # Dropout 0 and full neighborhoods make the step independent of per-rank randomness, so
    # two ranks of BATCH_PER_RANK seeds equal one process with both batches.
    return TrainConfig(
        dataset="synthetic",
        dataset_options=GRAPH,
        embedding="tt",
        reorder="none",
        embedding_dim=16,
        rank=4,
        hidden=16,
        fanouts=(-1, -1),
        dropout=0.0,
        shuffle=False,
        batch_size=BATCH_PER_RANK,
        epochs=1,
        lr=0.01,
        verbose=False,
        progress=False,
    )


def _worker(context: DistributedContext, folder: str) -> None:
    torch.set_num_threads(1)
    dataset = load_dataset("synthetic", **GRAPH)
    result = train(_config(), dataset=dataset, context=context)
    model = result.model
    graph = dataset.graph
    logits = model.layerwise_inference(
        graph,
        chunk_size=128,
        shard=(context.rank, context.world_size),
        gather=lambda rows, total: gather_rows(rows, total, context),
    )
    uneven = torch.full((context.rank + 2, 3), float(context.rank))
    gathered = gather_rows(uneven, 2 + 3, context)
    torch.save(
        {"model": model.state_dict(), "logits": logits, "gathered": gathered},
        Path(folder) / f"rank{context.rank}.pt",
    )
    (Path(folder) / f"metrics{context.rank}.json").write_text(json.dumps(result.metrics))


def _single_process_reference(dataset):
    config = _config()
    prepared = prepare_data(config, dataset=dataset)
    model, _, _ = build_classifier(config, prepared)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_idx = dataset.train_idx
    per_rank = len(train_idx) // WORLD_SIZE
    # The trainer gives rank r every WORLD_SIZE-th seed from r on (no shuffle here).
    shards = [train_idx[rank::WORLD_SIZE] for rank in range(WORLD_SIZE)]
    for step in range(per_rank // BATCH_PER_RANK):
        window = slice(step * BATCH_PER_RANK, (step + 1) * BATCH_PER_RANK)
        seeds = torch.cat([shard[window] for shard in shards])
        blocks = sample_blocks(dataset.graph, seeds, [-1, -1], seed=0)
        input_ids, output_ids = blocks[0].src_ids, blocks[-1].dst_ids
        loss = torch.nn.functional.cross_entropy(
            model(blocks, input_ids), dataset.labels[output_ids]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_two_gloo_processes_match_single_process_training(tmp_path):
    dataset = load_dataset("synthetic", **GRAPH)
    per_rank = len(dataset.train_idx) // WORLD_SIZE
    assert len(dataset.train_idx) % WORLD_SIZE == 0 and per_rank % BATCH_PER_RANK == 0
    spawn(_worker, str(tmp_path), WORLD_SIZE)
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    metrics = [json.loads((tmp_path / f"metrics{r}.json").read_text()) for r in range(2)]
    for key, value in states[0]["model"].items():
        assert torch.equal(value, states[1]["model"][key]), f"{key} differs between ranks"
    reference = _single_process_reference(dataset)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(states[0]["model"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    initial, _, _ = build_classifier(_config(), prepare_data(_config(), dataset=dataset))
    moved = sum(
        float((states[0]["model"][key] - value).abs().max())
        for key, value in initial.state_dict().items()
    )
    assert moved > 1e-3, "training must have changed the parameters"
    expected_logits = reference.layerwise_inference(dataset.graph, chunk_size=128)
    for state in states:
        torch.testing.assert_close(state["logits"], expected_logits, rtol=1e-4, atol=1e-5)
        assert state["gathered"].tolist() == [[0.0] * 3] * 2 + [[1.0] * 3] * 3
    assert metrics[0]["world_size"] == 2
    assert metrics[0]["val_accuracy"] == metrics[1]["val_accuracy"]
    assert metrics[0]["test_accuracy"] == metrics[1]["test_accuracy"]
    val_logits = expected_logits[dataset.val_idx]
    expected_val = float((val_logits.argmax(1) == dataset.labels[dataset.val_idx]).float().mean())
    # The default post-processing (Correct and Smooth) ran once and reached every rank.
    assert metrics[0]["post_process_used"] == metrics[1]["post_process_used"] == "cs"
    assert metrics[0]["smooth_alpha"] == metrics[1]["smooth_alpha"]
    assert metrics[0]["model_val_accuracy"] == pytest.approx(
        expected_val, abs=1.5 / len(dataset.val_idx)
    )


def test_single_process_helpers():
    context = DistributedContext()
    rows = torch.arange(6.0).reshape(3, 2)
    assert gather_rows(rows, 3, context) is rows
    with pytest.raises(ValueError, match="expected 4 rows"):
        gather_rows(rows, 4, context)
    assert parse_devices("0,1") == [0, 1] and parse_devices(None) == []
    with pytest.raises(ValueError, match="comma-separated"):
        parse_devices("gpu0")
    with pytest.raises(ValueError, match="distinct"):
        parse_devices("1,1")
    with pytest.raises(ValueError, match="nproc"):
        spawn(_worker, "", 0)
    assert shard_bounds(5, 1, 2) == (3, 5)
