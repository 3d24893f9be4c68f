"""Accuracy of featureless GraphSAGE/GAT with full vs TT node embeddings on shared graphs.

Grid: datasets x models x (full | TT rank r x reorder x init) x seeds. Each run writes one JSON
file (the trainer's metrics) under ``--runs-dir``; a run whose file exists is skipped, and a run
being computed holds a lock file (created with ``O_EXCL``), so the script can be stopped and
restarted, and several copies can work on the same grid at once. A run's output goes to a
``.log`` file beside its JSON, deleted when the run succeeds. ``--report`` aggregates every
finished run into a markdown table (mean and standard deviation over seeds).

Usage (the grid is ordered by priority; stop whenever)::

    python experiments/accuracy.py --datasets cora,pubmed --models sage --workers 2
    python experiments/accuracy.py --report experiments/results/accuracy_featureless.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS_DIR = PROJECT_ROOT / "experiments" / "results" / "accuracy_runs"
STALE_LOCK_SECONDS = 3 * 3600

# Featureless training settings per dataset: the Planetoid public splits (cora, pubmed) have
# 20 labeled nodes per class, so they need small batches and many epochs; the random 60/20/20
# splits of the larger graphs need few epochs of large batches.
DATASET_SETTINGS: dict[str, dict[str, object]] = {
    "cora": {"batch_size": 64, "epochs": 200, "eval_every": 1, "patience": 30},
    "pubmed": {"batch_size": 16, "epochs": 150, "eval_every": 3, "patience": 10},
    "facebook_pagepage": {"batch_size": 1024, "epochs": 30, "eval_every": 1, "patience": 5},
    "dblp_prone": {"batch_size": 1024, "epochs": 20, "eval_every": 2, "patience": 4},
}
COMMON_SETTINGS: dict[str, object] = {
    "lr": 0.03,
    "embedding_dim": 128,
    "hidden": 128,
    "fanouts": [10, 10],
    "dropout": 0.5,
    "heads": 4,
}


@dataclass(frozen=True)
class Job:
    """One training run of the grid."""

    dataset: str
    model: str
    embedding: str
    rank: int
    reorder: str
    init: str
    seed: int

    @property
    def label(self) -> str:
        if self.embedding == "full":
            return "full"
        return f"tt-r{self.rank}-{self.reorder.replace(':', '')}-{self.init}"

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.model}/{self.label}-seed{self.seed}"


def metis_parts(dataset: str, rank_shapes_dim: int = 128) -> int:
    """``k`` for ``metis:<k>``: as many flat METIS parts as tt-metis has leaf blocks."""
    import numpy as np

    from tt_gnn.shapes import choose_shapes

    num_nodes = int(
        np.load(PROJECT_ROOT.parent / "shared" / "data" / dataset / "graph.npz")["num_nodes"]
    )
    shapes = choose_shapes(num_nodes, rank_shapes_dim)
    return math.ceil(num_nodes / shapes.p_shapes[-1])


def build_grid(args: argparse.Namespace) -> list[Job]:
    """Jobs in priority order: dataset, model, seed, then full, rank, reorder, init."""
    jobs = []
    for dataset, model in itertools.product(args.datasets, args.models):
        reorders = [
            f"metis:{metis_parts(dataset)}" if reorder == "metis" else reorder
            for reorder in args.reorders
        ]
        for seed in args.seeds:
            jobs.append(Job(dataset, model, "full", 0, "none", "-", seed))
            for init, rank, reorder in itertools.product(args.inits, args.ranks, reorders):
                jobs.append(Job(dataset, model, "tt", rank, reorder, init, seed))
    return jobs


def result_path(runs_dir: Path, job: Job) -> Path:
    return runs_dir / f"{job.name}.json"


def try_lock(path: Path) -> bool:
    """Create ``path`` exclusively; a lock older than STALE_LOCK_SECONDS is taken over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        if time.time() - path.stat().st_mtime > STALE_LOCK_SECONDS:
            path.unlink(missing_ok=True)
            return try_lock(path)
        return False


def command_for(job: Job, output: Path, threads: int) -> list[str]:
    settings = {**COMMON_SETTINGS, **DATASET_SETTINGS[job.dataset]}
    command = [
        sys.executable, "-m", "tt_gnn.cli", "train",
        "--dataset", job.dataset, "--model", job.model, "--embedding", job.embedding,
        "--reorder", job.reorder, "--seed", str(job.seed), "--output-json", str(output),
        "--no-progress",
    ]  # fmt: skip
    if job.embedding == "tt":
        command += ["--rank", str(job.rank), "--init", job.init]
    for key, value in settings.items():
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        command += [f"--{key.replace('_', '-')}", text]
    return command


