"""Flop and byte counts of the TT lookup, by which the kernels are judged (no Triton needed).

Level ``k = 1 .. d-1`` (cores numbered from 0) multiplies, for each of its ``T_k`` terms, a
``(Q_{k-1}, r_k)`` left operand by a ``(r_k, q_k * r_{k+1})`` core slice, where
``Q_{k-1} = q_0 * ... * q_{k-1}`` and ``r_0 = r_d = 1``::

    flops per term at level k = 2 * Q_{k-1} * r_k * q_k * r_{k+1}

``T_{d-1} = n`` (one term per id); ``T_k`` for ``k < d-1`` is the number of distinct prefixes
``(i_0, ..., i_k)`` in the batch: ``plan_prefixes(ids, p_shapes).num_terms[1:]``
(:mod:`tt_gnn.kernels.plan`, the planner the lookups themselves run, with the same level
numbering). The backward pass does two matmuls of the same size per term
(one for the core slice, one for the parent prefix): twice the forward flops.

Compulsory memory traffic (a floor: every core byte read once, nothing else re-read):

- forward: ``8 n`` (ids) + ``n * D * s`` (rows written) + the cores, ``s`` bytes per element;
- backward: ``8 n`` + ``n * D * s`` (row gradients read) + the cores + ``4 *`` core elements
  (fp32 gradients written).

Beyond that floor, the kernels materialize the fp32 partial products of the distinct prefixes of
levels ``1 .. d-2`` (``T_k * Q_k * r_{k+1}`` floats each): ``prefix_bytes`` counts them written
once and read once. When ids share few prefixes (uniform ids over a large table) this traffic
dominates; when a reordered graph's batch shares them, it is small.

Example:
    >>> cost = lookup_cost((4, 4, 8), (1, 16, 16, 1), terms_per_level=(1000, 10000), dtype_bytes=4,
    ...                    core_elements=(8 * 64, 8 * 16 * 4 * 16, 8 * 16 * 8))
    >>> cost.forward_flops
    49152000
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LookupCost", "level_flops_per_term", "lookup_cost"]


@dataclass(frozen=True)
class LookupCost:
    """Flops and compulsory bytes of one batched lookup (see the module docstring)."""

    forward_flops: int
    backward_flops: int
    forward_bytes: int
    backward_bytes: int
    prefix_bytes: int


def level_flops_per_term(q_shapes: Sequence[int], tt_ranks: Sequence[int]) -> list[int]:
    """Flops of one term at each level ``1 .. d-1``.

    Args:
        q_shapes: ``(q_0, ..., q_{d-1})``.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)``.

    Example:
        >>> level_flops_per_term((4, 4, 8), (1, 16, 16, 1))
        [8192, 4096]
    """
    if len(tt_ranks) != len(q_shapes) + 1:
        raise ValueError(
            f"tt_ranks {tuple(tt_ranks)} must have len(q_shapes) + 1 = {len(q_shapes) + 1} entries"
        )
    flops = []
    for k in range(1, len(q_shapes)):
        leading_columns = math.prod(q_shapes[:k])
        flops.append(2 * leading_columns * tt_ranks[k] * q_shapes[k] * tt_ranks[k + 1])
    return flops


def lookup_cost(
    q_shapes: Sequence[int],
    tt_ranks: Sequence[int],
    *,
    terms_per_level: Sequence[int],
    dtype_bytes: int,
    core_elements: Sequence[int],
) -> LookupCost:
    """Flops and compulsory bytes of a lookup of ``n = terms_per_level[-1]`` ids.

    Args:
        q_shapes, tt_ranks: the column factors and ``(1, r_1, ..., 1)``.
        terms_per_level: ``T_1 .. T_{d-1}``, e.g. ``plan_prefixes(ids, p).num_terms[1:]``.
        dtype_bytes: bytes per core (and output) element: 4 for fp32, 2 for bf16.
        core_elements: number of elements of each core.
    """
    per_term = level_flops_per_term(q_shapes, tt_ranks)
    if len(terms_per_level) != len(per_term):
        raise ValueError(
            f"terms_per_level has {len(terms_per_level)} entries, expected {len(per_term)}"
        )
    forward_flops = sum(t * f for t, f in zip(terms_per_level, per_term, strict=True))
    num_ids = terms_per_level[-1]
    embedding_dim = math.prod(q_shapes)
    core_bytes = sum(core_elements) * dtype_bytes
    rows_bytes = num_ids * (8 + embedding_dim * dtype_bytes)
    prefix_bytes = 0
    for k in range(1, len(q_shapes) - 1):
        prefix_bytes += (
            2 * 4 * terms_per_level[k - 1] * math.prod(q_shapes[: k + 1]) * tt_ranks[k + 1]
        )
    return LookupCost(
        forward_flops=forward_flops,
        backward_flops=2 * forward_flops,
        forward_bytes=rows_bytes + core_bytes,
        backward_bytes=rows_bytes + core_bytes + 4 * sum(core_elements),
        prefix_bytes=prefix_bytes,
    )
