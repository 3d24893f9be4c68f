"""The TT factorization as one value object, how it is chosen, and ids <-> mixed-radix digits.

A TT table with row shape ``p = (p_1, ..., p_d)``, column shape ``q = (q_1, ..., q_d)`` and
ranks ``(1, r_1, ..., r_{d-1}, 1)`` addresses rows ``0 .. prod(p) - 1`` and columns
``0 .. prod(q) - 1``; :class:`TTShapes` holds all of it and is the one place that validates it.
Row ``i`` has digits ``(i_1, ..., i_d)`` in row-major mixed radix, the first digit most
significant::

    i = ((i_1 * p_2 + i_2) * p_3 + i_3) ...

Columns use the same convention with ``q``.

Example:
    >>> shapes = choose_shapes(2_449_029, 128)
    >>> shapes.p_shapes, shapes.q_shapes, shapes.padding
    ((127, 133, 145), (4, 4, 8), 166)
    >>> shapes.core_shapes
    [(127, 1, 4, 16), (133, 16, 4, 16), (145, 16, 8, 1)]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import is_integer, positive_int
from tt_gnn.factorize import (
    MAX_AUTO_EMBEDDING_DIM,
    MAX_CAPACITY,
    MAX_NUM_EMBEDDINGS,
    check_num_embeddings,
    factor_embedding_dim,
    factor_num_embeddings,
    max_num_cores,
)

__all__ = [
    "TTShapes",
    "choose_shapes",
    "factor_embedding_dim",
    "factor_num_embeddings",
    "max_num_cores",
    "ids_to_digits",
    "digits_to_ids",
    "MAX_NUM_EMBEDDINGS",
    "MAX_CAPACITY",
    "MAX_AUTO_EMBEDDING_DIM",
]



def _as_tuple(value: Any, name: str) -> tuple[Any, ...]:
    """``tuple(value)`` for a sequence (list, tuple, array) that is not a string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name} must be a sequence of positive integers, got {value!r}")
    return tuple(value)


def _positive_ints(values: Any, name: str) -> tuple[int, ...]:
    """The entries of ``values`` as ints, each a positive integer (no bools, no fractions)."""
    values = _as_tuple(values, name)
    for value in values:
        if not is_integer(value) or int(value) < 1:
            raise ValueError(
                f"every entry of {name} must be a positive integer, got {value!r} in "
                f"{name}={values!r}"
            )
    return tuple(int(value) for value in values)


