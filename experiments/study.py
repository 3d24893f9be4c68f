"""Accuracy study (issue 14, item 6): full vs TT embeddings vs label propagation, featureless.

Question: are TT embeddings with the graph-aware levers (tt-metis order, spectral init) as
accurate as a full table at a fraction of its size, do they beat label propagation, and which
TT initializer (gaussian or spectral) should be the default?

Cells: protocol x dataset x model x config x seed. Protocols: ``standard`` (the trainer's
split: Planetoid public, Geom-GCN split 0, or random 60/20/20 with split seed 0; the model seed
varies), ``rich`` (a random 60/20/20 split, split seed 0, for the graphs whose standard split
is label-sparse: ``--random-split``) and ``lpc20`` (20 labels per class, 500 val, 1000 test,
split seed = model seed). Configs: ``full-gaussian``, ``full-spectral``, ``tt16-gaussian``,
``tt16-spectral`` (TT rank 16, tt-metis order) and ``tt32-best`` (rank 32, tt-metis, with
whichever rank-16 init has the higher mean validation accuracy in the same protocol, dataset
and model; it waits until a rank-16 run exists there). Every cell writes one JSON file under
``--runs-dir`` (``<protocol>/<dataset>/<model>/<config>-seed<S>.json``, the trainer's metrics);
an existing file is skipped, so the driver can be stopped and rerun. Label propagation
(``tt-gnn baseline``) writes ``<protocol>/<dataset>/lp-seed<S>.json``. ``--report`` rebuilds
the markdown tables and the plot from the files; hand-written text below the reading marker of
an existing report is kept.

Usage (jobs run in priority order: seed 0 of every cell first, then the other seeds)::

    python experiments/study.py --max-minutes 48
    python experiments/study.py --report experiments/results/accuracy_study.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS_DIR = PROJECT_ROOT / "experiments" / "results" / "study_runs"
# The runs of the first study (lr 0.03, `study_runs/`) predate COMMANDS_FILE.
FIRST_STUDY_COMMANDS = [
    "PYTHONPATH=$PWD python experiments/study.py --max-minutes 48",
    "PYTHONPATH=$PWD python experiments/study.py --max-minutes 2  # resumed once",
    "PYTHONPATH=$PWD python experiments/study.py --seeds 0,1 --max-minutes 45  # later",
    "PYTHONPATH=$PWD python experiments/study.py --max-minutes 40  # seed 2",
]
FIRST_STUDY_NOTE = (
    "The first runs shared 2 CPU cores with other jobs; the later ones (the rich protocol, "
    "GAT beyond cora, third seeds) ran on a quiet machine with the cheaper dropout mask "
    "(same distribution, another random stream)."
)
COMMANDS_FILE = "commands.txt"
READING_MARKER = "<!-- reading: hand-written below, kept by --report -->"

CONFIGS = ["full-gaussian", "full-spectral", "tt16-gaussian", "tt16-spectral", "tt32-best"]
CONFIG_TITLES = {
    "full-gaussian": "full, gaussian",
    "full-spectral": "full, spectral",
    "tt16-gaussian": "TT r16, gaussian",
    "tt16-spectral": "TT r16, spectral",
    "tt32-best": "TT r32, better r16 init",
}
# (protocol, dataset, model) in priority order, in groups; each group runs seed-major
# (every cell's seed 0, then seed 1, ...) before the next group starts.
PRIORITY_GROUPS: list[list[tuple[str, str, str]]] = [
    [
        ("standard", "cora", "sage"),
        ("standard", "citeseer", "sage"),
        ("standard", "pubmed", "sage"),
        ("standard", "chameleon", "sage"),
        ("lpc20", "chameleon", "sage"),
        ("standard", "facebook_pagepage", "sage"),
        ("lpc20", "facebook_pagepage", "sage"),
    ],
    [("standard", "cora", "gat")],
    [("standard", "squirrel", "sage"), ("standard", "dblp_prone", "sage")],
    [("rich", "cora", "sage"), ("rich", "citeseer", "sage"), ("rich", "pubmed", "sage")],
    # not lpc20 on dblp_prone: 34 of its 60 classes have fewer than 20 nodes (refused)
    [("lpc20", "squirrel", "sage")],
    [
        ("standard", "pubmed", "gat"),
        ("standard", "facebook_pagepage", "gat"),
        ("standard", "dblp_prone", "gat"),
    ],
]
# Training schedule per (protocol, dataset): batch size, max epochs, eval every, patience.
# Planetoid-like label counts (tens to ~100 training nodes) need small batches and many
# epochs; the 60/20/20 splits need few epochs of large batches (experiments/accuracy.py).
SCHEDULES: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("standard", "cora"): (64, 200, 1, 30),
    ("standard", "citeseer"): (64, 200, 1, 30),
    ("standard", "pubmed"): (16, 150, 3, 10),
    ("standard", "chameleon"): (64, 100, 1, 20),
    ("standard", "squirrel"): (128, 60, 1, 10),
    ("standard", "facebook_pagepage"): (1024, 30, 1, 5),
    ("standard", "dblp_prone"): (1024, 20, 2, 4),
    ("lpc20", "chameleon"): (16, 150, 3, 10),
    ("lpc20", "facebook_pagepage"): (16, 150, 3, 10),
    ("lpc20", "squirrel"): (16, 150, 3, 10),
    ("rich", "cora"): (256, 60, 1, 10),
    ("rich", "citeseer"): (256, 60, 1, 10),
    ("rich", "pubmed"): (1024, 30, 1, 5),
}
COMMON_SETTINGS: dict[str, str] = {
    "lr": "0.03",
    "embedding-dim": "128",
    "hidden": "128",
    "fanouts": "10,10",
    "dropout": "0.5",
    "heads": "4",
}


@dataclass(frozen=True)
class Job:
    """One training run (or, with ``config == "lp"``, one label-propagation run)."""

    protocol: str
    dataset: str
    model: str
    config: str
    seed: int

    def path(self, runs_dir: Path, init: str = "") -> Path:
        base = runs_dir / self.protocol / self.dataset
        if self.config == "lp":
            return base / f"lp-seed{self.seed}.json"
        name = f"tt32-{init}" if self.config == "tt32-best" else self.config
        return base / self.model / f"{name}-seed{self.seed}.json"


def split_arguments(protocol: str, seed: int) -> list[str]:
    if protocol == "standard":
        return []
    if protocol == "rich":
        return ["--random-split", "--split-seed", "0"]
    if protocol == "lpc20":
        return ["--labels-per-class", "20", "--num-val", "500", "--num-test", "1000",
                "--split-seed", str(seed)]  # fmt: skip
    raise ValueError(f"protocol must be 'standard', 'rich' or 'lpc20', got {protocol!r}")


def train_command(
    job: Job, init: str, output: Path, settings: dict[str, str] = COMMON_SETTINGS
) -> list[str]:
    batch, epochs, eval_every, patience = SCHEDULES[(job.protocol, job.dataset)]
    embedding, rank = ("full", "16") if job.config.startswith("full") else ("tt", job.config[2:4])
    command = [
        sys.executable, "-m", "tt_gnn.cli", "train", "--dataset", job.dataset,
        "--model", job.model, "--embedding", embedding, "--init", init, "--seed", str(job.seed),
        "--batch-size", str(batch), "--epochs", str(epochs), "--eval-every", str(eval_every),
        "--patience", str(patience), "--output-json", str(output), "--no-progress",
    ]  # fmt: skip
    if embedding == "tt":
        command += ["--rank", rank, "--reorder", "tt-metis"]
    for key, value in settings.items():
        command += [f"--{key}", value]
    return command + split_arguments(job.protocol, job.seed)


def lp_command(job: Job, output: Path) -> list[str]:
    return [sys.executable, "-m", "tt_gnn.cli", "baseline", "--dataset", job.dataset,
            "--method", "lp", "--output-json", str(output),
            *split_arguments(job.protocol, job.seed)]  # fmt: skip


def build_jobs(
    cells: list[tuple[str, str, str]], seeds: list[int], configs: list[str] = CONFIGS
) -> list[Job]:
    """Seed-major: every cell's first seed, then the next seed. LP once per split."""
    jobs = []
    for seed in seeds:
        for protocol, dataset, model in cells:
            # The standard split does not depend on the seed: one LP run covers it.
            if protocol == "lpc20" or seed == seeds[0]:
                lp = Job(protocol, dataset, "-", "lp", seed if protocol == "lpc20" else 0)
                if lp not in jobs:
                    jobs.append(lp)
            jobs += [Job(protocol, dataset, model, config, seed) for config in configs]
    return jobs


