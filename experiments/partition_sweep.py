"""Accuracy of TT embeddings by node reordering, TT rank, model and seed, plus a full-table level.

The sweep: reordering in ``none``, ``random``, ``metis:<k>`` (k from ``--parts``, keeping only
``k <= N / --min-part-size``) and ``tt-metis``, times ``--ranks`` times ``--models`` times
``--seeds``; and ``nn.Embedding`` ("full") per model and seed as the reference level.

- Each reordering is computed once (seed ``--reorder-seed``, on the TT row shape the runs use)
  and cached in the store as ``permutations/<spec>.npy`` with its leaf edge cut; every cell
  that needs it relabels the dataset with it. The training seeds vary the model
  initialization, neighbor sampling and dropout, not the reordering.
- Every finished cell is one JSON file in the store (written atomically); a re-run skips
  cells whose file exists, so a killed sweep resumes where it stopped. A stored cell made with
  different training options is an error, not silently mixed in.
- ``--report-only`` writes the table and plot from the store without training.

Outputs: ``<output>.md`` (one table of test accuracy mean +- sample std per model: rows = TT
rank and full, columns = reorderings; the exact options and command) and ``<output>.png``
(test accuracy vs METIS parts, log x, original order at x = 1, one line per rank, random and
tt-metis as markers, the full-embedding mean as a dashed horizontal line).

Example::

    .venv/bin/python experiments/partition_sweep.py --dataset cora --ranks 8,16,32 \\
        --models sage,gat --seeds 0,1 --parts 4,16,64,256 --epochs 30
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tt_gnn.data import load_dataset
from tt_gnn.io import atomic_write, write_json
from tt_gnn.options import parse_reorder
from tt_gnn.reorder import reorder_graph
from tt_gnn.shapes import choose_shapes
from tt_gnn.training import TrainConfig, apply_permutation, train

RESULTS = Path(__file__).resolve().parent / "results"
FULL = "full"
# TrainConfig fields that every cell of one store must share.
_SHARED_OPTIONS = (
    "dataset",
    "data_root",
    "split",
    "split_seed",
    "embedding_dim",
    "num_cores",
    "p_shapes",
    "q_shapes",
    "init",
    "epochs",
    "patience",
    "eval_every",
    "batch_size",
    "fanouts",
    "lr",
    "weight_decay",
    "hidden",
    "heads",
    "dropout",
    "dataset_options",
)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training run of the sweep.

    Attributes:
        model: ``"sage"`` or ``"gat"``.
        embedding: ``"tt"`` or ``"full"``.
        rank: TT rank (0 for the full table).
        reorder: ``"none"``, ``"random"``, ``"metis:<k>"`` or ``"tt-metis"``.
        seed: training seed.
    """

    model: str
    embedding: str
    rank: int
    reorder: str
    seed: int

    @property
    def file_name(self) -> str:
        rank = f"r{self.rank}" if self.embedding == "tt" else FULL
        return f"{self.model}_{rank}_{self.reorder.replace(':', '')}_s{self.seed}.json"


