"""Triton TT-lookup kernels against independent references.

Without CUDA, ``tests/conftest.py`` sets ``TRITON_INTERPRET=1`` and the kernels run on CPU tensors
through Triton's interpreter, which is slow: sizes here are tiny but cover d = 2, 3, 4; ranks 1,
7, 16, 32 (and 40, 64 for partial and full rank tiles); random, clustered and repeated ids; M, N
and K tiles that end part-way; buffers poisoned with NaN so unwritten elements show up.

References: a dense float64 reconstruction of the whole table with ``einsum`` (and its autograd
gradients), and the CPU path ``tt_gnn.ops.tt_lookup``. The prefix planner both share is tested in
``test_kernel_plan.py``, the backend registry in ``test_kernel_registry.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.reference import dense_from_cores
from tt_gnn.kernels import triton as kernels

pytestmark = pytest.mark.skipif(not kernels.installed(), reason="Triton is not installed")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _lookup_module():
    from tt_gnn.kernels.triton import lookup

    return lookup


def _matmul_module():
    from tt_gnn.kernels.triton import gathered_matmul

    return gathered_matmul


@pytest.fixture(autouse=True)
def _poison_uninitialized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every buffer the kernels must overwrite starts as NaN, so a skipped element shows."""

    def poisoned(shape, dtype, device):
        return torch.full(tuple(shape), float("nan"), dtype=dtype, device=device)

    monkeypatch.setattr(_lookup_module(), "_uninitialized", poisoned)


# -- references ------------------------------------------------------------------------------