def best_rank16_init(runs_dir: Path, job: Job) -> str | None:
    """The rank-16 TT init with the higher mean val accuracy in job's cell (None if no run)."""
    folder = runs_dir / job.protocol / job.dataset / job.model
    chosen = sorted(folder.glob("tt32-*-seed*.json"))
    if chosen:  # keep the choice made at the first rank-32 run for every seed
        return chosen[0].stem.split("-")[1]
    means = {}
    for init in ("gaussian", "spectral"):
        values = [model_accuracy(json.loads(p.read_text()), "val")
                  for p in folder.glob(f"tt16-{init}-seed*.json")]  # fmt: skip
        if values:
            means[init] = statistics.mean(values)
    return max(means, key=means.get) if means else None


def run_jobs(
    jobs: list[Job],
    runs_dir: Path,
    threads: int,
    deadline: float,
    settings: dict[str, str] = COMMON_SETTINGS,
) -> None:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT),
                   "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}  # fmt: skip
    for job in jobs:
        if job.config == "lp":
            init, output = "", job.path(runs_dir)
        elif job.config == "tt32-best":
            init = best_rank16_init(runs_dir, job) or ""
            if not init:
                print(f"skip {job}: no rank-16 run yet", flush=True)
                continue
            output = job.path(runs_dir, init)
        else:
            init, output = job.config.split("-")[1], job.path(runs_dir)
        if output.exists():
            continue
        if time.time() > deadline:
            print("deadline reached, stopping", flush=True)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_suffix(".partial")
        command = (
            lp_command(job, partial)
            if job.config == "lp"
            else train_command(job, init, partial, settings)
        )
        log_path = output.with_suffix(".log")
        started = time.time()
        with log_path.open("w") as log:
            returncode = subprocess.run(
                command, env=environment, stdout=log, stderr=log, cwd=PROJECT_ROOT
            ).returncode
        if returncode == 0:
            partial.rename(output)
            log_path.unlink()
            status = "ok"
        else:
            status = f"FAILED ({returncode}), see {log_path}"
        print(f"{output.relative_to(runs_dir)}: {status} in {time.time() - started:.0f} s",
              flush=True)  # fmt: skip


