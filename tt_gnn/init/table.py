"""Full ``N x D`` tables from the same initializer names, with the same entry scale."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from tt_gnn.init.basic import _orthonormal
from tt_gnn.init.spectral import _solve_report, _spectral_table

# -- full tables ---------------------------------------------------------------------------

TableInitializer = Callable[..., torch.Tensor]
_TABLE_INITIALIZERS: dict[str, TableInitializer] = {}


def _table_initializer(name: str) -> Callable[[TableInitializer], TableInitializer]:
    def decorate(function: TableInitializer) -> TableInitializer:
        _TABLE_INITIALIZERS[name] = function
        return function

    return decorate


def initialize_table(
    name: str,
    num_rows: int,
    dim: int,
    *,
    graph: Any = None,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    **options: Any,
) -> torch.Tensor:
    """A full ``num_rows x dim`` embedding table from the initializer ``name``.

    The same names as the TT initializers, with the same entry scale, for a full table
    (``nn.Embedding``) that is to be compared with a TT or started like one:

    - ``"gaussian"``: i.i.d. ``N(0, std^2)``, option ``std`` (default 1.0, like
      ``nn.Embedding``).
    - ``"ortho"``: Haar-random orthogonal columns, ``W^T W = gain^2 N I`` (rows when ``N <
      D``: ``W W^T = gain^2 D I``); entries of root-mean-square ``gain`` (default 1.0).
    - ``"spectral"``: the ``dim`` bottom non-trivial eigenvectors of the normalized
      Laplacian of ``graph``, ascending, each scaled to norm ``std * sqrt(N)``, so ``W^T W =
      std^2 N I`` and entries have root-mean-square ``std`` (default 1.0); options as
      :func:`spectral_cores` (``tol``, ``max_iterations``, ``filter_degree``,
      ``solver_dtype``, ``max_memory_bytes``; ``report`` gets the solve's entries). The TT
      initializer decomposes exactly this table, then restores the root-mean-square ``std``
      that the truncation lost and balances its cores.
    - ``"dense"``: a copy of ``weight`` (option, ``(num_rows, dim)`` tensor or array).

    Args:
        name: one of :func:`available_table_initializers`.
        num_rows, dim: ``N`` and ``D``, ints >= 1.
        graph: for ``"spectral"`` (a DGLGraph, square scipy.sparse matrix or ``(src, dst)``
            pair with ``N`` nodes; row ``i`` is node ``i``).
        seed: seeds every random draw; the same seed gives the same table (None: drawn from
            torch's global generator, so ``torch.manual_seed`` makes it reproducible).
        dtype, device: of the result (default torch's default dtype, CPU).
        **options: the initializer's options above.

    Returns:
        ``(num_rows, dim)`` tensor.

    Raises:
        ValueError: an unknown name, sizes below 1, a missing or mismatched graph or
            weight, or a bad option value.

    Example:
        >>> table = initialize_table("ortho", 1000, 16, seed=0, dtype=torch.float64)
        >>> torch.allclose(table.T @ table, 1000 * torch.eye(16, dtype=torch.float64))
        True
    """
    if name not in _TABLE_INITIALIZERS:
        raise ValueError(
            f"unknown table initializer {name!r}; expected one of {available_table_initializers()}"
        )
    for label, value in (("num_rows", num_rows), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an int >= 1, got {value!r}")
    generator = torch.Generator()
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    generator.manual_seed(int(seed))
    table = _TABLE_INITIALIZERS[name](
        int(num_rows), int(dim), generator=generator, graph=graph, **options
    )
    return table.to(
        dtype=dtype or torch.get_default_dtype(),
        device=torch.device(device) if device is not None else torch.device("cpu"),
    )


def available_table_initializers() -> list[str]:
    """Names :func:`initialize_table` accepts."""
    return sorted(_TABLE_INITIALIZERS)


@_table_initializer("gaussian")
def _gaussian_table(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, std: float = 1.0
) -> torch.Tensor:
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    return torch.randn(num_rows, dim, generator=generator, dtype=torch.float64).mul_(std)


@_table_initializer("ortho")
def _orthogonal_table(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, gain: float = 1.0
) -> torch.Tensor:
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    return _orthonormal(num_rows, dim, generator).mul_(gain * math.sqrt(max(num_rows, dim)))


@_table_initializer("spectral")
def _spectral_table_initializer(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, **options: Any
) -> torch.Tensor:
    report = options.pop("report", None)
    table, solved = _spectral_table(graph, num_rows, dim, generator, **options)
    if report is not None:
        report.update(_solve_report(solved))
    return table


@_table_initializer("dense")
def _dense_table(
    num_rows: int,
    dim: int,
    *,
    generator: torch.Generator,
    graph: Any,
    weight: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    if weight is None:
        raise ValueError('initialize_table("dense", ...) needs weight=<(num_rows, dim) tensor>')
    if not isinstance(weight, (torch.Tensor, np.ndarray)):
        raise TypeError(f"weight must be a tensor or numpy array, got {type(weight).__name__}")
    if tuple(weight.shape) != (num_rows, dim):
        raise ValueError(
            f"weight has shape {tuple(weight.shape)}, expected (num_rows, dim)={(num_rows, dim)}"
        )
    return torch.as_tensor(np.asarray(weight) if isinstance(weight, np.ndarray) else weight).clone()
