"""Smoke tests of experiments/partition_sweep.py and experiments/scale.py on tiny inputs."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from tt_gnn.embedding import TTEmbedding

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _load_script(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sweep_module() -> ModuleType:
    return _load_script("partition_sweep")


@pytest.fixture(scope="module")
def scale_module() -> ModuleType:
    return _load_script("scale")


def _sweep_arguments(folder: Path, epochs: int = 1) -> list[str]:
    return [
        "--dataset",
        "synthetic",
        "--dataset-option",
        "num_nodes=240",
        "--dataset-option",
        "num_communities=8",
        "--ranks",
        "2",
        "--models",
        "sage",
        "--seeds",
        "0",
        "--reorders",
        "none,tt-metis",
        "--epochs",
        str(epochs),
        "--eval-every",
        "1",
        "--batch-size",
        "64",
        "--fanouts",
        "4",
        "--hidden",
        "8",
        "--dim",
        "8",
        "--store",
        str(folder / "cells"),
        "--output",
        str(folder / "sweep"),
    ]


def test_sweep_writes_report_and_rerun_recomputes_nothing(
    sweep_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"train": 0, "reorder": 0}
    real_train, real_reorder = sweep_module.train, sweep_module.reorder_graph

    def counting_train(*args, **kwargs):
        calls["train"] += 1
        return real_train(*args, **kwargs)

    def counting_reorder(*args, **kwargs):
        calls["reorder"] += 1
        return real_reorder(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "train", counting_train)
    monkeypatch.setattr(sweep_module, "reorder_graph", counting_reorder)
    arguments = _sweep_arguments(tmp_path)
    assert sweep_module.main(arguments) == 0
    # full + TT (none) + TT (tt-metis); only tt-metis needs a reordering computed.
    assert calls == {"train": 3, "reorder": 2}
    cells = sorted(p.name for p in (tmp_path / "cells").glob("*.json"))
    assert cells == ["sage_full_none_s0.json", "sage_r2_none_s0.json", "sage_r2_tt-metis_s0.json"]
    report = (tmp_path / "sweep.md").read_text()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((tmp_path / "cells" / "sage_r2_tt-metis_s0.json").read_text())
    assert f"{record['test']:.3f} (n=1)" in report

    # A re-run trains and reorders nothing and writes the same table.
    calls.update(train=0, reorder=0)
    assert sweep_module.main(arguments) == 0
    assert calls == {"train": 0, "reorder": 0}
    assert (tmp_path / "sweep.md").read_text() == report

    # After a "kill" that lost one cell, only that cell is trained; its reordering is cached.
    (tmp_path / "cells" / "sage_r2_tt-metis_s0.json").unlink()
    assert sweep_module.main(arguments) == 0
    assert calls == {"train": 1, "reorder": 0}


def test_sweep_refuses_cells_made_with_other_options(
    sweep_module: ModuleType, tmp_path: Path
) -> None:
    assert sweep_module.main(_sweep_arguments(tmp_path, epochs=1)) == 0
    with pytest.raises(ValueError, match="epochs"):
        sweep_module.main(_sweep_arguments(tmp_path, epochs=2))


def test_cached_permutation_is_the_reordering_with_its_leaf_cut(
    sweep_module: ModuleType, tmp_path: Path
) -> None:
    from tt_gnn.data import load_dataset

    dataset = load_dataset("synthetic", num_nodes=300, num_communities=10)
    p_shapes = (5, 6, 10)
    cache = sweep_module.PermutationCache(tmp_path, dataset, p_shapes, seed=0)
    permutation, info = cache.get("tt-metis")
    assert sorted(permutation.tolist()) == list(range(300))
    # Leaf cut recomputed by brute force from the edges and the permutation.
    inverse = np.empty(300, dtype=np.int64)
    inverse[permutation] = np.arange(300)
    src, dst = (t.numpy() for t in dataset.graph.edges())
    pairs = {(min(a, b), max(a, b)) for a, b in zip(src.tolist(), dst.tolist()) if a != b}
    cut = sum(inverse[a] // p_shapes[-1] != inverse[b] // p_shapes[-1] for a, b in pairs)
    assert info["leaf_cut_fraction"] == pytest.approx(cut / len(pairs))
    assert info["leaf_blocks"] == 30
    # A second cache over the same folder loads instead of recomputing.
    again = sweep_module.PermutationCache(tmp_path, dataset, p_shapes, seed=0)
    loaded, _ = again.get("tt-metis")
    assert again.computed == 0 and np.array_equal(loaded, permutation)
    # Without its .npy the permutation is recomputed, identically (seeded).
    (tmp_path / "tt-metis.npy").unlink()
    recomputed = sweep_module.PermutationCache(tmp_path, dataset, p_shapes, seed=0)
    assert np.array_equal(recomputed.get("tt-metis")[0], permutation) and recomputed.computed == 1
    with pytest.raises(ValueError, match="seed"):
        sweep_module.PermutationCache(tmp_path, dataset, p_shapes, seed=1).get("tt-metis")


def test_partition_counts_are_capped_by_part_size(sweep_module: ModuleType) -> None:
    assert sweep_module.partition_counts([256, 4, 16, 64, 1024], 2708, 8) == [4, 16, 64, 256]
    assert sweep_module.partition_counts([4, 16], 100, 8) == [4]
    with pytest.raises(ValueError, match="got 1"):
        sweep_module.partition_counts([1, 4], 100, 8)


def test_markdown_report_mean_and_sample_std(sweep_module: ModuleType) -> None:
    values = [0.5, 0.7, 0.66]
    info = {"leaf_cut_fraction": 0.25, "leaf_blocks": 3}
    records = [
        {
            "cell": {"model": "sage", "embedding": "tt", "rank": 4, "reorder": "none", "seed": s},
            "test": v,
            "metric": "accuracy",
            "compression_ratio": 10.0,
            "reorder_info": info,
        }
        for s, v in enumerate(values)
    ]
    report = sweep_module.markdown_report(records, ["none"], [4], ["sage"], "# header")
    expected = f"{statistics.fmean(values):.3f} ± {np.std(values, ddof=1):.3f} (n=3)"
    assert f"| TT rank 4 (10x) | {expected} |" in report
    assert "| leaf cut | 0.250 |" in report


def test_tt_parameter_count_matches_tt_embedding(scale_module: ModuleType) -> None:
    for p_shapes, q_shapes, rank in [((3, 4, 5), (2, 2, 2), 3), ((7, 9), (4, 2), 5)]:
        module = TTEmbedding(
            int(np.prod(p_shapes)),
            int(np.prod(q_shapes)),
            rank=rank,
            p_shapes=p_shapes,
            q_shapes=q_shapes,
            seed=0,
        )
        assert scale_module.tt_parameter_count(p_shapes, q_shapes, rank) == module.num_parameters()


def test_papers100m_compression_matches_published_with_true_row_count(
    scale_module: ModuleType,
) -> None:
    capacity = 480 * 500 * 500
    for rank, published in {8: 81_363, 16: 23_480, 32: 6_361, 64: 1_660}.items():
        assert abs(scale_module.papers100m_compression(rank) - published) < 1
        assert abs(scale_module.papers100m_compression(rank, capacity) - published) > 100


def test_clustered_ids_stay_in_windows(scale_module: ModuleType) -> None:
    generator = torch.Generator().manual_seed(0)
    ids = scale_module.make_ids("clustered", 5000, 96, 50, 16, generator)
    windows = ids.view(6, 16)
    assert ids.min() >= 0 and ids.max() < 5000
    assert bool((windows.amax(1) - windows.amin(1) < 50).all())
    with pytest.raises(ValueError, match="divide"):
        scale_module.make_ids("clustered", 5000, 96, 50, 10, generator)


def test_scale_script_writes_table(scale_module: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / "scale.md"
    arguments = [
        "--rows",
        "5000",
        "--ranks",
        "2",
        "--batch-size",
        "64",
        "--window",
        "100",
        "--per-window",
        "16",
        "--repeats",
        "1",
        "--output",
        str(output),
    ]
    assert scale_module.main(arguments) == 0
    text = output.read_text()
    assert "| 5,000 | 2 |" in text and "| clustered |" in text
    assert "| 8 | 174,720 | 174,720 | 81,362.6x |" in text


def _dry_run(script: str, tmp_path: Path, timeout: int) -> str:
    """Run ``experiments/<script> --dry-run`` with a cache and output in ``tmp_path``; the
    output file's text (the run must exit 0)."""
    import subprocess

    output = tmp_path / f"{Path(script).stem}.md"
    completed = subprocess.run(
        [sys.executable, str(EXPERIMENTS / script), "--dry-run",
         "--cache-dir", str(tmp_path / "cache"), "--output", str(output)],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-3000:]
    return output.read_text()