def model_accuracy(record: dict, split: str) -> float:
    """The model's own accuracy (before a ``--post-process``, which keeps it under model_)."""
    return record.get(f"model_{split}_accuracy", record[f"{split}_accuracy"])


def load_runs(runs_dir: Path) -> list[dict]:
    """Every finished run, with ``protocol`` and ``config`` taken from its path.

    ``test_accuracy``/``val_accuracy`` are the model's own; a run made with ``--post-process
    cs`` also has ``cs_test_accuracy``/``cs_val_accuracy`` (what the trainer reported).
    """
    runs = []
    for path in sorted(runs_dir.rglob("*.json")):
        parts = path.relative_to(runs_dir).parts
        record = json.loads(path.read_text())
        record["protocol"] = parts[0]
        if len(parts) == 3:
            record["config"], record["model"] = "lp", "-"
        else:
            config = path.stem.rsplit("-seed", 1)[0]
            record["config"] = "tt32-best" if config.startswith("tt32") else config
            record["init_used"] = config.split("-")[1]
        record["seed_key"] = int(path.stem.rsplit("-seed", 1)[1])
        if "model_test_accuracy" in record:
            for split in ("val", "test"):
                record[f"cs_{split}_accuracy"] = record[f"{split}_accuracy"]
                record[f"{split}_accuracy"] = record[f"model_{split}_accuracy"]
        runs.append(record)
    return runs


def mean_std(values: list[float]) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{100 * values[0]:.1f} (n=1)"
    mean, std = 100 * statistics.mean(values), 100 * statistics.stdev(values)
    return f"{mean:.1f} ± {std:.1f} (n={len(values)})"