@dataclass(frozen=True)
class TTShapes:
    """The factorization of an ``N x D`` TT table: row and column factors and TT ranks.

    The constructor is the one place that validates a factorization; every other module takes a
    ``TTShapes`` (or builds one) instead of checking shapes itself. Entries are normalized to
    Python ints; bools and fractional values are rejected, never truncated.

    Attributes:
        num_embeddings: rows actually addressed (``N``), ``1 <= N <= 2**63 - 1``.
        embedding_dim: columns (``D == prod(q_shapes)``).
        p_shapes: row factors, ``d >= 2`` of them; ``N <= prod(p_shapes) <= 2**63``.
        q_shapes: column factors, ``d`` of them; ``prod(q_shapes) == D``.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)``.

    Raises:
        ValueError: one line naming the argument and the value that is wrong.

    Example:
        >>> shapes = TTShapes(100, 8, (4, 5, 5), (2, 2, 2), (1, 3, 3, 1))
        >>> shapes.capacity, shapes.padding, shapes.num_parameters
        (100, 0, 144)
        >>> TTShapes(100, 8, (4.9, 5, 5), (2, 2, 2), (1, 3, 3, 1))
        Traceback (most recent call last):
        ...
        ValueError: every entry of p_shapes must be a positive integer, got 4.9 in
        p_shapes=(4.9, 5, 5)
    """

    num_embeddings: int
    embedding_dim: int
    p_shapes: tuple[int, ...]
    q_shapes: tuple[int, ...]
    tt_ranks: tuple[int, ...]

    def __post_init__(self) -> None:
        num_embeddings = check_num_embeddings(self.num_embeddings)
        embedding_dim = positive_int(self.embedding_dim, "embedding_dim")
        p = _positive_ints(self.p_shapes, "p_shapes")
        q = _positive_ints(self.q_shapes, "q_shapes")
        if len(p) != len(q):
            raise ValueError(
                f"p_shapes {p} and q_shapes {q} must have the same length (one factor per core)"
            )
        if len(p) < 2:
            raise ValueError(f"a TT table needs at least 2 cores, got p_shapes={p}")
        if math.prod(q) != embedding_dim:
            raise ValueError(
                f"q_shapes {q} multiply to {math.prod(q)}, expected embedding_dim={embedding_dim}"
            )
        capacity = math.prod(p)
        if capacity < num_embeddings:
            raise ValueError(
                f"p_shapes {p} multiply to {capacity} rows, fewer than "
                f"num_embeddings={num_embeddings}"
            )
        if capacity > MAX_CAPACITY:
            raise ValueError(
                f"p_shapes {p} multiply to {capacity} rows, more than 2**63 (row ids are int64)"
            )
        tt_ranks = _check_tt_ranks(self.tt_ranks, len(p))
        for name, value in (
            ("num_embeddings", num_embeddings),
            ("embedding_dim", embedding_dim),
            ("p_shapes", p),
            ("q_shapes", q),
            ("tt_ranks", tt_ranks),
        ):
            object.__setattr__(self, name, value)

    @property
    def num_cores(self) -> int:
        """``d``, the number of cores."""
        return len(self.p_shapes)

    @property
    def ranks(self) -> tuple[int, ...]:
        """The internal ranks ``(r_1, ..., r_{d-1})``."""
        return self.tt_ranks[1:-1]

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
        """``padding / num_embeddings``."""
        return self.padding / self.num_embeddings

    @property
    def core_shapes(self) -> list[tuple[int, int, int, int]]:
        """Shapes ``(p_k, r_{k-1}, q_k, r_k)`` of the cores."""
        r = self.tt_ranks
        return [
            (p, r[k], q, r[k + 1])
            for k, (p, q) in enumerate(zip(self.p_shapes, self.q_shapes, strict=True))
        ]

    @property
    def num_parameters(self) -> int:
        """Number of scalars in the cores."""
        return sum(math.prod(shape) for shape in self.core_shapes)

    def with_ranks(self, ranks: Sequence[int]) -> TTShapes:
        """The same factorization with internal ranks ``ranks = (r_1, ..., r_{d-1})``.

        Example:
            >>> TTShapes(100, 8, (4, 5, 5), (2, 2, 2), (1, 3, 3, 1)).with_ranks([2, 4]).tt_ranks
            (1, 2, 4, 1)
        """
        return dataclasses.replace(self, tt_ranks=(1, *_as_tuple(ranks, "ranks"), 1))

    @classmethod
    def from_cores(
        cls, cores: Sequence[torch.Tensor], num_embeddings: int | None = None
    ) -> TTShapes:
        """The shapes of existing cores ``(p_k, r_{k-1}, q_k, r_k)``; ``N`` defaults to
        ``prod(p)``.

        Raises:
            ValueError: a core that is not 4-d, or ranks that do not chain from core to core.

        Example:
            >>> cores = [torch.zeros(4, 1, 2, 3), torch.zeros(5, 3, 2, 1)]
            >>> TTShapes.from_cores(cores, 19)
            TTShapes(num_embeddings=19, embedding_dim=4, p_shapes=(4, 5), q_shapes=(2, 2),
                     tt_ranks=(1, 3, 1))
        """
        shapes = [tuple(core.shape) for core in cores]
        for k, shape in enumerate(shapes):
            if len(shape) != 4:
                raise ValueError(f"core {k} must be 4-d (p_k, r_(k-1), q_k, r_k), got {shape}")
            if k and shape[1] != shapes[k - 1][3]:
                raise ValueError(
                    f"core {k} has shape {shape}: its r_(k-1)={shape[1]} does not match "
                    f"r_k={shapes[k - 1][3]} of core {k - 1} {shapes[k - 1]}"
                )
        if not shapes:
            raise ValueError("a TT table needs at least 2 cores, got none")
        p = tuple(shape[0] for shape in shapes)
        q = tuple(shape[2] for shape in shapes)
        tt_ranks = (shapes[0][1], *(shape[3] for shape in shapes))
        rows = math.prod(p) if num_embeddings is None else num_embeddings
        return cls(rows, math.prod(q), p, q, tt_ranks)


