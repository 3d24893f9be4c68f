import itertools
import math

import pytest
import torch

from tt_gnn.shapes import (
    TTShapes,
    check_shapes,
    choose_shapes,
    digits_to_ids,
    factor_embedding_dim,
    factor_num_embeddings,
    ids_to_digits,
)


def brute_force_factorizations(value, parts):
    divisors = [x for x in range(1, value + 1) if value % x == 0]
    return [
        combo for combo in itertools.product(divisors, repeat=parts) if math.prod(combo) == value
    ]


@pytest.mark.parametrize("num_cores", [2, 3, 4])
@pytest.mark.parametrize("dim", [1, 7, 12, 16, 30, 64, 100, 128])
def test_embedding_dim_factors_exact_and_most_balanced(dim, num_cores):
    factors = factor_embedding_dim(dim, num_cores)
    assert math.prod(factors) == dim and len(factors) == num_cores
    best_largest = min(max(c) for c in brute_force_factorizations(dim, num_cores))
    assert max(factors) == best_largest


@pytest.mark.parametrize("num_cores", [2, 3, 4])
def test_num_embeddings_factors_cover_with_little_padding(num_cores):
    generator = torch.Generator().manual_seed(1)
    sizes = torch.randint(1000, 5_000_000, (25,), generator=generator).tolist()
    for size in sizes + [2_449_029, 111_059_956]:
        factors = factor_num_embeddings(size, num_cores)
        assert len(factors) == num_cores and list(factors) == sorted(factors)
        assert math.prod(factors) >= size
        assert (math.prod(factors) - size) / size < 0.01, (size, factors)
        root = size ** (1 / num_cores)
        assert max(factors) <= 1.5 * root + 1 and min(factors) >= root / 1.5 - 1


@pytest.mark.parametrize("size", [1, 2, 5, 17, 100])
def test_small_num_embeddings(size):
    factors = factor_num_embeddings(size, 3)
    assert math.prod(factors) >= size


def test_choose_shapes_defaults_and_padding():
    shapes = choose_shapes(2_449_029, 128)
    assert shapes.q_shapes == (4, 4, 8)
    assert shapes.capacity == math.prod(shapes.p_shapes)
    assert shapes.padding == shapes.capacity - 2_449_029
    assert 0 <= shapes.padding_fraction < 0.001


def test_choose_shapes_keeps_given_shapes():
    shapes = choose_shapes(2_449_029, 100, p_shapes=(125, 140, 140), q_shapes=(4, 5, 5))
    assert shapes.p_shapes == (125, 140, 140) and shapes.q_shapes == (4, 5, 5)
    assert shapes.padding == 971


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_embeddings=100, embedding_dim=16, q_shapes=(2, 2, 2)), "multiply to 8"),
        (dict(num_embeddings=100, embedding_dim=8, p_shapes=(4, 4, 4)), "fewer than"),
        (dict(num_embeddings=100, embedding_dim=8, p_shapes=(5, 5, 5), q_shapes=(2, 4)), "same"),
        (dict(num_embeddings=100, embedding_dim=8, num_cores=1), "num_cores"),
        (dict(num_embeddings=0, embedding_dim=8), "num_embeddings"),
        (dict(num_embeddings=10, embedding_dim=-1), "embedding_dim"),
        (dict(num_embeddings=10, embedding_dim=8, p_shapes=(0, 20, 20)), "p_shapes"),
    ],
)
def test_choose_shapes_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_shapes(**kwargs)


def test_float_sizes_rejected():
    with pytest.raises(TypeError, match="num_embeddings"):
        choose_shapes(10.0, 8)


def test_check_shapes_direct():
    with pytest.raises(ValueError, match="multiply to"):
        check_shapes(TTShapes(10, 8, (3, 4), (2, 2)))


def test_digits_match_explicit_formula_and_round_trip():
    p_shapes = (5, 7, 3)
    ids = torch.randint(0, math.prod(p_shapes), (500,))
    digits = ids_to_digits(ids, p_shapes)
    assert torch.equal(digits[:, 0], ids // (7 * 3))
    assert torch.equal(digits[:, 1], (ids // 3) % 7)
    assert torch.equal(digits[:, 2], ids % 3)
    assert torch.equal(digits_to_ids(digits, p_shapes), ids)


def test_digits_keep_leading_shape():
    ids = torch.arange(24).reshape(2, 3, 4)
    assert ids_to_digits(ids, (2, 3, 4)).shape == (2, 3, 4, 3)
    with pytest.raises(ValueError, match="one per core"):
        digits_to_ids(torch.zeros(4, 2, dtype=torch.long), (2, 3, 4))