def report(
    runs: list[dict], commands: list[str], runs_label: str, machine_note: str
) -> tuple[str, dict]:
    """Markdown tables, one per protocol, and the means used by the plot.

    ``commands``: the command lines that produced the runs, then the report's own.
    """
    lrs = ", ".join(sorted({str(run["lr"]) for run in runs if "lr" in run})) or "?"
    by_cell: dict[tuple[str, str, str], dict[str, list[dict]]] = defaultdict(
        lambda: defaultdict(list)
    )
    lp: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in runs:
        if run["config"] == "lp":
            lp[(run["protocol"], run["dataset"])].append(run["test_accuracy"])
        else:
            by_cell[(run["protocol"], run["dataset"], run["model"])][run["config"]].append(run)
    lines = [
        "# Accuracy study: full vs TT embeddings vs label propagation (featureless)",
        "",
        f"Produced by (rerun to resume; one JSON per run in `{runs_label}/`):",
        "",
        "```",
        *commands,
        "```",
        "",
        "Test accuracy (%) at the best validation epoch, mean ± std over the seeds run (n). "
        f"GraphSAGE/GAT, 2 layers, hidden 128, embedding dim 128, fanouts 10,10, Adam lr {lrs}, "
        "dropout 0.5; TT: 3 cores, tt-metis order; batch/epochs/eval/patience per dataset in "
        "`SCHEDULES` of the script. *standard*: the trainer's split (Planetoid public: about "
        "20 labels per class, so this is the label-sparse protocol for cora/citeseer/pubmed; "
        "Geom-GCN split 0 for chameleon/squirrel; random 60/20/20, split seed 0 for "
        "facebook_pagepage/dblp_prone), model seed 0,1,2. *rich*: a random 60/20/20 split "
        "(`--random-split`, split seed 0) for the graphs whose standard split is label-sparse. "
        "*lpc20*: 20 training nodes per "
        "class, 500 val, 1000 test, split seed = model seed. LP: `tt-gnn baseline --method lp` "
        "on the same split (one run for a standard split). `TT r32` uses the rank-16 init with "
        "the higher mean val accuracy (shown in brackets). 'not run': out of time budget. "
        + machine_note,
        "",
    ]
    means: dict[tuple[str, str, str], dict[str, float]] = {}
    for protocol in ("standard", "rich", "lpc20"):
        cells = sorted(key for key in by_cell if key[0] == protocol)
        if not cells:
            continue
        lines += [f"## Protocol: {protocol}", "",
                  "| dataset / model | " + " | ".join(CONFIG_TITLES[c] for c in CONFIGS)
                  + " | LP | TT r16 / r32 compression |",
                  "|---" * (len(CONFIGS) + 3) + "|"]  # fmt: skip
        for key in cells:
            _, dataset, model = key
            configs = by_cell[key]
            row = [f"{dataset} / {model}"]
            means[key] = {}
            for config in CONFIGS:
                members = configs.get(config, [])
                text = mean_std([m["test_accuracy"] for m in members])
                if config == "tt32-best" and members:
                    text += f" [{members[0]['init_used']}]"
                row.append(text)
                if members:
                    means[key][config] = statistics.mean(m["test_accuracy"] for m in members)
            lp_values = lp.get((protocol, dataset), [])
            row.append(mean_std(lp_values))
            if lp_values:
                means[key]["lp"] = statistics.mean(lp_values)
            ratios = [
                f"{configs[c][0]['compression_ratio']:.0f}x" if configs.get(c) else "-"
                for c in ("tt16-gaussian", "tt32-best")
            ]
            row.append(" / ".join(ratios))
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += ["## Checks (computed from the means above, in points of test accuracy)", ""]
    for (protocol, dataset, model), values in sorted(means.items()):
        full = values.get("full-gaussian")
        parts = []
        for config in ("tt16-gaussian", "tt16-spectral", "tt32-best"):
            if config not in values:
                continue
            tt = values[config]
            versus = []
            if full is not None:
                versus.append(f"{100 * (tt - full):+.1f} vs full gaussian")
            if "full-spectral" in values:
                versus.append(f"{100 * (tt - values['full-spectral']):+.1f} vs full spectral")
            if "lp" in values:
                versus.append(f"{100 * (tt - values['lp']):+.1f} vs LP")
            parts.append(f"{CONFIG_TITLES[config]}: " + ", ".join(versus))
        if parts:
            lines.append(f"- {protocol}, {dataset} / {model}: " + "; ".join(parts))
    lines += ["", "## Init: spectral minus gaussian, paired by seed (test accuracy points)", ""]
    for table in ("tt16", "full"):
        differences = []
        for key, configs in sorted(by_cell.items()):
            gaussian = {
                m["seed_key"]: m["test_accuracy"] for m in configs.get(f"{table}-gaussian", [])
            }
            spectral = {
                m["seed_key"]: m["test_accuracy"] for m in configs.get(f"{table}-spectral", [])
            }
            pairs = [100 * (spectral[s] - gaussian[s]) for s in sorted(gaussian.keys() & spectral)]
            if pairs:
                differences += pairs
                lines.append(
                    f"- {table}, {key[0]}, {key[1]} / {key[2]}: "
                    + ", ".join(f"{d:+.1f}" for d in pairs)
                )
        if differences:
            wins = sum(d > 0 for d in differences)
            lines.append(
                f"- **{table} overall**: spectral higher in {wins} of {len(differences)} "
                f"pairs, mean {statistics.mean(differences):+.1f} points"
            )
    lines.append("")
    lines += correct_and_smooth_section(by_cell, lp)
    return "\n".join(lines), means


