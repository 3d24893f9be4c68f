"""tt-gnn without DGL: an empty ``dgl`` package that raises ImportError goes first on the path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def no_dgl_env(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "blocker" / "dgl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("dgl is blocked for this test")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "blocker"), env.get("PYTHONPATH", "")])
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_help_imports_neither_torch_nor_dgl(no_dgl_env):
    code = (
        "import sys; from tt_gnn.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'dgl', 'torch_geometric', 'numpy') if m in sys.modules))"
    )
    completed = _run(["-c", code], no_dgl_env)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
    completed = _run(["-m", "tt_gnn.cli", "--help"], no_dgl_env)
    assert completed.returncode == 0 and "train" in completed.stdout


def test_training_runs_without_dgl(shared_data, no_dgl_env, tmp_path):
    output = tmp_path / "metrics.json"
    completed = _run(
        ["-m", "tt_gnn.cli", "train", "--dataset", "cora", "--data-root", str(shared_data),
         "--epochs", "2", "--no-progress", "--reorder", "tt-metis", "--output-json", str(output)],
        no_dgl_env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads(output.read_text())
    assert metrics["gnn_backend"] == "torch" and metrics["epochs"] == 2
    completed = _run(
        ["-m", "tt_gnn.cli", "train", "--dataset", "cora", "--data-root", str(shared_data),
         "--epochs", "1", "--gnn", "dgl"],
        no_dgl_env,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "graph backend 'dgl' is not installed" in completed.stderr
    assert "Traceback" not in completed.stderr
