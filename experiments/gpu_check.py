"""The one command a GPU machine runs: kernels, throughput, the main job, and an accuracy check.

Writes one Markdown report with four sections:

- (a) **kernels**: the Triton lookup against the torch path and a float64 reference, forward
  and core gradients, fp32 and bf16, on clustered and random ids; the deterministic backward
  bit-identical across two runs;
- (b) **throughput**: ``experiments/bench_gpu.py`` (forward / backward / step of the Triton
  ``TTEmbedding`` vs ``nn.Embedding`` dense and sparse, achieved GB/s and FLOP/s against the
  floors), at ogbn-products size;
- (c) **main job**: ``experiments/main_job.py``'s step timing on the device at ogbn-products
  size (2,449,029 nodes, ~62M edges, D=128, rank 16, SAGE 3 layers, fanouts 15,10,5, batch
  1024) for TT and the full table (sparse gradients), steps/s and peak GPU memory;
- (d) **accuracy**: ``tt-gnn train`` on a shared graph (cora) on the device with the
  torch-native backend, test accuracy against a floor far above chance.

Every section runs even when an earlier one fails; a section that cannot run (no CUDA, no
Triton, no METIS for the TT order, no shared data) is reported as FAILED with its reason and
the command exits 1: nothing is skipped silently.

GPU machines without network: the image needs torch, Triton, numpy and scipy; tt-gnn's own
code comes with the working tree. The tt-metis order needs pymetis: carry its wheel, or compute
the order here on a CPU machine and ship it (``--order-file``, from ``tt-gnn reorder`` on the
same synthetic graph, or ``main_job.py``'s cache), or pass ``--reorder random`` (the report then
says so). Budget: about 8 minutes on one H200-class GPU with the defaults.

Commands::

    python experiments/gpu_check.py --output experiments/results/gpu_check.md     # on CUDA
    python experiments/gpu_check.py --dry-run     # every code path on the CPU at tiny sizes (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent
PROJECT_ROOT = EXPERIMENTS.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--output", type=Path, default=None, help="write the report here")
    parser.add_argument("--main-job-steps", type=int, default=30)
    parser.add_argument("--reorder", default="tt-metis", help="the TT run's node order")
    parser.add_argument("--order-file", type=Path, default=None, help="precomputed TT order")
    parser.add_argument("--dataset", default="cora", help="shared graph of the accuracy check")
    parser.add_argument("--data-root", default=None, help="folder of shared datasets")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tt-gnn")
    return parser.parse_args(argv)


def _device(args: argparse.Namespace):
    import torch

    if args.dry_run:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: run on a GPU machine, or use --dry-run on a CPU")
    return torch.device("cuda")


def check_kernels(args: argparse.Namespace) -> str:
    """(a): Triton vs torch vs float64, fp32/bf16, deterministic bit-identical."""
    import torch

    from tt_gnn.kernels import triton as kernels
    from tt_gnn.ops import naive_tt_lookup, tt_lookup

    if not kernels.installed():
        raise RuntimeError("Triton is not importable (pip install 'tt-gnn[gpu]')")
    device = _device(args)
    generator = torch.Generator().manual_seed(0)
    if args.dry_run:
        p_shapes, q_shapes, rank, batch = (5, 6, 10), (2, 2, 2), 4, 40
    else:
        p_shapes, q_shapes, rank, batch = (125, 140, 140), (4, 4, 8), 16, 65536
    ranks = (1, rank, rank, 1)
    reference_cores = [
        torch.randn(p, ranks[k], q, ranks[k + 1], generator=generator, dtype=torch.float64)
        / (ranks[k] ** 0.5)
        for k, (p, q) in enumerate(zip(p_shapes, q_shapes, strict=True))
    ]
    total = 1
    for p in p_shapes:
        total *= p
    patterns = {
        "random": torch.randint(0, total, (batch,), generator=generator),
        "clustered": (
            torch.randint(0, max(total // 50, 1), (batch // 50 + 1,), generator=generator)[:, None]
            * 50
            + torch.arange(50)
        ).reshape(-1)[:batch]
        % total,
    }
    lines = [
        "| dtype | ids | rows: max error vs float64 | vs torch path | core grads: max rel. error |"
    ]
    lines.append("|---|---|---|---|---|")
    failures = []
    tolerances = {torch.float32: 1e-4, torch.bfloat16: 3e-2}
    for dtype, tolerance in tolerances.items():
        for pattern, ids in patterns.items():
            ids = ids.to(device)
            exact = naive_tt_lookup([c.to(device) for c in reference_cores], ids, p_shapes)
            cores = [c.to(device=device, dtype=dtype).requires_grad_(True) for c in reference_cores]
            rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes)
            upstream = torch.randn(rows.shape, generator=generator).to(device=device, dtype=dtype)
            (rows.float() * upstream.float()).sum().backward()
            triton_grads = [c.grad.double() for c in cores]
            torch_cores = [c.detach().to(device).float().requires_grad_(True) for c in cores]
            torch_rows = tt_lookup(torch_cores, ids, p_shapes, q_shapes)
            (torch_rows * upstream.float()).sum().backward()
            scale = exact.abs().max().item()
            error = (rows.double() - exact).abs().max().item() / scale
            versus_torch = (rows.double() - torch_rows.double()).abs().max().item() / scale
            grad_error = max(
                (
                    (a - b.grad.double()).abs().max() / b.grad.double().abs().max().clamp_min(1e-30)
                ).item()
                for a, b in zip(triton_grads, torch_cores, strict=True)
            )
            lines.append(
                f"| {str(dtype).split('.')[-1]} | {pattern} | {error:.2e} | {versus_torch:.2e} "
                f"| {grad_error:.2e} |"
            )
            if max(error, versus_torch, grad_error) > tolerance:
                failures.append(f"{dtype} {pattern}: error above {tolerance}")
    ids = patterns["random"].to(device)
    gradients = []
    for _ in range(2):
        cores = [
            c.to(device=device, dtype=torch.float32).requires_grad_(True) for c in reference_cores
        ]
        rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=True)
        rows.sum().backward()
        gradients.append([c.grad.clone() for c in cores])
    identical = all(torch.equal(a, b) for a, b in zip(*gradients, strict=True))
    lines.append("")
    lines.append(f"Deterministic backward, two runs bit-identical: **{identical}**")
    if not identical:
        failures.append("deterministic backward differs between runs")
    if failures:
        raise AssertionError("; ".join(failures) + "\n" + "\n".join(lines))
    return "\n".join(lines)


def check_throughput(args: argparse.Namespace) -> str:
    """(b): bench_gpu.py's table."""
    sys.path.insert(0, str(EXPERIMENTS))
    import bench_gpu

    output = args.cache_dir / "bench_gpu.md"
    argv = ["--output", str(output)]
    argv += ["--dry-run"] if args.dry_run else ["--shapes", "products", "--repeats", "10"]
    with contextlib.redirect_stdout(io.StringIO()):
        status = bench_gpu.main(argv)
    if status != 0:
        raise RuntimeError(f"bench_gpu.py exited with status {status}")
    return output.read_text().replace("# bench_gpu\n", "")