def correct_and_smooth_section(
    by_cell: dict[tuple[str, str, str], dict[str, list[dict]]],
    lp: dict[tuple[str, str], list[float]],
) -> list[str]:
    """Test accuracy after ``--post-process cs`` (runs that have it), against LP."""
    rows, checks = [], []
    for key, configs in sorted(by_cell.items()):
        protocol, dataset, model = key
        cells, cs_means = [], {}
        for config in CONFIGS:
            values = [m["cs_test_accuracy"] for m in configs.get(config, [])
                      if "cs_test_accuracy" in m]  # fmt: skip
            cells.append(mean_std(values))
            if values:
                cs_means[config] = statistics.mean(values)
        if not cs_means:
            continue
        lp_values = lp.get((protocol, dataset), [])
        rows.append(f"| {protocol} | {dataset} / {model} | " + " | ".join(cells)
                    + f" | {mean_std(lp_values)} |")  # fmt: skip
        default = cs_means.get("tt16-spectral")
        versus = []
        if default is not None and lp_values:
            versus.append(f"{100 * (default - statistics.mean(lp_values)):+.1f} vs LP")
        for config in ("full-gaussian", "full-spectral"):
            if default is not None and config in cs_means:
                versus.append(f"{100 * (default - cs_means[config]):+.1f} vs "
                              f"{CONFIG_TITLES[config]} + C&S")  # fmt: skip
            plain = [m["test_accuracy"] for m in configs.get(config, [])]
            if default is not None and plain:
                versus.append(f"{100 * (default - statistics.mean(plain)):+.1f} vs "
                              f"{CONFIG_TITLES[config]} alone")  # fmt: skip
        if versus:
            checks.append(f"- {protocol}, {dataset} / {model}: TT r16 spectral + C&S "
                          + ", ".join(versus))  # fmt: skip
    if not rows:
        return []
    return [
        "## With Correct and Smooth (`--post-process cs`), test accuracy (%)",
        "",
        "The same runs as above (their model-alone numbers are the tables above), after the "
        "trainer's Correct and Smooth, its smoothing weight chosen on the validation nodes.",
        "",
        "| protocol | dataset / model | "
        + " | ".join(CONFIG_TITLES[c] for c in CONFIGS)
        + " | LP |",
        "|---" * (len(CONFIGS) + 3) + "|",
        *rows,
        "",
        *checks,
        "",
    ]


