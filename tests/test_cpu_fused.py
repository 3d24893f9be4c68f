"""Tests of the fused CPU kernel (tt_gnn.kernels.cpu_fused) against independent references.

References: the dense float64 table from ``tests/reference.dense_from_cores`` (rows) and
``torch.autograd`` through it (core gradients), ``torch.autograd.gradcheck``, and the torch
path ``tt_gnn.ops.tt_lookup``.

The shapes exercise every path of the kernel's small matmuls: ``Q = prod(q[:-1]) = 12`` (an
8-row block and 4 single rows), ``C = q[-1] = 10`` (a whole vector and a part one in float32,
two whole and a part in float64), last rank ``R = 5`` (a part vector) or 1. The first test of
each dtype compiles its kernels unless numba's cache already holds them.
"""

from __future__ import annotations

import doctest
import math
import multiprocessing
import subprocess
import sys

import pytest
import torch

from tests.reference import dense_from_cores, random_cores
from tt_gnn.kernels import cpu_fused
from tt_gnn.ops import _forward_partials as torch_forward_partials
from tt_gnn.ops import tt_lookup as torch_tt_lookup

pytestmark = pytest.mark.skipif(
    not cpu_fused.available(), reason="numba is not installed or its kernels do not work here"
)

# (p_shapes, q_shapes, internal ranks): d = 2, 3, 4; ranks 1, square and non-square.
SHAPES = {
    "d2": ((6, 7), (12, 10), (5,)),
    "d3": ((4, 3, 5), (3, 4, 10), (7, 5)),
    "d4": ((2, 3, 2, 4), (2, 3, 2, 10), (3, 6, 5)),
    "d2_rank1": ((6, 7), (12, 10), (1,)),
    "d3_rank1": ((4, 3, 5), (3, 4, 10), (1, 1)),
    # 6,400 prefixes at the middle level: several chunks there too
    "d3_wide": ((80, 80, 3), (2, 3, 4), (3, 4)),
}


def make_cores(name: str, dtype: torch.dtype = torch.float64, seed: int = 0):
    p_shapes, q_shapes, ranks = SHAPES[name]
    generator = torch.Generator().manual_seed(seed)
    cores = random_cores(
        p_shapes, q_shapes, ranks, dtype=dtype, generator=generator, requires_grad=True
    )
    return cores, p_shapes, q_shapes


def reference_rows_and_grads(cores, ids, grad_rows):
    """Rows gathered from the dense float64 table, and core gradients through it."""
    cores64 = [core.detach().double().requires_grad_() for core in cores]
    rows = dense_from_cores(cores64)[ids]
    grads = torch.autograd.grad(rows, cores64, grad_rows.double())
    return rows.detach(), grads


def fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows):
    rows = cpu_fused.tt_lookup(cores, ids, p_shapes, q_shapes)
    grads = torch.autograd.grad(rows, cores, grad_rows)
    return rows.detach(), grads


def batch(p_shapes, kind: str, generator: torch.Generator) -> torch.Tensor:
    capacity = math.prod(p_shapes)
    if kind == "random":
        return torch.randint(0, capacity, (300,), generator=generator)
    if kind == "repeated":  # a few ids, each many times, in shuffled order
        few = torch.randint(0, capacity, (5,), generator=generator)
        return few[torch.randint(0, 5, (200,), generator=generator)]
    if kind == "single":
        return torch.tensor([capacity - 1])
    if kind == "first_and_last":
        return torch.tensor([0, capacity - 1, 0])
    raise ValueError(kind)


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("kind", ["random", "repeated", "single", "first_and_last"])
def test_rows_and_gradients_match_dense_reference_float64(name, kind):
    cores, p_shapes, q_shapes = make_cores(name)
    generator = torch.Generator().manual_seed(1)
    ids = batch(p_shapes, kind, generator)
    grad_rows = torch.randn(
        ids.shape[0], math.prod(q_shapes), dtype=torch.float64, generator=generator
    )
    rows, grads = fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows)
    expected_rows, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)
    torch.testing.assert_close(rows, expected_rows, rtol=1e-12, atol=1e-12)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("name", ["d2", "d3_rank1", "d4"])
