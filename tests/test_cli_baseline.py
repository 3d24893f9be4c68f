"""``tt-gnn baseline`` and the trainer's --labels-per-class protocol."""

from __future__ import annotations

import json

import pytest
import torch

from tt_gnn.baselines import labels_per_class_split
from tt_gnn.cli import main
from tt_gnn.data import load_dataset
from tt_gnn.training import TrainConfig, prepare_data


def test_baseline_label_propagation_on_cora(shared_data, tmp_path, capsys):
    output = tmp_path / "lp.json"
    status = main(
        ["baseline", "--dataset", "cora", "--data-root", str(shared_data), "--output-json",
         str(output)]  # fmt: skip
    )
    assert status == 0
    result = json.loads(output.read_text())
    # Label propagation on cora's public split is far above chance (1/7) and near 0.7.
    assert 0.65 < result["test_accuracy"] < 0.75
    assert "test" in capsys.readouterr().out


def test_labels_per_class_split_reaches_the_trainer():
    config = TrainConfig(
        dataset="synthetic",
        dataset_options={"num_nodes": 3000, "num_classes": 4},
        labels_per_class=5,
        reorder="none",  # compare node ids with the unpermuted split below
        num_val=100,
        num_test=200,
        split_seed=3,
    )
    prepared = prepare_data(config)
    data = prepared.dataset
    assert data.train_idx.numel() == 20 and data.val_idx.numel() == 100
    assert data.test_idx.numel() == 200
    counts = torch.bincount(data.labels[data.train_idx], minlength=4)
    assert counts.tolist() == [5, 5, 5, 5]
    assert "5 labels per class" in data.split_description
    raw = load_dataset("synthetic", num_nodes=3000, num_classes=4)
    expected = labels_per_class_split(raw.labels, 5, 100, 200, seed=3)[0]
    assert torch.equal(torch.sort(data.train_idx).values, expected)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--labels-per-class", "0"], "labels_per_class must be a positive integer, got 0"),
        (["--labels-per-class", "2000"], "k=2000 training nodes per class, but"),
        (["--labels-per-class", "20", "--num-test", "100000"], "num_val + num_test"),
        (["--method", "magic"], "invalid choice: 'magic'"),
    ],
)
def test_baseline_bad_options(shared_data, argv, message, capsys):
    try:
        status = main(["baseline", "--dataset", "cora", "--data-root", str(shared_data), *argv])
    except SystemExit as exit_info:
        status = exit_info.code
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert message in error[-1] and "Traceback" not in "\n".join(error)


def test_random_split_flag_reaches_baseline_and_trainer(shared_data, tmp_path):
    """--random-split gives both commands the same seeded 60/20/20 split of cora."""
    import argparse

    from tt_gnn.cli.train import add_arguments, config_from_args

    output = tmp_path / "lp.json"
    status = main(
        ["baseline", "--dataset", "cora", "--data-root", str(shared_data), "--random-split",
         "--split-seed", "2", "--output-json", str(output)]  # fmt: skip
    )
    assert status == 0
    description = json.loads(output.read_text())["split_description"]
    assert description.startswith("random 60/20/20 split") and "seed 2" in description
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--dataset", "cora", "--random-split", "--split-seed", "2"])
    config = config_from_args(args)
    assert config.dataset_options == {"random_split": True}
    trained_split = load_dataset("cora", root=shared_data, split_seed=2, **config.dataset_options)
    assert trained_split.split_description == description
