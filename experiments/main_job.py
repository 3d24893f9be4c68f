"""The main job, measured: training steps of the default TT pipeline vs the full table.

Question: what does a training step of GraphSAGE on a featureless graph cost end to end with a
TT embedding (the default pipeline: tt-metis order, ``TTEmbedding``) against the baseline users
run (a full ``nn.Embedding(sparse=True)`` + ``SparseAdam``), where does the time go, and how much
memory does each process need?

Graph: the seeded planted-partition synthetic graph (``tt_gnn.data.load_dataset("synthetic")``),
at ogbn-products size by default (2,449,029 nodes, average degree 51: ~62M directed edges);
model: GraphSAGE, 3 layers, hidden 256, fanouts 15,10,5, batch 1024, D = 128, TT rank 16 (the
published products setup, featureless). The graph is generated once, saved as ``.npy`` files in
``--cache-dir`` together with the tt-metis permutation, and every method then runs in a fresh
process that memory-maps them, so each process's peak RSS is its own training footprint (graph
arrays + model + optimizer state + step temporaries), not the generator's.

Peak RSS is reported three ways: the whole process (``peak RSS``), its set-up (loading the
graph, relabeling it, building and initializing the model: ``setup peak``) and the timed steps
alone (``steps peak``, ``VmHWM`` restarted after the set-up). The TT pipeline's set-up runs its
default initializer (the spectral init's eigen-solve); the full table's runs none that needs
the graph.

Each step is split into phases, timed with the device synchronized between them:
``sample`` (the backend's neighbour sampler), ``embedding forward``, ``gnn forward`` (layers and
loss), ``gnn backward`` (into the layers and the embedding output), ``embedding backward`` (from
the output's gradient into the table or the cores), ``optimizer``. The embedding's output is
detached between the two halves so that the two backward phases are measured apart; the
gradients are the same as one ``loss.backward()``. Epoch time is extrapolated from the median
step: ``ceil(train nodes / batch) x median step``.

Commands (results in ``experiments/results/main_job.md``)::

    python experiments/main_job.py --num-nodes 300000 --steps 40
    python experiments/main_job.py --num-nodes 2449029 --steps 20

``--dry-run`` runs every code path at a tiny size (CI runs it through the test suite).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METHODS = ("tt", "full")
PHASES = (
    "sample",
    "embedding forward",
    "gnn forward",
    "gnn backward",
    "embedding backward",
    "optimizer",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-nodes", type=int, default=2_449_029)
    parser.add_argument("--average-degree", type=float, default=51.0)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per method")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--fanouts", default="15,10,5")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--reorder", default="tt-metis", help="the TT run's node order")
    parser.add_argument(
        "--init", default=None, help="initializer (default: the trainer's, spectral for TT)"
    )
    parser.add_argument("--methods", default="tt,full")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/tt-gnn-main-job"))
    parser.add_argument("--output", type=Path, default=None, help="append the table here")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, every code path")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.num_nodes, args.average_degree = 3000, 10.0
        args.steps, args.warmup, args.batch_size = 2, 1, 64
        args.hidden, args.embedding_dim, args.rank = 16, 16, 4
    return args


def _cache(args: argparse.Namespace) -> Path:
    name = f"synthetic-{args.num_nodes}-{args.average_degree:g}"
    return args.cache_dir / name


def prepare_cache(args: argparse.Namespace) -> dict[str, float]:
    """Generate the graph and the TT permutation once; return their wall times."""
    from tt_gnn.data import load_dataset
    from tt_gnn.io import atomic_write, write_json
    from tt_gnn.shapes import choose_shapes

    folder = _cache(args)
    folder.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    if not (folder / "meta.json").exists():  # written last: its presence means complete
        started = time.perf_counter()
        dataset = load_dataset(
            "synthetic", num_nodes=args.num_nodes, average_degree=args.average_degree
        )
        for name, value in (
            ("indptr", dataset.graph.indptr),
            ("indices", dataset.graph.indices),
            ("labels", dataset.labels),
            ("train_idx", dataset.train_idx),
            ("val_idx", dataset.val_idx),
            ("test_idx", dataset.test_idx),
        ):
            with atomic_write(folder / f"{name}.npy") as stream:
                np.save(stream, value.numpy())
        write_json({"num_classes": dataset.num_classes}, folder / "meta.json")
        seconds["generate"] = time.perf_counter() - started
    order_file = folder / f"order-{args.reorder}.npy"
    if args.reorder != "none" and not order_file.exists():
        from tt_gnn.graph import Graph
        from tt_gnn.reorder import compute_order

        graph = Graph(
            torch.from_numpy(np.load(folder / "indptr.npy")),
            torch.from_numpy(np.load(folder / "indices.npy")),
        )
        shapes = choose_shapes(args.num_nodes, args.embedding_dim)
        started = time.perf_counter()
        report = compute_order(graph, shapes.p_shapes, method=args.reorder, seed=0)
        seconds["reorder"] = time.perf_counter() - started
        with atomic_write(order_file) as stream:
            np.save(stream, report.permutation)
    return seconds


def _load_dataset(args: argparse.Namespace) -> Any:
    from tt_gnn.datasets.base import NodeDataset
    from tt_gnn.graph import Graph

    folder = _cache(args)

    def array(name: str) -> torch.Tensor:
        # read, not memory-mapped and copied: a mapped file's pages would count twice in RSS
        return torch.from_numpy(np.load(folder / f"{name}.npy"))

    meta = json.loads((folder / "meta.json").read_text())
    return NodeDataset(
        name="synthetic",
        graph=Graph(array("indptr"), array("indices")),
        labels=array("labels"),
        num_classes=int(meta["num_classes"]),
        multilabel=False,
        train_idx=array("train_idx"),
        val_idx=array("val_idx"),
        test_idx=array("test_idx"),
        features=None,
        metric="accuracy",
        split_description="random 60/20/20 split, seed 0",
    )


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _PhaseClock:
    """``with clock(phase):`` adds the phase's wall time (device synchronized) when recording."""

    def __init__(self, device: torch.device, timings: dict[str, list[float]]) -> None:
        self.device, self.timings, self.recording = device, timings, False
        self.phase, self.started = "", 0.0

    def __call__(self, phase: str) -> _PhaseClock:
        self.phase = phase
        return self

    def __enter__(self) -> None:
        _synchronize(self.device)
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        _synchronize(self.device)
        if self.recording:
            self.timings[self.phase].append(time.perf_counter() - self.started)