def test_float32_within_rounding_of_float64_reference(name):
    cores, p_shapes, q_shapes = make_cores(name, dtype=torch.float32)
    generator = torch.Generator().manual_seed(2)
    ids = batch(p_shapes, "random", generator)
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes), generator=generator)
    rows, grads = fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows)
    expected_rows, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)
    assert rows.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads)
    scale = expected_rows.abs().max().item()
    torch.testing.assert_close(rows.double(), expected_rows, rtol=0, atol=1e-5 * scale)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(
            grad.double(), expected, rtol=0, atol=1e-5 * expected.abs().max().item()
        )


@pytest.mark.parametrize("name", ["d2", "d3", "d4", "d3_rank1"])
def test_gradcheck_float64(name):
    p_shapes, q_shapes, ranks = SHAPES[name]
    generator = torch.Generator().manual_seed(3)
    small_p = tuple(min(p, 3) for p in p_shapes)
    cores = random_cores(small_p, q_shapes, ranks, generator=generator, requires_grad=True)
    ids = torch.tensor([0, math.prod(small_p) - 1, 4, 4, 1])

    def lookup(*cores):
        return cpu_fused.tt_lookup(list(cores), ids, small_p, q_shapes)

    assert torch.autograd.gradcheck(lookup, tuple(cores), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["d3", "d3_wide"])
def test_equals_torch_path_on_many_chunks_and_threads(name):
    """A batch of several chunks (> 4096 rows each) on 1 and 2 threads: the same values as the
    torch path; the rows and every core's gradient bitwise the same on both (the chunking
    ignores the thread count, and every level runs the kernel)."""
    cores, p_shapes, q_shapes = make_cores(name, dtype=torch.float32)
    generator = torch.Generator().manual_seed(4)
    ids = torch.randint(0, math.prod(p_shapes), (13000,), generator=generator)
    if name == "d3_wide":
        levels = cpu_fused.plan_prefixes(ids, p_shapes)
        assert cpu_fused._plan_rows(levels.parents[1], 80, cores[1]).num_chunks >= 2
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes), generator=generator)
    expected_rows = torch_tt_lookup(cores, ids, p_shapes, q_shapes)
    expected_grads = torch.autograd.grad(expected_rows, cores, grad_rows)
    threads = torch.get_num_threads()
    results = []
    try:
        for num_threads in (1, 2):
            torch.set_num_threads(num_threads)
            results.append(fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows))
    finally:
        torch.set_num_threads(threads)
    (rows_one, grads_one), (rows_two, grads_two) = results
    scale = expected_rows.abs().max().item()
    torch.testing.assert_close(rows_one, expected_rows.detach(), rtol=0, atol=1e-5 * scale)
    for grad, expected in zip(grads_one, expected_grads):  # sums of 13000 float32 terms
        torch.testing.assert_close(grad, expected, rtol=0, atol=1e-5 * expected.abs().max().item())
    assert torch.equal(rows_one, rows_two)
    assert all(torch.equal(one, two) for one, two in zip(grads_one, grads_two))


def test_deterministic_runs_are_bitwise_identical():
    cores, p_shapes, q_shapes = make_cores("d4", dtype=torch.float32)
    generator = torch.Generator().manual_seed(5)
    ids = torch.randint(0, math.prod(p_shapes), (3000,), generator=generator)
    grad_rows = torch.randn(ids.shape[0], math.prod(q_shapes), generator=generator)
    first = fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows)
    second = fused_rows_and_grads(cores, ids, p_shapes, q_shapes, grad_rows)
    assert torch.equal(first[0], second[0])
    assert all(torch.equal(a, b) for a, b in zip(first[1], second[1]))
    rows = cpu_fused.tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=True)
    assert torch.equal(rows.detach(), first[0])


