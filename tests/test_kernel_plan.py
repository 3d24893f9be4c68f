"""The one prefix planner (tt_gnn.kernels.plan) against brute-force sets of prefixes."""

from __future__ import annotations

import math

import pytest
import torch

from tt_gnn.kernels.plan import plan_prefixes


def brute_force_prefixes(ids: torch.Tensor, p_shapes: tuple[int, ...]) -> list[list[tuple]]:
    """Per level k < d - 1, the sorted distinct digit prefixes (i_0, ..., i_k)."""
    digits = [
        tuple(ids[row].item() // math.prod(p_shapes[k + 1 :]) % p_shapes[k] for k in range(4))
        for row in range(ids.shape[0])
    ]
    return [sorted({row[: k + 1] for row in digits}) for k in range(len(p_shapes) - 1)], digits


def test_one_term_per_distinct_prefix_and_parents_link_levels():
    p_shapes = (3, 4, 5, 2)
    generator = torch.Generator().manual_seed(11)
    starts = torch.tensor([0, 80])[torch.randint(0, 2, (50,), generator=generator)]
    ids = starts + torch.randint(0, 40, (50,), generator=generator)
    plan = plan_prefixes(ids, p_shapes)
    levels, digits = brute_force_prefixes(ids, p_shapes)
    assert plan.num_levels == 4
    assert plan.num_terms == [len(levels[0]), len(levels[1]), len(levels[2]), 50]
    for k in range(3):
        assert plan.digits[k].tolist() == [prefix[-1] for prefix in levels[k]]
        assert plan.parents_sorted(k)
    assert plan.parents[0] is None
    assert plan.digits[3].tolist() == [row[3] for row in digits]
    assert not plan.parents_sorted(3)
    for k in (1, 2):  # each term's parent is its own prefix one level up
        for term, parent in enumerate(plan.parents[k].tolist()):
            assert levels[k - 1][parent] == levels[k][term][:k]
    for term, parent in enumerate(plan.parents[3].tolist()):
        assert levels[2][parent] == digits[term][:3]
    # level 1's terms multiply core 0's row of their first digit
    assert plan.first_digits(1).tolist() == [prefix[0] for prefix in levels[1]]
    with pytest.raises(ValueError, match="level 1 only"):
        plan.first_digits(2)


def test_small_example_and_two_cores():
    ids = torch.tensor([23, 0, 7, 23, 8])  # p = (2, 3, 4)
    plan = plan_prefixes(ids, (2, 3, 4))
    assert plan.digits[2].tolist() == [3, 0, 3, 3, 0]
    # distinct (i0, i1) prefixes: 0 -> (0,0), 1 -> (0,1), 2 -> (0,2), 5 -> (1,2)
    assert plan.digits[1].tolist() == [0, 1, 2, 2]
    assert plan.digits[0].tolist() == [0, 1]
    assert plan.parents[2].tolist() == [3, 0, 1, 3, 2]
    assert plan.parents[1].tolist() == [0, 0, 0, 1]
    two = plan_prefixes(torch.tensor([19, 0, 7]), (4, 5))
    assert two.num_terms == [3, 3]
    assert two.first_digits(1).tolist() == [3, 0, 1]
    assert two.digits[1].tolist() == [4, 0, 2]
    with pytest.raises(ValueError, match="at least 2 cores"):
        plan_prefixes(ids, (24,))


def test_cost_model_counts_terms_like_the_plan():
    from tt_gnn.kernels.cost import lookup_cost

    ids = torch.tensor([0, 1, 5, 5])
    plan = plan_prefixes(ids, (2, 2, 2))
    assert plan.num_terms[1:] == [2, 4]  # prefixes (0,0), (1,0); then one term per id
    cost = lookup_cost(
        (2, 2, 2),
        (1, 3, 3, 1),
        terms_per_level=plan.num_terms[1:],
        dtype_bytes=4,
        core_elements=(12, 36, 12),
    )
    assert cost.forward_flops == 2 * (2 * 2 * 3 * 2 * 3) + 4 * (2 * 4 * 3 * 2 * 1)
