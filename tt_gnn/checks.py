"""Argument checks shared by every public function: one message style, one exception type.

Each check returns the normalized value or raises ``ValueError`` with one line naming the
argument, the value received and what was expected. Booleans are never accepted as numbers,
and fractional values are never truncated.

Example:
    >>> positive_int(3, "rank")
    3
    >>> positive_int(2.5, "rank")
    Traceback (most recent call last):
    ...
    ValueError: rank must be a positive integer, got 2.5
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["positive_int", "non_negative_int", "positive_float", "probability", "is_integer"]


def is_integer(value: Any) -> bool:
    """True for Python/numpy/0-d torch integers; False for bools, floats and everything else."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    if isinstance(value, numbers.Integral):
        return True
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", None) == 0:
        if hasattr(dtype, "is_floating_point"):  # a 0-d torch tensor
            return not (dtype.is_floating_point or dtype.is_complex) and str(dtype) != "torch.bool"
        return getattr(dtype, "kind", "") in "iu"
    return False


def positive_int(value: Any, name: str) -> int:
    """``int(value)`` for an integer >= 1, else ``ValueError`` naming ``name``."""
    if not is_integer(value) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    """``int(value)`` for an integer >= 0, else ``ValueError`` naming ``name``.

    Example:
        >>> non_negative_int(0, "split")
        0
    """
    if not is_integer(value) or int(value) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    """``float(value)`` for a finite real > 0, else ``ValueError`` naming ``name``.

    Example:
        >>> positive_float(1e-3, "lr")
        0.001
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return result


def probability(value: Any, name: str, *, allow_one: bool = False) -> float:
    """``float(value)`` in ``[0, 1)`` (``[0, 1]`` with ``allow_one``), else ``ValueError``.

    Example:
        >>> probability(0.5, "dropout")
        0.5
    """
    upper = "]" if allow_one else ")"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [0, 1{upper}, got {value!r}")
    result = float(value)
    if not (0.0 <= result <= 1.0) or (result == 1.0 and not allow_one):
        raise ValueError(f"{name} must be a number in [0, 1{upper}, got {value!r}")
    return result
