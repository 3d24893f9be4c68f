"""Choosing TT factors: ``N`` rows into ``p_1 * ... * p_d >= N``, ``D`` columns into
``q_1 * ... * q_d == D``, balanced, in bounded time.

The row search scores the padding ``prod(p)/N - 1`` plus a small imbalance term over a capped
set of non-decreasing candidate tuples near ``N**(1/d)``; the column search picks the most
balanced exact factorization among a capped number of candidates. :func:`max_num_cores` bounds
``d`` so that every core keeps some structure. :func:`tt_gnn.shapes.choose_shapes` is the entry
point most callers want.

Example:
    >>> factor_num_embeddings(2_449_029), factor_embedding_dim(128)
    ((127, 133, 145), (4, 4, 8))
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from tt_gnn.checks import positive_int

__all__ = [
    "factor_embedding_dim",
    "factor_num_embeddings",
    "max_num_cores",
    "check_num_embeddings",
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


def check_num_embeddings(value: Any) -> int:
    """``value`` as a row count: an integer in ``[1, 2**63 - 1]``, else ``ValueError``."""
    num_embeddings = positive_int(value, "num_embeddings")
    if num_embeddings > MAX_NUM_EMBEDDINGS:
        raise ValueError(
            f"num_embeddings must be at most 2**63 - 1 (row ids are int64), got {num_embeddings}"
        )
    return num_embeddings


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
    num_embeddings = check_num_embeddings(num_embeddings)
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
