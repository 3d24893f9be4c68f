"""Names and parsers of the options shared by the API, the CLI and the trainer.

This module imports nothing heavy (no torch, numpy or graph framework), so that ``tt-gnn
--help`` and argument parsing stay fast, and every spelling is defined once.

Example:
    >>> parse_reorder("metis:16"), parse_fanouts("15,10,-1"), parse_devices("0,1")
    (('metis', 16), (15, 10, -1), [0, 1])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tt_gnn.checks import is_integer

__all__ = [
    "MODEL_NAMES",
    "EMBEDDING_KINDS",
    "REORDER_METHODS",
    "GNN_BACKENDS",
    "POST_PROCESS_METHODS",
    "parse_reorder",
    "parse_fanouts",
    "parse_devices",
]

MODEL_NAMES = ("sage", "gat")
EMBEDDING_KINDS = ("tt", "full", "features")
REORDER_METHODS = ("tt-metis", "metis", "random", "none")
GNN_BACKENDS = ("auto", "torch", "dgl", "pyg")
POST_PROCESS_METHODS = ("auto", "cs", "none")

# An integer as the command line writes it: ASCII digits, an optional sign, spaces around
# (Python's int() also takes "1_000" and non-ASCII digits such as "٣").
_INTEGER_TEXT = re.compile(r"[ \t]*[+-]?[0-9]+[ \t]*")


def _parts(value: Any, name: str, example: str) -> list[Any]:
    """``value`` split at commas (text) or listed (a sequence); else ``ValueError``."""
    if not isinstance(value, Sequence):
        raise ValueError(f"{name} must be comma-separated ints like {example!r}, got {value!r}")
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [
        int(part) if isinstance(part, str) and _INTEGER_TEXT.fullmatch(part) else part
        for part in parts
    ]


def parse_reorder(method: Any, num_parts: Any = None) -> tuple[str, int | None]:
    """One spelling of a reorder method everywhere (API, CLI, trainer).

    ``"tt-metis"``, ``"metis"`` (as many parts as leaf blocks), ``"metis:<k>"`` (``k >= 2``
    parts), ``"random"`` or ``"none"``. ``num_parts`` is the older way to give ``k``; it is
    accepted with ``"metis"`` only, and 0 means "keep the original order".

    Example:
        >>> parse_reorder("metis:16"), parse_reorder("tt-metis"), parse_reorder("metis", 0)
        (('metis', 16), ('tt-metis', None), ('none', None))
    """
    expected = "expected 'tt-metis', 'metis', 'metis:<k>' (k >= 2), 'random' or 'none'"
    if not isinstance(method, str):
        raise ValueError(f"invalid reorder method {method!r}: {expected}")
    name, parts = method, None
    if method.startswith("metis:"):
        text = method.split(":", 1)[1]
        if not (text.isascii() and text.isdigit() and int(text) >= 2):
            raise ValueError(f"invalid reorder method {method!r}: {expected}")
        name, parts = "metis", int(text)
    elif method not in REORDER_METHODS:
        raise ValueError(f"invalid reorder method {method!r}: {expected}")
    if num_parts is not None:
        if not is_integer(num_parts) or int(num_parts) < 0:
            raise ValueError(f"num_parts must be a non-negative integer, got {num_parts!r}")
        if int(num_parts) == 0:
            return "none", None
        if name != "metis":
            raise ValueError(
                f"num_parts={num_parts} applies to method='metis' only, got method={method!r}"
            )
        if parts is not None and parts != int(num_parts):
            raise ValueError(f"method={method!r} contradicts num_parts={num_parts}")
        parts = int(num_parts)
    return name, parts


def parse_fanouts(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"10,10"`` -> ``(10, 10)``; ``-1`` means all neighbors.

    Example:
        >>> parse_fanouts("5,10,-1")
        (5, 10, -1)
    """
    fanouts = []
    for value in _parts(text, "fanouts", "10,10"):
        if isinstance(value, str):
            raise ValueError(f"fanouts must be comma-separated ints like '10,10', got {text!r}")
        if not is_integer(value) or value == 0 or value < -1:
            raise ValueError(f"every fanout must be a positive int or -1 (all), got {text!r}")
        fanouts.append(int(value))
    if not fanouts:
        raise ValueError(f"fanouts must list at least one layer, got {text!r}")
    return tuple(fanouts)


def parse_devices(devices: str | Sequence[int] | None) -> list[int]:
    """``"0,1"`` -> ``[0, 1]``; None or ``""`` -> ``[]`` (CPU).

    Example:
        >>> parse_devices("0, 2")
        [0, 2]
    """
    if devices is None or devices == "":
        return []
    parsed = _parts(devices, "devices", "0,1")
    if any(isinstance(part, str) for part in parsed):
        raise ValueError(
            f"devices must be comma-separated CUDA device indices like '0,1', got {devices!r}"
        )
    if any(not is_integer(index) or index < 0 for index in parsed) or len(set(parsed)) != len(
        parsed
    ):
        raise ValueError(f"devices must be distinct non-negative indices, got {devices!r}")
    return [int(index) for index in parsed]
