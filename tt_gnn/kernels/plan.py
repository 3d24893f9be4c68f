"""The one planner of a batched TT lookup: the distinct id prefixes at every level.

Every lookup backend multiplies, level by level, the partial product of a prefix of digits by
the next core's slice. Cores and levels are numbered from 0 (``d`` cores, ``p = (p_0, ...,
p_{d-1})``):

- level ``k < d - 1`` holds one *term* per distinct prefix ``(i_0, ..., i_k)`` of the batch,
  in ascending order; level 0's terms are the distinct first digits;
- level ``d - 1`` holds one term per id, in batch order (repeated ids are computed again, like
  ``nn.Embedding``: that saves a gather and a scatter of full rows);
- the term of level ``k`` multiplies its parent's partial product (a term of level ``k - 1``)
  by the slice ``G_k[i_k]``.

The number of terms ``T_k`` (``num_terms``) is what a level costs; the cost model of
:mod:`tt_gnn.kernels.cost` counts levels ``1 .. d-1`` the same way. One ``torch.unique`` of
``ids // p_{d-1}`` sorts the longest prefixes; the shorter ones are runs of those sorted keys
(``unique_consecutive``).

Example:
    >>> plan = plan_prefixes(torch.tensor([23, 0, 7, 23, 8]), (2, 3, 4))
    >>> plan.num_terms
    [2, 4, 5]
    >>> plan.digits[1].tolist(), plan.parents[1].tolist()
    ([0, 1, 2, 2], [0, 0, 0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["PrefixPlan", "plan_prefixes"]


@dataclass(frozen=True)
class PrefixPlan:
    """Distinct prefixes of a batch of ids, level by level (see the module docstring).

    Attributes:
        digits: per level ``k``, ``(T_k,)`` int64: the digit ``i_k`` of each term (its slice of
            core ``k``).
        parents: per level ``k >= 1``, ``(T_k,)`` int64: the index of each term's parent among
            level ``k - 1``'s terms; ``parents[0]`` is None.
    """

    digits: tuple[torch.Tensor, ...]
    parents: tuple[torch.Tensor | None, ...]

    @property
    def num_levels(self) -> int:
        """``d``, one level per core."""
        return len(self.digits)

    @property
    def num_terms(self) -> list[int]:
        """``[T_0, ..., T_{d-1}]``; ``T_{d-1}`` is the batch size."""
        return [int(digits.shape[0]) for digits in self.digits]

    def parents_sorted(self, level: int) -> bool:
        """Whether ``parents[level]`` is non-decreasing: true below the last level, whose terms
        are the ids in batch order."""
        return level < self.num_levels - 1

    def first_digits(self, level: int) -> torch.Tensor:
        """``(T_level,)`` the first digit ``i_0`` of each term's parent at ``level = 1``, i.e.
        the row of core 0 that each level-1 term multiplies (for backends that use core 0's
        slices directly instead of gathering level 0).
        """
        if level != 1:
            raise ValueError(f"first_digits is defined for level 1 only, got level={level}")
        return self.digits[0].index_select(0, self.parents[1])


def plan_prefixes(ids: torch.Tensor, p_shapes: Sequence[int]) -> PrefixPlan:
    """Find the distinct prefixes of ``ids`` at every level with one sort.

    Args:
        ids: ``(n,)`` int64 row ids in ``[0, prod(p_shapes))`` (validated by the caller).
        p_shapes: the row factors, ``d >= 2`` of them.

    Returns:
        :class:`PrefixPlan` with ``d`` levels, on the ids' device.

    Example:
        >>> plan = plan_prefixes(torch.tensor([5, 4, 0]), (2, 2, 2))
        >>> [digits.tolist() for digits in plan.digits]
        [[0, 1], [0, 0], [1, 0, 0]]
        >>> plan.parents[2].tolist()
        [1, 1, 0]
    """
    num_levels = len(p_shapes)
    if num_levels < 2:
        raise ValueError(f"a TT lookup needs at least 2 cores, got p_shapes={tuple(p_shapes)}")
    last_base = int(p_shapes[-1])
    digits: list[torch.Tensor] = [ids % last_base] * num_levels
    parents: list[torch.Tensor | None] = [None] * num_levels
    keys, parents[-1] = torch.unique(
        torch.div(ids, last_base, rounding_mode="floor"), sorted=True, return_inverse=True
    )
    for level in range(num_levels - 2, -1, -1):
        base = int(p_shapes[level])
        digits[level] = keys % base
        if level == 0:
            break
        # keys are sorted, so the distinct parents are consecutive runs.
        keys, parents[level] = torch.unique_consecutive(
            torch.div(keys, base, rounding_mode="floor"), return_inverse=True
        )
    return PrefixPlan(digits=tuple(digits), parents=tuple(parents))
