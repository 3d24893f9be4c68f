"""Tests for ``tt-gnn train`` and ``tt-gnn demo`` (run in-process through ``tt_gnn.cli.main``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tt_gnn.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--num-nodes", "400", "--embedding-dim", "16", "--hidden", "16", "--rank", "4",
         "--batch-size", "64", "--fanouts", "5,5", "--no-progress"]  # fmt: skip


def test_train_prints_epochs_and_writes_metrics(tmp_path, capsys):
    output = tmp_path / "out" / "metrics.json"
    status = main(["train", "--dataset", "synthetic", "--epochs", "2", "--reorder", "tt-metis",
                   "--output-json", str(output), *SMALL])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "epoch   1/2  loss" in printed and "epoch   2/2  loss" in printed
    assert "test accuracy" in printed and "embedding parameters" in printed
    metrics = json.loads(output.read_text())
    assert metrics["epochs"] == 2 and metrics["reorder"] == "tt-metis" and metrics["rank"] == 4
    assert f"embedding parameters {metrics['embedding_parameters']:,}" in printed
    assert f"compression {metrics['compression_ratio']:.1f}x" in printed
    assert metrics["compression_ratio"] == pytest.approx(400 * 16 / metrics["embedding_parameters"])
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["seconds"] > 0


def test_train_resume_continues_from_the_checkpoint(tmp_path, capsys):
    without_rank = [a for a in SMALL if a not in ("--rank", "4")]  # --rank is TT-only
    arguments = ["train", "--embedding", "full", "--checkpoint-dir", str(tmp_path), *without_rank]
    assert main([*arguments, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*arguments, "--epochs", "2", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "resumed from" in printed and "at epoch 1" in printed
    assert "epoch   1/2" not in printed and "epoch   2/2" in printed


def test_bad_options_fail_with_a_clear_message(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--reorder", "metis:1"])
    assert exit_info.value.code == 2
    assert "invalid reorder method 'metis:1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--fanouts", "10,zero"])
    assert "fanouts must be comma-separated ints" in capsys.readouterr().err
    assert main(["train", "--fanouts", "5,5", "--layers", "3"]) == 2
    assert "--layers 3 does not match --fanouts 5,5" in capsys.readouterr().err
    assert main(["train", "--rank", "0"]) == 2
    assert "rank must be an int >= 1, got 0" in capsys.readouterr().err


def test_bare_shared_name_resolves_to_shared_data(shared_data, tmp_path):
    output = tmp_path / "cora.json"
    status = main(["train", "--dataset", "cora", "--epochs", "1", "--embedding-dim", "16",
                   "--hidden", "16", "--no-progress", "--output-json", str(output)])  # fmt: skip
    assert status == 0
    metrics = json.loads(output.read_text())
    assert metrics["dataset"] == "cora" and metrics["num_nodes"] == 2708
    assert metrics["split_description"] == "Planetoid public split"


def test_demo_prints_the_side_by_side_table(capsys):
    status = main(["demo", "--num-nodes", "600", "--epochs", "1", "--embedding-dim", "16",
                   "--hidden", "16", "--rank", "4", "--no-progress"])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("embedding  ") :].splitlines()
    assert table[0].split()[:4] == ["embedding", "reorder", "test", "acc"]
    assert table[1].startswith("full (nn.Embedding)") and "9,600" in table[1]
    assert table[2].startswith("TT rank 4") and "tt-metis" in table[2]


@pytest.mark.slow
def test_train_nproc_2_through_the_console_entry_point(tmp_path):
    output = tmp_path / "ddp.json"
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "tt_gnn.cli", "train", "--epochs", "1", "--nproc", "2",
         "--output-json", str(output), *SMALL],
        capture_output=True, text=True, env=environment, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads(output.read_text())
    assert metrics["world_size"] == 2 and metrics["epochs"] == 1
    assert completed.stdout.count("epoch   1/1") == 1, "only rank 0 prints"


def test_unknown_dataset_is_one_line_error_with_status_2(capsys):
    from tt_gnn.cli import main

    assert main(["train", "--dataset", "no-such-dataset", "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "tt-gnn train: error:" in error and "no-such-dataset" in error
    assert "Traceback" not in error
