import math
import time

import numpy as np
import pytest
import torch

from tt_gnn.factorize import max_num_cores
from tt_gnn.shapes import (
    TTShapes,
    choose_shapes,
    digits_to_ids,
    ids_to_digits,
)


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
    with pytest.raises(ValueError, match="num_embeddings must be a positive integer, got 10.0"):
        choose_shapes(10.0, 8)


def test_constructor_validates_directly():
    with pytest.raises(ValueError, match="multiply to"):
        TTShapes(10, 8, (3, 4), (2, 2), (1, 4, 1))


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


# -- the value object --------------------------------------------------------------------------


def test_value_object_properties_and_normalization():
    shapes = TTShapes(
        np.int64(90), 8, np.array([4, 5, 5]), [2, 2, torch.tensor(2)], (1, np.int32(3), 2, 1)
    )
    assert shapes.p_shapes == (4, 5, 5) and shapes.q_shapes == (2, 2, 2)
    assert all(type(x) is int for x in (*shapes.p_shapes, *shapes.q_shapes, *shapes.tt_ranks))
    assert shapes.ranks == (3, 2) and shapes.num_cores == 3
    assert (shapes.capacity, shapes.padding) == (100, 10)
    assert shapes.core_shapes == [(4, 1, 2, 3), (5, 3, 2, 2), (5, 2, 2, 1)]
    assert shapes.num_parameters == 4 * 6 + 5 * 12 + 5 * 4
    assert shapes.with_ranks((7, 1)).core_shapes[1] == (5, 7, 2, 1)
    assert shapes == TTShapes(90, 8, (4, 5, 5), (2, 2, 2), (1, 3, 2, 1))


def test_from_cores_reads_ranks_and_checks_the_chain():
    cores = [torch.zeros(4, 1, 2, 3), torch.zeros(5, 3, 2, 2), torch.zeros(5, 2, 2, 1)]
    assert TTShapes.from_cores(cores, 90) == TTShapes(90, 8, (4, 5, 5), (2, 2, 2), (1, 3, 2, 1))
    with pytest.raises(ValueError, match=r"core 1 has shape \(5, 4, 2, 2\)"):
        TTShapes.from_cores([cores[0], torch.zeros(5, 4, 2, 2), cores[2]])
    with pytest.raises(ValueError, match="4-d"):
        TTShapes.from_cores([cores[0], torch.zeros(5, 3, 2)])
    with pytest.raises(ValueError, match="tt_ranks must be"):
        TTShapes.from_cores([torch.zeros(4, 2, 2, 3), cores[1], cores[2]])


# D12: fractional and boolean shapes and ranks are rejected, never truncated.
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(ranks=[4.7, 3.2]), r"TT rank r_1 must be a positive integer, got 4.7"),
        (dict(ranks=[True, 2]), r"TT rank r_1 must be a positive integer, got True"),
        (dict(ranks=["a", "b"]), r"TT rank r_1 must be a positive integer, got 'a'"),
        (dict(ranks=[4, 0]), r"TT rank r_2 must be a positive integer, got 0"),
        (dict(ranks="ab"), r"ranks must be a sequence of positive integers, got 'ab'"),
        (dict(ranks=(4,)), r"ranks must have d-1=2 entries"),
        (dict(rank=2.5), r"rank must be a positive integer, got 2.5"),
        (dict(p_shapes=(4.9, 5, 5)), r"p_shapes must be a positive integer, got 4.9"),
        (dict(p_shapes=(5.0, 5, 5)), r"p_shapes must be a positive integer, got 5.0"),
        (dict(q_shapes=(2.9, 2, 4)), r"q_shapes must be a positive integer, got 2.9"),
        (dict(p_shapes=(True, 100, 1)), r"p_shapes must be a positive integer, got True"),
        (dict(p_shapes=5), r"p_shapes must be a sequence of positive integers, got 5"),
        (dict(num_cores=2.0), r"num_cores must be a positive integer, got 2.0"),
    ],
)
def test_fractional_and_boolean_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        choose_shapes(100, 16, **kwargs)


def test_row_ids_must_fit_int64():
    with pytest.raises(ValueError, match=r"at most 2\*\*63 - 1 \(row ids are int64\)"):
        choose_shapes(2**64, 16)
    with pytest.raises(ValueError, match=r"more than 2\*\*63"):
        choose_shapes(10, 4, p_shapes=(2**40, 2**40), q_shapes=(2, 2))
    shapes = choose_shapes(2**63 - 1, 16)
    assert shapes.capacity == 2**63 and shapes.p_shapes == (2**21, 2**21, 2**21)
    # Just below 2**63 with d = 2 only an exact factorization would do: a clear error.
    with pytest.raises(ValueError, match="cannot factor num_embeddings=9223372036854775807"):
        choose_shapes(2**63 - 1, 16, num_cores=2)


# D1: every automatic choice answers within a bounded time, or raises a clear error.
@pytest.mark.parametrize(
    ("num_embeddings", "embedding_dim", "num_cores"),
    [
        (10**15, 16, 3),
        (10**12, 16, 5),
        (2**63 - 1, 16, 3),
        (10**8, 256, 8),
        (10**6, 1024, 10),
        (10**14, 16, 3),
        (2**62 + 12345, 16, 40),
        (10**15, 16, 2),
    ],
)
def test_large_requests_answer_quickly(num_embeddings, embedding_dim, num_cores):
    started = time.perf_counter()
    shapes = choose_shapes(num_embeddings, embedding_dim, num_cores)
    seconds = time.perf_counter() - started
    assert shapes.num_cores == num_cores and math.prod(shapes.q_shapes) == embedding_dim
    assert num_embeddings <= shapes.capacity <= 2**63
    assert shapes.padding_fraction < 0.01
    assert seconds < 2.0, seconds  # about 0.2 s on a loaded 2-core machine


def test_too_many_cores_is_a_clear_error_naming_the_limit():
    assert max_num_cores(100, 16) == 6  # floor(log2(100)); 16 has 4 prime factors
    assert max_num_cores(5, 1024) == 10  # 1024 = 2**10
    assert max_num_cores(1, 7) == 3  # three cores are always allowed
    with pytest.raises(ValueError, match=r"num_cores=24 is more than .* at most 6"):
        choose_shapes(100, 16, num_cores=24)
    with pytest.raises(ValueError, match=r"num_cores=30 .* at most 11"):
        choose_shapes(2708, 128, num_cores=30)
    shapes = choose_shapes(5, 1024, num_cores=10)  # rows take factors of 1, columns do not
    assert math.prod(shapes.p_shapes) >= 5 and min(shapes.q_shapes) == 2
    forced = choose_shapes(
        100, 16, p_shapes=(1,) * 20 + (2, 2, 5, 5), q_shapes=(1,) * 20 + (2,) * 4
    )
    assert forced.num_cores == 24  # factors of 1 when asked for explicitly


def test_automatic_column_factors_have_a_size_limit():
    with pytest.raises(ValueError, match=r"embedding_dim=8589934592 is too large .* q_shapes"):
        choose_shapes(100, 2**33)
    assert choose_shapes(100, 2**33, q_shapes=(2**11, 2**11, 2**11)).embedding_dim == 2**33
