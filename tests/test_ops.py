import math

import pytest
import torch

import tt_gnn.ops as ops
from tests.reference import dense_from_cores, random_cores

CASES = [
    ((6, 5), (3, 2), (4,)),
    ((4, 3, 5), (2, 3, 2), (3, 5)),
    ((3, 2, 4, 3), (2, 1, 2, 3), (2, 3, 4)),
]


def random_ids(num_rows, count, generator, repeats=True):
    ids = torch.randint(0, num_rows, (count,), generator=generator)
    if repeats:
        ids[: count // 4] = ids[count // 4 : 2 * (count // 4)]  # force duplicates
    return ids


@pytest.mark.parametrize("p_shapes, q_shapes, ranks", CASES)
def test_fast_and_naive_match_dense_einsum(p_shapes, q_shapes, ranks):
    generator = torch.Generator().manual_seed(3)
    cores = random_cores(p_shapes, q_shapes, ranks, generator=generator)
    dense = dense_from_cores(cores)
    ids = random_ids(math.prod(p_shapes), 200, generator)
    torch.testing.assert_close(ops.tt_lookup(cores, ids, p_shapes, q_shapes), dense[ids])
    torch.testing.assert_close(ops.naive_tt_lookup(cores, ids, p_shapes), dense[ids])


@pytest.mark.parametrize("p_shapes, q_shapes, ranks", CASES)
def test_gradcheck_float64(p_shapes, q_shapes, ranks):
    generator = torch.Generator().manual_seed(4)
    cores = random_cores(p_shapes, q_shapes, ranks, generator=generator, requires_grad=True)
    ids = random_ids(math.prod(p_shapes), 16, generator)
    assert torch.autograd.gradcheck(
        lambda *c: ops.tt_lookup(c, ids, p_shapes, q_shapes), cores, fast_mode=True
    )


@pytest.mark.parametrize("p_shapes, q_shapes, ranks", CASES)
def test_gradients_match_dense_autograd(p_shapes, q_shapes, ranks):
    generator = torch.Generator().manual_seed(5)
    cores = random_cores(p_shapes, q_shapes, ranks, generator=generator, requires_grad=True)
    ids = random_ids(math.prod(p_shapes), 300, generator)
    weights = torch.randn(300, math.prod(q_shapes), dtype=torch.float64, generator=generator)
    rows = ops.tt_lookup(cores, ids, p_shapes, q_shapes)
    fast = torch.autograd.grad((rows * weights).sum(), cores)
    dense = torch.autograd.grad((dense_from_cores(cores)[ids] * weights).sum(), cores)
    for got, expected in zip(fast, dense):
        torch.testing.assert_close(got, expected)


def test_many_chunks_agree_with_one(monkeypatch):
    generator = torch.Generator().manual_seed(6)
    p_shapes, q_shapes = (7, 6, 9), (2, 2, 4)
    cores = random_cores(p_shapes, q_shapes, (5, 6), generator=generator, requires_grad=True)
    ids = torch.randint(0, math.prod(p_shapes), (3000,), generator=generator)
    grad = torch.randn(3000, 16, dtype=torch.float64, generator=generator)

    def run():
        out = ops.tt_lookup(cores, ids, p_shapes, q_shapes)
        return (out, *torch.autograd.grad(out, cores, grad))

    whole = run()
    monkeypatch.setattr(ops, "_CHUNK_BYTES", 1)  # 256-row chunks
    assert len(ops._chunks(3000, 8)) == 12
    for got, expected in zip(run(), whole):
        torch.testing.assert_close(got, expected)


def test_frozen_cores_get_no_gradient():
    generator = torch.Generator().manual_seed(7)
    cores = random_cores((4, 5), (2, 2), (3,), generator=generator)
    cores[1].requires_grad_(True)
    out = ops.tt_lookup(cores, torch.tensor([0, 19, 3]), (4, 5), (2, 2))
    (grad,) = torch.autograd.grad(out.sum(), [cores[1]])
    assert grad.shape == cores[1].shape and cores[0].grad is None


def test_empty_ids():
    cores = random_cores((4, 5), (2, 2), (3,))
    assert ops.tt_lookup(cores, torch.empty(0, dtype=torch.long), (4, 5), (2, 2)).shape == (0, 4)


@pytest.mark.parametrize("dense_fraction", [0.0, float("inf")])
@pytest.mark.parametrize("p_shapes, q_shapes, ranks", CASES)
def test_dense_block_and_row_paths_match_reference(
    monkeypatch, dense_fraction, p_shapes, q_shapes, ranks
):
    monkeypatch.setattr(ops, "_DENSE_FRACTION", dense_fraction)  # 0: always dense; inf: never
    generator = torch.Generator().manual_seed(8)
    cores = random_cores(p_shapes, q_shapes, ranks, generator=generator, requires_grad=True)
    ids = random_ids(math.prod(p_shapes), 100, generator)
    weights = torch.randn(100, math.prod(q_shapes), dtype=torch.float64, generator=generator)
    rows = ops.tt_lookup(cores, ids, p_shapes, q_shapes)
    dense = dense_from_cores(cores)[ids]
    torch.testing.assert_close(rows, dense)
    fast = torch.autograd.grad((rows * weights).sum(), cores)
    expected = torch.autograd.grad((dense * weights).sum(), cores)
    for got, want in zip(fast, expected):
        torch.testing.assert_close(got, want)