def check_main_job(args: argparse.Namespace) -> str:
    """(c): main_job.py's step timing on the device for TT and the full table."""
    import numpy as np

    sys.path.insert(0, str(EXPERIMENTS))
    import main_job

    device = _device(args)
    job_args = ["--cache-dir", str(args.cache_dir / "main-job"), "--device", str(device)]
    job_args += ["--steps", str(args.main_job_steps), "--reorder", args.reorder]
    if args.dry_run:
        job_args.append("--dry-run")
    parsed = main_job.parse_args(job_args)
    if args.order_file is not None:
        cache = main_job._cache(parsed)
        cache.mkdir(parents=True, exist_ok=True)
        order = np.load(args.order_file)
        if order.shape != (parsed.num_nodes,):
            raise ValueError(f"--order-file holds {order.shape}, expected ({parsed.num_nodes},)")
        np.save(cache / f"order-{parsed.reorder}.npy", order)
    elif parsed.reorder == "tt-metis":
        try:
            import pymetis  # noqa: F401
        except ImportError as error:
            raise RuntimeError(
                "the tt-metis order needs pymetis: carry its wheel, pass --order-file (computed "
                "on a CPU machine), or --reorder random"
            ) from error
    output = args.cache_dir / "main_job.md"
    output.unlink(missing_ok=True)
    main_job.main([*job_args, "--output", str(output)])
    return output.read_text()