def test_empty_batch():
    cores, p_shapes, q_shapes = make_cores("d3")
    rows = cpu_fused.tt_lookup(cores, torch.empty(0, dtype=torch.int64), p_shapes, q_shapes)
    assert rows.shape == (0, math.prod(q_shapes)) and rows.dtype == torch.float64


@pytest.mark.parametrize("frozen", [0, 1, 2])
def test_gradients_only_for_cores_that_require_them(frozen):
    cores, p_shapes, q_shapes = make_cores("d3")
    cores[frozen].requires_grad_(False)
    generator = torch.Generator().manual_seed(6)
    ids = batch(p_shapes, "random", generator)
    grad_rows = torch.randn(
        ids.shape[0], math.prod(q_shapes), dtype=torch.float64, generator=generator
    )
    rows = cpu_fused.tt_lookup(cores, ids, p_shapes, q_shapes)
    rows.backward(grad_rows)
    _, expected_grads = reference_rows_and_grads(cores, ids, grad_rows)
    for index, (core, expected) in enumerate(zip(cores, expected_grads)):
        if index == frozen:
            assert core.grad is None
        else:
            torch.testing.assert_close(core.grad, expected, rtol=1e-11, atol=1e-11)


def test_bfloat16_runs_the_torch_path():
    cores, p_shapes, q_shapes = make_cores("d3", dtype=torch.bfloat16)
    ids = batch(p_shapes, "random", torch.Generator().manual_seed(7))
    rows = cpu_fused.tt_lookup(cores, ids, p_shapes, q_shapes)
    assert torch.equal(rows, torch_tt_lookup(cores, ids, p_shapes, q_shapes))


def test_bad_input_errors():
    cores, p_shapes, q_shapes = make_cores("d3")
    ids = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="d >= 2 cores, got 1"):
        cpu_fused.tt_lookup(cores[:1], ids, p_shapes[:1], q_shapes[:1])
    meta = [core.detach().to("meta") for core in cores]
    with pytest.raises(ValueError, match=r"needs CPU cores, got cores on \['meta'\]"):
        cpu_fused.tt_lookup(meta, ids, p_shapes, q_shapes)


def test_unavailable_without_numba(monkeypatch):
    monkeypatch.setattr(cpu_fused.importlib.util, "find_spec", lambda name: None)
    assert cpu_fused.available.__wrapped__() is False


def test_import_neither_imports_numba_nor_compiles():
    code = "import sys, tt_gnn, tt_gnn.kernels.cpu_fused; print('numba' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_docstring_examples():
    result = doctest.testmod(cpu_fused, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def _last_level_in_child(queue, arguments):
    torch.set_num_threads(2)
    queue.put(cpu_fused._level_forward(*arguments).numpy())  # a plain pickle, no shared fd


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_forked_child_runs_the_kernel_on_its_own_thread_pool():
    """The parent's pool threads do not exist in a forked child; the child must start its own.
    (Only the kernel runs in the child: torch's own OpenMP matmuls can hang after a fork.)"""
    cores, p_shapes, _ = make_cores("d3")
    cores = [core.detach() for core in cores]
    ids = torch.randint(0, math.prod(p_shapes), (9000,), generator=torch.Generator().manual_seed(8))
    levels = cpu_fused.plan_prefixes(ids, p_shapes)
    partial = torch_forward_partials(cores[:-1], levels)[-1]
    plan = cpu_fused._plan_rows(levels.parents[-1], partial.shape[0], cores[-1])
    arguments = (partial, cores[-1], levels.digits[-1], plan)
    assert plan.num_chunks >= 2
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the parent starts its pool before forking
        expected = cpu_fused._level_forward(*arguments)
    finally:
        torch.set_num_threads(threads)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_last_level_in_child, args=(queue, arguments))
    child.start()
    rows = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert torch.equal(torch.from_numpy(rows), expected)
