"""Choosing TT factorizations and converting between ids and mixed-radix digits.

A TT table with row shape ``p = (p_1, ..., p_d)`` and column shape ``q = (q_1, ..., q_d)``
addresses rows ``0 .. prod(p) - 1`` and columns ``0 .. prod(q) - 1``. Row ``i`` has digits
``(i_1, ..., i_d)`` in row-major mixed radix, the first digit most significant::

    i = ((i_1 * p_2 + i_2) * p_3 + i_3) ...

Columns use the same convention with ``q``.

Example:
    >>> shapes = choose_shapes(2_449_029, 128)
    >>> shapes.p_shapes, shapes.q_shapes, shapes.padding
    ((127, 133, 145), (4, 4, 8), 166)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "TTShapes",
    "choose_shapes",
    "factor_embedding_dim",
    "factor_num_embeddings",
    "ids_to_digits",
    "digits_to_ids",
    "check_shapes",
]


@dataclass(frozen=True)
class TTShapes:
    """Row and column factorizations of a TT table.

    Attributes:
        num_embeddings: rows actually addressed (``N``).
        embedding_dim: columns (``D == prod(q_shapes)``).
        p_shapes: row factors; ``prod(p_shapes) >= N``.
        q_shapes: column factors; ``prod(q_shapes) == D``.
    """

    num_embeddings: int
    embedding_dim: int
    p_shapes: tuple[int, ...]
    q_shapes: tuple[int, ...]

    @property
    def num_cores(self) -> int:
        return len(self.p_shapes)

    @property
    def capacity(self) -> int:
        """Rows the TT can address, ``prod(p_shapes)``."""
        return math.prod(self.p_shapes)

    @property
    def padding(self) -> int:
        """Rows that exist in the TT but are never addressed, ``prod(p) - N``."""
        return self.capacity - self.num_embeddings

    @property
    def padding_fraction(self) -> float:
        return self.padding / max(self.num_embeddings, 1)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def factor_embedding_dim(embedding_dim: int, num_cores: int = 3) -> tuple[int, ...]:
    """Split ``embedding_dim`` into ``num_cores`` factors whose product is exactly it.

    Among all ordered factorizations, picks the most balanced one (smallest largest factor,
    then largest smallest factor), sorted ascending. A prime ``embedding_dim`` has factors of 1:
    that is legal, but the cores for those positions then carry no column structure.

    Example:
        >>> factor_embedding_dim(128, 3)
        (4, 4, 8)
        >>> factor_embedding_dim(100, 3)
        (4, 5, 5)
    """
    embedding_dim = _positive_int(embedding_dim, "embedding_dim")
    num_cores = _positive_int(num_cores, "num_cores")
    best: tuple[int, ...] | None = None
    best_key: tuple[int, int] | None = None
    for factors in _factorizations(embedding_dim, num_cores):
        key = (max(factors), -min(factors))
        if best_key is None or key < best_key:
            best, best_key = factors, key
    assert best is not None
    return best


def _factorizations(value: int, parts: int, smallest: int = 1) -> list[tuple[int, ...]]:
    """All non-decreasing tuples of ``parts`` factors >= ``smallest`` whose product is value."""
    if parts == 1:
        return [(value,)] if value >= smallest else []
    result = []
    for factor in range(smallest, int(round(value ** (1.0 / parts))) + 2):
        if value % factor == 0:
            for rest in _factorizations(value // factor, parts - 1, factor):
                result.append((factor, *rest))
    return result


_IMBALANCE_WEIGHT = 0.002


def factor_num_embeddings(num_embeddings: int, num_cores: int = 3) -> tuple[int, ...]:
    """Choose row factors with ``prod(p) >= num_embeddings``, little padding, balanced.

    Searches every tuple whose factors lie within a factor 1.5 of ``N ** (1/d)`` (the last one
    is the smallest that covers ``N``) and keeps the one with the least padding; ties go to the
    most balanced. The result is sorted ascending, so the first (most significant) core is the
    smallest.

    Example:
        >>> factor_num_embeddings(2_449_029, 3)
        (127, 133, 145)
    """
    num_embeddings = _positive_int(num_embeddings, "num_embeddings")
    num_cores = _positive_int(num_cores, "num_cores")
    if num_cores == 1:
        return (num_embeddings,)
    root = num_embeddings ** (1.0 / num_cores)
    low = max(1, math.floor(root / 1.5))
    high = max(low, math.ceil(root * 1.5))
    choices = np.arange(low, high + 1, dtype=np.int64)
    best: tuple[int, ...] | None = None
    best_cost: float | None = None
    # Enumerate the first d-2 factors in Python, vectorize the (d-1)-th, derive the last.
    for head in itertools.product(choices.tolist(), repeat=num_cores - 2):
        head_product = math.prod(head)
        last = -(-num_embeddings // (head_product * choices))  # ceil division
        valid = (last >= low) & (last <= high)
        if not valid.any():
            continue
        capacity = head_product * choices * last
        largest = np.maximum(np.maximum(choices, last), max(head, default=1))
        smallest = np.minimum(np.minimum(choices, last), min(head, default=high))
        cost = (capacity - num_embeddings) / num_embeddings + _IMBALANCE_WEIGHT * (
            largest / smallest - 1.0
        )
        cost = np.where(valid, cost, np.inf)
        index = int(np.argmin(cost))
        if best_cost is None or cost[index] < best_cost:
            best_cost = float(cost[index])
            best = tuple(sorted((*head, int(choices[index]), int(last[index]))))
    if best is None:  # tiny N: fall back to ceil-root factors
        side = math.ceil(root)
        best = tuple([side] * num_cores)
    return best


def choose_shapes(
    num_embeddings: int,
    embedding_dim: int,
    num_cores: int = 3,
    p_shapes: Sequence[int] | None = None,
    q_shapes: Sequence[int] | None = None,
) -> TTShapes:
    """Pick (or validate) the TT factorization that ``TTEmbedding`` would use.

    Args:
        num_embeddings: number of rows ``N``.
        embedding_dim: number of columns ``D``.
        num_cores: ``d``, used when a shape is not given.
        p_shapes: row factors to use as given (validated), or None to choose.
        q_shapes: column factors to use as given (validated), or None to choose.

    Returns:
        TTShapes with ``prod(p) >= N`` and ``prod(q) == D``.

    Example:
        >>> s = choose_shapes(100_003, 64)
        >>> s.p_shapes, s.q_shapes, s.padding
        ((37, 51, 53), (4, 4, 4), 8)
    """
    num_embeddings = _positive_int(num_embeddings, "num_embeddings")
    embedding_dim = _positive_int(embedding_dim, "embedding_dim")
    if p_shapes is not None:
        num_cores = len(p_shapes)
    elif q_shapes is not None:
        num_cores = len(q_shapes)
    num_cores = _positive_int(num_cores, "num_cores")
    if num_cores < 2:
        raise ValueError(f"num_cores must be >= 2 for a TT table, got {num_cores}")
    p = (
        factor_num_embeddings(num_embeddings, num_cores)
        if p_shapes is None
        else tuple(p_shapes)
    )
    q = factor_embedding_dim(embedding_dim, num_cores) if q_shapes is None else tuple(q_shapes)
    shapes = TTShapes(
        num_embeddings, embedding_dim, tuple(int(x) for x in p), tuple(int(x) for x in q)
    )
    check_shapes(shapes)
    return shapes


def check_shapes(shapes: TTShapes) -> None:
    """Raise ValueError naming the problem when ``shapes`` cannot describe the table."""
    p, q = shapes.p_shapes, shapes.q_shapes
    if len(p) != len(q):
        raise ValueError(
            f"p_shapes {p} and q_shapes {q} must have the same length (one factor per core)"
        )
    if len(p) < 2:
        raise ValueError(f"a TT table needs at least 2 cores, got p_shapes={p}")
    for name, factors in (("p_shapes", p), ("q_shapes", q)):
        for factor in factors:
            _positive_int(factor, f"every entry of {name} {factors}")
    if math.prod(q) != shapes.embedding_dim:
        raise ValueError(
            f"q_shapes {q} multiply to {math.prod(q)}, expected embedding_dim="
            f"{shapes.embedding_dim}"
        )
    if math.prod(p) < shapes.num_embeddings:
        raise ValueError(
            f"p_shapes {p} multiply to {math.prod(p)}, fewer than num_embeddings="
            f"{shapes.num_embeddings}"
        )


def _radix_strides(shape: Sequence[int]) -> list[int]:
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * int(shape[k + 1])
    return strides


def ids_to_digits(ids: torch.Tensor, p_shapes: Sequence[int]) -> torch.Tensor:
    """Mixed-radix digits of ``ids``, first digit most significant.

    Shapes:
        ids: any shape ``S``, integer. Output: ``S + (d,)``, int64.

    Example:
        >>> ids_to_digits(torch.tensor([0, 7, 23]), (2, 3, 4))
        tensor([[0, 0, 0],
                [0, 1, 3],
                [1, 2, 3]])
    """
    ids = ids.long()
    digits = [
        torch.div(ids, stride, rounding_mode="floor") % int(base)
        for stride, base in zip(_radix_strides(p_shapes), p_shapes)
    ]
    return torch.stack(digits, dim=-1)


def digits_to_ids(digits: torch.Tensor, p_shapes: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`ids_to_digits`. Shapes: ``S + (d,)`` -> ``S``."""
    if digits.shape[-1] != len(p_shapes):
        raise ValueError(
            f"digits has {digits.shape[-1]} entries in its last dimension, expected "
            f"{len(p_shapes)} (one per core of p_shapes={tuple(p_shapes)})"
        )
    strides = torch.tensor(_radix_strides(p_shapes), dtype=torch.int64, device=digits.device)
    return (digits.long() * strides).sum(-1)
