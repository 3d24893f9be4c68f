"""Shared test fixtures and options.

- ``--runslow`` runs tests marked ``@pytest.mark.slow`` (CI passes it).
- Without a CUDA device, Triton kernels run through Triton's CPU interpreter
  (``TRITON_INTERPRET=1``), set here before any test module imports Triton.
- Torch runs one intra-op thread in tests.
- Hypothesis is derandomized (a fixed set of examples every run).
- ``shared_data`` is ``../shared/data`` beside the project root; tests using it skip with a
  reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

# Property tests draw the same examples every run: a failure reproduces, and no run is flaky.
settings.register_profile("tt-gnn", derandomize=True)
settings.load_profile("tt-gnn")

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Tests use small tensors: one intra-op thread avoids OpenMP spin-waiting, which costs orders of
# magnitude when the cores are shared (e.g. with the DDP tests' worker processes).
torch.set_num_threads(1)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fixed_seed() -> None:
    torch.manual_seed(0)