def _check_tt_ranks(values: Any, num_cores: int) -> tuple[int, ...]:
    tt_ranks = _as_tuple(values, "tt_ranks")
    if (
        len(tt_ranks) < 2
        or not (is_integer(tt_ranks[0]) and int(tt_ranks[0]) == 1)
        or not (is_integer(tt_ranks[-1]) and int(tt_ranks[-1]) == 1)
    ):
        raise ValueError(f"tt_ranks must be (1, r_1, ..., r_{{d-1}}, 1), got {tt_ranks!r}")
    internal = tt_ranks[1:-1]
    if len(internal) != num_cores - 1:
        raise ValueError(
            f"ranks must have d-1={num_cores - 1} entries (internal ranks r_1..r_{{d-1}}), got "
            f"{internal!r}"
        )
    for k, rank in enumerate(internal, start=1):
        if not is_integer(rank) or int(rank) < 1:
            raise ValueError(
                f"TT rank r_{k} must be a positive integer, got {rank!r} in ranks={internal!r}"
            )
    return tuple(int(rank) for rank in tt_ranks)


def choose_shapes(
    num_embeddings: int,
    embedding_dim: int,
    num_cores: int = 3,
    p_shapes: Sequence[int] | None = None,
    q_shapes: Sequence[int] | None = None,
    *,
    rank: int = 16,
    ranks: Sequence[int] | None = None,
) -> TTShapes:
    """Pick (or validate) the TT factorization that ``TTEmbedding`` would use.

    Args:
        num_embeddings: number of rows ``N`` (at most ``2**63 - 1``).
        embedding_dim: number of columns ``D``.
        num_cores: ``d`` (default 3), used when neither shape is given; at most
            :func:`max_num_cores` then.
        p_shapes: row factors to use as given (validated), or None to choose
            (:func:`factor_num_embeddings`).
        q_shapes: column factors to use as given (validated), or None to choose
            (:func:`factor_embedding_dim`).
        rank: every internal TT rank (default 16), unless ``ranks`` is given.
        ranks: the ``d - 1`` internal ranks ``(r_1, ..., r_{d-1})``.

    Returns:
        TTShapes with ``prod(p) >= N`` and ``prod(q) == D``, in well under a second for any
        input.

    Raises:
        ValueError: one line naming the argument and value that is wrong, e.g. ``num_cores``
            above :func:`max_num_cores` (pass both shapes to use factors of 1 anyway).

    Example:
        >>> s = choose_shapes(100_003, 64, ranks=(8, 4))
        >>> s.p_shapes, s.q_shapes, s.padding, s.tt_ranks
        ((37, 51, 53), (4, 4, 4), 8, (1, 8, 4, 1))
    """
    num_embeddings = check_num_embeddings(num_embeddings)
    embedding_dim = positive_int(embedding_dim, "embedding_dim")
    if p_shapes is not None:
        num_cores = len(_as_tuple(p_shapes, "p_shapes"))
    elif q_shapes is not None:
        num_cores = len(_as_tuple(q_shapes, "q_shapes"))
    else:
        num_cores = positive_int(num_cores, "num_cores")
        if num_cores < 2:
            raise ValueError(f"num_cores must be >= 2 for a TT table, got {num_cores}")
        limit = max_num_cores(num_embeddings, embedding_dim)
        if num_cores > limit:
            raise ValueError(
                f"num_cores={num_cores} is more than num_embeddings={num_embeddings} and "
                f"embedding_dim={embedding_dim} can use: at most {limit} (3, or "
                "floor(log2(num_embeddings)) row factors >= 2, or the prime factors of "
                "embedding_dim); pass p_shapes and q_shapes to force factors of 1"
            )
    p = factor_num_embeddings(num_embeddings, num_cores) if p_shapes is None else p_shapes
    q = factor_embedding_dim(embedding_dim, num_cores) if q_shapes is None else q_shapes
    if ranks is None:
        internal: tuple[Any, ...] = (positive_int(rank, "rank"),) * (num_cores - 1)
    else:
        internal = _as_tuple(ranks, "ranks")
    return TTShapes(num_embeddings, embedding_dim, p, q, (1, *internal, 1))


# -- ids and digits ---------------------------------------------------------------------------


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
    """Inverse of :func:`ids_to_digits`. Shapes: ``S + (d,)`` -> ``S``.

    Example:
        >>> digits_to_ids(torch.tensor([[1, 2, 3]]), (2, 3, 4))
        tensor([23])
    """
    if digits.shape[-1] != len(p_shapes):
        raise ValueError(
            f"digits has {digits.shape[-1]} entries in its last dimension, expected "
            f"{len(p_shapes)} (one per core of p_shapes={tuple(p_shapes)})"
        )
    strides = torch.tensor(_radix_strides(p_shapes), dtype=torch.int64, device=digits.device)
    return (digits.long() * strides).sum(-1)
