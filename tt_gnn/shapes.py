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

import bisect
import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import is_integer, positive_int

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

#: Row ids are int64, so ``num_embeddings <= 2**63 - 1``.
MAX_NUM_EMBEDDINGS = 2**63 - 1
#: Every row id below ``prod(p_shapes)`` must be an int64: ``prod(p_shapes) <= 2**63``.
MAX_CAPACITY = 2**63
#: The automatic column factorization finds divisors by trial division up to the square root.
MAX_AUTO_EMBEDDING_DIM = 2**32


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
        num_embeddings = _check_num_embeddings(self.num_embeddings)
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


def _check_num_embeddings(value: Any) -> int:
    num_embeddings = positive_int(value, "num_embeddings")
    if num_embeddings > MAX_NUM_EMBEDDINGS:
        raise ValueError(
            f"num_embeddings must be at most 2**63 - 1 (row ids are int64), got {num_embeddings}"
        )
    return num_embeddings


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


# -- choosing the factors ---------------------------------------------------------------------


def _integer_root(value: int, parts: int) -> int:
    """The largest ``a`` with ``a ** parts <= value`` (exact, for any size of ``value``)."""
    guess = int(round(value ** (1.0 / parts)))
    while guess**parts > value:
        guess -= 1
    while (guess + 1) ** parts <= value:
        guess += 1
    return guess


