"""Tests for tt_gnn.factorize: the row and column factor searches against brute force."""

import itertools
import math

import pytest
import torch

from tt_gnn.factorize import factor_embedding_dim, factor_num_embeddings


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