@pytest.mark.slow
def test_main_job_dry_run(tmp_path):
    """experiments/main_job.py --dry-run: every phase of both methods runs and is reported."""
    table = _dry_run("main_job.py", tmp_path, timeout=600)
    assert "| tt (Adam) |" in table and "| full (SparseAdam (sparse embedding) + Adam) |" in table
    assert "TT / full: step time" in table


@pytest.mark.slow
def test_gpu_check_dry_run(tmp_path):
    """experiments/gpu_check.py --dry-run: all four sections run on the CPU and pass."""
    report = _dry_run("gpu_check.py", tmp_path, timeout=900)
    for section in ("(a) kernels", "(b) lookup throughput", "(c) main job", "(d) accuracy"):
        assert f"## {section}" in report and "passed" in report
    assert "All sections passed." in report
    assert "Deterministic backward, two runs bit-identical: **True**" in report


def test_bench_dropout_runs_and_writes_its_table(tmp_path, capsys):
    module = _load_script("bench_dropout")
    output = tmp_path / "bench_dropout.md"
    threads = torch.get_num_threads()
    try:
        assert module.main(["--rows", "2000", "--dim", "8", "--repeats", "2", "--threads", "1",
                            "--output", str(output)]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    text = output.read_text()
    assert "| nn.Dropout |" in text and "| tt_gnn Dropout |" in text and "1.00x" in text


def test_bench_postprocess_dry_run_writes_its_table(tmp_path):
    """experiments/bench_postprocess.py --dry-run: times Correct and Smooth, writes its table."""
    header, _, row = (
        _dry_run("bench_postprocess.py", tmp_path, timeout=300).strip().splitlines()[-3:]
    )
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in (header, row)]
    values = dict(zip(*cells))
    assert values["nodes"] == "2,000" and int(values["spmm"]) == 2 * 50 * 5
    assert float(values["tune s"]) > 0
