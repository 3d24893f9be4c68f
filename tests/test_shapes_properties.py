"""Property tests (Hypothesis) of the automatic factorization, digits and id validation.

Examples are derandomized (the same every run), so a failure reproduces and no run is flaky.
"""

from __future__ import annotations

import itertools
import math
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tt_gnn import TTEmbedding
from tt_gnn.shapes import (
    MAX_CAPACITY,
    MAX_NUM_EMBEDDINGS,
    choose_shapes,
    digits_to_ids,
    factor_embedding_dim,
    ids_to_digits,
    max_num_cores,
)

PROPERTIES = settings(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def near_root_padding(num_embeddings: int, num_cores: int) -> tuple[int, int] | None:
    """Padding of the closed-form choice ``a^k (a+1)^(d-k)`` (``a = floor(N**(1/d))``, the
    smallest product >= N), and ``a``; None when that product exceeds 2**63."""
    a = round(num_embeddings ** (1 / num_cores))
    while a**num_cores > num_embeddings:
        a -= 1
    while (a + 1) ** num_cores <= num_embeddings:
        a += 1
    for k in range(num_cores, -1, -1):
        capacity = a**k * (a + 1) ** (num_cores - k)
        if capacity >= num_embeddings:
            return (capacity - num_embeddings, a) if capacity <= MAX_CAPACITY else None
    raise AssertionError("unreachable: (a + 1) ** d > N")


@st.composite
def table_sizes(draw: st.DrawFn) -> tuple[int, int, int]:
    digits = draw(st.integers(0, 18))
    num_embeddings = draw(st.integers(1, min(10 ** (digits + 1), MAX_NUM_EMBEDDINGS)))
    embedding_dim = draw(st.integers(1, 4096))
    num_cores = draw(st.integers(2, max_num_cores(num_embeddings, embedding_dim)))
    return num_embeddings, embedding_dim, num_cores


@PROPERTIES
@given(table_sizes())
def test_choose_shapes_covers_exactly_with_bounded_padding_in_bounded_time(sizes):
    num_embeddings, embedding_dim, num_cores = sizes
    started = time.perf_counter()
    try:
        shapes = choose_shapes(num_embeddings, embedding_dim, num_cores)
    except ValueError as error:  # only where no product in [N, 2**63] is near the root
        assert "cannot factor" in str(error) and near_root_padding(*sizes[::2]) is None
        return
    seconds = time.perf_counter() - started
    assert seconds < 2.0, (sizes, seconds)
    assert shapes.num_cores == num_cores
    assert math.prod(shapes.q_shapes) == embedding_dim
    assert num_embeddings <= math.prod(shapes.p_shapes) <= MAX_CAPACITY
    assert list(shapes.p_shapes) == sorted(shapes.p_shapes)
    reference = near_root_padding(num_embeddings, num_cores)
    if reference is not None:
        # The search scores the closed-form tuple too: it can only trade padding for balance,
        # by at most the imbalance weight times that tuple's imbalance ((a + 1) / a - 1).
        padding, a = reference
        assert shapes.padding / num_embeddings <= padding / num_embeddings + 0.002 / a + 1e-12


@PROPERTIES
@given(st.integers(1, 2000), st.integers(1, 4))
def test_column_factors_are_exact_and_as_balanced_as_brute_force(embedding_dim, num_cores):
    factors = factor_embedding_dim(embedding_dim, num_cores)
    assert len(factors) == num_cores and math.prod(factors) == embedding_dim
    divisors = [x for x in range(1, embedding_dim + 1) if embedding_dim % x == 0]
    best = min(
        (max(combo), -min(combo))
        for combo in itertools.product(divisors, repeat=num_cores)
        if math.prod(combo) == embedding_dim
    )
    assert (max(factors), -min(factors)) == best


@st.composite
def ids_and_shapes(draw: st.DrawFn) -> tuple[torch.Tensor, tuple[int, ...]]:
    p_shapes = tuple(draw(st.lists(st.integers(1, 60), min_size=1, max_size=6)))
    capacity = math.prod(p_shapes)
    ids = draw(st.lists(st.integers(0, capacity - 1), min_size=0, max_size=50))
    return torch.tensor(ids, dtype=torch.int64), p_shapes


@PROPERTIES
@given(ids_and_shapes())
def test_digits_round_trip_and_stay_in_range(case):
    ids, p_shapes = case
    digits = ids_to_digits(ids, p_shapes)
    assert digits.shape == (ids.shape[0], len(p_shapes))
    for k, base in enumerate(p_shapes):
        assert bool(((digits[:, k] >= 0) & (digits[:, k] < base)).all())
    assert torch.equal(digits_to_ids(digits, p_shapes), ids)


_TABLES: dict[int, TTEmbedding] = {}


def _table(num_embeddings: int) -> TTEmbedding:
    if num_embeddings not in _TABLES:
        _TABLES[num_embeddings] = TTEmbedding(num_embeddings, 4, rank=2, seed=0)
    return _TABLES[num_embeddings]


@PROPERTIES
@given(st.data())
def test_ttembedding_rejects_exactly_the_out_of_range_ids(data):
    num_embeddings = data.draw(st.sampled_from([1, 2, 7, 64, 97, 1000, 1009]))
    ids = data.draw(st.lists(st.integers(-5, num_embeddings + 5), min_size=1, max_size=20))
    table = _table(num_embeddings)
    ids_tensor = torch.tensor(ids)
    if all(0 <= i < num_embeddings for i in ids):
        with torch.no_grad():
            rows = table(ids_tensor)
            expected = table.to_dense()[ids_tensor]
        torch.testing.assert_close(rows, expected)
    else:
        bad = min(ids) if min(ids) < 0 else max(ids)
        with pytest.raises(IndexError, match=rf"id {bad} is out of range"):
            table(ids_tensor)
