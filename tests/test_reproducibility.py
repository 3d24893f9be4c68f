"""Seeds reproduce runs with the default settings (several threads), resumed runs included; and
``--deterministic`` gives bit-identical results across thread counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tt_gnn.training.checkpoint import checkpoint_path, load_checkpoint

pytestmark = pytest.mark.slow


def _train(arguments: list[str], threads: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    completed = subprocess.run(
        [sys.executable, "-m", "tt_gnn.cli", "train", *arguments],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed


def _common(shared_data: Path, folder: Path, name: str) -> list[str]:
    return ["--dataset", "cora", "--data-root", str(shared_data), "--no-progress", "--seed", "3",
            "--batch-size", "256", "--reorder", "tt-metis", "--checkpoint-dir", str(folder / name),
            "--output-json", str(folder / f"{name}.json")]  # fmt: skip


def _parameters(folder: Path, name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(checkpoint_path(folder / name))["model"]


def test_default_settings_resume_equals_an_uninterrupted_run(shared_data, tmp_path):
    _train([*_common(shared_data, tmp_path, "whole"), "--epochs", "3"], threads=2)
    _train([*_common(shared_data, tmp_path, "parts"), "--epochs", "2"], threads=2)
    _train([*_common(shared_data, tmp_path, "parts"), "--epochs", "3", "--resume"], threads=2)
    whole, parts = _parameters(tmp_path, "whole"), _parameters(tmp_path, "parts")
    for key, value in whole.items():
        assert torch.equal(value, parts[key]), key
    first = json.loads((tmp_path / "whole.json").read_text())
    second = json.loads((tmp_path / "parts.json").read_text())
    assert first["test_accuracy"] == second["test_accuracy"]


def test_deterministic_is_bit_identical_across_thread_counts(shared_data, tmp_path):
    for threads in (1, 2):
        name = f"threads{threads}"
        _train([*_common(shared_data, tmp_path, name), "--epochs", "2", "--deterministic"], threads)
    one, two = _parameters(tmp_path, "threads1"), _parameters(tmp_path, "threads2")
    for key, value in one.items():
        assert torch.equal(value, two[key]), key