def check_accuracy(args: argparse.Namespace) -> str:
    """(d): a short training run on a shared graph on the device."""
    import json

    from tt_gnn.cli import main as cli_main

    device = _device(args)
    output = args.cache_dir / "accuracy.json"
    argv = ["train", "--dataset", args.dataset, "--gnn", "torch", "--reorder", "tt-metis"]
    argv += [
        "--no-progress",
        "--output-json",
        str(output),
        "--epochs",
        "2" if args.dry_run else "60",
    ]
    argv += ["--batch-size", "64", "--patience", "20", "--seed", "0"]
    if args.data_root is not None:
        argv += ["--data-root", args.data_root]
    if device.type == "cuda":
        argv += ["--devices", "0"]
    output.unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = cli_main(argv)
    if status != 0:
        raise RuntimeError(f"tt-gnn {' '.join(argv)} exited with status {status}")
    metrics = json.loads(output.read_text())
    floor = 0.0 if args.dry_run else 0.45  # cora: 7 classes, chance 0.14; label propagation 0.71
    text = (
        f"`tt-gnn {' '.join(argv)}`: test accuracy {metrics['test_accuracy']:.4f} "
        f"(best epoch {metrics['best_epoch']} of {metrics['epochs']}, {metrics['seconds']:.1f} s, "
        f"backend {metrics['gnn_backend']}); floor {floor}\n\n```\n"
        + printed.getvalue()[-1500:]
        + "```"
    )
    if not metrics["test_accuracy"] >= floor:
        raise AssertionError(f"test accuracy {metrics['test_accuracy']} below {floor}\n{text}")
    return text


SECTIONS: list[tuple[str, Callable[[argparse.Namespace], str]]] = [
    ("(a) kernels on the device", check_kernels),
    ("(b) lookup throughput", check_throughput),
    ("(c) main job at ogbn-products size", check_main_job),
    ("(d) accuracy sanity run", check_accuracy),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before anything imports Triton
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    command = argv if argv is not None else sys.argv[1:]
    import torch

    device_name = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available() and not args.dry_run
        else f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    )
    parts = [
        "# GPU check"
        + (" (DRY RUN: CPU, tiny sizes; timings mean nothing)" if args.dry_run else ""),
        "",
        f"Command: `python experiments/gpu_check.py {' '.join(command)}`",
        f"Device: {device_name}; torch {torch.__version__}; Python {platform.python_version()}",
        "",
    ]
    failed = []
    for title, check in SECTIONS:
        started = time.perf_counter()
        try:
            body = check(args)
            status = "passed"
        except Exception as error:  # noqa: BLE001 - reported, and the exit status says so
            body = "```\n" + "".join(traceback.format_exception(error))[-4000:] + "```"
            status = "FAILED"
            failed.append(title)
        parts += [f"## {title}: {status} ({time.perf_counter() - started:.0f} s)", "", body, ""]
    parts.append("All sections passed." if not failed else "FAILED sections: " + ", ".join(failed))
    report = "\n".join(parts) + "\n"
    print(report)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