def run_jobs(jobs: list[Job], runs_dir: Path, workers: int, threads: int) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    running: list[tuple[Job, subprocess.Popen, Path, float]] = []
    pending = list(jobs)
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop(0)
            output = result_path(runs_dir, job)
            lock = output.with_suffix(".lock")
            if output.exists() or not try_lock(lock):
                continue
            with output.with_suffix(".log").open("w") as log:
                process = subprocess.Popen(
                    command_for(job, output, threads), env=environment, stdout=log, stderr=log,
                    cwd=PROJECT_ROOT,
                )  # fmt: skip
            running.append((job, process, lock, time.time()))
        for entry in list(running):
            job, process, lock, started = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            lock.unlink(missing_ok=True)
            log_path = result_path(runs_dir, job).with_suffix(".log")
            if process.returncode == 0:
                status = "ok"
                log_path.unlink(missing_ok=True)
            else:
                status = f"FAILED ({process.returncode}), see {log_path}"
            print(f"{job.name}: {status} in {time.time() - started:.0f} s", flush=True)
        time.sleep(0.5)


def load_runs(runs_dir: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(runs_dir.rglob("*.json"))]


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def report(runs: list[dict], command: str) -> str:
    """Markdown: one table per dataset and model, and the 10x-compression target check."""
    groups: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["embedding"] == "full":
            label = "full"
        else:
            label = f"TT r{run['rank']}, {run['reorder']}, {run['init']}"
        groups[(run["dataset"], run["model"])][label].append(run)
    lines = [
        "# Featureless node classification: full vs TT embeddings",
        "",
        "Produced by (rerun to resume; the raw per-run JSON files are in "
        "`experiments/results/accuracy_runs/`):",
        "",
        "```",
        command,
        "```",
        "",
        "Test accuracy at the best validation epoch, mean ± std over the seeds that ran (n). "
        "Embedding dim 128, 2 layers, hidden 128, fanouts 10,10, Adam lr 0.03, dropout 0.5; "
        "per-dataset batch/epochs/early stopping in `DATASET_SETTINGS` of the script. "
        "`metis:k` uses k = the number of tt-metis leaf blocks. Runs shared 2 CPU cores with "
        "other jobs, so seconds are wall times under load.",
        "",
    ]
    summary = ["## Target: best TT config at >= 10x compression vs full", "",
               "| dataset | model | full | best TT (>= 10x) | its test acc | compression | "
               "matches or beats full |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (dataset, model), by_label in sorted(groups.items()):
        lines += [
            f"## {dataset}, {model}",
            "",
            "| embedding | n | test acc | val acc | embedding params | compression | seconds |",
            "|---|---|---|---|---|---|---|",
        ]

        def sort_key(label: str) -> tuple:
            return (label != "full", label)

        for label in sorted(by_label, key=sort_key):
            members = by_label[label]
            lines.append(
                f"| {label} | {len(members)} | "
                f"{_mean_std([m['test_accuracy'] for m in members])} | "
                f"{_mean_std([m['val_accuracy'] for m in members])} | "
                f"{members[0]['embedding_parameters']:,} | "
                f"{members[0]['compression_ratio']:.1f}x | "
                f"{statistics.mean(m['seconds'] for m in members):.0f} |"
            )
        lines.append("")
        full = by_label.get("full", [])
        candidates = [
            (statistics.mean(m["val_accuracy"] for m in members), label, members)
            for label, members in by_label.items()
            if label != "full" and members[0]["compression_ratio"] >= 10
        ]
        if full and candidates:
            _, label, members = max(candidates)
            full_test = statistics.mean(m["test_accuracy"] for m in full)
            tt_test = statistics.mean(m["test_accuracy"] for m in members)
            verdict = "yes" if tt_test >= full_test else "no"
            summary.append(
                f"| {dataset} | {model} | {full_test:.4f} (n={len(full)}) | {label} "
                f"(chosen by val) | {tt_test:.4f} (n={len(members)}) | "
                f"{members[0]['compression_ratio']:.0f}x | {verdict} |"
            )
    return "\n".join(lines + summary) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="cora,pubmed,facebook_pagepage,dblp_prone")
    parser.add_argument("--models", default="sage,gat")
    parser.add_argument("--ranks", default="8,16,32")
    parser.add_argument("--reorders", default="none,metis,tt-metis")
    parser.add_argument("--inits", default="gaussian,ortho,spectral")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=1, help="concurrent runs")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR)
    parser.add_argument("--report", type=Path, help="write the markdown summary there and exit")
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")
    args = parser.parse_args()
    if args.report is not None:
        text = report(load_runs(args.runs_dir), " ".join(["python", *sys.argv]))
        args.report.write_text(text)
        print(text)
        return
    for key in ("datasets", "models", "reorders", "inits"):
        setattr(args, key, [part for part in getattr(args, key).split(",") if part])
    args.ranks = [int(part) for part in args.ranks.split(",")]
    args.seeds = [int(part) for part in args.seeds.split(",")]
    jobs = build_grid(args)
    if args.list:
        print("\n".join(job.name for job in jobs))
        return
    run_jobs(jobs, args.runs_dir, args.workers, args.threads)


if __name__ == "__main__":
    main()