def paired_comparison(runs: list[dict], others: list[dict], other_dir: Path) -> str:
    """Per cell and config: these runs minus ``others`` with the same seed, in points."""

    def key(run: dict) -> tuple:
        return run["protocol"], run["dataset"], run["model"], run["config"], run["seed_key"]

    other = {key(run): run for run in others if run["config"] not in ("lp", "tt32-best")}
    pairs: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for run in runs:
        match = other.get(key(run))
        if match is not None:
            pairs[key(run)[:4]].append((run["test_accuracy"], match["test_accuracy"]))
    lrs = sorted({str(run["lr"]) for run in others if "lr" in run})
    lines = [f"## Against `{other_dir.name}` (lr {', '.join(lrs)}), paired by seed", "",
             "| cell | config | n | these | those | difference (points) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for (protocol, dataset, model, config), values in sorted(pairs.items()):
        these = statistics.mean(v[0] for v in values)
        those = statistics.mean(v[1] for v in values)
        lines.append(f"| {protocol}, {dataset} / {model} | {CONFIG_TITLES[config]} | "
                     f"{len(values)} | {100 * these:.1f} | {100 * those:.1f} | "
                     f"{100 * (these - those):+.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(means: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(means, key=lambda k: (("standard", "rich", "lpc20").index(k[0]), k[1], k[2]))
    figure, axis = plt.subplots(figsize=(max(6, 1.4 * len(keys)), 4))
    width = 0.8 / len(CONFIGS)
    for index, config in enumerate(CONFIGS):
        xs = [i + (index - len(CONFIGS) / 2 + 0.5) * width for i in range(len(keys))]
        ys = [100 * means[k].get(config, float("nan")) for k in keys]
        axis.bar(xs, ys, width, label=CONFIG_TITLES[config])
    for i, key in enumerate(keys):
        if "lp" in means[key]:
            axis.hlines(100 * means[key]["lp"], i - 0.45, i + 0.45, colors="black",
                        label="label propagation" if i == 0 else None)  # fmt: skip
    axis.set_xticks(range(len(keys)))
    axis.set_xticklabels([f"{d}\n{m}, {p}" for p, d, m in keys], fontsize=7)
    axis.set_ylabel("test accuracy (%), mean over seeds")
    axis.legend(fontsize=7, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--groups", type=int, default=len(PRIORITY_GROUPS),
                        help="run only the first N groups of PRIORITY_GROUPS")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--max-minutes", type=float, default=1e9,
                        help="start no run after this many minutes")  # fmt: skip
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR)
    parser.add_argument("--report", type=Path, help="write the markdown (and a .png) and exit")
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")
    parser.add_argument("--lr", default=COMMON_SETTINGS["lr"],
                        help="Adam lr of every run (give it its own --runs-dir)")  # fmt: skip
    parser.add_argument("--post-process", choices=("none", "cs"), default="none",
                        help="the trainer's --post-process for every run")  # fmt: skip
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help="comma-separated subset of CONFIGS to run")  # fmt: skip
    parser.add_argument("--compare-with", type=Path,
                        help="with --report: add these runs, paired by seed")  # fmt: skip
    parser.add_argument("--cells", help="comma-separated protocol/dataset/model cells to run "
                        "(one group, in this order) instead of PRIORITY_GROUPS")  # fmt: skip
    args = parser.parse_args()
    if args.report is not None:
        log = args.runs_dir / COMMANDS_FILE
        history = log.read_text().splitlines() if log.exists() else FIRST_STUDY_COMMANDS
        note = FIRST_STUDY_NOTE if not log.exists() else "One run at a time on 2 CPU cores."
        try:
            runs_label = str(args.runs_dir.resolve().relative_to(PROJECT_ROOT))
        except ValueError:
            runs_label = str(args.runs_dir)
        own = " ".join(["python", *sys.argv])
        runs = load_runs(args.runs_dir)
        text, means = report(runs, [*history, own], runs_label, note)
        if args.compare_with is not None:
            text += "\n" + paired_comparison(runs, load_runs(args.compare_with), args.compare_with)
        kept = ""
        if args.report.exists() and READING_MARKER in args.report.read_text():
            kept = args.report.read_text().split(READING_MARKER, 1)[1]
        args.report.write_text(text + "\n" + READING_MARKER + kept)
        plot(means, args.report.with_suffix(".png"))
        print(text)
        return
    seeds = [int(part) for part in args.seeds.split(",")]
    configs = args.configs.split(",")
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"--configs: unknown {unknown}; expected a subset of {CONFIGS}")
    groups = PRIORITY_GROUPS[: args.groups]
    if args.cells:
        cells = [tuple(cell.split("/")) for cell in args.cells.split(",")]
        if any(len(cell) != 3 for cell in cells):
            parser.error(f"--cells: expected protocol/dataset/model items, got {args.cells!r}")
        groups = [cells]
    jobs = [job for group in groups for job in build_jobs(group, seeds, configs)]
    if args.list:
        print("\n".join(str(job) for job in jobs))
        return
    settings = {**COMMON_SETTINGS, "lr": args.lr, "post-process": args.post_process}
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    with (args.runs_dir / COMMANDS_FILE).open("a") as log:
        log.write(" ".join(["PYTHONPATH=$PWD python", *sys.argv]) + "\n")
    run_jobs(jobs, args.runs_dir, args.threads, time.time() + 60 * args.max_minutes, settings)


if __name__ == "__main__":
    main()
