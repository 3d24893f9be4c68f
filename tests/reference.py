"""Independent references for tests: a dense TT reconstruction written with einsum."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import torch


def dense_from_cores(
    cores: Sequence[torch.Tensor], num_rows: int | None = None
) -> torch.Tensor:
    """Materialize the full ``prod(p) x prod(q)`` table with one einsum over all cores
    (its first ``num_rows`` rows when given).

    Core k is ``(p_k, r_{k-1}, q_k, r_k)``; the result is indexed by row digits then column
    digits, each in row-major order, which is exactly the TT-matrix definition.
    """
    d = len(cores)
    letters = iter(string.ascii_letters)
    row = [next(letters) for _ in range(d)]
    col = [next(letters) for _ in range(d)]
    rank = [next(letters) for _ in range(d + 1)]
    terms = [f"{row[k]}{rank[k]}{col[k]}{rank[k + 1]}" for k in range(d)]
    expression = ",".join(terms) + "->" + "".join(row) + "".join(col) + rank[0] + rank[d]
    full = torch.einsum(expression, *cores)
    capacity = math.prod(core.shape[0] for core in cores)
    return full.reshape(capacity, -1)[: capacity if num_rows is None else num_rows]


def random_cores(
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    ranks: Sequence[int],
    *,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    requires_grad: bool = False,
) -> list[torch.Tensor]:
    """Fresh N(0, 1) cores for internal ``ranks`` (length d - 1)."""
    tt_ranks = (1, *ranks, 1)
    return [
        torch.randn(
            p_shapes[k], tt_ranks[k], q_shapes[k], tt_ranks[k + 1], dtype=dtype, generator=generator
        ).requires_grad_(requires_grad)
        for k in range(len(p_shapes))
    ]