def reference_rows_and_grads(
    cores: list[torch.Tensor], ids: torch.Tensor, grad_rows: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Rows and core gradients of ``sum(rows * grad_rows)`` in float64 from the dense table."""
    cores64 = [core.detach().double().requires_grad_(True) for core in cores]
    rows = dense_from_cores(cores64)[ids]
    grads = torch.autograd.grad(rows, cores64, grad_rows.double())
    return rows.detach(), list(grads)


def random_cores(
    p_shapes: tuple[int, ...],
    q_shapes: tuple[int, ...],
    ranks: tuple[int, ...],
    seed: int,
    dtype: torch.dtype = torch.float32,
) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    cores = []
    for k, (p, q) in enumerate(zip(p_shapes, q_shapes, strict=True)):
        core = torch.randn(p, ranks[k], q, ranks[k + 1], generator=generator)
        core /= math.sqrt(ranks[k])  # keeps row magnitudes O(1) across ranks
        cores.append(core.to(dtype=dtype, device=DEVICE).requires_grad_(True))
    return cores


def make_ids(pattern: str, num_rows: int, block: int, count: int, seed: int) -> torch.Tensor:
    """``random``: uniform over all rows; ``clustered``: from the first and the last (partial)
    block of ``block`` consecutive rows; ``repeated``: a few ids, each many times."""
    generator = torch.Generator().manual_seed(seed)
    if pattern == "random":
        ids = torch.randint(0, num_rows, (count,), generator=generator)
        ids[0] = num_rows - 1
    elif pattern == "clustered":
        last_block_start = (num_rows - 1) // block * block
        starts = torch.tensor([0, last_block_start])[
            torch.randint(0, 2, (count,), generator=generator)
        ]
        ids = torch.minimum(
            starts + torch.randint(0, block, (count,), generator=generator),
            torch.tensor(num_rows - 1),
        )
    elif pattern == "repeated":
        few = torch.randint(0, num_rows, (3,), generator=generator)
        ids = few[torch.randint(0, 3, (count,), generator=generator)]
    else:
        raise ValueError(pattern)
    return ids.to(DEVICE)


# -- configurations --------------------------------------------------------------------------
# (p_shapes, q_shapes, ranks, num_rows). Comments name what each one stresses.
CONFIGS = {
    "d2-rank1": ((5, 7), (3, 4), (1, 1, 1), 33),
    "d2-rank7": ((6, 5), (4, 5), (1, 7, 1), 30),
    "d3-rank16-7": ((3, 4, 5), (2, 3, 4), (1, 16, 7, 1), 57),
    # level 1 has N = q_1 * r_2 = 96 > BLOCK_N = 64: two N tiles, the second partial.
    "d3-rank32": ((4, 3, 5), (5, 3, 5), (1, 32, 32, 1), 58),
    # rank 40 > BLOCK_K = 16: three K steps, the last partial.
    "d4-rank16-40-7": ((2, 3, 2, 3), (2, 2, 3, 2), (1, 16, 40, 7, 1), 35),
    # last level M = q_1 q_2 q_3 = 80 > BLOCK_M = 32: three M tiles, the last partial.
    "d4-M80": ((2, 2, 3, 4), (4, 4, 5, 2), (1, 3, 4, 5, 1), 45),
    "d3-rank64": ((3, 3, 4), (2, 2, 2), (1, 64, 64, 1), 36),
    # factors of 1 (a prime embedding_dim; a single first block): 1-wide tiles everywhere.
    "d3-ones": ((1, 6, 5), (1, 7, 1), (1, 7, 3, 1), 29),
}
PATTERNS = ("random", "clustered", "repeated")
FAST_CASES = [(name, PATTERNS[i % 3]) for i, name in enumerate(CONFIGS)]
SLOW_CASES = [
    pytest.param(name, pattern, marks=pytest.mark.slow)
    for name in CONFIGS
    for pattern in PATTERNS
    if (name, pattern) not in FAST_CASES
]


@pytest.mark.parametrize(("name", "pattern"), FAST_CASES + SLOW_CASES)
def test_lookup_matches_dense_reference(name: str, pattern: str) -> None:
    config = CONFIGS[name]
    p_shapes, q_shapes, ranks, num_rows = config
    seed = 10 * list(CONFIGS).index(name) + PATTERNS.index(pattern)
    cores = random_cores(p_shapes, q_shapes, ranks, seed)
    ids = make_ids(pattern, num_rows, math.prod(p_shapes[1:]), 16, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes), generator=generator).to(DEVICE)
    expected_rows, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)

    for deterministic in (False, True):
        rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=deterministic)
        assert rows.dtype == torch.float32 and rows.shape == expected_rows.shape
        torch.testing.assert_close(rows.double(), expected_rows, rtol=1e-5, atol=1e-5)
        grads = torch.autograd.grad(rows, cores, grad_rows)
        for k, (grad, expected) in enumerate(zip(grads, expected_grads, strict=True)):
            assert grad.dtype == torch.float32, k
            torch.testing.assert_close(grad.double(), expected, rtol=1e-5, atol=1e-5)


def test_lookup_matches_cpu_path_of_ops() -> None:
    from tt_gnn.ops import tt_lookup as ops_tt_lookup

    p_shapes, q_shapes, ranks, num_rows = CONFIGS["d3-rank16-7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=3)
    ids = make_ids("random", num_rows, 20, 30, seed=3)
    rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes)
    expected = ops_tt_lookup(cores, ids, p_shapes, q_shapes)
    torch.testing.assert_close(rows, expected, rtol=1e-5, atol=1e-5)
    grad_rows = torch.randn_like(rows)
    grads = torch.autograd.grad(rows, cores, grad_rows)
    expected_grads = torch.autograd.grad(expected, cores, grad_rows)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5)


def test_deterministic_backward_is_bitwise_reproducible_and_agrees_with_atomics() -> None:
    p_shapes, q_shapes, ranks, num_rows = CONFIGS["d3-rank16-7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=5)
    ids = make_ids("repeated", num_rows, 20, 40, seed=5)
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes)).to(DEVICE)

    def grads(deterministic: bool) -> tuple[torch.Tensor, ...]:
        rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=deterministic)
        return torch.autograd.grad(rows, cores, grad_rows)

    first, second, atomic = grads(True), grads(True), grads(False)
    for k in range(len(cores)):
        assert torch.equal(first[k], second[k]), f"core {k} gradient differs between runs"
        torch.testing.assert_close(atomic[k], first[k], rtol=1e-5, atol=1e-5)


def test_long_segments_are_reduced_in_ordered_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = _lookup_module()
    monkeypatch.setattr(lookup, "SEGMENT_CHUNK_TERMS", 3)
    chunk_starts, chunk_groups = lookup._chunk_boundaries(torch.tensor([0, 2, 9, 10]), 3)
    assert chunk_starts.tolist() == [0, 2, 5, 8, 9, 10]
    assert chunk_groups.tolist() == [0, 1, 4, 5]

    chunked_segments = []

    def counting_segment_sum(partials, out, *, starts, out_rows):
        chunked_segments.append(out_rows.numel())
        return segment_sum(partials, out, starts=starts, out_rows=out_rows)

    segment_sum = lookup.segment_sum
    monkeypatch.setattr(lookup, "segment_sum", counting_segment_sum)

    p_shapes, q_shapes, ranks, num_rows = CONFIGS["d3-rank16-7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=23)
    ids = make_ids("clustered", num_rows, 20, 30, seed=23)  # segments of up to ~15 terms
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes)).to(DEVICE)
    expected_rows, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)
    runs = []
    for deterministic in (True, True, False):
        rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=deterministic)
        torch.testing.assert_close(rows.double(), expected_rows, rtol=1e-5, atol=1e-5)
        runs.append(torch.autograd.grad(rows, cores, grad_rows))
        for grad, expected in zip(runs[-1], expected_grads, strict=True):
            torch.testing.assert_close(grad.double(), expected, rtol=1e-5, atol=1e-5)
    for first, second in zip(runs[0], runs[1], strict=True):
        assert torch.equal(first, second)
    assert chunked_segments, "no segment was long enough to be chunked"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_cores_accumulate_in_fp32(dtype: torch.dtype) -> None:
    p_shapes, q_shapes, ranks, num_rows = CONFIGS["d3-rank32"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=7, dtype=dtype)
    ids = make_ids("random", num_rows, 15, 16, seed=7)
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes)).to(dtype=dtype, device=DEVICE)
    # The reference sees exactly the half-precision values, in float64.
    expected_rows, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)
    rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes)
    assert rows.dtype == dtype

    # fp32 accumulation: apart from fp32-sized errors, only the final rounding to the storage
    # type shows: at most half a unit in the last place of each element. Rounding any partial
    # product to half precision would break this for the elements that come out small.
    def assert_rounded_once(result: torch.Tensor, expected: torch.Tensor) -> None:
        half_unit = torch.finfo(dtype).eps / 2
        bound = half_unit * expected.abs() + 1e-5 * expected.abs().max()
        assert ((result.double() - expected).abs() <= bound).all()

    assert_rounded_once(rows, expected_rows)
    grads = torch.autograd.grad(rows, cores, grad_rows)
    for grad, expected in zip(grads, expected_grads, strict=True):
        assert grad.dtype == dtype
        assert_rounded_once(grad, expected)


def test_only_requested_core_gradients_are_computed() -> None:
    p_shapes, q_shapes, ranks, num_rows = CONFIGS["d3-rank16-7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=9)
    cores[0].requires_grad_(False)
    cores[2].requires_grad_(False)
    ids = make_ids("clustered", num_rows, 20, 12, seed=9)
    rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes)
    rows.sum().backward()
    assert cores[0].grad is None and cores[2].grad is None
    _, expected = reference_rows_and_grads(cores, ids, torch.ones_like(rows))
    torch.testing.assert_close(cores[1].grad.double(), expected[1], rtol=1e-5, atol=1e-5)


def test_empty_batch_gives_empty_rows() -> None:
    p_shapes, q_shapes, ranks, _ = CONFIGS["d2-rank7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=0)
    ids = torch.empty(0, dtype=torch.int64, device=DEVICE)
    assert kernels.tt_lookup(cores, ids, p_shapes, q_shapes).shape == (0, 20)


def test_bad_inputs_raise_clear_errors() -> None:
    p_shapes, q_shapes, ranks, _ = CONFIGS["d2-rank7"]
    cores = random_cores(p_shapes, q_shapes, ranks, seed=0)
    ids = torch.tensor([0, 1], device=DEVICE)
    with pytest.raises(TypeError, match="float64"):
        kernels.tt_lookup([core.double() for core in cores], ids, p_shapes, q_shapes)
    with pytest.raises(TypeError, match="one dtype"):
        kernels.tt_lookup([cores[0], cores[1].bfloat16()], ids, p_shapes, q_shapes)
    with pytest.raises(ValueError, match=r"core 0 has shape \(6, 1, 4, 7\)"):
        kernels.tt_lookup(cores, ids, p_shapes, (5, 4))
    with pytest.raises(ValueError, match=r"core 1 has shape"):
        kernels.tt_lookup(cores, ids, (6, 6), q_shapes)
    with pytest.raises(ValueError, match="at least|d >= 2"):
        kernels.tt_lookup(cores[:1], ids, p_shapes[:1], q_shapes[:1])
    with pytest.raises(ValueError, match="flat int64"):
        kernels.tt_lookup(cores, ids.int(), p_shapes, q_shapes)


# -- building blocks -------------------------------------------------------------------------


def test_segments_of_groups_terms_stably() -> None:
    order, starts, out_rows = _matmul_module().segments_of(torch.tensor([4, 1, 4, 4, 0, 1]))
    assert order.tolist() == [4, 1, 5, 0, 2, 3]
    assert starts.tolist() == [0, 1, 3, 6]
    assert out_rows.tolist() == [0, 1, 4]
    order, starts, out_rows = _matmul_module().segments_of(
        torch.tensor([0, 0, 2]), already_sorted=True
    )
    assert order is None and starts.tolist() == [0, 2, 3] and out_rows.tolist() == [0, 2]


@pytest.mark.parametrize("reduction", ["none", "atomic", "segments"])
def test_gathered_matmul_on_strided_operands(reduction: str) -> None:
    gm = _matmul_module()
    generator = torch.Generator().manual_seed(13)
    x = torch.randn(4, 7, 5, generator=generator).to(DEVICE)  # stored (rows, K, M)
    x_t = x.transpose(1, 2)  # (4, 5, 7): M = 5, K = 7, non-contiguous
    y_k = torch.randn(3, 7, 70, generator=generator).to(DEVICE)  # K = 7, N = 70 (2 N tiles)
    x_rows = torch.tensor([3, 0, 3, 1, 2], device=DEVICE)
    y_rows = torch.tensor([2, 2, 0, 1, 2], device=DEVICE)
    products = torch.einsum("tmk,tkn->tmn", x_t[x_rows].double(), y_k[y_rows].double())
    if reduction == "none":
        out = torch.full((5, 5, 70), float("nan"), device=DEVICE)
        gm.gathered_matmul(x_t, y_k, out, num_terms=5, x_rows=x_rows, y_rows=y_rows)
        expected = products
    else:
        targets = torch.tensor([1, 0, 1, 1, 0], device=DEVICE)
        expected = torch.zeros(3, 5, 70, dtype=torch.float64, device=DEVICE)
        expected.index_add_(0, targets, products)
        out = torch.zeros(3, 5, 70, device=DEVICE)
        if reduction == "atomic":
            gm.gathered_matmul(
                x_t,
                y_k,
                out,
                num_terms=5,
                x_rows=x_rows,
                y_rows=y_rows,
                reduction="atomic",
                out_rows=targets,
            )
        else:
            out[:2] = float("nan")  # rows 0 and 1 have terms and must be fully stored
            order, starts, out_rows = gm.segments_of(targets)
            gm.gathered_matmul(
                x_t,
                y_k,
                out,
                num_terms=5,
                x_rows=x_rows,
                y_rows=y_rows,
                reduction="segments",
                out_rows=out_rows,
                order=order,
                starts=starts,
            )
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_gathered_matmul_rejects_inconsistent_arguments() -> None:
    gm = _matmul_module()
    x, y = torch.randn(2, 3, 4), torch.randn(2, 4, 5)
    with pytest.raises(ValueError, match="do not chain"):
        gm.gathered_matmul(x, y, torch.empty(2, 3, 6), num_terms=2)
    with pytest.raises(TypeError, match="float32"):
        gm.gathered_matmul(
            x,
            y,
            torch.empty(2, 3, 5, dtype=torch.bfloat16),
            num_terms=2,
            reduction="atomic",
            out_rows=torch.tensor([0, 1]),
        )
    with pytest.raises(ValueError, match="reduction must be one of"):
        gm.gathered_matmul(x, y, torch.empty(2, 3, 5), num_terms=2, reduction="sum")


# -- packaging and dispatch ------------------------------------------------------------------


def test_importing_the_package_does_not_import_triton() -> None:
    code = "import sys, tt_gnn.kernels; assert 'triton' not in sys.modules, 'triton imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ttembedding_triton_backend_matches_torch_backend() -> None:
    from tt_gnn.embedding import TTEmbedding

    torch.manual_seed(17)
    triton_module = TTEmbedding(50, 12, rank=7, num_cores=3, backend="triton", device=DEVICE)
    torch_module = TTEmbedding(50, 12, rank=7, num_cores=3, backend="torch", device=DEVICE)
    torch_module.load_state_dict(triton_module.state_dict())
    ids = torch.tensor([[0, 49, 7], [7, 7, 23]], device=DEVICE)
    rows = triton_module(ids)
    expected = torch_module(ids)
    torch.testing.assert_close(rows, expected, rtol=1e-5, atol=1e-5)
    rows.square().sum().backward()
    expected.square().sum().backward()
    for core, expected_core in zip(triton_module.cores, torch_module.cores, strict=True):
        torch.testing.assert_close(core.grad, expected_core.grad, rtol=1e-5, atol=1e-5)


# inf times the zero padding of a tile is NaN in lanes that are never stored; numpy warns.
@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
def test_bfloat16_output_rounds_to_nearest_even_like_torch() -> None:
    gm = _matmul_module()
    one = 1.0
    values = torch.tensor(
        [
            one + 2**-8,  # a tie: rounds down to the even 1.0
            one + 3 * 2**-8,  # a tie: rounds up to the even 1 + 2**-6
            one + 2**-8 + 2**-20,  # just above a tie: rounds up
            2.0 - 2**-9,  # all kept mantissa bits set: the carry reaches the exponent
            -(3.0 - 2**-10),
            3.0e38,  # beyond the largest bf16 that rounds down: becomes inf
            float("inf"),
            float("-inf"),
            float("nan"),
            1e-40,  # subnormal
            0.0,
        ]
    )
    x = values.reshape(-1, 1, 1).to(DEVICE)
    y = torch.ones(1, 1, 1, device=DEVICE)
    out = torch.empty(values.shape[0], 1, 1, dtype=torch.bfloat16, device=DEVICE)
    gm.gathered_matmul(
        x, y, out, num_terms=values.shape[0], y_rows=torch.zeros_like(x[:, 0, 0], dtype=torch.int64)
    )
    expected = x.to(torch.bfloat16)
    is_nan = expected.isnan()
    assert torch.equal(out.isnan(), is_nan)
    assert torch.equal(out[~is_nan].view(torch.int16), expected[~is_nan].view(torch.int16))


def test_cost_model_counts() -> None:
    from tt_gnn.kernels.cost import level_flops_per_term, lookup_cost
    from tt_gnn.kernels.plan import plan_prefixes

    # ANCHORS: d = 3 costs 2 * (q1 r1 q2 r2 + q1 q2 r2 q3) flops per row without sharing.
    q, r = (4, 4, 8), 16
    per_row = 2 * (q[0] * r * q[1] * r + q[0] * q[1] * r * q[2])
    assert sum(level_flops_per_term(q, (1, r, r, 1))) == per_row == 12288
    ids = make_ids("clustered", 120, 20, 40, seed=19).cpu()
    p_shapes = (2, 3, 4, 5)
    distinct = [len(set((ids // math.prod(p_shapes[k + 1 :])).tolist())) for k in (1, 2)]
    assert plan_prefixes(ids, p_shapes).num_terms[1:] == [*distinct, 40]
    cost = lookup_cost(
        (2, 2, 2), (1, 3, 3, 1), terms_per_level=(5, 10), dtype_bytes=2, core_elements=(12, 54, 18)
    )
    assert cost.forward_flops == 5 * 2 * 2 * 3 * 2 * 3 + 10 * 2 * 4 * 3 * 2
    assert cost.backward_flops == 2 * cost.forward_flops
    assert cost.forward_bytes == 10 * (8 + 8 * 2) + 84 * 2
    assert cost.backward_bytes == cost.forward_bytes + 84 * 4
    assert cost.prefix_bytes == 2 * 4 * 5 * (2 * 2) * 3


@pytest.mark.slow
def test_bench_gpu_dry_run_runs_end_to_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "experiments" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", script)
    bench_gpu = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_gpu", bench_gpu)  # dataclasses look it up there
    spec.loader.exec_module(bench_gpu)
    arguments = ["--dry-run", "--shapes", "tiny-d2", "--patterns", "clustered", "--ranks", "3"]
    assert bench_gpu.main([*arguments, "--batch-size", "8"]) == 0
    table = capsys.readouterr().out
    for method in ("TT triton", "TT triton deterministic", "TT torch path", "nn.Embedding sparse"):
        assert f"| {method} | step |" in table


# -- GPU code generation, checked offline -------------------------------------------------------
# Triton's wheel bundles ptxas and cuobjdump, so the kernel compiles to a cubin for a GPU that is
# not there; its resource usage shows register spills that the interpreter cannot.

# (REDUCTION, X_ROW_IS_TERM, Y_ROW_IS_TERM, HAS_ORDER) as lookup.py launches them.
KERNEL_VARIANTS = [
    (0, False, False, False),  # forward levels
    (1, False, True, False),  # core gradients, atomic
    (1, True, False, False),  # parent gradients of the last level, atomic
    (2, False, True, True),  # core gradients, deterministic
    (2, True, False, True),  # parent gradients of the last level, deterministic
    (2, True, False, False),  # parent gradients of sorted prefix terms
]
TILE_SHAPES = [(m, n) for m in (16, 32) for n in (16, 32, 64)]


def compile_resource_usage(
    cases: list[tuple[tuple[int, bool, bool, bool], int, int, tuple[str, str, str], int]],
) -> list[tuple[int, int]]:
    """(registers per thread, stack bytes) of each case compiled for ``sm_<capability>``.

    A case is ``(variant, size_m, size_n, (x, y, out) dtypes, capability)``. Runs in a child
    process without ``TRITON_INTERPRET``, where the kernel is decorated for the GPU.
    """
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    project_root = str(Path(__file__).resolve().parents[1])  # for ``tests.reference``
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [project_root, environment.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [sys.executable, __file__, json.dumps(cases)],
        env=environment,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode == 3:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stderr[-3000:]
    return [tuple(usage) for usage in json.loads(result.stdout.strip().splitlines()[-1])]


def _compile_cases_in_this_process(cases: list) -> list[tuple[int, int]]:
    import tempfile

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from tt_gnn.kernels.triton import gathered_matmul

    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    if not cuobjdump.exists():
        print(f"no cuobjdump in the Triton wheel at {cuobjdump}")
        sys.exit(3)
    usages = []
    for variant, size_m, size_n, dtypes, capability in cases:
        if variant is None:  # the second pass of chunked segments
            kernel = gathered_matmul._segment_sum_kernel
            num_warps = 4
            constants = {"BLOCK": 1024}
            pointers = {"partials_ptr": "*fp32", "out_ptr": "*fp32"}
            pointers.update(starts_ptr="*i64", out_rows_ptr="*i64")
        else:
            kernel = gathered_matmul._gathered_matmul_kernel
            reduction, x_row_is_term, y_row_is_term, has_order = variant
            config = gathered_matmul.launch_config(size_m, size_n, 64)
            num_warps = config.pop("num_warps")
            constants = dict(
                REDUCTION=reduction,
                X_ROW_IS_TERM=x_row_is_term,
                Y_ROW_IS_TERM=y_row_is_term,
                HAS_ORDER=has_order,
                **config,
            )
            pointers = {"x_ptr": f"*{dtypes[0]}", "y_ptr": f"*{dtypes[1]}"}
            pointers["out_ptr"] = f"*{dtypes[2]}"
            for name in ("x_rows_ptr", "y_rows_ptr", "out_rows_ptr", "order_ptr", "starts_ptr"):
                pointers[name] = "*i64"
        names = kernel.arg_names
        signature = {name: "constexpr" if name in constants else "i32" for name in names}
        signature.update(pointers)
        constexprs = {(names.index(key),): value for key, value in constants.items()}
        compiled = triton.compile(
            ASTSource(kernel, signature, constexprs=constexprs),
            target=GPUTarget("cuda", capability, 32),
            options={"num_warps": num_warps},
        )
        with tempfile.TemporaryDirectory() as directory:
            cubin = Path(directory) / "kernel.cubin"
            cubin.write_bytes(compiled.asm["cubin"])
            report = subprocess.run(
                [str(cuobjdump), "--dump-resource-usage", str(cubin)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        line = next(line for line in report.splitlines() if "REG:" in line)
        fields = dict(item.split(":", 1) for item in line.split() if ":" in item)
        usages.append((int(fields["REG"]), int(fields["STACK"])))
    return usages


def _assert_compiles_lean(cases: list) -> None:
    for case, (registers, stack) in zip(cases, compile_resource_usage(cases), strict=True):
        assert stack == 0 and registers <= 128, (case, registers, stack)


def test_kernel_compiles_for_sm90_without_spills() -> None:
    fp32 = ("fp32", "fp32", "fp32")
    _assert_compiles_lean(
        [
            (KERNEL_VARIANTS[0], 32, 64, fp32, 90),
            (KERNEL_VARIANTS[3], 32, 64, fp32, 90),
            (None, 0, 0, fp32, 90),
        ]
    )


@pytest.mark.slow
def test_every_kernel_variant_compiles_without_spills() -> None:
    cases = []
    for variant in KERNEL_VARIANTS:
        for size_m, size_n in TILE_SHAPES:
            cases.append((variant, size_m, size_n, ("fp32", "fp32", "fp32"), 90))
        for dtypes in (("bf16", "bf16", "bf16"), ("fp32", "bf16", "fp32")):
            cases.append((variant, 32, 64, dtypes, 90))
        cases.append((variant, 32, 64, ("fp32", "fp32", "fp32"), 80))
    cases.append((None, 0, 0, ("fp32", "fp32", "fp32"), 80))
    _assert_compiles_lean(cases)


if __name__ == "__main__":  # the child process of compile_resource_usage
    print(json.dumps(_compile_cases_in_this_process(json.loads(sys.argv[1]))))