def int_list(text: str) -> list[int]:
    """``"4,16"`` -> ``[4, 16]`` (for argparse)."""
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def name_list(text: str) -> list[str]:
    """``"sage,gat"`` -> ``["sage", "gat"]`` (for argparse)."""
    names = [part for part in text.split(",") if part]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def dataset_option(text: str) -> tuple[str, Any]:
    """``"num_nodes=500"`` -> ``("num_nodes", 500)``; values are parsed as JSON when possible."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def partition_counts(parts: Sequence[int], num_nodes: int, min_part_size: int) -> list[int]:
    """The METIS part counts of ``parts`` with ``2 <= k <= num_nodes // min_part_size``.

    Example:
        >>> partition_counts([4, 16, 64, 256, 1024], 2708, 8)
        [4, 16, 64, 256]
    """
    if min_part_size < 1:
        raise ValueError(f"min_part_size must be >= 1, got {min_part_size}")
    for k in parts:
        if k < 2:
            raise ValueError(f"METIS part counts must be >= 2, got {k}")
    return sorted({k for k in parts if k <= num_nodes // min_part_size})


def plan_cells(
    reorders: Sequence[str], ranks: Sequence[int], models: Sequence[str], seeds: Sequence[int]
) -> list[Cell]:
    """All cells, seed-major (a killed sweep leaves whole seeds done), full table first."""
    cells = []
    for seed in seeds:
        for model in models:
            cells.append(Cell(model, FULL, 0, "none", seed))
            for reorder in reorders:
                for rank in ranks:
                    cells.append(Cell(model, "tt", rank, reorder, seed))
    return cells


def _atomic_save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_write(path) as stream:
        np.save(stream, array)


class PermutationCache:
    """Reorderings of one dataset, computed on first use and kept in ``folder``.

    ``get(spec)`` returns ``(permutation [N] int64 or None, info dict)``; ``computed`` counts the
    reorderings actually computed by this object (0 on a resumed run whose files exist). A
    permutation whose ``.npy`` is missing (the results commit keeps only the ``.json`` info) is
    recomputed; the reordering is deterministic for its seed.
    """

    def __init__(self, folder: Path, dataset: Any, p_shapes: Sequence[int], seed: int) -> None:
        self.folder = folder
        self.dataset = dataset
        self.p_shapes = tuple(p_shapes)
        self.seed = seed
        self.computed = 0
        self._memory: dict[str, tuple[np.ndarray | None, dict[str, Any]]] = {}

    def get(self, spec: str) -> tuple[np.ndarray | None, dict[str, Any]]:
        if spec not in self._memory:
            self._memory[spec] = self._load(spec) or self._compute(spec)
        return self._memory[spec]

    def _paths(self, spec: str) -> tuple[Path, Path]:
        stem = spec.replace(":", "")
        return self.folder / f"{stem}.npy", self.folder / f"{stem}.json"

    def _load(self, spec: str) -> tuple[np.ndarray | None, dict[str, Any]] | None:
        array_path, info_path = self._paths(spec)
        info = json.loads(info_path.read_text()) if info_path.is_file() else None
        if info is None or (info["has_permutation"] and not array_path.is_file()):
            return None
        if info["p_shapes"] != list(self.p_shapes) or info["seed"] != self.seed:
            raise ValueError(
                f"{info_path} was computed for p_shapes {info['p_shapes']}, seed {info['seed']}; "
                f"this sweep uses {list(self.p_shapes)}, seed {self.seed}: use another --store"
            )
        permutation = np.load(array_path) if info["has_permutation"] else None
        return permutation, info

    def _compute(self, spec: str) -> tuple[np.ndarray | None, dict[str, Any]]:
        method, num_parts = parse_reorder(spec)
        labels = None if self.dataset.multilabel else self.dataset.labels.numpy()
        _, report = reorder_graph(
            self.dataset.graph,
            self.p_shapes,
            method=method,
            num_parts=num_parts,
            seed=self.seed,
            labels=labels,
        )
        self.computed += 1
        info = {
            "spec": spec,
            "p_shapes": list(self.p_shapes),
            "seed": self.seed,
            "seconds": report.seconds,
            "leaf_cut_fraction": report.levels[-1].cut_fraction,
            "leaf_blocks": report.levels[-1].num_blocks,
            "parts": num_parts if method == "metis" else None,
            "has_permutation": method != "none",
        }
        permutation = np.asarray(report.permutation, dtype=np.int64) if method != "none" else None
        self.folder.mkdir(parents=True, exist_ok=True)
        array_path, info_path = self._paths(spec)
        if permutation is not None:
            _atomic_save_npy(permutation, array_path)
        write_json(info, info_path)
        return permutation, info


def _cell_config(base: TrainConfig, cell: Cell) -> TrainConfig:
    # The dataset handed to train() is already relabeled, hence reorder="none" here.
    return dataclasses.replace(
        base,
        model=cell.model,
        embedding=cell.embedding,
        rank=max(cell.rank, 1),
        reorder="none",
        seed=cell.seed,
    )


def _shared_options(config: TrainConfig) -> dict[str, Any]:
    values = config.to_dict()
    return {key: values[key] for key in _SHARED_OPTIONS}


def load_cell(path: Path, options: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of a cell, or None; raises if it was made with other options."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record["options"] != options:
        differences = sorted(key for key in options if record["options"].get(key) != options[key])
        raise ValueError(
            f"{path} was trained with other options ({', '.join(differences)} differ); "
            "use another --store or delete it"
        )
    return record


def run_cell(
    cell: Cell, base: TrainConfig, dataset: Any, permutations: PermutationCache
) -> dict[str, Any]:
    """Train one cell and return its record (options, cell, scores, timing)."""
    permutation, info = permutations.get(cell.reorder)
    data = (
        dataset
        if permutation is None
        else apply_permutation(dataset, torch.from_numpy(permutation))
    )
    config = _cell_config(base, cell)
    started_cpu = time.process_time()
    metrics = train(config, dataset=data).metrics
    metric = metrics["metric"]
    return {
        "cell": dataclasses.asdict(cell),
        "options": _shared_options(base),
        "metric": metric,
        "test": metrics[f"test_{metric}"],
        "val": metrics[f"val_{metric}"],
        "best_epoch": metrics["best_epoch"],
        "epochs_run": metrics["epochs"],
        "seconds": metrics["seconds"],
        "cpu_seconds": time.process_time() - started_cpu,
        "threads": torch.get_num_threads(),
        "embedding_parameters": metrics["embedding_parameters"],
        "compression_ratio": metrics["compression_ratio"],
        "tt_ranks": metrics.get("tt_ranks"),
        "reorder_info": info,
    }


def sweep(
    cells: Sequence[Cell],
    base: TrainConfig,
    store: Path,
    *,
    dataset: Any,
    p_shapes: Sequence[int],
    reorder_seed: int,
    log=print,
) -> tuple[list[dict[str, Any]], int, int]:
    """Run the cells not yet in ``store``; returns ``(records, cells trained, reorders made)``."""
    store.mkdir(parents=True, exist_ok=True)
    options = _shared_options(base)
    permutations = PermutationCache(store / "permutations", dataset, p_shapes, reorder_seed)
    records, trained = [], 0
    for index, cell in enumerate(cells, 1):
        path = store / cell.file_name
        record = load_cell(path, options)
        if record is None:
            record = run_cell(cell, base, dataset, permutations)
            write_json(record, path)
            trained += 1
            log(
                f"[{index}/{len(cells)}] {cell.model} {cell.embedding} rank {cell.rank} "
                f"{cell.reorder} seed {cell.seed}: test {record['test']:.4f} "
                f"({record['seconds']:.1f}s)"
            )
        records.append(record)
    return records, trained, permutations.computed


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else math.nan


def _format_score(values: Sequence[float]) -> str:
    if not values:
        return "-"
    mean, std = _mean_std(values)
    spread = f" ± {std:.3f}" if not math.isnan(std) else ""
    return f"{mean:.3f}{spread} (n={len(values)})"


def _scores(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str, int, str], list[float]]:
    scores: dict[tuple[str, str, int, str], list[float]] = {}
    for record in records:
        cell = record["cell"]
        key = (cell["model"], cell["embedding"], cell["rank"], cell["reorder"])
        scores.setdefault(key, []).append(record["test"])
    return scores


def markdown_report(
    records: Sequence[dict[str, Any]],
    reorders: Sequence[str],
    ranks: Sequence[int],
    models: Sequence[str],
    header: str,
) -> str:
    """Tables of test score mean ± sample std (n = seeds) per model; rows rank/full."""
    scores = _scores(records)
    info = {
        r["cell"]["reorder"]: r["reorder_info"] for r in records if r["cell"]["embedding"] == "tt"
    }
    compression = {
        r["cell"]["rank"]: r["compression_ratio"] for r in records if r["cell"]["embedding"] == "tt"
    }
    metric = records[0]["metric"] if records else "accuracy"
    lines = [header, ""]
    columns = " | ".join(reorders)
    for model in models:
        lines += [
            f"### {model}: test {metric}",
            "",
            f"| embedding | {columns} |",
            "|---" * (len(reorders) + 1) + "|",
        ]
        full = _format_score(scores.get((model, FULL, 0, "none"), []))
        lines.append(f"| full (nn.Embedding) | {full} |" + " |" * (len(reorders) - 1))
        for rank in ranks:
            ratio = compression.get(rank)
            label = f"TT rank {rank}" + (f" ({ratio:,.0f}x)" if ratio else "")
            row = [_format_score(scores.get((model, "tt", rank, spec), [])) for spec in reorders]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        lines.append("")
    cut_row = [
        f"{info[spec]['leaf_cut_fraction']:.3f}" if spec in info else "-" for spec in reorders
    ]
    lines += [
        "Fraction of edges cut by the TT leaf blocks (p_d consecutive ids) of each ordering:",
        "",
        f"| | {columns} |",
        "|---" * (len(reorders) + 1) + "|",
        "| leaf cut | " + " | ".join(cut_row) + " |",
        "",
    ]
    return "\n".join(lines)


def plot_report(
    records: Sequence[dict[str, Any]],
    ranks: Sequence[int],
    models: Sequence[str],
    path: Path,
    title: str,
) -> None:
    """Test score vs METIS parts (log x; original order at 1), one line per rank, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = _scores(records)
    leaf_blocks = next(
        (r["reorder_info"]["leaf_blocks"] for r in records if r["cell"]["reorder"] == "tt-metis"),
        None,
    )
    figure, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, model in zip(axes[0], models):
        for index, rank in enumerate(ranks):
            color = colors[index % len(colors)]
            points = []
            for (m, kind, r, spec), values in scores.items():
                if m != model or kind != "tt" or r != rank:
                    continue
                method, parts = parse_reorder(spec)
                if method in ("none", "metis"):
                    points.append((1 if method == "none" else parts, *_mean_std(values)))
            points.sort()
            if points:
                x, mean, std = zip(*points)
                axis.errorbar(
                    x,
                    mean,
                    yerr=np.nan_to_num(std),
                    color=color,
                    marker="o",
                    capsize=3,
                    label=f"TT rank {rank}",
                )
            for spec, marker, x in (("random", "x", 1), ("tt-metis", "*", leaf_blocks)):
                values = scores.get((model, "tt", rank, spec))
                if values and x is not None:
                    mean, std = _mean_std(values)
                    axis.errorbar(
                        [x],
                        [mean],
                        yerr=[np.nan_to_num(std)],
                        color=color,
                        marker=marker,
                        markersize=10,
                        linestyle="none",
                        capsize=3,
                    )
        full = scores.get((model, FULL, 0, "none"))
        if full:
            axis.axhline(
                statistics.fmean(full), color="black", linestyle="--", label="full embedding"
            )
        axis.plot([], [], "kx", linestyle="none", label="random order (at x=1)")
        if leaf_blocks is not None:
            axis.plot([], [], "k*", linestyle="none", label=f"tt-metis ({leaf_blocks} leaves)")
        axis.set_xscale("log")
        axis.set_xlabel("METIS parts (1 = original order)")
        axis.set_ylabel(f"test {records[0]['metric'] if records else 'accuracy'}")
        axis.set_title(f"{title}, {model}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    try:
        with atomic_write(path) as stream:
            figure.savefig(stream, dpi=110, format="png")
    finally:
        plt.close(figure)


def _header(
    args: argparse.Namespace,
    base: TrainConfig,
    dataset: Any,
    shapes: Any,
    records: Sequence[dict[str, Any]],
    argv: Sequence[str],
) -> str:
    seconds = sum(r["seconds"] for r in records)
    threads = sorted({r["threads"] for r in records})
    return "\n".join(
        [
            f"# Partition sweep: {dataset.name}",
            "",
            f"{dataset.num_nodes:,} nodes, {dataset.graph.num_edges():,} directed edges, "
            f"{dataset.num_classes} classes, {dataset.split_description}; no node features "
            f"(learned embeddings only).",
            "",
            f"Training per cell: {base.epochs} epochs (no early stopping: patience "
            f"{base.patience}), evaluation every {base.eval_every} epochs; the reported test score "
            f"is the one at the best validation evaluation. Batch {base.batch_size}, fanouts "
            f"{list(base.fanouts)}, Adam lr {base.lr}, hidden {base.hidden}, "
            f"GAT heads {base.heads}, "
            f"dropout {base.dropout}, D = {base.embedding_dim}, TT p = {shapes.p_shapes}, "
            f"q = {shapes.q_shapes}, init {base.init}. Seeds {args.seeds} (model init, sampling, "
            f"dropout); every reordering computed once with seed {args.reorder_seed}. "
            f"METIS part counts kept: k <= N / {args.min_part_size}.",
            "",
            f"{len(records)} cells, {seconds / 60:.1f} min of training in total, torch threads "
            f"{threads}, on a shared 2-core CPU. Mean ± sample std over seeds (n = seeds).",
            "",
            "Command:",
            "",
            "```",
            " ".join(
                shlex.quote(part) for part in ["python", "experiments/partition_sweep.py", *argv]
            ),
            "```",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--dataset-option",
        type=dataset_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="load_dataset option, e.g. num_nodes=500",
    )
    parser.add_argument("--ranks", type=int_list, default=[8, 16, 32])
    parser.add_argument("--models", type=name_list, default=["sage", "gat"])
    parser.add_argument("--seeds", type=int_list, default=[0, 1])
    parser.add_argument("--parts", type=int_list, default=[4, 16, 64, 256, 1024, 4096])
    parser.add_argument(
        "--min-part-size",
        type=int,
        default=8,
        help="keep METIS part counts k <= N / this (default 8)",
    )
    parser.add_argument(
        "--reorders",
        type=name_list,
        default=["none", "random", "metis", "tt-metis"],
        help="which of none, random, metis, tt-metis to sweep",
    )
    parser.add_argument("--reorder-seed", type=int, default=0)
    parser.add_argument("--num-cores", type=int, default=3)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fanouts", type=int_list, default=[10, 10])
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="folder of per-cell JSON (default results/partition_sweep_<dataset>_cells)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="report path without suffix (default results/partition_sweep_<dataset>)",
    )
    parser.add_argument("--report-only", action="store_true", help="no training: write the report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    options = dict(args.dataset_option)
    dataset = load_dataset(args.dataset, root=args.data_root, **options)
    shapes = choose_shapes(dataset.num_nodes, args.dim, args.num_cores)
    unknown = set(args.reorders) - {"none", "random", "metis", "tt-metis"}
    if unknown:
        raise ValueError(f"--reorders takes none, random, metis, tt-metis; got {sorted(unknown)}")
    counts = partition_counts(args.parts, dataset.num_nodes, args.min_part_size)
    reorders = [spec for spec in ("none", "random") if spec in args.reorders]
    if "metis" in args.reorders:
        reorders += [f"metis:{k}" for k in counts]
    if "tt-metis" in args.reorders:
        reorders.append("tt-metis")
    base = TrainConfig(
        dataset=args.dataset,
        data_root=args.data_root,
        embedding_dim=args.dim,
        num_cores=args.num_cores,
        p_shapes=shapes.p_shapes,
        q_shapes=shapes.q_shapes,
        epochs=args.epochs,
        patience=0,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        fanouts=tuple(args.fanouts),
        lr=args.lr,
        hidden=args.hidden,
        verbose=False,
        progress=False,
        dataset_options=options,
    )
    stem = Path(args.dataset).name
    store = args.store or RESULTS / f"partition_sweep_{stem}_cells"
    output = args.output or RESULTS / f"partition_sweep_{stem}"
    cells = plan_cells(reorders, args.ranks, args.models, args.seeds)
    if args.report_only:
        present = [load_cell(store / cell.file_name, _shared_options(base)) for cell in cells]
        records = [record for record in present if record is not None]
        print(f"{len(records)} of {len(cells)} cells in {store}")
    else:
        records, trained, reordered = sweep(
            cells,
            base,
            store,
            dataset=dataset,
            p_shapes=shapes.p_shapes,
            reorder_seed=args.reorder_seed,
        )
        print(
            f"trained {trained} cells, computed {reordered} reorderings, "
            f"{len(cells) - trained} cells from {store}"
        )
    header = _header(args, base, dataset, shapes, records, argv)
    report = markdown_report(records, reorders, args.ranks, args.models, header)
    output.parent.mkdir(parents=True, exist_ok=True)
    markdown_path = output.with_name(output.name + ".md")
    with atomic_write(markdown_path, "w") as stream:
        stream.write(report)
    if records:
        plot_report(
            records, args.ranks, args.models, output.with_name(output.name + ".png"), dataset.name
        )
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