def _edge_count(block: Any) -> int:
    edges = getattr(block, "num_edges", 0)
    return int(edges() if callable(edges) else edges)


def time_steps(args: argparse.Namespace, method: str) -> dict[str, Any]:
    """Build the ``method`` pipeline from the cache and time ``args.steps`` training steps."""
    from tt_gnn.training.config import TrainConfig
    from tt_gnn.training.optim import Optimizers
    from tt_gnn.training.pipeline import build_classifier, prepare_data

    device = torch.device(args.device)
    dataset = _load_dataset(args)
    permutation = None
    reorder = "none"
    if method == "tt" and args.reorder != "none":
        reorder = args.reorder
        permutation = torch.from_numpy(np.load(_cache(args) / f"order-{args.reorder}.npy"))
    config = TrainConfig(
        dataset="synthetic",
        embedding=method,
        embedding_dim=args.embedding_dim,
        rank=args.rank,
        reorder=reorder,
        init=args.init,
        hidden=args.hidden,
        fanouts=tuple(int(f) for f in args.fanouts.split(",")),
        batch_size=args.batch_size,
        device=str(device),
        verbose=False,
        progress=False,
    )
    prepared = prepare_data(config, dataset=dataset, permutation=permutation)
    del dataset  # the TT run's relabeled copy replaces it (as in the trainer)
    model, parameters, ratio = build_classifier(config, prepared)
    model = model.to(device)
    optimizer = Optimizers.for_model(model, lr=config.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    seeds = prepared.dataset.train_idx
    seeds = seeds[torch.randperm(seeds.shape[0], generator=generator)].to(device)
    batches = iter(
        prepared.backend.batches(
            prepared.graph, seeds, config.fanouts, config.batch_size, seed=config.seed
        )
    )
    labels = prepared.dataset.labels.to(device)
    setup_peak = peak_rss_bytes()
    reset_peak_rss()
    timings: dict[str, list[float]] = {phase: [] for phase in PHASES}
    sampled_edges: list[int] = []
    model.train()

    clock = _PhaseClock(device, timings)
    for step in range(args.warmup + args.steps):
        clock.recording = step >= args.warmup
        with clock("sample"):
            input_ids, output_ids, blocks = next(batches)
        with clock("embedding forward"):
            rows = model.node_input(input_ids)
        detached = rows.detach().requires_grad_(True)
        optimizer.zero_grad()
        with clock("gnn forward"):
            h = detached
            for index, block in enumerate(blocks):
                h = model.apply_layer(index, block, model.dropout(h))
            loss = torch.nn.functional.cross_entropy(h, labels[output_ids])
        with clock("gnn backward"):
            loss.backward()
        with clock("embedding backward"):
            rows.backward(detached.grad)
        with clock("optimizer"):
            optimizer.step()
        if clock.recording:
            sampled_edges.append(sum(_edge_count(block) for block in blocks))
    medians = {phase: statistics.median(values) for phase, values in timings.items()}
    step_seconds = sum(medians.values())
    steps_per_epoch = math.ceil(prepared.dataset.train_idx.shape[0] / args.batch_size)
    peak_gpu = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "method": method,
        "embedding_parameters": parameters,
        "compression_ratio": ratio,
        "optimizer": optimizer.name,
        "gnn_backend": prepared.backend.name,
        "medians": medians,
        "step_seconds": step_seconds,
        "steps_per_second": 1.0 / step_seconds,
        "steps_per_epoch": steps_per_epoch,
        "epoch_seconds_estimate": steps_per_epoch * step_seconds,
        "peak_rss_bytes": max(setup_peak, peak_rss_bytes()),
        "setup_peak_rss_bytes": setup_peak,
        "steps_peak_rss_bytes": peak_rss_bytes(),
        "init": config.init_used,
        "peak_gpu_bytes": peak_gpu,
        "sampled_edges_per_step": statistics.median(sampled_edges) if sampled_edges else 0,
        "threads": torch.get_num_threads(),
    }


def peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over ``fork`` + ``exec``, so a worker
    started by a parent that had just generated the graph would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Restart ``VmHWM`` from the current RSS (Linux ``clear_refs`` 5), so the next reading is
    the peak of what follows; a no-op where the file cannot be written."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run_worker(args: argparse.Namespace) -> None:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(json.dumps(time_steps(args, args.worker)))


def format_table(results: list[dict[str, Any]]) -> str:
    header = ["method", "init", "parameters", "step ms", "steps/s", "epoch (est.)"]
    header += ["peak RSS", "setup peak", "steps peak"]
    header += [f"{phase} %" for phase in PHASES]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        step = result["step_seconds"]
        cells = [
            f"{result['method']} ({result['optimizer']})",
            str(result["init"]),
            f"{result['embedding_parameters']:,}",
            f"{1000 * step:.0f}",
            f"{result['steps_per_second']:.2f}",
            f"{result['epoch_seconds_estimate'] / 60:.1f} min",
            f"{result['peak_rss_bytes'] / 2**30:.2f} GiB",
            f"{result['setup_peak_rss_bytes'] / 2**30:.2f} GiB",
            f"{result['steps_peak_rss_bytes'] / 2**30:.2f} GiB",
        ]
        cells += [f"{100 * result['medians'][phase] / step:.0f}" for phase in PHASES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"main_job.py: error: unknown method(s) {unknown}; expected {METHODS}")
    setup_seconds = prepare_cache(args)
    results = []
    passthrough = list(argv if argv is not None else sys.argv[1:])
    for method in methods:
        command = [sys.executable, __file__, *passthrough, "--worker", method]
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        if completed.returncode != 0:
            raise SystemExit(
                f"main_job.py: the {method} worker failed:\n{completed.stderr[-4000:]}"
            )
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    ratio_lines = []
    by_method = {r["method"]: r for r in results}
    if {"tt", "full"} <= set(by_method):
        tt, full = by_method["tt"], by_method["full"]
        ratio_lines.append(
            f"TT / full: step time {tt['step_seconds'] / full['step_seconds']:.2f}x, peak RSS "
            f"{tt['peak_rss_bytes'] / full['peak_rss_bytes']:.2f}x (during the steps "
            f"{tt['steps_peak_rss_bytes'] / full['steps_peak_rss_bytes']:.2f}x), parameters "
            f"{tt['embedding_parameters'] / full['embedding_parameters']:.5f}x"
        )
    text = "\n".join(
        [
            f"## {args.num_nodes:,} nodes, average degree {args.average_degree:g}"
            + (" (dry run)" if args.dry_run else ""),
            "",
            "Command: `python experiments/main_job.py "
            + " ".join(shlex.quote(a) for a in passthrough)
            + "`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"device {args.device}, {results[0]['threads'] if results else '?'} threads, "
            f"load average {os.getloadavg()[0]:.1f} at the end; setup (not timed in steps): "
            + ", ".join(f"{k} {v:.0f} s" for k, v in setup_seconds.items())
            + f". Medians over {args.steps} steps after {args.warmup} warm-up steps; SAGE "
            f"{len(args.fanouts.split(','))} layers, fanouts {args.fanouts}, batch "
            f"{args.batch_size}, hidden {args.hidden}, D {args.embedding_dim}, TT rank "
            f"{args.rank}, TT order {args.reorder}.",
            "",
            format_table(results),
            "",
            *ratio_lines,
            "",
        ]
    )
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("a") as stream:
            stream.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