def _divisors(value: int) -> list[int]:
    """All divisors of ``value`` in ascending order (trial division up to its square root)."""
    candidates = np.arange(1, math.isqrt(value) + 1, dtype=np.int64)
    small = candidates[value % candidates == 0].tolist()
    large = [value // divisor for divisor in reversed(small) if divisor * divisor != value]
    return small + large


def _prime_factor_count(value: int) -> int:
    """Number of prime factors of ``value``, with multiplicity (``12 -> 3``)."""
    count, factor = 0, 2
    while factor * factor <= value:
        while value % factor == 0:
            value //= factor
            count += 1
        factor += 1
    return count + (value > 1)


#: Search steps (candidate factorizations tried) of :func:`factor_embedding_dim`.
_COLUMN_SEARCH_STEPS = 50_000


def factor_embedding_dim(embedding_dim: int, num_cores: int = 3) -> tuple[int, ...]:
    """Split ``embedding_dim`` into ``num_cores`` factors whose product is exactly it.

    Among the ordered factorizations, picks the most balanced one (smallest largest factor,
    then largest smallest factor, then the first in ascending order), sorted ascending. A prime
    ``embedding_dim`` has factors of 1: that is legal, but the cores for those positions then
    carry no column structure. The search walks divisor chains depth first and stops after a
    fixed number of steps (far more than any ``D <= 2**16`` needs), keeping the best found.

    Raises:
        ValueError: ``embedding_dim > 2**32`` (pass ``q_shapes`` for such a table).

    Example:
        >>> factor_embedding_dim(128, 3)
        (4, 4, 8)
        >>> factor_embedding_dim(100, 3)
        (4, 5, 5)
    """
    embedding_dim = positive_int(embedding_dim, "embedding_dim")
    num_cores = positive_int(num_cores, "num_cores")
    if embedding_dim > MAX_AUTO_EMBEDDING_DIM:
        raise ValueError(
            f"embedding_dim={embedding_dim} is too large to factor automatically (at most "
            "2**32); pass q_shapes"
        )
    divisors = _divisors(embedding_dim)
    best: list[Any] = [(1,) * (num_cores - 1) + (embedding_dim,)]  # always valid
    best_key = [(embedding_dim, -1)]
    steps = [0]

    def search(prefix: tuple[int, ...], remaining: int, parts: int) -> None:
        if parts == 1:
            candidate = (*prefix, remaining)
            key = (remaining, -candidate[0])
            if key < best_key[0]:
                best[0], best_key[0] = candidate, key
            return
        largest = _integer_root(remaining, parts)
        for factor in divisors[bisect.bisect_left(divisors, prefix[-1] if prefix else 1) :]:
            if factor > largest or steps[0] >= _COLUMN_SEARCH_STEPS:
                return
            if remaining % factor:
                continue
            steps[0] += 1
            rest = remaining // factor
            # The last factor is at least the (parts - 1)-th root of the rest.
            if _integer_root(rest - 1, parts - 1) + 1 > best_key[0][0] and rest > 1:
                continue
            search((*prefix, factor), rest, parts - 1)

    search((), embedding_dim, num_cores)
    return best[0]


_IMBALANCE_WEIGHT = 0.002
#: Candidate row factorizations scored by :func:`factor_num_embeddings` (vectorized).
_ROW_SEARCH_CANDIDATES = 1 << 19
#: Candidates scored per numpy pass (bounds the temporary memory to a few MB).
_ROW_SEARCH_CHUNK = 1 << 16
_LOG_MAX_CAPACITY = math.log(MAX_CAPACITY) + 1e-6


def _row_window(num_embeddings: int, num_cores: int) -> tuple[int, int]:
    """The factor range ``[low, high]`` searched by :func:`factor_num_embeddings`.

    ``[N**(1/d) / 1.5, N**(1/d) * 1.5]`` when that has at most ``_ROW_SEARCH_CANDIDATES``
    candidates, otherwise the widest ratio ``w < 1.5`` around the root that does; the window
    always holds ``a = floor(N**(1/d))`` and ``a + 1``, so a valid tuple always exists.
    """
    root = num_embeddings ** (1.0 / num_cores)
    floor_root = _integer_root(num_embeddings, num_cores)
    ratio = 1.5
    while True:
        low = max(1, min(floor_root, math.floor(root / ratio)))
        high = max(low, floor_root + 1, math.ceil(root * ratio))
        width = high - low + 1
        if math.comb(width + num_cores - 3, num_cores - 2) * width <= _ROW_SEARCH_CANDIDATES:
            return low, high
        ratio = 1.0 + (ratio - 1.0) * 0.8


def _head_chunks(num_values: int, head_size: int) -> Iterator[np.ndarray]:
    """Every multiset of ``head_size`` values out of ``num_values``, as ``(H, num_values)``
    count matrices, in chunks of about ``_ROW_SEARCH_CHUNK`` entries.

    Short heads are enumerated as value tuples, long heads (many cores, few values) as the bar
    positions of stars and bars, whichever tuple is shorter.
    """
    if head_size <= num_values - 1:
        tuples = itertools.combinations_with_replacement(range(num_values), head_size)
    else:
        tuples = itertools.combinations(range(head_size + num_values - 1), num_values - 1)
    rows_per_chunk = max(1, _ROW_SEARCH_CHUNK // num_values)
    while chunk := list(itertools.islice(tuples, rows_per_chunk)):
        items = np.array(chunk, dtype=np.int64).reshape(len(chunk), -1)
        if head_size <= num_values - 1:
            counts = np.zeros((len(chunk), num_values), dtype=np.int64)
            np.add.at(counts, (np.arange(len(chunk))[:, None], items), 1)
        else:
            edges = np.concatenate(
                [
                    np.full((len(chunk), 1), -1),
                    items,
                    np.full((len(chunk), 1), head_size + num_values - 1),
                ],
                axis=1,
            )
            counts = np.diff(edges, axis=1) - 1
        yield counts


def _best_rows(
    num_embeddings: int, counts: np.ndarray, choices: np.ndarray, high: int
) -> tuple[float, tuple[int, ...]] | None:
    """Best ``(cost, sorted factors)`` among ``head + (choice, last)``.

    ``counts[h, v]`` is how often ``choices[v]`` occurs in head ``h``; ``last = ceil(N /
    (prod(head) * choice))``. Products are exact in uint64; a float pre-filter drops products
    above ``2**63``, which could overflow.
    """
    low = int(choices[0])
    log_divisor = (counts @ np.log(choices))[:, None] + np.log(choices)[None, :]
    fits = log_divisor <= _LOG_MAX_CAPACITY
    values = choices.astype(np.uint64)
    head_products = np.prod(values[None, :] ** counts.astype(np.uint64), axis=1, dtype=np.uint64)
    divisor = np.where(fits, head_products[:, None] * values[None, :], 1).astype(np.uint64)
    rows = np.uint64(num_embeddings)
    last = (rows + divisor - np.uint64(1)) // divisor
    capacity = divisor * last
    present = counts > 0
    empty = ~present.any(axis=1)  # d = 2: no head
    head_min = np.where(empty, high, choices[present.argmax(axis=1)])
    head_max = np.where(empty, 1, choices[len(choices) - 1 - present[:, ::-1].argmax(axis=1)])
    valid = (
        fits
        & (choices[None, :] >= head_max[:, None])
        & (last >= low)
        & (last <= high)
        & (capacity <= np.uint64(MAX_CAPACITY))
    )
    if not valid.any():
        return None
    last = last.astype(np.int64)
    largest = np.maximum(np.maximum(choices[None, :], last), head_max[:, None])
    smallest = np.minimum(np.minimum(choices[None, :], last), head_min[:, None])
    padding = (capacity - rows).astype(np.float64)
    cost = padding / num_embeddings + _IMBALANCE_WEIGHT * (largest / smallest - 1.0)
    cost = np.where(valid, cost, np.inf)
    best_cost = float(cost.min())
    tuples = [
        tuple(sorted((*np.repeat(choices, counts[h]).tolist(), int(choices[c]), int(last[h, c]))))
        for h, c in zip(*np.nonzero(cost == best_cost), strict=True)
    ]
    return best_cost, min(tuples)


def factor_num_embeddings(num_embeddings: int, num_cores: int = 3) -> tuple[int, ...]:
    """Choose row factors with ``N <= prod(p) <= 2**63``, little padding, balanced.

    Scores every non-decreasing tuple of ``d - 1`` factors from a window around ``N ** (1/d)``,
    with the last factor the smallest that covers ``N``, by ``padding / N + 0.002 *
    (max / min - 1)`` and keeps the cheapest (ties: the first in ascending order). The window is
    ``[root / 1.5, root * 1.5]`` when that holds at most about half a million candidates (e.g.
    every ``N`` up to ``6 * 10**8`` at ``d = 3``), and narrower around the root otherwise, so
    any request answers within a fixed budget (about 0.2 s at worst). Padding stays small there
    (``7e-6 * N`` for ``N = 10**14, d = 3``; ``1e-3 * N`` for ``N ~ 2**62, d = 40``, whose
    factors are 2 to 4). On 609 sampled ``(N, d)``, ``d = 2..5``, ``N`` up to ``10**14`` at
    ``d = 2`` and ``10**11`` at ``d = 3``, it chose exactly what the unbounded search of earlier
    versions chose. The result is sorted ascending, so the first (most significant) core is the
    smallest.

    Raises:
        ValueError: sizes that are not positive integers, ``N > 2**63 - 1``, or no tuple
            whose product fits ``2**63`` (only for ``N`` just below that).

    Example:
        >>> factor_num_embeddings(2_449_029, 3)
        (127, 133, 145)
        >>> factor_num_embeddings(10**15, 3)
        (100000, 100000, 100000)
    """
    num_embeddings = _check_num_embeddings(num_embeddings)
    num_cores = positive_int(num_cores, "num_cores")
    if num_cores == 1:
        return (num_embeddings,)
    low, high = _row_window(num_embeddings, num_cores)
    choices = np.arange(low, high + 1, dtype=np.int64)
    best: tuple[float, tuple[int, ...]] | None = None
    for counts in _head_chunks(len(choices), num_cores - 2):
        found = _best_rows(num_embeddings, counts, choices, high)
        if found is not None and (best is None or found < best):
            best = found
    if best is None:
        raise ValueError(
            f"cannot factor num_embeddings={num_embeddings} into {num_cores} row factors whose "
            "product fits 2**63; pass p_shapes"
        )
    return best[1]


def max_num_cores(num_embeddings: int, embedding_dim: int) -> int:
    """The most cores :func:`choose_shapes` picks factors for: ``max(3, floor(log2(N)),
    number of prime factors of D)``.

    Beyond that, some core would get a row factor of 1 and a column factor of 1: it would add
    ``r^2`` parameters and no structure. Three cores are always allowed (the default, also for
    tiny tables).

    Example:
        >>> max_num_cores(100, 16)
        6
    """
    row_cores = positive_int(num_embeddings, "num_embeddings").bit_length() - 1
    limit = max(3, row_cores)
    embedding_dim = positive_int(embedding_dim, "embedding_dim")
    column_bound = embedding_dim.bit_length() - 1  # at least the number of prime factors
    if column_bound > limit and embedding_dim <= MAX_AUTO_EMBEDDING_DIM:
        return max(limit, _prime_factor_count(embedding_dim))
    return max(limit, column_bound)  # larger D: factor_embedding_dim refuses them anyway


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
    num_embeddings = _check_num_embeddings(num_embeddings)
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
